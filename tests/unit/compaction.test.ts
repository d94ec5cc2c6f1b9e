import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import {
  type DataFile, DataFileContent, FilesRemovedError, Schema, T, Table, type TableIdentifier, compactTable, planCompaction, rowsToRecordBatch,
} from '../../iceberg/index.ts';

/** The bin-packing planner on made-up files, then compactTable on a real local SQLite-catalog table. */

function file(name: string, bytes: number, partition: (string | null)[] = ['p1'], specId = 0, records = 10): DataFile {
  return { content: DataFileContent.DATA, filePath: `/wh/${name}.parquet`, fileFormat: 'PARQUET', partition, recordCount: records, fileSizeInBytes: bytes, specId };
}
const names = (files: DataFile[]) => files.map((f) => path.basename(f.filePath, '.parquet')).sort();

describe('planCompaction', () => {
  it('packs the small files of one partition into groups no larger than the target', () => {
    const plan = planCompaction([file('a', 60), file('b', 50), file('c', 40), file('d', 30), file('e', 20)], { targetFileSizeBytes: 100, minFileSizeBytes: 75 });
    expect(plan.groups.map((g) => g.bytes)).toEqual([100, 100]);
    expect(plan.groups.map((g) => names(g.files))).toEqual([['a', 'c'], ['b', 'd', 'e']].sort((x, y) => y.length - x.length));
    expect(plan.smallFiles).toBe(5);
  });

  it('never mixes partitions or partition specs in one group', () => {
    const plan = planCompaction([file('a', 10, ['p1']), file('b', 10, ['p2']), file('c', 10, ['p1']), file('d', 10, ['p1'], 1), file('e', 10, ['p1'], 1)], { targetFileSizeBytes: 100 });
    expect(plan.groups.map((g) => names(g.files)).sort()).toEqual([['a', 'c'], ['d', 'e']]);
    for (const g of plan.groups) expect(new Set(g.files.map((f) => `${f.specId}/${f.partition}`)).size).toBe(1);
  });

  it('leaves files at or above the threshold (default 75 % of the target) and a lone small file alone', () => {
    const plan = planCompaction([file('big', 75), file('big2', 90), file('small', 74), file('other', 5, ['p2'])], { targetFileSizeBytes: 100 });
    expect(plan.minFileSizeBytes).toBe(75);
    expect(plan.groups).toEqual([]);
    expect(plan.smallFiles).toBe(2);
  });

  it('a null partition value is a partition of its own', () => {
    const plan = planCompaction([file('a', 1, [null]), file('b', 1, [null]), file('c', 1, ['x'])], { targetFileSizeBytes: 100 });
    expect(plan.groups.map((g) => names(g.files))).toEqual([['a', 'b']]);
  });

  it('--max-files cuts the run, defers the rest, and orders groups by how many files they merge', () => {
    const files = [...'abcde'].map((n) => file(n, 1, ['p1'])).concat([...'xyz'].map((n) => file(n, 1, ['p2'])));
    const plan = planCompaction(files, { targetFileSizeBytes: 100, maxFiles: 6 });
    expect(plan.groups.map((g) => g.files.length)).toEqual([5]);
    // p2's 3 files do not fit in the 1 file left; the cut part of a group would be a group of one.
    expect(plan.deferred.map((g) => g.files.length)).toEqual([3]);
    const cut = planCompaction(files, { targetFileSizeBytes: 100, maxFiles: 3 });
    expect(cut.groups.map((g) => g.files.length)).toEqual([3]);
    expect(cut.deferred.map((g) => g.files.length).sort()).toEqual([2, 3]);
  });

  it('--max-bytes bounds the input bytes of the run', () => {
    const files = [file('a', 40), file('b', 30), file('c', 20), file('d', 10)];
    const plan = planCompaction(files, { targetFileSizeBytes: 1000, maxBytes: 55 });
    expect(plan.groups.reduce((a, g) => a + g.bytes, 0)).toBeLessThanOrEqual(55);
    expect(names(plan.groups[0]!.files)).toEqual(['a', 'd']);
    expect(names(plan.deferred[0]!.files)).toEqual(['b', 'c']);
  });

  it('rejects nonsense limits with a sentence', () => {
    expect(() => planCompaction([], { targetFileSizeBytes: 0 })).toThrow(/targetFileSizeBytes must be a positive whole number/);
    expect(() => planCompaction([], { targetFileSizeBytes: 10, minInputFiles: 1 })).toThrow(/minInputFiles must be 2 or more/);
  });
});

const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'campaign', T.string(), true),
  T.field(3, 'ts', T.timestamptz(), true),
]);
const DAY = 86_400_000_000n;
const row = (id: number, day: number) => ({ id: BigInt(id), campaign: `c${id % 3}`, ts: BigInt(day) * DAY + BigInt(1000 - id) });
const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id)).sort((a, b) => a - b);

let dir: string;
let catalog: SqlCatalog;
const ident: TableIdentifier = { namespace: ['ops'], name: 'c' };

async function tableWithAppends(appends: number, rowsEach = 5): Promise<Table> {
  await catalog.createNamespace(['ops']);
  const t = new Table(catalog, await catalog.createTable(ident, {
    schema, partitionSpec: { specId: 0, fields: [{ sourceId: 3, fieldId: 1000, name: 'ts_day', transform: 'day' }] },
  }));
  let id = 0;
  for (let a = 0; a < appends; a++) {
    const rows = Array.from({ length: rowsEach }, () => { id++; return row(id, id % 2); });
    await t.append([rowsToRecordBatch(schema, rows)]);
  }
  return t;
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-compact-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('compactTable', () => {
  it('merges each partition\'s small files, all groups in one replace snapshot, same rows', async () => {
    const t = await tableWithAppends(4);
    const before = ids(await t.readRows());
    expect((await t.planFiles()).files).toHaveLength(8);
    const r = await compactTable(t);
    expect(r.committed).toHaveLength(2);
    expect(new Set(r.committed.map((c) => c.snapshotId)).size).toBe(1);
    expect(r.filesRemoved).toBe(8);
    expect(r.filesAdded).toBe(2);
    expect(t.currentSnapshot()!.summary.operation).toBe('replace');
    expect((await t.planFiles()).files).toHaveLength(2);
    expect(ids(await t.readRows())).toEqual(before);
  });

  it('--dry-run plans and writes nothing', async () => {
    const t = await tableWithAppends(3);
    const head = t.currentSnapshot()!.snapshotId;
    const r = await compactTable(t, { dryRun: true });
    expect(r.plan.groups).toHaveLength(2);
    expect(r.committed).toEqual([]);
    await t.refresh();
    expect(t.currentSnapshot()!.snapshotId).toBe(head);
  });

  it('a filter on the partition column compacts only the partitions it names', async () => {
    const t = await tableWithAppends(3);
    const r = await compactTable(t, { filter: 'ts < \'1970-01-02T00:00:00Z\'' });
    expect(r.committed).toHaveLength(1);
    expect((await t.planFiles()).files).toHaveLength(4);
  });

  it('a filter on a column the table lacks is an error that names it, and nothing is committed', async () => {
    const t = await tableWithAppends(2);
    const head = t.currentSnapshot()!.snapshotId;
    await expect(compactTable(t, { filter: 'nope = 1' })).rejects.toThrow(/nope/);
    await t.refresh();
    expect(t.currentSnapshot()!.snapshotId).toBe(head);
  });

  it('sorts the rewritten rows by the table\'s declared sort order and stamps its id on the files', async () => {
    const t = await tableWithAppends(3);
    t.state = await catalog.commitTable(ident, [], [
      { action: 'add-sort-order', sortOrder: { orderId: 1, fields: [{ transform: 'identity', sourceId: 2, direction: 'asc', nullOrder: 'nulls-first' }, { transform: 'identity', sourceId: 3, direction: 'desc', nullOrder: 'nulls-last' }] } },
      { action: 'set-default-sort-order', sortOrderId: -1 },
    ]);
    const r = await compactTable(t);
    expect(r.sortOrderId).toBe(1);
    const files = (await t.planFiles()).files;
    expect(files.every((f) => f.sortOrderId === 1)).toBe(true);
    for (const f of files) {
      const rows = await t.readRows({ filter: `ts >= '${new Date(Number(BigInt(f.partition[0] as number) * DAY / 1000n)).toISOString()}' AND ts < '${new Date(Number(BigInt((f.partition[0] as number) + 1) * DAY / 1000n)).toISOString()}'` });
      const keys = rows.map((x) => [x.campaign as string, x.ts as bigint] as const);
      const sorted = [...keys].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] > b[1] ? -1 : a[1] < b[1] ? 1 : 0));
      expect(keys).toEqual(sorted);
    }
  });

  it('a group whose file an overwrite removed meanwhile is planned again from the new head: no row lost or doubled', async () => {
    const t = await tableWithAppends(3);
    const other = new Table(catalog, await catalog.loadTable(ident));
    let raced = false;
    const notes: string[] = [];
    const r = await compactTable(t, {
      onProgress: async (p) => {
        if (p.detail) notes.push(p.detail);
        if (raced || p.event !== 'read' || p.group.partition[0] !== 1) return;
        raced = true;
        // While day 1's group is being read, another writer replaces the row with id 1 (a file of day 1).
        await other.overwrite('id = 1', [rowsToRecordBatch(schema, [{ ...row(1, 1), campaign: 'replaced' }])]);
      },
    });
    expect(raced).toBe(true);
    expect(notes.some((n) => n.startsWith('planned again: 1 group(s)'))).toBe(true);
    await t.refresh();
    const rows = await t.readRows();
    expect(ids(rows)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(rows.find((x) => x.id === 1n)!.campaign).toBe('replaced');
    expect(r.committed).toHaveLength(2);
    expect(r.skipped).toEqual([]);
    expect((await t.planFiles()).files).toHaveLength(2);
  });

  it('RewriteFiles reports a removed input as FilesRemovedError', async () => {
    const t = await tableWithAppends(1);
    const [f] = (await t.planFiles()).files;
    await t.overwrite('true', []);
    await expect(t.newRewrite().deleteFile(f!).addFile(f!).commit()).rejects.toBeInstanceOf(FilesRemovedError);
  });

  it('groupsPerCommit 1 commits each group on its own', async () => {
    const t = await tableWithAppends(3);
    const r = await compactTable(t, { groupsPerCommit: 1 });
    expect(new Set(r.committed.map((c) => c.snapshotId)).size).toBe(2);
  });

  it('a stop signal in the middle of a group abandons it (its files deleted) and commits the groups already written', async () => {
    const t = await tableWithAppends(3);
    const abort = new AbortController();
    let reads = 0;
    const r = await compactTable(t, { signal: abort.signal, onProgress: (p) => { if (p.event === 'read' && ++reads === 4) abort.abort(); } });
    expect(r.aborted).toBe(true);
    expect(r.committed).toHaveLength(1);
    expect(r.filesRemoved).toBe(3);
    expect(ids(await t.readRows())).toHaveLength(15);
    expect((await t.planFiles()).files).toHaveLength(4);
    const onDisk = readdirSync(path.join(dir, 'wh'), { recursive: true }).filter((f) => String(f).endsWith('.parquet'));
    expect(onDisk).toHaveLength(6 + 1);
  });
});
