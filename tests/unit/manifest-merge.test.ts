import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import {
  type CatalogPort, type LoadedTable, type ManifestEntry, type ManifestFile, ManifestEntryStatus, Schema, type Snapshot, T, Table,
  type TableIdentifier, type TableRequirement, type TableUpdate, packEnd, readManifest, readManifestList, rowsToRecordBatch, snapshotChanges,
} from '../../iceberg/index.ts';
import { RACE_PROPERTIES, RACE_SCHEMA, appendInAnotherProcess } from '../support/racing-processes.ts';

const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'ts', T.timestamptz(), true),
]);
const DAY = 86_400_000_000n;
const row = (id: number, day: number) => ({ id: BigInt(id), ts: BigInt(day) * DAY + BigInt(id) });
const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id)).sort((a, b) => a - b);
const ident: TableIdentifier = { namespace: ['merge'], name: 't' };

let dir: string;
let catalog: SqlCatalog;

async function createTable(properties: Record<string, string> = {}): Promise<Table> {
  await catalog.createNamespace(['merge']);
  const loaded = await catalog.createTable(ident, {
    schema,
    partitionSpec: { specId: 0, fields: [{ sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' }] },
    properties,
  });
  return new Table(catalog, loaded);
}

async function manifestsOf(t: Table): Promise<ManifestFile[]> {
  return readManifestList(t.io, t.currentSnapshot()!.manifestList);
}

async function liveEntries(t: Table): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  for (const m of await manifestsOf(t)) out.push(...(await readManifest(t.io, m)).filter((e) => e.status !== ManifestEntryStatus.DELETED));
  return out;
}

/** Appends row `i` (day i % 3) once per i and returns the snapshots in order. */
async function appendEach(t: Table, n: number, from = 0): Promise<Snapshot[]> {
  const snaps: Snapshot[] = [];
  for (let i = from; i < from + n; i++) snaps.push(await t.append([rowsToRecordBatch(schema, [row(i, i % 3)])]));
  return snaps;
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-merge-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('packEnd', () => {
  it('packs from the end without reordering, leaving the under-filled bin first and oversize items alone', () => {
    expect(packEnd([1, 2, 3, 4, 5], (x) => x, 7)).toEqual([[1, 2], [3, 4], [5]]);
    expect(packEnd([1, 1, 20, 1, 1], (x) => x, 3)).toEqual([[1, 1], [20], [1, 1]]);
    expect(packEnd([], (x: number) => x, 3)).toEqual([]);
  });
});

describe('manifest merging on append', () => {
  it('keeps the manifest count below commit.manifest.min-count-to-merge and every row readable', async () => {
    const t = await createTable({ 'commit.manifest.min-count-to-merge': '4' });
    const counts: number[] = [];
    for (let i = 0; i < 12; i++) {
      await appendEach(t, 1, i);
      counts.push((await manifestsOf(t)).length);
    }
    expect(counts).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    expect(ids(await t.readRows())).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(t.currentSnapshot()!.summary).toMatchObject({ 'total-data-files': '12', 'total-records': '12', 'added-data-files': '1' });
  });

  it('carries earlier files over as EXISTING with the snapshot id and sequence numbers of the snapshot that added them', async () => {
    const t = await createTable({ 'commit.manifest.min-count-to-merge': '3' });
    const snaps = await appendEach(t, 7);
    const bySnapshot = new Map(snaps.map((s) => [s.snapshotId, s]));
    const entries = await liveEntries(t);
    expect(entries).toHaveLength(7);
    for (const e of entries) {
      const adder = bySnapshot.get(e.snapshotId!)!;
      expect(adder).toBeDefined();
      expect(e.sequenceNumber).toBe(BigInt(adder.sequenceNumber));
      expect(e.fileSequenceNumber).toBe(BigInt(adder.sequenceNumber));
      expect(e.status).toBe(e.snapshotId === snaps[6]!.snapshotId ? ManifestEntryStatus.ADDED : ManifestEntryStatus.EXISTING);
    }
    // The manifest list's counts are the manifests' own.
    for (const m of await manifestsOf(t)) {
      const es = await readManifest(t.io, m);
      expect([m.addedFilesCount, m.existingFilesCount, m.deletedFilesCount]).toEqual([
        es.filter((e) => e.status === ManifestEntryStatus.ADDED).length,
        es.filter((e) => e.status === ManifestEntryStatus.EXISTING).length,
        es.filter((e) => e.status === ManifestEntryStatus.DELETED).length,
      ]);
      expect(m.minSequenceNumber).toBe(es.reduce((a, e) => (e.sequenceNumber! < a ? e.sequenceNumber! : a), BigInt(Number.MAX_SAFE_INTEGER)));
    }
  });

  it('each snapshot still reports exactly the file it added (what the metrics job reads), merged or not', async () => {
    const t = await createTable({ 'commit.manifest.min-count-to-merge': '2' });
    const snaps = await appendEach(t, 6);
    for (const s of snaps) {
      const c = await snapshotChanges(t.io, s);
      expect(c.deleted).toEqual([]);
      expect(c.added.map((f) => f.recordCount)).toEqual([1]);
    }
    const added = await Promise.all(snaps.map(async (s) => (await snapshotChanges(t.io, s)).added[0]!.filePath));
    expect(new Set(added).size).toBe(6);
  });

  it('keeps one manifest per append when commit.manifest-merge.enabled is false, and for a fast append', async () => {
    const t = await createTable({ 'commit.manifest-merge.enabled': 'false', 'commit.manifest.min-count-to-merge': '2' });
    await appendEach(t, 5);
    expect(await manifestsOf(t)).toHaveLength(5);
    await catalog.commitTable(ident, [], [{ action: 'set-properties', updates: { 'commit.manifest-merge.enabled': 'true' } }]);
    await t.refresh();
    const files = await t.writeDataFiles([rowsToRecordBatch(schema, [row(50, 0)])]);
    await t.newFastAppend().appendFiles(files).commit();
    expect(await manifestsOf(t)).toHaveLength(6);
    await appendEach(t, 1, 60);
    expect(await manifestsOf(t)).toHaveLength(1);
    expect(ids(await t.readRows())).toEqual([0, 1, 2, 3, 4, 50, 60]);
  });

  it('an overwrite that merges records its deletions once and the table reads right', async () => {
    const t = await createTable({ 'commit.manifest.min-count-to-merge': '2' });
    await appendEach(t, 5);
    const s = await t.overwrite('id = 1', [rowsToRecordBatch(schema, [row(100, 1)])]);
    expect(ids(await t.readRows())).toEqual([0, 2, 3, 4, 100]);
    const c = await snapshotChanges(t.io, s);
    expect(c.deleted.map((f) => f.recordCount)).toEqual([1]);
    expect(c.added).toHaveLength(1);
    expect(s.summary).toMatchObject({ operation: 'overwrite', 'total-data-files': '5', 'deleted-data-files': '1' });
    expect(await manifestsOf(t)).toHaveLength(1);
  });

  it('rejects a non-boolean commit.manifest-merge.enabled with a sentence naming the property', async () => {
    const t = await createTable({ 'commit.manifest-merge.enabled': 'sometimes' });
    const err = await t.append([rowsToRecordBatch(schema, [row(1, 0)])]).catch((e) => e);
    expect(err.message).toMatch(/commit\.manifest-merge\.enabled must be true or false/);
  });
});

/** A catalog where another writer appends just before each of our first `races` commits. */
class RacedCatalog implements CatalogPort {
  readonly name = 'raced';
  constructor(private readonly inner: SqlCatalog, private readonly rival: Table, private races: number) {}
  loadTable(id: TableIdentifier): Promise<LoadedTable> { return this.inner.loadTable(id); }
  async commitTable(id: TableIdentifier, reqs: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    if (this.races-- > 0) await this.rival.append([rowsToRecordBatch(schema, [row(1000 + this.races, 2)])]);
    return this.inner.commitTable(id, reqs, updates);
  }
}

describe('rewrite manifests', () => {
  const noMerge = { 'commit.manifest-merge.enabled': 'false' };

  it('replaces many manifests by one per spec, sorted by partition, keeping every entry\'s snapshot id and sequence numbers', async () => {
    const t = await createTable(noMerge);
    const snaps = await appendEach(t, 9);
    const before = new Map((await liveEntries(t)).map((e) => [e.dataFile.filePath, e]));
    const r = await t.rewriteManifests();
    expect(r).toMatchObject({ dryRun: false, manifestsBefore: 9, manifestsAfter: 1, replaced: 9, created: 1, kept: 0, entries: 9 });
    await t.refresh();
    const head = t.currentSnapshot()!;
    expect(head.snapshotId).toBe(r.snapshotId);
    expect(head.summary).toMatchObject({ operation: 'replace', 'manifests-created': '1', 'manifests-replaced': '9', 'entries-processed': '9', 'total-data-files': '9', 'changed-partition-count': '0' });
    expect(head.summary['added-data-files']).toBeUndefined();
    const after = await liveEntries(t);
    expect(after.map((e) => e.status)).toEqual(Array(9).fill(ManifestEntryStatus.EXISTING));
    for (const e of after) {
      const was = before.get(e.dataFile.filePath)!;
      expect([e.snapshotId, e.sequenceNumber, e.fileSequenceNumber]).toEqual([was.snapshotId, was.sequenceNumber, was.fileSequenceNumber]);
    }
    expect(after.map((e) => e.dataFile.partition[0])).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(ids(await t.readRows())).toEqual(Array.from({ length: 9 }, (_, i) => i));
    expect((await snapshotChanges(t.io, head)).added).toEqual([]);
    expect(snaps).toHaveLength(9);
  });

  it('a dry run changes nothing, and a second rewrite finds nothing to do', async () => {
    const t = await createTable(noMerge);
    await appendEach(t, 4);
    const dry = await t.rewriteManifests({ dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, snapshotId: null, manifestsBefore: 4, replaced: 4, created: 1, manifestsAfter: 1 });
    await t.refresh();
    expect(t.metadata.snapshots).toHaveLength(4);
    await t.rewriteManifests();
    const again = await t.rewriteManifests();
    expect(again).toMatchObject({ snapshotId: null, replaced: 0, created: 0, manifestsAfter: 1 });
  });

  it('splits into manifests of about commit.manifest.target-size-bytes', async () => {
    const t = await createTable(noMerge);
    await appendEach(t, 8);
    const sizes = (await manifestsOf(t)).map((m) => m.manifestLength);
    const r = await t.rewriteManifests({ targetSizeBytes: Math.ceil(sizes.reduce((a, b) => a + b, 0) / 3) });
    expect(r.created).toBe(3);
    expect(ids(await t.readRows())).toEqual(Array.from({ length: 8 }, (_, i) => i));
  });

  it('rebases onto appends that land while it commits: their files stay, nothing is lost or doubled', async () => {
    const t = await createTable({ ...noMerge, 'commit.retry.min-wait-ms': '1', 'commit.retry.max-wait-ms': '5' });
    await appendEach(t, 6);
    const raced = new Table(new RacedCatalog(catalog, t, 2), await catalog.loadTable(ident));
    const r = await raced.rewriteManifests();
    expect(r.snapshotId).not.toBeNull();
    await t.refresh();
    expect(t.currentSnapshot()!.snapshotId).toBe(r.snapshotId);
    expect(ids(await t.readRows())).toEqual([0, 1, 2, 3, 4, 5, 1000, 1001]);
    expect(t.currentSnapshot()!.summary['total-data-files']).toBe('8');
    // The rival's two manifests were kept as they were; the six old ones became one.
    expect(await manifestsOf(t)).toHaveLength(3);
  });

  it('rewrites running while another process appends: every row lands once and each rewrite is a replace snapshot', async () => {
    const uri = `sqlite:///${path.join(dir, 'race.db')}`;
    const config = path.join(dir, 'lakehouse.config.json');
    writeFileSync(config, JSON.stringify({ catalogs: { local: { type: 'sql', uri, warehouse: path.join(dir, 'wh') } } }));
    const local = await SqlCatalog.open({ name: 'local', uri, warehouse: path.join(dir, 'wh') });
    try {
      await local.createNamespace(['race']);
      const loaded = await local.createTable({ namespace: ['race'], name: 't' }, { schema: RACE_SCHEMA, properties: { ...RACE_PROPERTIES, ...noMerge } });
      const t = new Table(local, loaded);
      let done = false;
      const writer = appendInAnotherProcess(config, 'local', 'a', 40, 'race.t').finally(() => { done = true; });
      let rewrites = 0;
      while (!done) {
        await t.refresh();
        if ((await t.rewriteManifests()).snapshotId !== null) rewrites++;
      }
      await writer;
      await t.refresh();
      expect((await t.readRows()).map((r) => Number(r.n)).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      const ops = t.metadata.snapshots.map((s) => s.summary.operation);
      expect(ops.filter((o) => o === 'append')).toHaveLength(40);
      expect(ops.filter((o) => o === 'replace')).toHaveLength(rewrites);
      expect(rewrites).toBeGreaterThan(0);
      expect(t.currentSnapshot()!.summary['total-records']).toBe('40');
    } finally {
      await local.close();
    }
  });
});
