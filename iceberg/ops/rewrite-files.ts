import { LakehouseError } from '../../core/errors.ts';
import type { DataFile, ManifestFile } from '../spec/manifest/manifest-types.ts';
import { type ApplyResult, SnapshotProducer } from './snapshot-producer.ts';
import type { Snapshot, SnapshotOperation, TableMetadata } from '../spec/table-metadata.ts';

/**
 * A file to replace is no longer live at the head the rewrite would land on: a concurrent commit
 * removed it (an overwrite, another compaction). Nothing was committed; plan again from the new head.
 */
export class FilesRemovedError extends LakehouseError {
  readonly missing: string[];
  constructor(message: string, missing: string[]) {
    super('VALIDATION_FAILED', message, { retryable: false, context: { missing } });
    this.name = 'FilesRemovedError';
    this.missing = missing;
  }
}

/**
 * Replace N data files with M files holding the same rows (compaction). Operation `replace`: readers
 * see no change in data. Valid only while every file to replace is still live: a retry after a conflict
 * re-checks that against the new head and fails (without retrying) if a concurrent commit removed one,
 * because the replacement would then resurrect deleted rows.
 */
export class RewriteFiles extends SnapshotProducer {
  private readonly toDelete = new Map<string, DataFile>();
  private readonly toAdd: DataFile[] = [];
  private newManifests?: ManifestFile[];
  private checkRecordCounts = true;

  deleteFile(file: DataFile): this {
    this.toDelete.set(file.filePath, file);
    return this;
  }

  addFile(file: DataFile): this {
    this.toAdd.push(file);
    return this;
  }

  /** Compaction keeps every row; turn the guard off only for rewrites that drop rows on purpose. */
  allowRecordCountChange(): this {
    this.checkRecordCounts = false;
    return this;
  }

  protected operation(): SnapshotOperation {
    return 'replace';
  }

  protected async apply(base: TableMetadata, parent: Snapshot | null): Promise<ApplyResult> {
    if (this.toDelete.size === 0) throw new LakehouseError('INVALID_ARGUMENT', 'A rewrite needs at least one file to replace.');
    if (this.checkRecordCounts) {
      const before = [...this.toDelete.values()].reduce((a, f) => a + f.recordCount, 0);
      const after = this.toAdd.reduce((a, f) => a + f.recordCount, 0);
      if (before !== after) {
        throw new LakehouseError('VALIDATION_FAILED', `Rewrite would change the row count from ${before} to ${after}; a compaction must keep every row. Nothing was committed.`);
      }
    }
    const found = new Set<string>();
    const filtered = await this.filterManifests(base, await this.manifestsOf(parent), () => true, (f) => {
      if (!this.toDelete.has(f.filePath)) return false;
      found.add(f.filePath);
      return true;
    });
    const missing = [...this.toDelete.keys()].filter((p) => !found.has(p));
    if (missing.length > 0) {
      throw new FilesRemovedError(`Cannot rewrite: ${missing.length} file(s) to replace are no longer in the table (a concurrent commit removed them), e.g. ${missing[0]}. Plan the compaction again.`, missing);
    }
    if (!this.newManifests) {
      this.newManifests = [];
      const bySpec = new Map<number, DataFile[]>();
      for (const f of this.toAdd) bySpec.set(f.specId, [...(bySpec.get(f.specId) ?? []), f]);
      for (const [specId, files] of bySpec) this.newManifests.push(await this.newManifest(base, specId, files.map((f) => this.addedEntry(f))));
    }
    return { manifests: [...this.newManifests, ...filtered.manifests], added: this.toAdd, deleted: filtered.deleted };
  }
}
