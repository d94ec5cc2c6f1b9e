import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch, Schema, snapshotChanges, snapshotsBetween, Table, T } from '../../iceberg/index.ts';

const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'ts', T.timestamptz(), true)]);
const DAY = 86_400_000_000n;
const row = (id: number, day: number) => ({ id: BigInt(id), ts: BigInt(day) * DAY + BigInt(id) });

let dir: string;
let catalog: SqlCatalog;
let table: Table;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-changes-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(['ops']);
  table = new Table(catalog, await catalog.createTable({ namespace: ['ops'], name: 't' }, {
    schema, partitionSpec: { specId: 0, fields: [{ sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' }] },
  }));
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('snapshotChanges', () => {
  it('lists exactly the files each append added, not the files inherited from earlier snapshots', async () => {
    const s1 = await table.append([rowsToRecordBatch(schema, [row(1, 0), row(2, 1)])]);
    const s2 = await table.append([rowsToRecordBatch(schema, [row(3, 1)])]);
    const c1 = await snapshotChanges(table.io, s1);
    const c2 = await snapshotChanges(table.io, s2);
    expect(c1.added.map((f) => f.recordCount).sort()).toEqual([1, 1]);
    expect(c1.deleted).toEqual([]);
    expect(c2.added).toHaveLength(1);
    expect(c2.added[0]!.recordCount).toBe(1);
    expect(c2.deleted).toEqual([]);
  });

  it('reports an overwrite\'s removed file and its copy-on-write remainder', async () => {
    await table.append([rowsToRecordBatch(schema, [row(1, 0), row(2, 0)])]);
    const [before] = (await table.planFiles()).files;
    const s = await table.overwrite('id = 1', []);
    const c = await snapshotChanges(table.io, s);
    expect(c.deleted.map((f) => f.filePath)).toEqual([before!.filePath]);
    expect(c.added.map((f) => f.recordCount)).toEqual([1]);
  });
});

describe('snapshotsBetween', () => {
  it('returns the snapshots after a recorded one, oldest first, and null when it is not an ancestor', async () => {
    const s1 = await table.append([rowsToRecordBatch(schema, [row(1, 0)])]);
    const s2 = await table.append([rowsToRecordBatch(schema, [row(2, 0)])]);
    const s3 = await table.append([rowsToRecordBatch(schema, [row(3, 0)])]);
    const ids = (l: { snapshotId: bigint }[] | null) => l?.map((s) => s.snapshotId) ?? null;
    expect(ids(snapshotsBetween(table.metadata, s1.snapshotId, s3.snapshotId))).toEqual([s2.snapshotId, s3.snapshotId]);
    expect(ids(snapshotsBetween(table.metadata, s3.snapshotId, s3.snapshotId))).toEqual([]);
    expect(ids(snapshotsBetween(table.metadata, null, s3.snapshotId))).toEqual([s1.snapshotId, s2.snapshotId, s3.snapshotId]);
    expect(snapshotsBetween(table.metadata, 12345n, s3.snapshotId)).toBeNull();
  });

  it('returns null from the beginning when the oldest snapshots were expired', async () => {
    await table.append([rowsToRecordBatch(schema, [row(1, 0)])]);
    await new Promise((r) => setTimeout(r, 5));
    const s2 = await table.append([rowsToRecordBatch(schema, [row(2, 0)])]);
    await table.expireSnapshots({ olderThanMs: s2.timestampMs, retainLast: 1 });
    expect(snapshotsBetween(table.metadata, null, s2.snapshotId)).toBeNull();
  });
});
