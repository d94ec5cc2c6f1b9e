import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { CRASH_AT_ENV, FLUSH_CRASH_POINTS } from '../../pipeline/crash-points.ts';
import {
  Schema, type Snapshot, T, Table,
  readManifestList, rowsToRecordBatch,
} from '../../iceberg/index.ts';
import { PausedCatalog } from '../support/paused-catalog.ts';
import { age, filesUnder } from '../support/local-files.ts';
import { canonicalRows } from './canonical.ts';
import { type Warehouse, localPath, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata, readWithDuckDB, readWithPyIceberg } from './readers.ts';

/**
 * Manifest merging, rewrite-manifests and orphan removal, checked from outside: PyIceberg and DuckDB
 * read the rows and PyIceberg reports each live file's status, snapshot id and sequence number; the
 * orphan runs go through `lakehouse` processes, after a real kill -9 and beside a commit held in flight.
 */

const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'ts', T.timestamptz(), true), T.field(3, 'kind', T.string(), true)]);
const DAY = 86_400_000_000n;
const HOUR_MS = 3_600_000;
type Row = { id: bigint; ts: bigint; kind: string };
const row = (i: number): Row => ({ id: BigInt(i), ts: BigInt(i % 5) * DAY + BigInt(i), kind: `k${i % 3}` });
const daySpec = { specId: 0, fields: [{ sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' }] };

let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('maintenance');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const all = ['--warehouse', fileURLToPath(wh.warehouse), '--catalog-uri', wh.catalogUri, ...args];
  return new Promise((resolve) => {
    const child = execFile(BIN, all, { cwd: wh.dir, env: { ...process.env, LAKEHOUSE_DEBUG: '', ...env } }, (_e, stdout, stderr) => {
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
    });
  });
}

const tableDir = (name: string) => path.join(fileURLToPath(wh.warehouse), 'interop', name);

describe('manifests stay few, and independent readers agree', () => {
  it('30 merged appends: PyIceberg and DuckDB read every row, manifests stay under min-count-to-merge, each file keeps the snapshot id and sequence number of its append', async () => {
    const t = await wh.createTable('merged', schema, daySpec, { 'commit.manifest.min-count-to-merge': '5' });
    const written = new Map<string, Snapshot>();
    const snaps: Snapshot[] = [];
    const rows: Row[] = [];
    let most = 0;
    for (let i = 0; i < 30; i++) {
      const batch = [row(2 * i), row(2 * i + 1)];
      rows.push(...batch);
      const files = await t.writeDataFiles([rowsToRecordBatch(schema, batch)]);
      const s = await t.newAppend().appendFiles(files).commit();
      for (const f of files) written.set(f.filePath, s);
      snaps.push(s);
      most = Math.max(most, (await readManifestList(t.io, s.manifestList)).length);
    }
    expect(most).toBeLessThan(5);
    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.merged' };
    const canon = canonicalRows(schema, rows);
    expect(await readWithPyIceberg(ref)).toEqual(canon);
    expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation) })).toEqual(canon);

    const seen = await pyicebergMetadata(ref);
    expect(seen.data_files).toHaveLength(written.size);
    const head = t.currentSnapshot()!;
    for (const f of seen.data_files) {
      const adder = written.get(f.file_path)!;
      expect(f.snapshot_id).toBe(String(adder.snapshotId));
      expect(f.sequence_number).toBe(String(adder.sequenceNumber));
      // A file stays ADDED in the manifest its own append wrote and is EXISTING once merged into a later one.
      if (adder.snapshotId === head.snapshotId) expect(f.status).toBe('added');
    }
    expect(seen.data_files.filter((f) => f.status === 'existing').length).toBeGreaterThan(written.size / 2);
    // Time travel to a snapshot before the last merges reads what it held.
    expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation), snapshotId: snaps[12]!.snapshotId })).toEqual(canonicalRows(schema, rows.slice(0, 26)));
  });

  it('rewrite-manifests (the CLI) leaves one manifest that PyIceberg and DuckDB read as before, entries EXISTING with their own snapshot ids', async () => {
    const t = await wh.createTable('rewritten', schema, daySpec, { 'commit.manifest-merge.enabled': 'false' });
    const rows: Row[] = [];
    for (let i = 0; i < 15; i++) {
      rows.push(row(i));
      await t.append([rowsToRecordBatch(schema, [row(i)])]);
    }
    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.rewritten' };
    const before = await pyicebergMetadata(ref);
    const r = await cli(['--json', 'tables', 'rewrite-manifests', 'interop.rewritten']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ manifestsBefore: 15, manifestsAfter: 1, replaced: 15, created: 1, entries: 15 });
    await t.refresh();
    const canon = canonicalRows(schema, rows);
    expect(await readWithPyIceberg(ref)).toEqual(canon);
    expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation) })).toEqual(canon);
    const after = await pyicebergMetadata(ref);
    expect(after.snapshots.at(-1)!.operation).toBe('replace');
    const keyed = (fs: typeof before.data_files) => fs.map((f) => [f.file_path, f.snapshot_id, f.sequence_number].join(' ')).sort();
    expect(keyed(after.data_files)).toEqual(keyed(before.data_files));
    expect(new Set(after.data_files.map((f) => f.status))).toEqual(new Set(['existing']));
  });
});

describe('lakehouse tables remove-orphans', () => {
  it('after an ingest killed with kill -9 between its data files and its commit, deletes exactly the files PyIceberg does not see; every event reads once', async () => {
    await wh.createTable('crashed', campaignEventsSchema, campaignEventsSpec);
    const start = Date.now() - HOUR_MS;
    const events = Array.from({ length: 90 }, (_, i) => JSON.stringify({
      event_id: `evt-${i}`, user_id: `u-${i % 7}`, campaign_id: `c-${i % 3}`, event_type: 'impression', platform: 'meta',
      timestamp: new Date(start - (i % 3) * 86_400_000 + i).toISOString(), revenue: 0,
    }));
    const file = path.join(wh.dir, 'crashed.ndjson');
    writeFileSync(file, events.join('\n') + '\n');
    const ingest = ['ingest', '--source', `file:${file}`, '--table', 'interop.crashed', '--flush-rows', '30', '--dead-letter-file', path.join(wh.dir, 'dead.ndjson')];
    const killed = await cli(ingest, { [CRASH_AT_ENV]: `${FLUSH_CRASH_POINTS.filesWritten}:2` });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const finished = await cli(ingest);
    expect(finished.code, finished.stderr).toBe(0);

    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.crashed' };
    const live = new Set((await pyicebergMetadata(ref)).data_files.map((f) => localPath(f.file_path)));
    const dataDir = path.join(tableDir('crashed'), 'data');
    const leftovers = filesUnder(dataDir).filter((f) => !live.has(f));
    expect(leftovers.length).toBeGreaterThan(0);
    age(filesUnder(tableDir('crashed')), 4 * 24 * HOUR_MS);

    const dry = await cli(['--json', 'tables', 'remove-orphans', 'interop.crashed', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).orphans.map((o: { location: string }) => localPath(o.location)).sort()).toEqual(leftovers);
    expect(filesUnder(dataDir).filter((f) => !live.has(f))).toEqual(leftovers);

    const r = await cli(['--json', 'tables', 'remove-orphans', 'interop.crashed', '--older-than', '3d']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).orphans.map((o: { location: string }) => localPath(o.location)).sort()).toEqual(leftovers);
    expect(filesUnder(dataDir)).toEqual([...live].sort());
    const ids = (await readWithPyIceberg(ref)).map((l) => (JSON.parse(l) as { event_id: string }).event_id).sort();
    expect(ids).toEqual(events.map((e) => (JSON.parse(e) as { event_id: string }).event_id).sort());
  });

  it('a commit held in flight while remove-orphans runs keeps all its files, lands afterwards and PyIceberg reads its rows', async () => {
    const t = await wh.createTable('inflight', schema, daySpec);
    await t.append([rowsToRecordBatch(schema, [row(1), row(2)])]);
    const stale = path.join(tableDir('inflight'), 'data', 'crashed-writer-00000.parquet');
    writeFileSync(stale, 'a crashed writer\'s half file');
    age(filesUnder(tableDir('inflight')), 2 * HOUR_MS);

    const paused = new PausedCatalog(wh.catalog);
    const writer = new Table(paused, await wh.catalog.loadTable({ namespace: ['interop'], name: 'inflight' }));
    const files = await writer.writeDataFiles([rowsToRecordBatch(schema, [row(7), row(8)])]);
    const landing = writer.newAppend().appendFiles(files).commit();
    await paused.reached;
    const inFlight = filesUnder(tableDir('inflight')).filter((f) => !f.endsWith('crashed-writer-00000.parquet'));

    const r = await cli(['--json', 'tables', 'remove-orphans', 'interop.inflight', '--older-than', '1h']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.orphans.map((o: { location: string }) => localPath(o.location))).toEqual([stale]);
    expect(out.keptTooNew).toBe(4); // two data files, a manifest, a manifest list
    expect(filesUnder(tableDir('inflight'))).toEqual(inFlight);

    paused.release();
    await landing;
    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.inflight' };
    expect(await readWithPyIceberg(ref)).toEqual(canonicalRows(schema, [row(1), row(2), row(7), row(8)]));
  });
});
