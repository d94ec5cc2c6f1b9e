import { LakehouseError } from '../../core/errors.ts';
import { CommitConflictError } from '../errors.ts';
import type { ManifestFile } from '../spec/manifest/manifest-types.ts';
import { ManifestEntryStatus } from '../spec/manifest/manifest-types.ts';
import { readManifest } from '../spec/manifest/manifest.ts';
import { readManifestList } from '../spec/manifest/manifest-list.ts';
import { withRetry } from '../../core/retry.ts';
import type { TableHandle } from './snapshot-producer.ts';
import type { Snapshot, TableMetadata } from '../spec/table-metadata.ts';
import { MAIN_BRANCH, ancestorsOf, currentSnapshot } from '../spec/table-metadata.ts';
import {
  COMMIT_NUM_RETRIES, COMMIT_NUM_RETRIES_DEFAULT, MAX_SNAPSHOT_AGE_MS, MAX_SNAPSHOT_AGE_MS_DEFAULT,
  MIN_SNAPSHOTS_TO_KEEP, MIN_SNAPSHOTS_TO_KEEP_DEFAULT, intProperty,
} from '../spec/table-properties.ts';
import type { FileIO } from '../io/file-io.ts';
import { mapLimit } from '../scan/table-scan.ts';

export interface ExpireOptions {
  /** Snapshots older than this (ms since epoch) may go; default now - history.expire.max-snapshot-age-ms. */
  olderThanMs?: number;
  /** Ancestors of each branch head always kept; default history.expire.min-snapshots-to-keep. */
  retainLast?: number;
  /** Expire exactly these (in addition to the age rule); a branch or tag head cannot be expired. */
  snapshotIds?: bigint[];
  /** Compute and report, change nothing. */
  dryRun?: boolean;
  /** Delete manifest lists, manifests and data files no retained snapshot references (default true). */
  cleanFiles?: boolean;
  /**
   * Summary-key prefixes whose newest value must survive, e.g. `lakehouse.offsets.` (the source positions
   * an ingest resumes from, pipeline/offsets.ts). For each branch and each key under a prefix, the newest
   * ancestor carrying the key is retained together with every snapshot between it and the branch head,
   * whatever its age: readers of such keys walk back through parent links and stop at the first expired
   * parent, so a head without the key (a compaction, another writer's commit) must still lead to it.
   * A key nobody writes any more pins its newest carrier and the history after it; expire that carrier
   * by id (`snapshotIds`) to let it go.
   */
  retainSummaryKeyPrefixes?: string[];
  /**
   * Snapshots to keep together with every snapshot between them and the head of a branch they are an
   * ancestor of, whatever their age: e.g. the snapshot a downstream job is current with, whose successors
   * it reads next. Checked against the table each attempt sees, so commits landing meanwhile are kept too.
   */
  retainFromSnapshotIds?: bigint[];
}

export interface ExpireResult {
  expiredSnapshotIds: bigint[];
  deletedDataFiles: string[];
  deletedManifests: string[];
  deletedManifestLists: string[];
}

/** Which snapshots go: old ones that no ref needs (spec "Snapshot Retention Policy"). */
export function snapshotsToExpire(m: TableMetadata, opts: ExpireOptions, nowMs = Date.now()): Snapshot[] {
  const olderThan = opts.olderThanMs ?? nowMs - intProperty(m.properties, MAX_SNAPSHOT_AGE_MS, MAX_SNAPSHOT_AGE_MS_DEFAULT);
  const retainLast = Math.max(1, opts.retainLast ?? intProperty(m.properties, MIN_SNAPSHOTS_TO_KEEP, MIN_SNAPSHOTS_TO_KEEP_DEFAULT));
  const keep = new Set<bigint>();
  const prefixes = opts.retainSummaryKeyPrefixes ?? [];
  for (const ref of Object.values(m.refs)) {
    keep.add(ref.snapshotId);
    if (ref.type === 'branch') {
      const ancestors = ancestorsOf(m, ref.snapshotId);
      const from = (opts.retainFromSnapshotIds ?? []).map((id) => ancestors.findIndex((s) => s.snapshotId === id) + 1);
      const min = Math.max(ref.minSnapshotsToKeep ?? retainLast, carriersDepth(ancestors, prefixes), ...from);
      for (const s of ancestors.slice(0, min)) keep.add(s.snapshotId);
    }
  }
  const explicit = new Set(opts.snapshotIds ?? []);
  for (const id of explicit) {
    if (!m.snapshots.some((s) => s.snapshotId === id)) {
      throw new LakehouseError('NOT_FOUND', `Snapshot ${id} is not in the table, so it cannot be expired.`);
    }
    const heads = Object.entries(m.refs).filter(([, r]) => r.snapshotId === id).map(([n]) => n);
    if (heads.length > 0) {
      throw new LakehouseError('INVALID_ARGUMENT', `Snapshot ${id} is the head of ${heads.join(', ')} and cannot be expired; move or remove the ref first.`);
    }
  }
  return m.snapshots.filter((s) => explicit.has(s.snapshotId) || (!keep.has(s.snapshotId) && s.timestampMs < olderThan));
}

/**
 * How many of `ancestors` (newest first) to keep so that the newest carrier of every summary key under
 * `prefixes` stays reachable from the head: one past the deepest such newest carrier, 0 when none.
 */
function carriersDepth(ancestors: Snapshot[], prefixes: string[]): number {
  if (prefixes.length === 0) return 0;
  const found = new Set<string>();
  let depth = 0;
  ancestors.forEach((s, i) => {
    for (const key of Object.keys(s.summary)) {
      if (found.has(key) || !prefixes.some((p) => key.startsWith(p))) continue;
      found.add(key);
      depth = i + 1;
    }
  });
  return depth;
}

async function reachable(io: FileIO, snapshots: Snapshot[], manifestCache: Map<string, ManifestFile[]>) {
  const lists = new Set<string>();
  const manifests = new Map<string, ManifestFile>();
  for (const s of snapshots) {
    lists.add(s.manifestList);
    let ms = manifestCache.get(s.manifestList);
    if (!ms) manifestCache.set(s.manifestList, (ms = await readManifestList(io, s.manifestList)));
    for (const mf of ms) manifests.set(mf.manifestPath, mf);
  }
  return { lists, manifests };
}

async function dataFilesOf(io: FileIO, manifests: ManifestFile[], liveOnly: boolean): Promise<Set<string>> {
  const out = new Set<string>();
  const all = await mapLimit(manifests, 8, (m) => readManifest(io, m));
  for (const entries of all) {
    for (const e of entries) if (!liveOnly || e.status !== ManifestEntryStatus.DELETED) out.add(e.dataFile.filePath);
  }
  return out;
}

/**
 * Removes snapshots from the metadata (one commit, retried on conflict against the new head), then
 * deletes the files only expired snapshots referenced. Deletion happens after the commit landed and
 * only for files no retained snapshot can reach, so a reader of any retained snapshot is never broken.
 */
export async function expireSnapshots(table: TableHandle, opts: ExpireOptions = {}): Promise<ExpireResult> {
  const retries = intProperty(table.state.metadata.properties, COMMIT_NUM_RETRIES, COMMIT_NUM_RETRIES_DEFAULT);
  let before: TableMetadata = table.state.metadata;
  let expired: Snapshot[] = [];
  await withRetry(async (attempt) => {
    if (attempt > 0) await table.refresh();
    before = table.state.metadata;
    expired = snapshotsToExpire(before, opts);
    if (expired.length === 0 || opts.dryRun) return;
    table.state = await table.catalog.commitTable(table.state.identifier, [
      { type: 'assert-table-uuid', uuid: before.tableUuid },
      { type: 'assert-ref-snapshot-id', ref: MAIN_BRANCH, snapshotId: currentSnapshot(before)?.snapshotId ?? null },
    ], [{ action: 'remove-snapshots', snapshotIds: expired.map((s) => s.snapshotId) }]);
  }, { retries, minWaitMs: 100, maxWaitMs: 10_000, isRetryable: (e) => e instanceof CommitConflictError });

  const result: ExpireResult = { expiredSnapshotIds: expired.map((s) => s.snapshotId), deletedDataFiles: [], deletedManifests: [], deletedManifestLists: [] };
  if (expired.length === 0 || opts.cleanFiles === false) return result;

  const io = table.state.io;
  const expiredIds = new Set(result.expiredSnapshotIds);
  const retained = before.snapshots.filter((s) => !expiredIds.has(s.snapshotId));
  const cache = new Map<string, ManifestFile[]>();
  const keep = await reachable(io, retained, cache);
  const gone = await reachable(io, expired, cache);
  const orphanManifests = [...gone.manifests.values()].filter((m) => !keep.manifests.has(m.manifestPath));
  // A file is needed iff some retained snapshot sees it live: an ADDED or EXISTING entry in a retained
  // manifest. DELETED entries (carried forward by later appends) do not keep a file alive.
  const keepData = await dataFilesOf(io, [...keep.manifests.values()], true);
  const candidateData = await dataFilesOf(io, orphanManifests, false);
  result.deletedDataFiles = [...candidateData].filter((p) => !keepData.has(p));
  result.deletedManifests = orphanManifests.map((m) => m.manifestPath);
  result.deletedManifestLists = [...gone.lists].filter((l) => !keep.lists.has(l));
  if (!opts.dryRun) {
    await io.deleteMany(result.deletedDataFiles);
    await io.deleteMany(result.deletedManifests);
    await io.deleteMany(result.deletedManifestLists);
  }
  return result;
}
