import { LakehouseError } from '../../core/errors.ts';
import type { ManifestEntry, ManifestFile } from '../spec/manifest/manifest-types.ts';
import { ManifestContent, ManifestEntryStatus } from '../spec/manifest/manifest-types.ts';
import { partitionType } from '../spec/manifest/manifest.ts';
import { readManifestList } from '../spec/manifest/manifest-list.ts';
import type { PrimitiveType } from '../spec/types.ts';
import { compareValues } from '../spec/values/ordering.ts';
import type { Snapshot, SnapshotOperation, TableMetadata } from '../spec/table-metadata.ts';
import { currentSchema, currentSnapshot, specById } from '../spec/table-metadata.ts';
import { MANIFEST_TARGET_SIZE_BYTES, MANIFEST_TARGET_SIZE_BYTES_DEFAULT, intProperty } from '../spec/table-properties.ts';
import { type ApplyResult, SnapshotProducer, type TableHandle } from './snapshot-producer.ts';

/** The data manifests of one partition spec that a rewrite replaces, and how many it writes instead. */
export interface ManifestRewriteGroup {
  specId: number;
  manifests: ManifestFile[];
  /** Manifests of about the target size the group's live entries fill (an estimate from manifest sizes). */
  outputs: number;
}

export interface ManifestRewritePlan {
  groups: ManifestRewriteGroup[];
  /** Manifests left as they are: delete manifests, and data manifests of groups already as few as they can be. */
  kept: ManifestFile[];
}

/**
 * Which manifests to rewrite: per partition spec, the data manifests when their live entries would fit
 * in fewer manifests of `targetSizeBytes` than there are now. Delete manifests are always kept (data and
 * delete files never share a manifest). A second plan right after a rewrite finds nothing to do.
 */
export function planManifestRewrite(manifests: readonly ManifestFile[], targetSizeBytes: number): ManifestRewritePlan {
  const bySpec = new Map<number, ManifestFile[]>();
  const kept: ManifestFile[] = [];
  for (const m of manifests) {
    if (m.content !== ManifestContent.DATA) { kept.push(m); continue; }
    bySpec.set(m.partitionSpecId, [...(bySpec.get(m.partitionSpecId) ?? []), m]);
  }
  const groups: ManifestRewriteGroup[] = [];
  for (const [specId, group] of bySpec) {
    const bytes = group.reduce((a, m) => a + m.manifestLength, 0);
    const live = group.reduce((a, m) => a + m.addedFilesCount + m.existingFilesCount, 0);
    const all = live + group.reduce((a, m) => a + m.deletedFilesCount, 0);
    // v1 lists may leave counts out (read as 0): then assume every entry is live.
    const liveBytes = all === 0 ? bytes : (bytes * live) / all;
    const outputs = Math.max(1, Math.ceil(liveBytes / targetSizeBytes));
    if (group.length > outputs) groups.push({ specId, manifests: group, outputs });
    else kept.push(...group);
  }
  return { groups, kept };
}

/** What a rewrite did (or, with `dryRun`, would do). */
export interface RewriteManifestsResult {
  dryRun: boolean;
  /** The `replace` snapshot committed; null when nothing needed rewriting (or on a dry run). */
  snapshotId: bigint | null;
  manifestsBefore: number;
  manifestsAfter: number;
  /** Manifests replaced, and written in their place (a dry run gives its estimate). */
  replaced: number;
  created: number;
  kept: number;
  /** Live file entries carried over into the new manifests (a dry run: from the manifest list's counts). */
  entries: number;
}

export interface RewriteManifestsOptions {
  dryRun?: boolean;
  /** Size of the manifests written; default the table's `commit.manifest.target-size-bytes`. */
  targetSizeBytes?: number;
}

/** Thrown inside an attempt when the head it was applied to needs no rewrite; ends the commit quietly. */
class NothingToRewrite extends Error {}

/**
 * Rewrite manifests (Java `RewriteManifests`), operation `replace`: the data manifests of each
 * partition spec are replaced by as few manifests of about `commit.manifest.target-size-bytes` as hold
 * their live entries, sorted by partition tuple so each new manifest covers a narrow range of
 * partitions (its partition summary prunes well). Every entry becomes EXISTING with its own snapshot
 * id and data and file sequence numbers; DELETED entries are dropped (the snapshot that deleted a file
 * still records it in its own manifests). No file is added or removed, so readers and incremental
 * consumers see no change in data.
 *
 * On a conflict the rewrite is applied to the new head: if every manifest it replaced is still there,
 * the manifests it wrote are reused and whatever the other writer added is kept as it is; if one of
 * them is gone (a concurrent overwrite or rewrite replaced it), it plans again from the new head.
 */
export class RewriteManifests extends SnapshotProducer {
  private targetSizeBytes: number;
  private previous?: { replaced: Set<string>; created: ManifestFile[] };
  /** The counts of the attempt that landed (the last one applied). */
  stats = { manifestsBefore: 0, replaced: 0, created: 0, kept: 0, entries: 0 };

  constructor(table: TableHandle, targetSizeBytes?: number) {
    super(table);
    this.targetSizeBytes = targetSizeBytes ?? intProperty(table.state.metadata.properties, MANIFEST_TARGET_SIZE_BYTES, MANIFEST_TARGET_SIZE_BYTES_DEFAULT, { min: 1 });
  }

  protected operation(): SnapshotOperation {
    return 'replace';
  }

  protected override mergesManifests(): boolean {
    return false;
  }

  protected async apply(base: TableMetadata, parent: Snapshot | null): Promise<ApplyResult> {
    const manifests = await this.manifestsOf(parent);
    const prev = this.previous;
    if (prev && [...prev.replaced].every((p) => manifests.some((m) => m.manifestPath === p))) {
      const kept = manifests.filter((m) => !prev.replaced.has(m.manifestPath));
      this.record(manifests.length, prev.replaced.size, prev.created, kept);
      return { manifests: [...prev.created, ...kept], added: [], deleted: [] };
    }
    const plan = planManifestRewrite(manifests, this.targetSizeBytes);
    if (plan.groups.length === 0) throw new NothingToRewrite();
    const created: ManifestFile[] = [];
    let entries = 0;
    for (const group of plan.groups) {
      const written = await this.rewriteGroup(base, group);
      created.push(...written.manifests);
      entries += written.entries;
    }
    const replaced = new Set(plan.groups.flatMap((g) => g.manifests.map((m) => m.manifestPath)));
    this.previous = { replaced, created };
    this.record(manifests.length, replaced.size, created, plan.kept, entries);
    return { manifests: [...created, ...plan.kept], added: [], deleted: [] };
  }

  private record(before: number, replaced: number, created: ManifestFile[], kept: ManifestFile[], entries?: number): void {
    const carried = entries ?? created.reduce((a, m) => a + m.existingFilesCount, 0);
    this.stats = { manifestsBefore: before, replaced, created: created.length, kept: kept.length, entries: carried };
    // Java's RewriteManifests summary keys.
    this.set('manifests-created', String(created.length));
    this.set('manifests-kept', String(kept.length));
    this.set('manifests-replaced', String(replaced));
    this.set('entries-processed', String(carried));
  }

  private async rewriteGroup(base: TableMetadata, group: ManifestRewriteGroup): Promise<{ manifests: ManifestFile[]; entries: number }> {
    const live: ManifestEntry[] = [];
    let all = 0;
    let liveRecords = 0;
    for (const m of group.manifests) {
      for (const e of await this.entriesOf(m)) {
        all++;
        if (e.status === ManifestEntryStatus.DELETED) continue;
        live.push({ ...e, status: ManifestEntryStatus.EXISTING });
        liveRecords += e.dataFile.recordCount;
      }
    }
    if (live.length === 0) return { manifests: [], entries: 0 };
    sortByPartition(base, group.specId, live);
    const bytesPerEntry = group.manifests.reduce((a, m) => a + m.manifestLength, 0) / Math.max(1, all);
    const outputs = Math.max(1, Math.ceil((live.length * bytesPerEntry) / this.targetSizeBytes));
    const perManifest = Math.ceil(live.length / outputs);
    const written: ManifestFile[] = [];
    for (let i = 0; i < live.length; i += perManifest) {
      written.push(await this.newManifest(base, group.specId, live.slice(i, i + perManifest)));
    }
    const files = written.reduce((a, m) => a + m.existingFilesCount, 0);
    const records = written.reduce((a, m) => a + m.existingRowsCount, 0);
    if (files !== live.length || records !== liveRecords) {
      throw new LakehouseError('VALIDATION_FAILED', `Rewriting the manifests of spec ${group.specId} would carry ${files} files / ${records} rows instead of ${live.length} / ${liveRecords}; nothing was committed.`);
    }
    return { manifests: written, entries: live.length };
  }
}

/** Sorts entries by partition tuple (nulls first), so consecutive manifests cover consecutive partitions. */
function sortByPartition(base: TableMetadata, specId: number, entries: ManifestEntry[]): void {
  let types: PrimitiveType[];
  try {
    types = partitionType(specById(base, specId), currentSchema(base)).fields.map((f) => f.type as PrimitiveType);
  } catch {
    return; // a spec whose source column was dropped: keep the order the manifests had
  }
  if (types.length === 0) return;
  entries.sort((a, b) => {
    for (let i = 0; i < types.length; i++) {
      const c = compareValues(types[i]!, a.dataFile.partition[i] ?? null, b.dataFile.partition[i] ?? null);
      if (c !== 0) return c;
    }
    return 0;
  });
}

/**
 * Rewrites the manifests of a table's current snapshot into few, partition-clustered ones (one
 * `replace` commit, retried on conflict), or with `dryRun` says what it would do. For the CLI and for
 * scheduled maintenance alike.
 */
export async function rewriteManifests(table: TableHandle, opts: RewriteManifestsOptions = {}): Promise<RewriteManifestsResult> {
  const base = table.state.metadata;
  const target = opts.targetSizeBytes ?? intProperty(base.properties, MANIFEST_TARGET_SIZE_BYTES, MANIFEST_TARGET_SIZE_BYTES_DEFAULT, { min: 1 });
  const head = currentSnapshot(base);
  const manifests = head ? await readManifestList(table.state.io, head.manifestList) : [];
  const plan = planManifestRewrite(manifests, target);
  const estimate: RewriteManifestsResult = {
    dryRun: Boolean(opts.dryRun),
    snapshotId: null,
    manifestsBefore: manifests.length,
    manifestsAfter: manifests.length,
    replaced: plan.groups.reduce((a, g) => a + g.manifests.length, 0),
    created: plan.groups.reduce((a, g) => a + g.outputs, 0),
    kept: plan.kept.length,
    entries: plan.groups.reduce((a, g) => a + g.manifests.reduce((b, m) => b + m.addedFilesCount + m.existingFilesCount, 0), 0),
  };
  estimate.manifestsAfter = estimate.created + estimate.kept;
  const nothing = { ...estimate, replaced: 0, created: 0, kept: manifests.length, entries: 0, manifestsAfter: manifests.length };
  if (plan.groups.length === 0) return nothing;
  if (opts.dryRun) return estimate;
  const op = new RewriteManifests(table, target);
  let snapshot: Snapshot;
  try {
    snapshot = await op.commit();
  } catch (e) {
    // A concurrent rewrite got there first: the head it left needs nothing.
    if (e instanceof NothingToRewrite) return nothing;
    throw e;
  }
  const s = op.stats;
  return {
    dryRun: false, snapshotId: snapshot.snapshotId, manifestsBefore: s.manifestsBefore, manifestsAfter: s.created + s.kept,
    replaced: s.replaced, created: s.created, kept: s.kept, entries: s.entries,
  };
}
