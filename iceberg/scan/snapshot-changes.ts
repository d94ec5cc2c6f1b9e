import type { FileIO } from '../io/file-io.ts';
import { readManifest } from '../spec/manifest/manifest.ts';
import { readManifestList } from '../spec/manifest/manifest-list.ts';
import { type DataFile, ManifestContent, ManifestEntryStatus } from '../spec/manifest/manifest-types.ts';
import { ancestorsOf, type Snapshot, type TableMetadata } from '../spec/table-metadata.ts';

/** The data files one snapshot added and removed (what an incremental reader needs). */
export interface SnapshotChanges {
  snapshot: Snapshot;
  added: DataFile[];
  deleted: DataFile[];
}

/**
 * Files a snapshot added or removed. Per the spec a file is recorded as ADDED, or as DELETED, exactly
 * once, by the snapshot that did it, in a manifest that snapshot wrote (`added_snapshot_id`); so only
 * those manifests are read, not the whole table.
 */
export async function snapshotChanges(io: FileIO, snapshot: Snapshot): Promise<SnapshotChanges> {
  const manifests = await readManifestList(io, snapshot.manifestList);
  const added: DataFile[] = [];
  const deleted: DataFile[] = [];
  for (const m of manifests) {
    if (m.content !== ManifestContent.DATA || m.addedSnapshotId !== snapshot.snapshotId) continue;
    if (m.addedFilesCount === 0 && m.deletedFilesCount === 0) continue;
    for (const e of await readManifest(io, m)) {
      if (e.snapshotId !== snapshot.snapshotId) continue;
      if (e.status === ManifestEntryStatus.ADDED) added.push(e.dataFile);
      else if (e.status === ManifestEntryStatus.DELETED) deleted.push(e.dataFile);
    }
  }
  return { snapshot, added, deleted };
}

/**
 * Snapshots after `sinceId` up to `toId` along the parent chain, oldest first; null when `sinceId` is
 * not an ancestor of `toId` (expired, rolled back, or the table was replaced), in which case an
 * incremental reader must start over. `sinceId` null means from the beginning: every ancestor, or null
 * when the oldest ones have been expired.
 */
export function snapshotsBetween(metadata: TableMetadata, sinceId: bigint | null, toId: bigint | null): Snapshot[] | null {
  const chain = ancestorsOf(metadata, toId);
  if (sinceId === null) {
    const oldest = chain[chain.length - 1];
    return oldest && oldest.parentSnapshotId != null ? null : chain.reverse();
  }
  const i = chain.findIndex((s) => s.snapshotId === sinceId);
  return i < 0 ? null : chain.slice(0, i).reverse();
}
