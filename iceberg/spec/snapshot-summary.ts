import type { DataFile, ManifestFile } from './manifest/manifest-types.ts';
import { ManifestContent } from './manifest/manifest-types.ts';
import type { SnapshotOperation } from './table-metadata.ts';

/**
 * Snapshot summaries (spec "Snapshots" → optional summary fields, as Java's SnapshotSummary writes them).
 * Totals are derived from the new manifest list itself rather than from the parent's summary, so they
 * stay honest even when the parent was written by a tool that left totals out.
 */
export interface SummaryInput {
  operation: SnapshotOperation;
  added: DataFile[];
  deleted: DataFile[];
  manifests: ManifestFile[];
  /** Partition tuples touched, as keys; counted for `changed-partition-count`. */
  changedPartitions: Set<string>;
  extra?: Record<string, string>;
}

const RESERVED = new Set([
  'operation', 'added-data-files', 'deleted-data-files', 'added-records', 'deleted-records', 'added-files-size',
  'removed-files-size', 'changed-partition-count', 'total-records', 'total-files-size', 'total-data-files',
  'total-delete-files', 'total-position-deletes', 'total-equality-deletes',
]);

export function buildSummary(input: SummaryInput): Record<string, string> & { operation: SnapshotOperation } {
  const sum = (files: DataFile[], f: (d: DataFile) => number) => files.reduce((a, d) => a + f(d), 0);
  const out: Record<string, string> & { operation: SnapshotOperation } = { operation: input.operation };
  for (const [k, v] of Object.entries(input.extra ?? {})) {
    if (RESERVED.has(k)) throw new Error(`Snapshot summary property "${k}" is computed by lakehouse and cannot be set by the caller.`);
    out[k] = v;
  }
  if (input.added.length > 0) {
    out['added-data-files'] = String(input.added.length);
    out['added-records'] = String(sum(input.added, (d) => d.recordCount));
    out['added-files-size'] = String(sum(input.added, (d) => d.fileSizeInBytes));
  }
  if (input.deleted.length > 0) {
    out['deleted-data-files'] = String(input.deleted.length);
    out['deleted-records'] = String(sum(input.deleted, (d) => d.recordCount));
    out['removed-files-size'] = String(sum(input.deleted, (d) => d.fileSizeInBytes));
  }
  out['changed-partition-count'] = String(input.changedPartitions.size);
  let records = 0;
  let files = 0;
  let deleteFiles = 0;
  for (const m of input.manifests) {
    if (m.content === ManifestContent.DATA) {
      records += m.addedRowsCount + m.existingRowsCount;
      files += m.addedFilesCount + m.existingFilesCount;
    } else {
      deleteFiles += m.addedFilesCount + m.existingFilesCount;
    }
  }
  out['total-records'] = String(records);
  out['total-data-files'] = String(files);
  out['total-delete-files'] = String(deleteFiles);
  out['total-position-deletes'] = '0';
  out['total-equality-deletes'] = '0';
  return out;
}

/** total-files-size needs the sizes of existing files too, which manifest lists do not carry. */
export function withTotalFilesSize(summary: Record<string, string>, parentTotal: string | undefined, added: number, removed: number): void {
  if (parentTotal === undefined || !/^\d+$/.test(parentTotal)) return;
  summary['total-files-size'] = String(Number(parentTotal) + added - removed);
}
