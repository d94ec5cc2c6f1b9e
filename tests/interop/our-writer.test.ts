import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsToRecordBatch, type PartitionSpec } from '../../iceberg/index.ts';
import { ALL_TYPES_ROWS, ALL_TYPES_SCHEMA } from './all-types.ts';
import { canonicalRows } from './canonical.ts';
import { type Warehouse, localPath, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata, readWithDuckDB, readWithPyIceberg } from './readers.ts';

/**
 * Tables written by this code, read back by readers we did not write: PyIceberg 0.12 through the same
 * SQLite catalog file, and DuckDB's iceberg extension on the metadata file. Expected rows are the rows
 * we handed to the writer, canonicalised independently of the writer (tests/interop/canonical.ts).
 */
const schema = ALL_TYPES_SCHEMA;
const rows = ALL_TYPES_ROWS;
const expected = canonicalRows(schema, rows);
let wh: Warehouse;

beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('interop-writer');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

function spec(...fields: [string, string][]): PartitionSpec {
  return {
    specId: 0,
    fields: fields.map(([column, transform], i) => ({
      sourceId: schema.field(column).id, fieldId: 1000 + i, transform,
      name: `${column}_${transform.replace(/\[(\d+)\]/, '_$1')}`,
    })),
  };
}

describe('every type, unpartitioned', () => {
  it('PyIceberg and DuckDB read exactly the rows written, nulls, unicode and extremes included', async () => {
    const t = await wh.createTable('all_types', schema);
    await t.append([rowsToRecordBatch(schema, rows)]);
    const py = await readWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.all_types' });
    const duck = await readWithDuckDB({ metadata: localPath(t.metadataLocation) });
    expect(py).toEqual(expected);
    expect(duck).toEqual(expected);
  });
});

describe('every partition transform', () => {
  const cases: [string, PartitionSpec][] = [
    ['identity_string', spec(['s', 'identity'])],
    ['identity_int_with_nulls', spec(['i', 'identity'])],
    ['bucket_int_uuid_string', spec(['id', 'bucket[4]'], ['u', 'bucket[3]'], ['s', 'bucket[2]'])],
    ['bucket_long_date_binary', spec(['l', 'bucket[5]'], ['dt', 'bucket[7]'], ['bin', 'bucket[2]'])],
    ['truncate_string_int_decimal', spec(['s', 'truncate[2]'], ['i', 'truncate[10]'], ['dec9', 'truncate[100]'])],
    ['truncate_long_binary', spec(['l', 'truncate[1000]'], ['bin', 'truncate[1]'])],
    ['year_date_month_timestamp', spec(['dt', 'year'], ['ts', 'month'])],
    ['day_timestamptz_hour_timestamp', spec(['tstz', 'day'], ['ts', 'hour'])],
    ['month_date_year_timestamptz', spec(['dt', 'month'], ['tstz', 'year'])],
    ['void', spec(['b', 'void'])],
  ];
  for (const [name, partitionSpec] of cases) {
    it(`${name}: both readers return exactly the rows written, and PyIceberg prunes with our partition values and bounds`, async () => {
      const t = await wh.createTable(name, schema, partitionSpec);
      // Two appends so each partition tuple can occur in more than one file.
      await t.append([rowsToRecordBatch(schema, rows.slice(0, 3))]);
      await t.append([rowsToRecordBatch(schema, rows.slice(3))]);
      const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: `interop.${name}` };
      expect(await readWithPyIceberg(ref)).toEqual(expected);
      expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation) })).toEqual(expected);
      // PyIceberg skips files using our partition tuples and column bounds: a wrong one loses rows here.
      expect(await readWithPyIceberg({ ...ref, filter: 'id >= 3' })).toEqual(canonicalRows(schema, rows.filter((r) => (r.id as number) >= 3)));
      expect(await readWithPyIceberg({ ...ref, filter: "s == 'héllo 世界 🎉'" })).toEqual(canonicalRows(schema, rows.filter((r) => r.s === 'héllo 世界 🎉')));
      const md = await pyicebergMetadata(ref);
      expect(md.spec.fields.map((f) => f.transform)).toEqual(partitionSpec.fields.map((f) => f.transform));
      expect(md.data_files.reduce((a, f) => a + Number(f.record_count), 0)).toBe(rows.length);
    });
  }
});
