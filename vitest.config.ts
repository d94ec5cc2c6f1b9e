import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Interop tests start Python readers; each one takes a second or two.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // better-sqlite3 is a native addon and parquet-wasm a large wasm module: separate processes are the safe pool.
    pool: 'forks',
  },
});
