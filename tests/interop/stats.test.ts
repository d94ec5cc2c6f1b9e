import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsToRecordBatch, Schema, T } from '../../iceberg/index.ts';
import { doubleBits } from './canonical.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata } from './readers.ts';

/**
 * Data-file statistics as PyIceberg decodes them from our manifests, against values worked out by hand
 * from the rows: counts include nulls, NaN is counted apart and kept out of the bounds, and a string
 * longer than 16 code points gets a truncated lower bound and a rounded-up upper bound.
 */
const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'name', T.string()),
  T.field(3, 'ts', T.timestamptz()),
  T.field(4, 'score', T.double()),
  T.field(5, 'd', T.date()),
  T.field(6, 'amount', T.decimal(9, 2)),
]);
const rows = [
  { id: 5n, name: 'abcdefghijklmnopqrstuvwxyz', ts: 1_700_000_000_000_000n, score: 1.5, d: 19000, amount: 12345n },
  { id: -3n, name: 'zzzzzzzzzzzzzzzzzz-longer', ts: -1n, score: Number.NaN, d: -5, amount: -1n },
  { id: 9_000_000_000_000n, name: null, ts: null, score: -0.25, d: null, amount: null },
  { id: 0n, name: 'héllo', ts: 42n, score: null, d: 0, amount: 0n },
];
let wh: Warehouse;

beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('interop-stats');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

describe('data file statistics', () => {
  it('value, null and NaN counts and lower/upper bounds read by PyIceberg match the rows', async () => {
    const t = await wh.createTable('stats', schema);
    await t.append([rowsToRecordBatch(schema, rows)]);
    const md = await pyicebergMetadata({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.stats' });
    expect(md.data_files).toHaveLength(1);
    const f = md.data_files[0]!;
    expect(f.record_count).toBe('4');
    expect(f.value_counts).toEqual({ 1: '4', 2: '4', 3: '4', 4: '4', 5: '4', 6: '4' });
    expect(f.null_value_counts).toEqual({ 1: '0', 2: '1', 3: '1', 4: '1', 5: '1', 6: '1' });
    expect(f.nan_value_counts).toEqual({ 4: '1' });
    expect(f.lower_bounds).toEqual({
      1: '-3', 2: 'abcdefghijklmnop', 3: '-1', 4: doubleBits(-0.25), 5: '-5', 6: '-1',
    });
    expect(f.upper_bounds).toEqual({
      // 'zzzzzzzzzzzzzzzzzz-longer' cut to 16 code points, last one incremented: 'z' + 1 = '{'.
      1: '9000000000000', 2: 'zzzzzzzzzzzzzzz{', 3: '1700000000000000', 4: doubleBits(1.5), 5: '19000', 6: '12345',
    });
    expect(Number(f.file_size_in_bytes)).toBeGreaterThan(0);
  });
});
