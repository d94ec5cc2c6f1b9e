/**
 * Hand-run check of the interop harness itself (not part of `vitest run`):
 *
 *   npx tsx tests/interop/self-test.ts
 *
 * PyIceberg writes a table covering every Iceberg type, with nulls, unicode and extremes, from rows
 * canonicalised here in TypeScript; then PyIceberg and DuckDB read it back and both must return
 * exactly the TypeScript canonical lines. That proves canonical.ts and verify.py agree and shows what
 * each reader returns. Exits 1 on any difference, printing it column by column.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_TYPES_ROWS, ALL_TYPES_SCHEMA, NULLS } from './all-types.ts';
import { canonicalRows } from './canonical.ts';
import {
  ensureVenv, pyicebergMetadata, readDetailedWithDuckDB, readDetailedWithPyIceberg, readWithPyIceberg,
  sqliteCatalogUri, warehouseUri, writeWithPyIceberg,
} from './readers.ts';

const schema = ALL_TYPES_SCHEMA;
const rows = ALL_TYPES_ROWS;
const nulls = NULLS;

function diff(label: string, expected: string[], actual: string[]): boolean {
  if (JSON.stringify(expected) === JSON.stringify(actual)) {
    console.log(`  ${label}: ${actual.length} rows identical`);
    return true;
  }
  console.log(`  ${label}: DIFFERENT (${expected.length} expected, ${actual.length} read)`);
  const byId = (lines: string[]) => new Map(lines.map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    return [String(o.id), o];
  }));
  const e = byId(expected);
  const a = byId(actual);
  for (const [id, row] of e) {
    const got = a.get(id);
    if (!got) { console.log(`    id ${id}: missing`); continue; }
    for (const k of Object.keys(row)) {
      if (JSON.stringify(row[k]) !== JSON.stringify(got[k])) {
        console.log(`    id ${id} ${k}: expected ${JSON.stringify(row[k])} read ${JSON.stringify(got[k])}`);
      }
    }
  }
  return false;
}

async function timed<R>(label: string, f: () => Promise<R>): Promise<R> {
  const t0 = performance.now();
  const r = await f();
  console.log(`  [${label}: ${Math.round(performance.now() - t0)} ms]`);
  return r;
}

async function main(): Promise<void> {
  await timed('ensureVenv', ensureVenv);
  const dir = await mkdtemp(join(tmpdir(), 'lakehouse-selftest-'));
  let ok = true;
  try {
    const catalogUri = sqliteCatalogUri(join(dir, 'catalog.db'));
    const warehouse = warehouseUri(join(dir, 'wh'));
    const expected = canonicalRows(schema, rows);

    for (const [formatVersion, partition] of [
      [2, [{ source: 'tstz', transform: 'day', name: 'tstz_day' }, { source: 'id', transform: 'bucket[4]' }]],
      [1, []],
    ] as const) {
      const table = `selftest.all_types_v${formatVersion}`;
      console.log(`${table} (format v${formatVersion}, partition ${JSON.stringify(partition)})`);
      const w1 = await timed('write', () => writeWithPyIceberg({ catalogUri, warehouse, table, schema, partition: [...partition], rows, formatVersion }));
      const py = await timed('pyiceberg read', () => readDetailedWithPyIceberg({ catalogUri, warehouse, table }));
      ok = diff('pyiceberg', expected, py.rows) && ok;
      const dd = await timed('duckdb read', () => readDetailedWithDuckDB({ metadata: w1.metadataLocation }));
      ok = diff('duckdb', expected, dd.rows) && ok;

      // Time travel: a second append, then both readers asked for the first snapshot by id and by time.
      const extra = [{ ...nulls, id: 100, s: 'second append' }];
      const w2 = await writeWithPyIceberg({ catalogUri, warehouse, table, schema, rows: extra });
      const both = canonicalRows(schema, [...rows, ...extra]);
      ok = diff('pyiceberg current', both, await readWithPyIceberg({ catalogUri, warehouse, table })) && ok;
      ok = diff('duckdb current', both, (await readDetailedWithDuckDB({ metadata: w2.metadataLocation })).rows) && ok;
      ok = diff('pyiceberg snapshot 1', expected, await readWithPyIceberg({ catalogUri, warehouse, table, snapshotId: w1.snapshotId! })) && ok;
      ok = diff('duckdb snapshot 1', expected, (await readDetailedWithDuckDB({ metadata: w2.metadataLocation, snapshotId: w1.snapshotId! })).rows) && ok;
      const md = await pyicebergMetadata({ catalogUri, warehouse, table });
      const first = md.snapshots.find((s) => s.snapshot_id === w1.snapshotId)!;
      ok = diff('pyiceberg as-of first', expected, await readWithPyIceberg({ catalogUri, warehouse, table, asOfMs: BigInt(first.timestamp_ms) })) && ok;
      ok = diff('duckdb as-of first', expected, (await readDetailedWithDuckDB({ metadata: w2.metadataLocation, asOfMs: BigInt(first.timestamp_ms) })).rows) && ok;
      ok = diff('pyiceberg filter id >= 5', canonicalRows(schema, [rows[4]!, rows[5]!, ...extra]),
        await readWithPyIceberg({ catalogUri, warehouse, table, filter: 'id >= 5' })) && ok;
      console.log(`  metadata: v${md.format_version}, ${md.snapshots.length} snapshots, ${md.data_files.length} live files, partitions ${JSON.stringify(md.data_files.map((f) => f.partition))}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(ok ? 'self-test passed' : 'self-test FAILED');
  process.exitCode = ok ? 0 : 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
