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
import { Schema } from '../../iceberg/schema.ts';
import { T } from '../../iceberg/types.ts';
import { canonicalRows } from './canonical.ts';
import {
  ensureVenv, pyicebergMetadata, readDetailedWithDuckDB, readDetailedWithPyIceberg, readWithPyIceberg,
  sqliteCatalogUri, warehouseUri, writeWithPyIceberg,
} from './readers.ts';

const schema = new Schema([
  T.field(1, 'id', T.int(), true),
  T.field(2, 'b', T.boolean()),
  T.field(3, 'i', T.int()),
  T.field(4, 'l', T.long()),
  T.field(5, 'f', T.float()),
  T.field(6, 'd', T.double()),
  T.field(7, 'dec38', T.decimal(38, 10)),
  T.field(8, 'dec9', T.decimal(9, 2)),
  T.field(9, 'dt', T.date()),
  T.field(10, 'tm', T.time()),
  T.field(11, 'ts', T.timestamp()),
  T.field(12, 'tstz', T.timestamptz()),
  T.field(13, 's', T.string()),
  T.field(14, 'u', T.uuid()),
  T.field(15, 'bin', T.binary()),
  T.field(16, 'fx', T.fixed(4)),
  T.field(17, 'st', T.struct([T.field(20, 'a', T.int()), T.field(21, 'b', T.string())])),
  T.field(18, 'li', T.list(22, T.long())),
  T.field(19, 'm', T.map(23, T.string(), 24, T.double())),
]);

const bytes = (...b: number[]) => new Uint8Array(b);
const nulls = Object.fromEntries(schema.fields.slice(1).map((f) => [f.name, null]));

const rows: Record<string, unknown>[] = [
  {
    id: 1, b: true, i: -2147483648, l: -9223372036854775808n, f: 1.5, d: Number.NaN,
    dec38: 10n ** 38n - 1n, dec9: -999999999n, dt: -719162 /* 0001-01-01 */, tm: 0n,
    ts: -62135596800000000n /* 0001-01-01T00:00 */, tstz: 1704067200000001n, s: 'héllo 世界 🎉',
    u: '123e4567-e89b-12d3-a456-426614174000', bin: bytes(0, 255, 16), fx: bytes(0xde, 0xad, 0xbe, 0xef),
    st: { a: 1, b: 'x' }, li: [1n, -9223372036854775808n, null], m: new Map([['a', 1], ['b', null], ['é', Number.NaN]]),
  },
  {
    id: 2, b: false, i: 2147483647, l: 9223372036854775807n, f: -0, d: -0,
    dec38: -(10n ** 38n - 1n), dec9: 999999999n, dt: 2932896 /* 9999-12-31 */, tm: 86399999999n,
    ts: 253402300799999999n /* 9999-12-31T23:59:59.999999 */, tstz: -1n, s: '',
    u: 'ffffffff-ffff-ffff-ffff-ffffffffffff', bin: bytes(), fx: bytes(0, 0, 0, 0),
    st: { a: null, b: null }, li: [], m: new Map(),
  },
  {
    id: 3, b: null, i: null, l: null, f: Infinity, d: -Infinity, dec38: 1n, dec9: -1n, dt: -1, tm: 1n,
    ts: -1n, tstz: -62135596800000000n, s: 'tab\tnl\nq"\\ \u0001 \u007f ｱ \u2028',
    u: '00000000-0000-0000-0000-000000000000', bin: bytes(255), fx: bytes(255, 255, 255, 255),
    st: null, li: null, m: null,
  },
  { ...nulls, id: 4, f: Number.NaN, d: Number.MIN_VALUE, li: [null], m: [['k', null]] },
  {
    id: 5, b: null, i: 0, l: 0n, f: -Infinity, d: Number.MAX_VALUE, dec38: -1n, dec9: 0n, dt: 0, tm: 43200000000n,
    ts: 1704067200123456n, tstz: 1704067200123456n, s: '😀', u: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    bin: bytes(0), fx: bytes(1, 2, 3, 4), st: { a: -5, b: '日本' }, li: [5n], m: new Map([['z', 1], ['a', 2], ['ｱ', 3], ['🎉', 4]]),
  },
  { ...nulls, id: 6, f: 0.1, d: 0.1 },
];

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
