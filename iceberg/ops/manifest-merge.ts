import type { ManifestEntry, ManifestFile } from '../spec/manifest/manifest-types.ts';
import { ManifestContent, ManifestEntryStatus } from '../spec/manifest/manifest-types.ts';
import {
  MANIFEST_MERGE_ENABLED, MANIFEST_MERGE_ENABLED_DEFAULT, MANIFEST_MIN_MERGE_COUNT, MANIFEST_MIN_MERGE_COUNT_DEFAULT,
  MANIFEST_TARGET_SIZE_BYTES, MANIFEST_TARGET_SIZE_BYTES_DEFAULT, boolProperty, intProperty,
} from '../spec/table-properties.ts';

/**
 * Merging small manifests on commit, as Java's `ManifestMergeManager` does it, so that the number of
 * manifests a scan plans over (and a commit carries forward) stays bounded while commits pile up.
 *
 * Per partition spec, the manifests (the commit's new ones first, then the parent's) are packed from
 * the end into bins of at most `commit.manifest.target-size-bytes`; a bin of several manifests becomes
 * one manifest. The bin holding the commit's own new manifest is merged only once it has
 * `commit.manifest.min-count-to-merge` manifests, so an append usually writes one small manifest and
 * every hundredth folds the small ones together. Packing from the end keeps full manifests untouched
 * and leaves the under-filled bin at the front, where the next commits add to it.
 *
 * Entries keep what the spec says must survive a rewrite: files of earlier snapshots become EXISTING
 * with their snapshot id and data and file sequence numbers; the commit's own ADDED and DELETED entries
 * stay as they are; DELETED entries of earlier snapshots are dropped (their snapshot's own manifest
 * list still records them). Delete manifests are never merged: they pass through untouched, so data
 * and delete files never share a manifest.
 */
export interface ManifestMergeSettings {
  enabled: boolean;
  targetSizeBytes: number;
  minCountToMerge: number;
}

export function manifestMergeSettings(props: Record<string, string>): ManifestMergeSettings {
  return {
    enabled: boolProperty(props, MANIFEST_MERGE_ENABLED, MANIFEST_MERGE_ENABLED_DEFAULT),
    targetSizeBytes: intProperty(props, MANIFEST_TARGET_SIZE_BYTES, MANIFEST_TARGET_SIZE_BYTES_DEFAULT, { min: 1 }),
    minCountToMerge: intProperty(props, MANIFEST_MIN_MERGE_COUNT, MANIFEST_MIN_MERGE_COUNT_DEFAULT, { min: 0 }),
  };
}

/** What merging needs of the committing operation. */
export interface ManifestMergeContext {
  /** The committing snapshot. */
  snapshotId: bigint;
  /** Every entry of a manifest, with inherited snapshot ids and sequence numbers applied. */
  entries(manifest: ManifestFile): Promise<ManifestEntry[]>;
  /** Writes one manifest of `entries` for a spec, written by the committing snapshot. */
  write(specId: number, entries: ManifestEntry[]): Promise<ManifestFile>;
}

/**
 * Packs items into bins of at most `target` weight, from the end of the list and without reordering
 * (Java `ListPacker.packEnd` with a lookback of 1): the first bin is the one that may be under-filled.
 * An item heavier than the target gets a bin of its own.
 */
export function packEnd<T>(items: readonly T[], weight: (item: T) => number, target: number): T[][] {
  const bins: T[][] = [];
  let current: T[] = [];
  let currentWeight = 0;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    const w = weight(item);
    if (current.length > 0 && currentWeight + w > target) {
      bins.push(current.reverse());
      current = [];
      currentWeight = 0;
    }
    current.push(item);
    currentWeight += w;
  }
  if (current.length > 0) bins.push(current.reverse());
  return bins.reverse();
}

/**
 * The manifests of a commit after merging. `manifests` lists the commit's new manifests first (the
 * first one is the anchor of the min-count rule, as in Java). `cache` maps a bin (its manifest paths)
 * to the manifest merged from it, so a retry after a conflict reuses what an earlier attempt wrote.
 */
export async function mergeManifests(
  manifests: readonly ManifestFile[],
  settings: ManifestMergeSettings,
  ctx: ManifestMergeContext,
  cache: Map<string, ManifestFile> = new Map(),
): Promise<ManifestFile[]> {
  if (!settings.enabled || manifests.length === 0) return [...manifests];
  const first = manifests[0]!;
  const groups = new Map<number, ManifestFile[]>();
  const deletes: ManifestFile[] = [];
  for (const m of manifests) {
    if (m.content !== ManifestContent.DATA) {
      deletes.push(m);
      continue;
    }
    const group = groups.get(m.partitionSpecId) ?? [];
    group.push(m);
    groups.set(m.partitionSpecId, group);
  }
  const out: ManifestFile[] = [];
  // Newest spec first, as Java orders the groups; within a group the order is kept.
  for (const specId of [...groups.keys()].sort((a, b) => b - a)) {
    for (const bin of packEnd(groups.get(specId)!, (m) => m.manifestLength, settings.targetSizeBytes)) {
      if (bin.length === 1 || (bin.includes(first) && bin.length < settings.minCountToMerge)) {
        out.push(...bin);
        continue;
      }
      const key = bin.map((m) => m.manifestPath).join('\n');
      let merged = cache.get(key);
      if (!merged) {
        merged = await ctx.write(specId, await mergedEntries(bin, ctx));
        cache.set(key, merged);
      }
      out.push(merged);
    }
  }
  return [...out, ...deletes];
}

async function mergedEntries(bin: ManifestFile[], ctx: ManifestMergeContext): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  for (const m of bin) {
    for (const e of await ctx.entries(m)) {
      const ours = e.snapshotId === ctx.snapshotId;
      if (e.status === ManifestEntryStatus.DELETED) {
        if (ours) out.push(e);
      } else if (e.status === ManifestEntryStatus.ADDED && ours) {
        out.push(e);
      } else {
        out.push({ ...e, status: ManifestEntryStatus.EXISTING });
      }
    }
  }
  return out;
}
