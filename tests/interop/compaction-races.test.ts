import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { type PartitionSpec, Schema, T, Table, type TableIdentifier, compactTable, rowsToRecordBatch } from '../../iceberg/index.ts';
import { canonicalRows } from './canonical.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg } from './readers.ts';

/**
 * Compactions racing each other and an overwrite, each writer on its own catalog connection to the same
 * SQLite file: whatever order the commits land in, PyIceberg reads exactly the rows the overwrite leaves,
 * none lost, none twice.
 */
const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'kind', T.string(), true),
  T.field(3, 'ts', T.timestamptz(), true),
  T.field(4, 'amount', T.double()),
]);
const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 3, fieldId: 1000, name: 'ts_day', transform: 'day' }] };
const DAY = 86_400_000_000n;
const row = (id: number) => ({ id: BigInt(id), kind: ['a', 'b', 'c'][id % 3]!, ts: BigInt(id % 2) * DAY + BigInt(id), amount: id / 4 });

let wh: Warehouse;
const others: SqlCatalog[] = [];
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('compaction-races');
}, VENV_TIMEOUT_MS);
afterAll(async () => {
  for (const c of others) await c.close();
  await wh?.close();
});

/** A Table on a catalog connection of its own (another writer). */
async function writer(id: TableIdentifier): Promise<Table> {
  const c = await SqlCatalog.open({ name: 'default', uri: wh.catalogUri, warehouse: wh.warehouse.replace(/^file:\/\//, '') });
  others.push(c);
  return new Table(c, await c.loadTable(id));
}

async function smallFiles(name: string, appends: number, perAppend: number): Promise<{ id: TableIdentifier; rows: Record<string, unknown>[] }> {
  const t = await wh.createTable(name, schema, spec);
  const rows: Record<string, unknown>[] = [];
  for (let a = 0; a < appends; a++) {
    const batch = Array.from({ length: perAppend }, (_, i) => row(a * perAppend + i + 1));
    rows.push(...batch);
    await t.append([rowsToRecordBatch(schema, batch)]);
  }
  return { id: { namespace: ['interop'], name }, rows };
}

const read = (name: string) => readWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: `interop.${name}` });

describe('compaction races (read back with PyIceberg)', () => {
  it('two compactions of the same files at once: one lands per group, the other re-plans or skips, rows unchanged', async () => {
    const { id, rows } = await smallFiles('race_two', 6, 20);
    const [a, b] = await Promise.all([writer(id), writer(id)]);
    const [ra, rb] = await Promise.all([compactTable(a), compactTable(b)]);
    // Two day partitions: each is compacted once, by whichever commit landed first.
    expect(ra.committed.length + rb.committed.length).toBe(2);
    expect(await read('race_two')).toEqual(canonicalRows(schema, rows));
    const files = (await (await writer(id)).planFiles()).files;
    expect(files.length).toBeLessThanOrEqual(4);
  });

  it('compactions racing an overwrite of some rows: the overwrite\'s rows replace the old ones exactly once', async () => {
    const { id, rows } = await smallFiles('race_overwrite', 8, 15);
    const [a, b, o] = await Promise.all([writer(id), writer(id), writer(id)]);
    const changed: Record<string, unknown>[] = rows.filter((r) => (r.id as bigint) % 7n === 0n).map((r) => ({ ...r, kind: 'overwritten', amount: -1 }));
    const filter = `id IN (${changed.map((r) => String(r.id)).join(', ')})`;
    await Promise.all([compactTable(a), o.overwrite(filter, [rowsToRecordBatch(schema, changed)]), compactTable(b)]);
    const expected = rows.map((r) => changed.find((c) => c.id === r.id) ?? r);
    expect(await read('race_overwrite')).toEqual(canonicalRows(schema, expected));
  });
});
