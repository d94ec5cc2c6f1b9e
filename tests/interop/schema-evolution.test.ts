import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentSchema, planPartitionChange, planSchemaChange, rowsToRecordBatch, Schema, T,
  type PartitionChange, type SchemaChange, type Table,
} from '../../iceberg/index.ts';
import { canonicalRows } from './canonical.ts';
import { type Warehouse, localPath, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata, readWithDuckDB, readWithPyIceberg } from './readers.ts';

/**
 * Schema and partition evolution as other engines see it: after every change, PyIceberg, DuckDB's
 * iceberg extension and our own scan read the files written before the change and after it, and all
 * three return the same rows: added columns null in old files, renamed columns under their new name,
 * widened values unchanged, files of the old partition spec next to files of the new one.
 */

const DAY0 = 1_793_491_200_000_000n; // 2026-11-01T00:00:00Z in micros
const HOUR = 3_600_000_000n;

let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('interop-evolution');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

async function alterSchema(t: Table, change: SchemaChange): Promise<void> {
  await t.alter((m) => planSchemaChange(m, change));
}

async function alterSpec(t: Table, change: PartitionChange): Promise<void> {
  await t.alter((m) => planPartitionChange(m, change));
}

/** Rows as the current schema shows them: the values the test tracks, by column name. */
type Row = Record<string, unknown>;

describe('schema evolution read back by PyIceberg, DuckDB and our scan', () => {
  it('every change reads old and new data files the same in all three readers', async () => {
    const t = await wh.createTable('evolving', new Schema([
      T.field(1, 'id', T.long(), true),
      T.field(2, 'name', T.string()),
      T.field(3, 'score', T.int()),
      T.field(4, 'price', T.decimal(9, 2)),
      T.field(5, 'ratio', T.float()),
      T.field(6, 'ts', T.timestamptz(), true),
      T.field(7, 'info', T.struct([T.field(8, 'a', T.string())])),
    ]), { specId: 0, fields: [{ sourceId: 6, fieldId: 1000, name: 'ts_day', transform: 'day' }] });
    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.evolving' };
    let rows: Row[] = [];
    let next = 0;
    /** What each snapshot holds under its own schema, for time travel with the independent readers. */
    const history: { snapshotId: bigint; want: string[] }[] = [];
    /**
     * Appends `n` rows filled by `fill` (which sees the current column names) and checks our scan; the
     * independent readers (a second or two per process) read the whole history at the end.
     */
    const appendAndCheck = async (n: number, fill: (i: number) => Row) => {
      const added = Array.from({ length: n }, (_, k) => {
        const i = next++;
        return { id: BigInt(i), ts: DAY0 + BigInt(i) * HOUR, ...fill(i) };
      });
      const snap = await t.append([rowsToRecordBatch(t.schema(), added)]);
      rows = [...rows, ...added];
      const schema = t.schema();
      // Every column of the current schema, null where a row has no value (files from before the column).
      const full = rows.map((r) => Object.fromEntries(schema.fields.map((f) => [f.name, r[f.name] ?? null])));
      const want = canonicalRows(schema, full);
      expect(canonicalRows(schema, await t.readRows()), 'our scan').toEqual(want);
      history.push({ snapshotId: snap.snapshotId, want });
    };
    /** Applies a rename to the tracked rows. */
    const renameTracked = (from: string, to: string) => {
      rows = rows.map(({ [from]: v, ...rest }) => ({ ...rest, [to]: v }));
    };

    await appendAndCheck(3, (i) => ({ name: `n${i}`, score: i * 10, price: BigInt(i * 101), ratio: i + 0.5, info: { a: `a${i}` } }));

    await alterSchema(t, { kind: 'add-column', name: 'country', type: T.string(), after: 'name', doc: 'ISO code' });
    expect(t.schema().fields.map((f) => f.name)).toEqual(['id', 'name', 'country', 'score', 'price', 'ratio', 'ts', 'info']);
    expect(t.schema().findFieldByName('country')!.id).toBe(9);
    await appendAndCheck(2, (i) => ({ name: `n${i}`, country: 'DE', score: i, price: 5n, ratio: 0.25, info: { a: null } }));

    await alterSchema(t, { kind: 'rename-column', name: 'name', newName: 'title' });
    renameTracked('name', 'title');
    await appendAndCheck(2, (i) => ({ title: `t${i}`, country: 'FR', score: -i, price: 7n, ratio: 1.5, info: { a: 'x' } }));

    await alterSchema(t, { kind: 'widen-column', name: 'score', type: T.long() });
    await alterSchema(t, { kind: 'widen-column', name: 'ratio', type: T.double() });
    await alterSchema(t, { kind: 'widen-column', name: 'price', type: T.decimal(18, 2) });
    rows = rows.map((r) => ({ ...r, score: r.score === null || r.score === undefined ? null : BigInt(r.score as number) }));
    await appendAndCheck(2, (i) => ({ title: `w${i}`, score: 5_000_000_000n + BigInt(i), price: 1_000_000_000_000n, ratio: 0.1, info: { a: 'y' } }));

    await alterSchema(t, { kind: 'add-column', name: 'info.b', type: T.long() });
    rows = rows.map((r) => ({ ...r, info: r.info === null || r.info === undefined ? null : { b: null, ...(r.info as Row) } }));
    await appendAndCheck(1, () => ({ title: 'nested', info: { a: 'z', b: 42n } }));

    await alterSchema(t, { kind: 'drop-column', name: 'ratio' });
    await alterSchema(t, { kind: 'make-optional', name: 'ts' });
    rows = rows.map(({ ratio: _dropped, ...rest }) => rest);
    await appendAndCheck(1, () => ({ title: 'last', country: 'IT' }));

    // The final schema over files of every epoch (added, renamed, widened, nested-added and dropped
    // columns at once), and time travel to the snapshot after the rename (its own schema).
    const last = history[history.length - 1]!;
    expect(await readWithPyIceberg(ref), 'PyIceberg').toEqual(last.want);
    expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation) }), 'DuckDB').toEqual(last.want);
    const renamed = history[2]!;
    expect(await readWithPyIceberg({ ...ref, snapshotId: renamed.snapshotId }), 'PyIceberg, time travel').toEqual(renamed.want);
    expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation), snapshotId: renamed.snapshotId }), 'DuckDB, time travel').toEqual(renamed.want);

    const md = await pyicebergMetadata(ref);
    // Nine schemas: the first and one per change; ids never reused (ratio's 5 stays retired).
    expect(md.schemas.map((s) => s['schema-id'])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect((md.schema.fields as { id: number; name: string }[]).map((f) => `${f.id}:${f.name}`))
      .toEqual(['1:id', '2:title', '9:country', '3:score', '4:price', '6:ts', '7:info']);
    expect(currentSchema(t.metadata).schemaId).toBe(8);
    expect(t.metadata.lastColumnId).toBe(10);
  });
});

describe('partition evolution read back by PyIceberg, DuckDB and our scan', () => {
  it('day(ts) -> hour(ts): files of both specs are read, new files are partitioned by hour', async () => {
    const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'ts', T.timestamptz(), true), T.field(3, 'kind', T.string())]);
    const t = await wh.createTable('repartitioned', schema, {
      specId: 0, fields: [{ sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' }, { sourceId: 3, fieldId: 1001, name: 'kind', transform: 'identity' }],
    });
    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.repartitioned' };
    const mk = (i: number) => ({ id: BigInt(i), ts: DAY0 + BigInt(i) * 7n * HOUR, kind: i % 2 === 0 ? 'a' : 'b' });
    const before = Array.from({ length: 10 }, (_, i) => mk(i));
    await t.append([rowsToRecordBatch(schema, before)]);

    await alterSpec(t, { kind: 'replace-partition-field', field: 'ts_day', term: 'hour(ts)' });
    expect(t.spec()).toEqual({ specId: 1, fields: [{ sourceId: 3, fieldId: 1001, name: 'kind', transform: 'identity' }, { sourceId: 2, fieldId: 1002, name: 'ts_hour', transform: 'hour' }] });
    expect(t.metadata.lastPartitionId).toBe(1002);
    const after = Array.from({ length: 10 }, (_, i) => mk(100 + i));
    await t.append([rowsToRecordBatch(schema, after)]);

    const all = canonicalRows(schema, [...before, ...after]);
    expect(await readWithPyIceberg(ref)).toEqual(all);
    expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation) })).toEqual(all);
    expect(canonicalRows(schema, await t.readRows())).toEqual(all);

    // A filter on ts prunes both kinds of files correctly: the rows of one day, from old and new files.
    const inDay = [...before, ...after].filter((r) => r.ts >= DAY0 + 24n * 7n * HOUR && r.ts < DAY0 + 25n * 7n * HOUR + 24n * HOUR);
    const iso = (us: bigint) => new Date(Number(us / 1000n)).toISOString().replace('.000Z', '+00:00');
    const filter = `ts >= '${iso(DAY0 + 24n * 7n * HOUR)}' and ts < '${iso(DAY0 + 25n * 7n * HOUR + 24n * HOUR)}'`;
    expect(await readWithPyIceberg({ ...ref, filter })).toEqual(canonicalRows(schema, inDay));
    expect(canonicalRows(schema, await t.readRows({ filter: filter.replaceAll(' and ', ' AND ') }))).toEqual(canonicalRows(schema, inDay));

    // PyIceberg sees the old files under spec 0 (day) and the new ones under spec 1 (hour).
    const md = await pyicebergMetadata(ref);
    expect(md.spec['spec-id']).toBe(1);
    const bySpec = new Map<number, string[][]>();
    for (const f of md.data_files) bySpec.set(f.spec_id, [...(bySpec.get(f.spec_id) ?? []), Object.keys(f.partition).sort()]);
    expect([...bySpec.keys()].sort()).toEqual([0, 1]);
    for (const keys of bySpec.get(0)!) expect(keys).toEqual(['kind', 'ts_day']);
    for (const keys of bySpec.get(1)!) expect(keys).toEqual(['kind', 'ts_hour']);
    expect(md.data_files.filter((f) => f.spec_id === 1).every((f) => /\/ts_hour=\d{4}-\d{2}-\d{2}-\d{2}\//.test(f.file_path))).toBe(true);
  });
});
