import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch, type CatalogPort, type LoadedTable, type TableIdentifier, Schema, Table, type TableRequirement, type TableUpdate, T, CommitStateUnknownError } from '../../iceberg/index.ts';
import { LakehouseError } from '../../core/errors.ts';

const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'kind', T.string(), true),
  T.field(3, 'ts', T.timestamptz(), true),
  T.field(4, 'amount', T.double()),
]);
const DAY = 86_400_000_000n;
const row = (id: number, kind: string, day: number, amount: number | null = id / 2) => ({ id: BigInt(id), kind, ts: BigInt(day) * DAY + BigInt(id), amount });
const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id)).sort((a, b) => a - b);

let dir: string;
let catalog: SqlCatalog;
const ident: TableIdentifier = { namespace: ['ops'], name: 't' };

async function createTable(partition: 'none' | 'day' = 'day', properties: Record<string, string> = {}): Promise<Table> {
  await catalog.createNamespace(['ops']);
  const loaded = await catalog.createTable(ident, {
    schema,
    partitionSpec: partition === 'none' ? { specId: 0, fields: [] } : { specId: 0, fields: [{ sourceId: 3, fieldId: 1000, name: 'ts_day', transform: 'day' }] },
    properties,
  });
  return new Table(catalog, loaded);
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-ops-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fast append', () => {
  it('appends twice and each snapshot summary counts what it added and what the table holds', async () => {
    const t = await createTable();
    const s1 = await t.append([rowsToRecordBatch(schema, [row(1, 'a', 0), row(2, 'b', 1)])], { summary: { 'lakehouse.test': 'x' } });
    const s2 = await t.append([rowsToRecordBatch(schema, [row(3, 'a', 1)])]);
    expect(s1.summary).toMatchObject({ operation: 'append', 'added-records': '2', 'added-data-files': '2', 'total-records': '2', 'total-data-files': '2', 'changed-partition-count': '2', 'lakehouse.test': 'x' });
    expect(s2.summary).toMatchObject({ operation: 'append', 'added-records': '1', 'total-records': '3', 'total-data-files': '3' });
    expect(s2.parentSnapshotId).toBe(s1.snapshotId);
    expect(s2.sequenceNumber).toBe(2);
    expect(ids(await t.readRows())).toEqual([1, 2, 3]);
    expect(ids(await t.readRows({ snapshotId: s1.snapshotId }))).toEqual([1, 2]);
  });

  it('a second writer that lost the race rebases and both appends land exactly once', async () => {
    const t1 = await createTable();
    const other = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
    const t2 = new Table(other, await other.loadTable(ident));
    await t1.append([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    // t2 still holds the metadata from before t1's commit: its first attempt must conflict.
    await t2.append([rowsToRecordBatch(schema, [row(2, 'a', 0)])]);
    await t1.refresh();
    expect(ids(await t1.readRows())).toEqual([1, 2]);
    expect(t1.metadata.snapshots).toHaveLength(2);
    await other.close();
  });
});

describe('overwrite by filter', () => {
  it('drops whole partitions and rewrites partly matching files without the matching rows', async () => {
    const t = await createTable();
    await t.append([rowsToRecordBatch(schema, [row(1, 'a', 0), row(2, 'b', 0), row(3, 'a', 1), row(4, 'b', 2)])]);
    // Day 1 is dropped whole; day 0 holds kinds a and b in one file, so it is copied without kind b.
    const filter = `ts >= '1970-01-02T00:00:00Z' AND ts < '1970-01-03T00:00:00Z' OR kind = 'b' AND ts < '1970-01-02T00:00:00Z'`;
    const s = await t.overwrite(filter, [rowsToRecordBatch(schema, [row(10, 'c', 1)])]);
    expect(s.summary.operation).toBe('overwrite');
    expect(ids(await t.readRows())).toEqual([1, 4, 10]);
    expect(s.summary).toMatchObject({ 'deleted-data-files': '2', 'deleted-records': '3', 'added-records': '2', 'total-records': '3' });
  });

  it('with a filter that matches nothing only adds', async () => {
    const t = await createTable('none');
    await t.append([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    await t.overwrite(`kind = 'zzz'`, [rowsToRecordBatch(schema, [row(2, 'a', 0)])]);
    expect(ids(await t.readRows())).toEqual([1, 2]);
  });
});

describe('rewrite files', () => {
  it('replaces files with one holding the same rows and refuses to change the row count', async () => {
    const t = await createTable('none');
    await t.append([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    await t.append([rowsToRecordBatch(schema, [row(2, 'a', 0)])]);
    const before = (await t.planFiles()).files;
    expect(before).toHaveLength(2);
    const merged = await t.writeDataFiles([rowsToRecordBatch(schema, await t.readRows())]);
    const op = t.newRewrite();
    for (const f of before) op.deleteFile(f);
    for (const f of merged) op.addFile(f);
    const s = await op.commit();
    expect(s.summary).toMatchObject({ operation: 'replace', 'total-data-files': '1', 'total-records': '2' });
    expect((await t.planFiles()).files).toHaveLength(1);
    expect(ids(await t.readRows())).toEqual([1, 2]);

    const bad = t.newRewrite().deleteFile(merged[0]!);
    await expect(bad.commit()).rejects.toThrow(/row count from 2 to 0/);
  });

  it('fails without retrying when a file to replace is gone', async () => {
    const t = await createTable('none');
    await t.append([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    const [file] = (await t.planFiles()).files;
    await t.overwrite('true', []);
    const op = t.newRewrite().deleteFile(file!).addFile(file!);
    await expect(op.commit()).rejects.toThrow(/no longer in the table/);
  });
});

describe('expire snapshots', () => {
  it('removes old snapshots and deletes only files no retained snapshot sees', async () => {
    const t = await createTable('none');
    const s1 = await t.append([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    const oldFile = (await t.planFiles()).files[0]!.filePath;
    await t.overwrite('true', [rowsToRecordBatch(schema, [row(2, 'a', 0)])]);
    const keepFile = (await t.planFiles()).files[0]!.filePath;
    const r = await t.expireSnapshots({ olderThanMs: Date.now() + 1000, retainLast: 1 });
    expect(r.expiredSnapshotIds).toEqual([s1.snapshotId]);
    expect(r.deletedDataFiles).toEqual([oldFile]);
    expect(await t.io.exists(oldFile)).toBe(false);
    expect(await t.io.exists(keepFile)).toBe(true);
    expect(ids(await t.readRows())).toEqual([2]);
    await expect(t.readRows({ snapshotId: s1.snapshotId })).rejects.toThrow(/not in the table/);
  });
});

/** A catalog port that reports an unknown outcome, after (or instead of) really committing. */
class FlakyCatalog implements CatalogPort {
  readonly name = 'flaky';
  constructor(private readonly inner: SqlCatalog, private readonly landFirst: boolean) {}
  loadTable(id: TableIdentifier): Promise<LoadedTable> { return this.inner.loadTable(id); }
  async commitTable(id: TableIdentifier, reqs: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    if (this.landFirst) await this.inner.commitTable(id, reqs, updates);
    throw new CommitStateUnknownError('connection reset after the request was sent');
  }
}

describe('unknown commit outcome', () => {
  it('counts the commit as done when the reloaded table has our snapshot', async () => {
    await createTable('none');
    const t = new Table(new FlakyCatalog(catalog, true), await catalog.loadTable(ident));
    const s = await t.append([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    expect(t.currentSnapshot()?.snapshotId).toBe(s.snapshotId);
    expect(ids(await t.readRows())).toEqual([1]);
  });

  it('reports a verified failure, keeps the data files, and lands nothing when the snapshot is absent', async () => {
    await createTable('none');
    const t = new Table(new FlakyCatalog(catalog, false), await catalog.loadTable(ident));
    const files = await t.writeDataFiles([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    const err = await t.newAppend().appendFiles(files).commit().catch((e) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect(err.message).toMatch(/does not contain the snapshot, so nothing was committed/);
    expect(await t.io.exists(files[0]!.filePath)).toBe(true);
    expect((await catalog.loadTable(ident)).metadata.snapshots).toHaveLength(0);
  });
});

describe('bad input', () => {
  it('an Arrow batch that does not fit the table schema is refused with a sentence and nothing lands', async () => {
    const t = await createTable('none');
    const wrong = new Schema([T.field(1, 'id', T.string(), true), T.field(2, 'kind', T.string(), true), T.field(3, 'ts', T.timestamptz(), true)]);
    const err = await t.append([rowsToRecordBatch(wrong, [{ id: 'x', kind: 'a', ts: 0n }])]).catch((e) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toMatch(/id/);
    expect(err.message).toMatch(/long/);
    await t.refresh();
    expect(t.metadata.snapshots).toHaveLength(0);
  });
});

/** A catalog in which another writer always commits first: every attempt of ours conflicts. */
class AlwaysRacedCatalog implements CatalogPort {
  readonly name = 'raced';
  constructor(private readonly inner: SqlCatalog, private readonly rival: Table) {}
  loadTable(id: TableIdentifier): Promise<LoadedTable> { return this.inner.loadTable(id); }
  async commitTable(id: TableIdentifier, reqs: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    await this.rival.append([rowsToRecordBatch(schema, [row(99, 'rival', 0)])]);
    return this.inner.commitTable(id, reqs, updates);
  }
}

describe('commit retries', () => {
  it('gives up after commit.retry.num-retries with a sentence naming the requirement that failed, and cleans up its files', async () => {
    const rival = await createTable('none', { 'commit.retry.num-retries': '2', 'commit.retry.min-wait-ms': '1', 'commit.retry.max-wait-ms': '5' });
    const t = new Table(new AlwaysRacedCatalog(catalog, rival), await catalog.loadTable(ident));
    const files = await t.writeDataFiles([rowsToRecordBatch(schema, [row(1, 'a', 0)])]);
    const err = await t.newAppend().appendFiles(files).commit().catch((e) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect(err.code).toBe('COMMIT_FAILED');
    expect(err.message).toMatch(/rejected 3 times because other writers kept changing the table/);
    expect(err.message).toMatch(/"main" must point at snapshot \d+, but it points at snapshot \d+/);
    expect(err.message).toMatch(/nothing was committed/);
    // Our manifests and manifest lists are gone; the rival's three appends are all that landed.
    const ours = [];
    for await (const f of t.io.list(`${t.location}/metadata/`)) if (f.location.endsWith('.avro')) ours.push(f.location);
    await t.refresh();
    const referenced = new Set<string>();
    for (const s of t.metadata.snapshots) referenced.add(s.manifestList);
    expect(t.metadata.snapshots).toHaveLength(3);
    expect(ours.filter((l) => l.includes('/snap-') && !referenced.has(l))).toEqual([]);
  });
});
