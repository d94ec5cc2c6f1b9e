import { defineConfig } from 'vitest/config';

/**
 * Two projects in one run: `unit` (pieces, plus interop with PyIceberg and DuckDB on local warehouses:
 * no services) and `integration` (real MinIO, PostgreSQL, moto's Glue and Apache Iceberg's REST server,
 * started natively by tests/setup/services.ts and stopped after the run).
 */
const common = {
  // Interop tests start Python readers; each one takes a second or two.
  testTimeout: 120_000,
  hookTimeout: 300_000,
  // better-sqlite3 is a native addon and parquet-wasm a large wasm module: separate processes are the safe pool.
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...common, name: 'unit', include: ['tests/unit/**/*.test.ts', 'tests/interop/**/*.test.ts'] } },
      {
        test: {
          ...common,
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/setup/services.ts'],
          // One shared set of servers: files run one at a time so racing tests race only each other.
          fileParallelism: false,
        },
      },
    ],
  },
});
