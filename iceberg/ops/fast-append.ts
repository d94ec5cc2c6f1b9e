import { LakehouseError } from '../../core/errors.ts';
import type { DataFile, ManifestFile } from '../spec/manifest/manifest-types.ts';
import { DataFileContent } from '../spec/manifest/manifest-types.ts';
import { type ApplyResult, SnapshotProducer } from './snapshot-producer.ts';
import type { Snapshot, SnapshotOperation, TableMetadata } from '../spec/table-metadata.ts';
import { specById } from '../spec/table-metadata.ts';

/**
 * Fast append (Java `FastAppend`): one new manifest per partition spec for the added files, plus the
 * parent's manifests untouched. Appends never conflict logically, so a retry only rebases onto the new
 * head; the new manifests are written once and reused by every attempt. It never merges manifests, so
 * every commit adds one per spec: use `MergeAppend` (`Table.newAppend()`) unless something else merges.
 */
export class FastAppend extends SnapshotProducer {
  private readonly files: DataFile[] = [];
  private newManifests?: ManifestFile[];

  appendFile(file: DataFile): this {
    if (file.content !== DataFileContent.DATA) {
      throw new LakehouseError('INVALID_ARGUMENT', `Cannot append ${file.filePath}: only data files can be appended (delete files are not supported).`);
    }
    this.files.push(file);
    return this;
  }

  appendFiles(files: Iterable<DataFile>): this {
    for (const f of files) this.appendFile(f);
    return this;
  }

  protected operation(): SnapshotOperation {
    return 'append';
  }

  protected override mergesManifests(): boolean {
    return false;
  }

  protected async apply(base: TableMetadata, parent: Snapshot | null): Promise<ApplyResult> {
    if (!this.newManifests) {
      const bySpec = new Map<number, DataFile[]>();
      for (const f of this.files) {
        specById(base, f.specId); // throws a sentence if the spec is unknown to the table
        const list = bySpec.get(f.specId) ?? [];
        list.push(f);
        bySpec.set(f.specId, list);
      }
      this.newManifests = [];
      for (const [specId, files] of bySpec) {
        this.newManifests.push(await this.newManifest(base, specId, files.map((f) => this.addedEntry(f))));
      }
    }
    const existing = await this.manifestsOf(parent);
    return { manifests: [...this.newManifests, ...existing], added: this.files, deleted: [] };
  }
}

/**
 * Append that merges small manifests as it commits (Java `MergeAppend`), per the table's
 * `commit.manifest-merge.enabled`, `commit.manifest.min-count-to-merge` and
 * `commit.manifest.target-size-bytes` (manifest-merge.ts). What it adds is recorded exactly as a fast
 * append records it: ADDED entries of this snapshot, in a manifest this snapshot wrote.
 */
export class MergeAppend extends FastAppend {
  protected override mergesManifests(): boolean {
    return true;
  }
}
