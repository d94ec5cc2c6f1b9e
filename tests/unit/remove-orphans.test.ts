import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import {
  Schema, T, Table, type TableIdentifier,
  readManifestList, rowsToRecordBatch, tableFileKind,
} from '../../iceberg/index.ts';
import { canonicalLocation } from '../../iceberg/io/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import { PausedCatalog } from '../support/paused-catalog.ts';
import { age, filesUnder } from '../support/local-files.ts';

const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'ts', T.timestamptz(), true)]);
const DAY = 86_400_000_000n;
const HOUR_MS = 3_600_000;
const row = (id: number) => ({ id: BigInt(id), ts: BigInt(id % 2) * DAY });
const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id)).sort((a, b) => a - b);
const ident: TableIdentifier = { namespace: ['orph'], name: 't' };

let dir: string;
let catalog: SqlCatalog;

async function createTable(): Promise<Table> {
  await catalog.createNamespace(['orph']);
  return new Table(catalog, await catalog.createTable(ident, {
    schema, partitionSpec: { specId: 0, fields: [{ sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' }] }, properties: {},
  }));
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-orphans-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('remove orphan files', () => {
  it('deletes exactly the files an abandoned commit left (data, manifest, manifest list, metadata) and nothing a snapshot needs', async () => {
    const t = await createTable();
    for (let i = 0; i < 4; i++) await t.append([rowsToRecordBatch(schema, [row(i)])]);
    const tableDir = path.join(dir, 'wh', 'orph', 't');
    const before = filesUnder(tableDir);

    // A writer that got as far as the catalog call and died there: its data files, manifest and
    // manifest list are written; then a metadata file that never became current.
    const paused = new PausedCatalog(catalog);
    const crashed = new Table(paused, await catalog.loadTable(ident));
    const files = await crashed.writeDataFiles([rowsToRecordBatch(schema, [row(100), row(101)])]);
    void crashed.newAppend().appendFiles(files).commit();
    await paused.reached;
    writeFileSync(path.join(tableDir, 'metadata', '00099-2b0f7d5e-0000-4000-8000-000000000000.metadata.json'), '{}');
    writeFileSync(path.join(tableDir, 'version-hint.text'), '4');
    const leftovers = filesUnder(tableDir).filter((f) => !before.includes(f) && !f.endsWith('version-hint.text'));
    expect(leftovers.map((f) => tableFileKind(f)).sort()).toEqual(['data', 'data', 'manifest', 'manifest-list', 'metadata']);
    age(filesUnder(tableDir), 4 * 24 * HOUR_MS);

    const dry = await t.removeOrphanFiles({ dryRun: true });
    expect(dry.orphans.map((o) => o.location.replace(/^file:\/\//, '')).sort()).toEqual(leftovers);
    expect(filesUnder(tableDir)).toHaveLength(before.length + leftovers.length + 1);

    const r = await t.removeOrphanFiles();
    expect(r.orphans.map((o) => canonicalLocation(o.location)).sort()).toEqual(leftovers);
    expect(r.keptUnknown.map((f) => path.basename(f))).toEqual(['version-hint.text']);
    expect(filesUnder(tableDir)).toEqual([...before, path.join(tableDir, 'version-hint.text')].sort());
    expect(ids(await t.readRows())).toEqual([0, 1, 2, 3]);
    // Every snapshot still reads: time travel to the first.
    expect(ids(await t.readRows({ snapshotId: t.metadata.snapshots[0]!.snapshotId }))).toEqual([0]);
  });

  it('keeps every file of a commit in flight during the run, which then lands and reads', async () => {
    const t = await createTable();
    await t.append([rowsToRecordBatch(schema, [row(1)])]);
    const tableDir = path.join(dir, 'wh', 'orph', 't');
    const stale = path.join(tableDir, 'data', 'stale-00000.parquet');
    writeFileSync(stale, 'left by a crash');
    age(filesUnder(tableDir), 2 * HOUR_MS);

    const paused = new PausedCatalog(catalog);
    const writer = new Table(paused, await catalog.loadTable(ident));
    const files = await writer.writeDataFiles([rowsToRecordBatch(schema, [row(7), row(8)])]);
    const landing = writer.newAppend().appendFiles(files).commit();
    await paused.reached;
    const inFlight = filesUnder(tableDir).filter((f) => statSync(f).mtimeMs > Date.now() - HOUR_MS);
    expect(inFlight.length).toBeGreaterThanOrEqual(4); // 2 data files, a manifest, a manifest list

    const r = await t.removeOrphanFiles({ olderThanMs: Date.now() - HOUR_MS });
    expect(r.orphans.map((o) => canonicalLocation(o.location))).toEqual([stale]);
    expect(r.keptTooNew).toBe(inFlight.length);
    for (const f of inFlight) expect(statSync(f).isFile()).toBe(true);

    paused.release();
    await landing;
    await t.refresh();
    expect(ids(await t.readRows())).toEqual([1, 7, 8]);
  });

  it('refuses to delete anything when a file the current snapshot references cannot be read', async () => {
    const t = await createTable();
    await t.append([rowsToRecordBatch(schema, [row(1)])]);
    const tableDir = path.join(dir, 'wh', 'orph', 't');
    writeFileSync(path.join(tableDir, 'data', 'stale.parquet'), 'x');
    const [manifest] = await readManifestList(t.io, t.currentSnapshot()!.manifestList);
    rmSync(canonicalLocation(manifest!.manifestPath));
    age(filesUnder(tableDir), 4 * 24 * HOUR_MS);
    const err = await t.removeOrphanFiles().catch((e) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect(err.message).toMatch(/references .*no file was deleted/);
    expect(statSync(path.join(tableDir, 'data', 'stale.parquet')).isFile()).toBe(true);
  });
});

describe('canonicalLocation', () => {
  it('names one file one way across s3/s3a/s3n and file:/// / file:/ / plain paths', () => {
    expect(canonicalLocation('s3a://b/wh/t/data/x.parquet')).toBe('s3://b/wh/t/data/x.parquet');
    expect(canonicalLocation('s3n://b/wh/t/data/x.parquet')).toBe('s3://b/wh/t/data/x.parquet');
    expect(canonicalLocation('s3://b/a//b')).toBe('s3://b/a//b');
    for (const l of ['file:///w/t/x.avro', 'file:/w/t/x.avro', 'file://localhost/w/t/x.avro', '/w/t/x.avro', '/w//t/./x.avro']) {
      expect(canonicalLocation(l)).toBe('/w/t/x.avro');
    }
  });
});
