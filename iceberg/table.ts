import type * as arrow from 'apache-arrow';
import type { CatalogPort, LoadedTable, TableIdentifier } from './catalog-port.ts';
import { identifierToString } from './catalog-port.ts';
import { writeDataFiles } from './writer/write-data-files.ts';
import { type ExpireOptions, type ExpireResult, expireSnapshots } from './ops/expire-snapshots.ts';
import type { Expr } from './expr/expressions.ts';
import { FastAppend, MergeAppend } from './ops/fast-append.ts';
import type { FileIO } from './io/file-io.ts';
import type { DataFile } from './spec/manifest/manifest-types.ts';
import { Overwrite } from './ops/overwrite.ts';
import { RewriteFiles } from './ops/rewrite-files.ts';
import { type CompactOptions, type CompactionResult, compactTable } from './ops/compact-files.ts';
import { type RemoveOrphansOptions, type RemoveOrphansResult, removeOrphanFiles } from './ops/remove-orphans.ts';
import { type RewriteManifestsOptions, type RewriteManifestsResult, rewriteManifests } from './ops/rewrite-manifests.ts';
import type { Schema } from './spec/schema.ts';
import type { TableHandle } from './ops/snapshot-producer.ts';
import { type PartitionSpec, partitionSpecToJson } from './spec/partition-spec.ts';
import type { Snapshot, TableMetadata } from './spec/table-metadata.ts';
import { currentSchema, currentSnapshot, defaultSpec } from './spec/table-metadata.ts';
import { readRows } from './scan/table-reader.ts';
import { type ScanOptions, type ScanPlan, planFiles } from './scan/table-scan.ts';
import { randomUUID } from 'node:crypto';
import { CommitConflictError, CommitStateUnknownError } from './errors.ts';
import { errorMessage } from '../core/errors.ts';
import { applyUpdates } from './ops/table-metadata-builder.ts';
import type { MetadataChange } from './ops/update-schema.ts';

export interface WriteOptions {
  /** Extra snapshot summary properties (e.g. source offsets). */
  summary?: Record<string, string>;
}

/**
 * A loaded table: metadata, its FileIO and the catalog it commits through. Operations are created
 * from it (`newAppend()`, `newOverwrite()`, `newRewrite()`), configured, then `commit()`ed.
 */
export class Table implements TableHandle {
  readonly catalog: CatalogPort;
  state: LoadedTable;

  constructor(catalog: CatalogPort, state: LoadedTable) {
    this.catalog = catalog;
    this.state = state;
  }

  get identifier(): TableIdentifier { return this.state.identifier; }
  get name(): string { return identifierToString(this.state.identifier); }
  get metadata(): TableMetadata { return this.state.metadata; }
  get metadataLocation(): string { return this.state.metadataLocation; }
  get io(): FileIO { return this.state.io; }
  get location(): string { return this.state.metadata.location; }
  schema(): Schema { return currentSchema(this.state.metadata); }
  spec(): PartitionSpec { return defaultSpec(this.state.metadata); }
  currentSnapshot(): Snapshot | null { return currentSnapshot(this.state.metadata); }

  async refresh(): Promise<LoadedTable> {
    this.state = await this.catalog.loadTable(this.state.identifier);
    return this.state;
  }

  /** An append that merges small manifests per the table's `commit.manifest-merge.*` properties. */
  newAppend(): MergeAppend { return new MergeAppend(this); }
  /** An append that only adds a manifest (never merges): for tests and callers that merge otherwise. */
  newFastAppend(): FastAppend { return new FastAppend(this); }
  newOverwrite(): Overwrite { return new Overwrite(this); }
  newRewrite(): RewriteFiles { return new RewriteFiles(this); }
  expireSnapshots(opts: ExpireOptions = {}): Promise<ExpireResult> { return expireSnapshots(this, opts); }
  /** Bin-packs small data files per partition (ops/compact-files.ts), one replace snapshot per group. */
  compact(opts: CompactOptions = {}): Promise<CompactionResult> { return compactTable(this, opts); }
  rewriteManifests(opts: RewriteManifestsOptions = {}): Promise<RewriteManifestsResult> { return rewriteManifests(this, opts); }
  removeOrphanFiles(opts: RemoveOrphansOptions = {}): Promise<RemoveOrphansResult> { return removeOrphanFiles(this, opts); }

  planFiles(opts: ScanOptions = {}): Promise<ScanPlan> { return planFiles(this.state.metadata, this.state.io, opts); }

  readRows(opts: ScanOptions & { limit?: number } = {}): Promise<Record<string, unknown>[]> {
    return readRows(this.state.metadata, this.state.io, opts).then((r) => r.rows);
  }

  /**
   * Writes Parquet data files for the current schema and default spec (nothing is committed yet).
   * `schema` writes with an earlier schema of the table instead, for a writer whose batches were built
   * before a schema change: readers match its columns by field id, as for any file written before.
   */
  writeDataFiles(batches: arrow.RecordBatch[] | AsyncIterable<arrow.RecordBatch>, opts: { schema?: Schema } = {}): Promise<DataFile[]> {
    return writeDataFiles(batches, {
      io: this.state.io,
      schema: opts.schema ?? this.schema(),
      spec: this.spec(),
      tableLocation: this.location,
      properties: this.state.metadata.properties,
      fileNamePrefix: randomUUID(),
    });
  }

  /**
   * Plans a metadata change (schema, partition spec, properties) on the current metadata and commits its
   * updates with its requirements. A conflict means another writer changed the table meanwhile: reload
   * and plan again, so a change that no longer fits the new table is refused then instead of applied.
   * `dryRun` returns the metadata the change would produce and commits nothing.
   *
   * An unknown outcome (a timeout, a 5xx after the request left) may have landed: the table is reloaded
   * and the change counts as committed when the table now shows its result (schema, partition spec and
   * properties equal what the change produces); when the table still shows the state it was planned on,
   * nothing landed and it is planned again. Never applied twice: a change that did land is not resent,
   * and any other state (someone else changed the table meanwhile) is reported, not guessed at.
   */
  async alter(plan: (m: TableMetadata) => MetadataChange & { unchanged?: string }, opts: { dryRun?: boolean; attempts?: number } = {}): Promise<{ metadata: TableMetadata; unchanged?: string; committed: boolean }> {
    const attempts = opts.attempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      const base = this.metadata;
      const change = plan(base);
      if (change.unchanged !== undefined) return { metadata: base, unchanged: change.unchanged, committed: false };
      const intended = applyUpdates(base, change.updates);
      if (opts.dryRun) return { metadata: intended, committed: false };
      try {
        this.state = await this.catalog.commitTable(this.identifier, change.requirements, change.updates);
        return { metadata: this.metadata, committed: true };
      } catch (e) {
        if (e instanceof CommitStateUnknownError) {
          try {
            await this.refresh();
          } catch (reloadError) {
            throw new CommitStateUnknownError(`Changing ${this.name} has an unknown outcome (${e.message}) and reloading the table to check failed (${errorMessage(reloadError)}). Run \`lakehouse tables describe ${this.name}\` to see whether the change is there before trying again.`, { cause: e });
          }
          if (sameDefinition(this.metadata, intended)) return { metadata: this.metadata, committed: true };
          if (!sameDefinition(this.metadata, base) || attempt >= attempts) {
            throw new CommitStateUnknownError(`Changing ${this.name} has an unknown outcome (${e.message}), and the table reloaded shows neither the change nor the state it was planned on (another writer changed it meanwhile), so it was not sent again. Run \`lakehouse tables describe ${this.name}\` to see whether the change is there.`, { cause: e });
          }
          continue; // nothing landed: plan and send it again
        }
        if (!(e instanceof CommitConflictError) || attempt >= attempts) throw e;
        await this.refresh();
      }
    }
  }

  /** Write files, then commit one append snapshot: a retry replays the written files. */
  async append(batches: arrow.RecordBatch[], opts: WriteOptions = {}): Promise<Snapshot> {
    const files = await this.writeDataFiles(batches);
    try {
      return await this.newAppend().appendFiles(files).setAll(opts.summary ?? {}).commit();
    } catch (e) {
      // Only a definite failure frees the files; after an unknown outcome a landed snapshot may use them.
      if (!(e instanceof CommitStateUnknownError)) await this.io.deleteMany(files.map((f) => f.filePath)).catch(() => {});
      throw e;
    }
  }

  /** Replace the rows matching `filter` with the given batches, in one snapshot. */
  async overwrite(filter: Expr | string, batches: arrow.RecordBatch[], opts: WriteOptions = {}): Promise<Snapshot> {
    const files = batches.length > 0 ? await this.writeDataFiles(batches) : [];
    return this.newOverwrite().overwriteByFilter(filter).addFiles(files).setAll(opts.summary ?? {}).commit();
  }
}

/**
 * Whether two metadata versions define the table alike: current schema (ids, names, types, docs),
 * default partition spec, the id counters and the properties; snapshots and logs are not compared.
 */
function sameDefinition(a: TableMetadata, b: TableMetadata): boolean {
  const definition = (m: TableMetadata) => JSON.stringify({
    schema: currentSchema(m).toJSON(), lastColumnId: m.lastColumnId, spec: partitionSpecToJson(defaultSpec(m)), lastPartitionId: m.lastPartitionId,
    properties: Object.entries(m.properties).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
  });
  return definition(a) === definition(b);
}
