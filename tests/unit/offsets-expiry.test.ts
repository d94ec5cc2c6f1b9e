import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch, type Snapshot, Schema, Table, T } from '../../iceberg/index.ts';
import { OFFSETS_KEY_PREFIX, OffsetsAppend, findRecordedOffsets } from '../../pipeline/offsets.ts';

/**
 * Snapshot expiry and the offsets an ingest resumes from (pipeline/offsets.ts): the newest snapshot that
 * records a group's offsets, and every snapshot between it and the head, must survive `tables expire`
 * even when the head is a snapshot without them (a compaction, another group's commit).
 */
const schema = new Schema([T.field(1, 'id', T.long(), true)]);
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));

let dir: string;
let catalog: SqlCatalog;
const catalogUri = () => `sqlite:///${path.join(dir, 'catalog.db')}`;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-offsets-expiry-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: catalogUri(), warehouse: path.join(dir, 'wh') });
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

async function newTable(): Promise<Table> {
  const id = { namespace: [`ns_${Math.random().toString(36).slice(2, 8)}`], name: 't' };
  await catalog.createNamespace(id.namespace);
  return new Table(catalog, await catalog.createTable(id, { schema }));
}

/** One ingest flush of `group`: a data file of `ids` and the positions `t:0` = next. */
async function ingestFlush(t: Table, group: string, first: bigint, next: bigint): Promise<Snapshot> {
  const ids = Array.from({ length: Number(next - first) }, (_, i) => ({ id: first + BigInt(i) }));
  const files = await t.writeDataFiles([rowsToRecordBatch(schema, ids)]);
  return new OffsetsAppend(t, { group, source: 'kafka:t', ranges: new Map([['t:0', { first, next }]]), commitId: `${group}-${next}` }).appendFiles(files).commit();
}

/** A compaction of every live file into one: a `replace` snapshot without offsets. */
async function compact(t: Table): Promise<Snapshot> {
  const live = (await t.planFiles()).files;
  const rows = await t.readRows();
  const [merged] = await t.writeDataFiles([rowsToRecordBatch(schema, rows)]);
  const op = t.newRewrite().addFile(merged!);
  for (const f of live) op.deleteFile(f);
  return op.commit();
}

const ids = async (t: Table) => (await t.readRows()).map((r) => Number(r.id)).sort((a, b) => a - b);
const everything = { olderThanMs: Date.now() + 60_000, retainLast: 1 };

describe('snapshot expiry and recorded offsets', () => {
  it('keeps the newest snapshot with the group\'s offsets, and the chain to it, when a compaction is the head', async () => {
    const t = await newTable();
    const old = await ingestFlush(t, 'g', 0n, 3n);
    const newest = await ingestFlush(t, 'g', 3n, 5n);
    const head = await compact(t);

    const r = await t.expireSnapshots({ ...everything, retainSummaryKeyPrefixes: [OFFSETS_KEY_PREFIX] });
    expect(r.expiredSnapshotIds).toEqual([old.snapshotId]);
    expect(t.metadata.snapshots.map((s) => s.snapshotId)).toEqual([newest.snapshotId, head.snapshotId]);
    const recorded = findRecordedOffsets(t.metadata, 'g');
    expect(recorded).toMatchObject({ positions: new Map([['t:0', 5n]]), truncated: false });
    expect(recorded.snapshot?.snapshotId).toBe(newest.snapshotId);
    expect(await ids(t)).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps each group\'s newest carrier, however deep, when another group committed last', async () => {
    const t = await newTable();
    await ingestFlush(t, 'a', 0n, 2n);
    const aNewest = await ingestFlush(t, 'a', 2n, 4n);
    const bOld = await ingestFlush(t, 'b', 100n, 101n);
    const bNewest = await ingestFlush(t, 'b', 101n, 102n);

    await t.expireSnapshots({ ...everything, retainSummaryKeyPrefixes: [OFFSETS_KEY_PREFIX] });
    expect(t.metadata.snapshots.map((s) => s.snapshotId)).toEqual([aNewest.snapshotId, bOld.snapshotId, bNewest.snapshotId]);
    expect(findRecordedOffsets(t.metadata, 'a').positions).toEqual(new Map([['t:0', 4n]]));
    expect(findRecordedOffsets(t.metadata, 'b').positions).toEqual(new Map([['t:0', 102n]]));
  });

  it('without the prefix, expiry leaves the group nothing to resume from (the loss the option prevents)', async () => {
    const t = await newTable();
    await ingestFlush(t, 'g', 0n, 3n);
    await compact(t);

    await t.expireSnapshots(everything);
    expect(findRecordedOffsets(t.metadata, 'g')).toMatchObject({ positions: new Map(), snapshot: null, truncated: true });
  });

  it('lakehouse tables expire keeps the recorded offsets', async () => {
    const t = await newTable();
    await ingestFlush(t, 'g', 0n, 3n);
    const newest = await ingestFlush(t, 'g', 3n, 5n);
    await compact(t);

    const out = await new Promise<string>((resolve, reject) => {
      execFile(BIN, ['--warehouse', path.join(dir, 'wh'), '--catalog-uri', catalogUri(), '--json', 'tables', 'expire', t.name,
        '--older-than', String(everything.olderThanMs), '--retain-last', '1'], (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)));
    });
    expect(JSON.parse(out).expiredSnapshotIds).toHaveLength(1);
    await t.refresh();
    const recorded = findRecordedOffsets(t.metadata, 'g');
    expect(recorded.snapshot?.snapshotId).toBe(newest.snapshotId);
    expect(recorded.positions).toEqual(new Map([['t:0', 5n]]));
  });
});
