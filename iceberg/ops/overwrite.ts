import { randomUUID } from 'node:crypto';
import { writeDataFiles } from '../writer/write-data-files.ts';
import { evaluatePartition, evaluateRow, metricsAllMatch } from '../expr/evaluators.ts';
import type { BoundExpr, Expr } from '../expr/expressions.ts';
import { LakehouseError } from '../../core/errors.ts';
import type { DataFile } from '../spec/manifest/manifest-types.ts';
import { readParquetBytes } from '../scan/parquet-reader.ts';
import { recordBatchToRows, rowsToRecordBatch } from '../arrow/arrow-rows.ts';
import { strictProjection, type PartitionExpr } from '../expr/projection.ts';
import type { Schema } from '../spec/schema.ts';
import { type ApplyResult, SnapshotProducer } from './snapshot-producer.ts';
import type { Snapshot, SnapshotOperation, TableMetadata } from '../spec/table-metadata.ts';
import { currentSchema, specById } from '../spec/table-metadata.ts';
import { ManifestPruner, bindFilter } from '../scan/table-scan.ts';
import { rowGetter } from '../scan/table-reader.ts';

/**
 * Overwrite by row filter: every row matching the filter is removed and the new files are added, in one
 * snapshot (operation `overwrite`). Files that match entirely (strict partition projection or strict
 * metrics) are dropped; files that match only in part are rewritten without the matching rows
 * (copy-on-write), so the result is exact even when a day partition holds several windows.
 *
 * On a conflict the filter is re-applied to the new head, so rows a concurrent writer added that match
 * the filter are replaced too: "replace what matches" holds for the table as it is when we land.
 */
export class Overwrite extends SnapshotProducer {
  private filter: Expr | string | undefined;
  private readonly toAdd: DataFile[] = [];


  overwriteByFilter(filter: Expr | string): this {
    this.filter = filter;
    return this;
  }

  addFile(file: DataFile): this {
    this.toAdd.push(file);
    return this;
  }

  addFiles(files: Iterable<DataFile>): this {
    for (const f of files) this.addFile(f);
    return this;
  }

  protected operation(): SnapshotOperation {
    return 'overwrite';
  }

  protected async apply(base: TableMetadata, parent: Snapshot | null): Promise<ApplyResult> {
    if (this.filter === undefined) {
      throw new LakehouseError('INVALID_ARGUMENT', 'An overwrite needs a row filter (use an append to only add rows, or the filter `true` to replace everything).');
    }
    const schema = currentSchema(base);
    const bound = bindFilter(schema, this.filter);
    const pruner = new ManifestPruner(base, schema, bound);
    const strict = new Map<number, PartitionExpr>();
    const strictFor = (specId: number) => {
      let p = strict.get(specId);
      if (!p) strict.set(specId, (p = strictProjection(bound, specById(base, specId), schema)));
      return p;
    };
    const remainders: DataFile[] = [];
    const filtered = await this.filterManifests(base, await this.manifestsOf(parent), (m) => pruner.manifestMightMatch(m), async (f) => {
      if (!pruner.fileMightMatch(f)) return false;
      if (evaluatePartition(strictFor(f.specId), f.partition) || metricsAllMatch(bound, f)) return true;
      const rest = await this.rewriteWithout(f, base, schema, bound);
      if (rest === null) return false;
      remainders.push(...rest);
      return true;
    });
    const added = [...this.toAdd, ...remainders];
    const manifests = [];
    const bySpec = new Map<number, DataFile[]>();
    for (const f of added) bySpec.set(f.specId, [...(bySpec.get(f.specId) ?? []), f]);
    for (const [specId, files] of bySpec) manifests.push(await this.newManifest(base, specId, files.map((f) => this.addedEntry(f))));
    return { manifests: [...manifests, ...filtered.manifests], added, deleted: filtered.deleted };
  }

  /** Copy-on-write of one file: the rows not matching the filter, or null when none match. */
  private async rewriteWithout(file: DataFile, base: TableMetadata, schema: Schema, bound: BoundExpr): Promise<DataFile[] | null> {
    const bytes = await this.table.state.io.read(file.filePath);
    const rows = recordBatchToRows(readParquetBytes(bytes, schema), schema);
    const get = rowGetter(schema);
    const keep = rows.filter((r) => !evaluateRow(bound, get(r)));
    if (keep.length === rows.length) return null;
    if (keep.length === 0) return [];
    const written = await writeDataFiles([rowsToRecordBatch(schema, keep)], {
      io: this.table.state.io,
      schema,
      spec: specById(base, file.specId),
      tableLocation: base.location,
      properties: base.properties,
      fileNamePrefix: `${randomUUID()}-cow`,
    });
    for (const f of written) this.writtenFiles.push(f.filePath);
    return written;
  }
}
