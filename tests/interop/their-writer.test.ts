import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsToRecordBatch, Table } from '../../iceberg/index.ts';
import { ALL_TYPES_ROWS, ALL_TYPES_SCHEMA, NULLS } from './all-types.ts';
import { canonicalRows } from './canonical.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg, writeWithPyIceberg } from './readers.ts';

/**
 * The other way round: tables PyIceberg writes (its own field ids, manifests, Parquet and stats) are
 * planned by our scan planner and read by our reader with exactly PyIceberg's rows.
 */
const schema = ALL_TYPES_SCHEMA;
const rows = ALL_TYPES_ROWS;
let wh: Warehouse;

beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('interop-their-writer');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

describe('tables written by PyIceberg', () => {
  for (const formatVersion of [2, 1] as const) {
    it(`format v${formatVersion}, partitioned by day and bucket: our planner and reader return PyIceberg's rows, pruned and at each snapshot`, async () => {
      const table = `interop.pyiceberg_v${formatVersion}`;
      const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table };
      const partition = [{ source: 'tstz', transform: 'day', name: 'tstz_day' }, { source: 'id', transform: 'bucket[4]' }];
      const w1 = await writeWithPyIceberg({ ...ref, schema, partition, rows, formatVersion });
      const extra = [{ ...NULLS, id: 100, s: 'second append', tstz: 1_700_000_000_000_000n }];
      await writeWithPyIceberg({ ...ref, schema, rows: extra });

      const t = new Table(wh.catalog, await wh.catalog.loadTable({ namespace: ['interop'], name: table.split('.')[1]! }));
      expect(t.metadata.formatVersion).toBe(formatVersion);
      expect(canonicalRows(schema, await t.readRows())).toEqual(canonicalRows(schema, [...rows, ...extra]));
      expect(canonicalRows(schema, await t.readRows({ snapshotId: BigInt(w1.snapshotId!) }))).toEqual(canonicalRows(schema, rows));

      // Pruning on PyIceberg's partition tuples (bucket eq) and its column bounds (ranges).
      const all = await t.planFiles();
      const one = await t.planFiles({ filter: 'id = 100' });
      expect(one.files.length).toBeLessThan(all.files.length);
      expect(canonicalRows(schema, await t.readRows({ filter: 'id = 100' }))).toEqual(canonicalRows(schema, extra));
      const late = await t.planFiles({ filter: "tstz >= '2024-01-01T00:00:00Z'" });
      expect(late.files.length).toBeLessThan(all.files.length);
      const lateRows = [...rows, ...extra].filter((r) => r.tstz !== null && (r.tstz as bigint) >= 1_704_067_200_000_000n);
      expect(canonicalRows(schema, await t.readRows({ filter: "tstz >= '2024-01-01T00:00:00Z'" }))).toEqual(canonicalRows(schema, lateRows));

      if (formatVersion === 2) {
        // Mixed writers: our append on PyIceberg's table (its field ids, its manifests carried forward),
        // then PyIceberg reads all three snapshots' rows.
        const ours = [{ ...NULLS, id: 200, s: 'appended by lakehouse', tstz: 1_800_000_000_000_000n, dec9: 12345n }];
        await t.append([rowsToRecordBatch(t.schema(), ours)]);
        expect(await readWithPyIceberg(ref)).toEqual(canonicalRows(schema, [...rows, ...extra, ...ours]));
      }

      if (formatVersion === 1) {
        // We read v1 but write only v2: an append says so and leaves the table as it was.
        const err = await t.append([rowsToRecordBatch(t.schema(), [{ ...NULLS, id: 7 }])]).catch((e) => e);
        expect(err.message).toMatch(/format v1; lakehouse reads it but writes only format v2/);
        await t.refresh();
        expect(t.metadata.snapshots).toHaveLength(2);
      }
    });
  }
});
