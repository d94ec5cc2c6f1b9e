import { randomUUID } from 'node:crypto';
import { LakehouseError, errorMessage } from '../../core/errors.ts';
import { CommitConflictError, CommitStateUnknownError } from '../errors.ts';
import type { CatalogPort, LoadedTable } from '../catalog-port.ts';
import { identifierToString } from '../catalog-port.ts';
import type { DataFile, ManifestEntry, ManifestFile } from '../spec/manifest/manifest-types.ts';
import { ManifestContent, ManifestEntryStatus } from '../spec/manifest/manifest-types.ts';
import { readManifest, writeManifest } from '../spec/manifest/manifest.ts';
import { readManifestList, writeManifestList } from '../spec/manifest/manifest-list.ts';
import { withRetry } from '../../core/retry.ts';
import { type PartitionKey, partitionKey } from '../spec/partition-key.ts';
import { buildSummary, withTotalFilesSize } from '../spec/snapshot-summary.ts';
import type { Snapshot, SnapshotOperation, TableMetadata } from '../spec/table-metadata.ts';
import { MAIN_BRANCH, currentSchema, currentSnapshot, snapshotById, specById } from '../spec/table-metadata.ts';
import { generateSnapshotId } from './table-metadata-builder.ts';
import { manifestMergeSettings, mergeManifests } from './manifest-merge.ts';
import type { TableRequirement, TableUpdate } from '../spec/table-updates.ts';
import {
  COMMIT_MAX_RETRY_WAIT_MS, COMMIT_MAX_RETRY_WAIT_MS_DEFAULT, COMMIT_MIN_RETRY_WAIT_MS, COMMIT_MIN_RETRY_WAIT_MS_DEFAULT,
  COMMIT_NUM_RETRIES, COMMIT_NUM_RETRIES_DEFAULT, intProperty,
} from '../spec/table-properties.ts';

/**
 * What an operation needs of a table: its current state, a way to reload it, and the catalog to commit
 * through. `Table` implements it; operations never import `Table` (no cycle).
 */
export interface TableHandle {
  readonly catalog: CatalogPort;
  state: LoadedTable;
  refresh(): Promise<LoadedTable>;
}

/** What one attempt of an operation produces against a given base. */
export interface ApplyResult {
  /** Manifests of the new snapshot, new ones with sequenceNumber -1n (assigned by the manifest list). */
  manifests: ManifestFile[];
  added: DataFile[];
  deleted: DataFile[];
}

/**
 * Base of every snapshot-producing operation (append, overwrite, rewrite). The
 * operation computes manifests against a base and returns updates + requirements; the catalog
 * applies them. A commit has three outcomes:
 *  - success;
 *  - conflict (requirements failed, nothing landed): reload, re-validate, rebase, retry with backoff
 *    (`commit.retry.*`); the manifests of new files are reused across attempts;
 *  - unknown (5xx, timeout): reload and treat as committed iff our snapshot id is in the table; otherwise
 *    report that the outcome was verified as not landed. Files are never deleted on this path, because a
 *    snapshot that landed could reference them.
 */
export abstract class SnapshotProducer {
  protected readonly table: TableHandle;
  /** One id for every attempt, so an unknown outcome can be checked by looking for it. */
  readonly snapshotId: bigint = generateSnapshotId();
  protected readonly commitUuid = randomUUID();
  private extra: Record<string, string> = {};
  private readonly validators: ((base: TableMetadata) => void)[] = [];
  private readonly summaryHooks: ((base: TableMetadata, parent: Snapshot | null) => Record<string, string>)[] = [];
  private manifestCount = 0;
  private lastResult?: ApplyResult;
  private lastManifestList?: string;
  /** Files this operation wrote that no committed snapshot references yet (cleaned up on definite failure). */
  protected readonly writtenFiles: string[] = [];
  /**
   * Entries of the manifests this operation wrote, by path: their ADDED entries inherit a sequence
   * number that is only assigned when the manifest list is written, so they are not read back.
   */
  private readonly ownEntries = new Map<string, ManifestEntry[]>();
  /** Manifests merged by earlier attempts, by the bin they came from (reused after a conflict). */
  private readonly mergeCache = new Map<string, ManifestFile>();

  constructor(table: TableHandle) {
    this.table = table;
  }

  /** Adds a property to the snapshot summary (e.g. Kafka offsets, the job that wrote it). */
  set(key: string, value: string): this {
    this.extra[key] = value;
    return this;
  }

  setAll(props: Record<string, string>): this {
    Object.assign(this.extra, props);
    return this;
  }

  /**
   * Checks the table before every attempt (the first, and each one after a conflict reloaded it); a
   * throw ends the commit with nothing committed. For callers whose files are only right against the
   * state they read, e.g. a metrics job that must not land over a newer run's results.
   */
  validate(check: (base: TableMetadata) => void): this {
    this.validators.push(check);
    return this;
  }

  /**
   * Summary properties computed against the table each attempt is applied to (the first, and each one
   * after a conflict reloaded it), set after the validators ran and before the manifests are computed.
   * A throw ends the commit with nothing committed. For callers whose summary depends on what other
   * writers committed meanwhile, e.g. source positions carried forward from the newest snapshot.
   */
  summaryFrom(hook: (base: TableMetadata, parent: Snapshot | null) => Record<string, string>): this {
    this.summaryHooks.push(hook);
    return this;
  }

  protected abstract operation(): SnapshotOperation;

  /**
   * Whether the commit merges small manifests per `commit.manifest-merge.enabled` (manifest-merge.ts).
   * Java's MergeAppend, overwrites and rewrites do; its FastAppend and RewriteManifests do not.
   */
  protected mergesManifests(): boolean {
    return true;
  }

  /** Computes the new snapshot's manifests against `base`; throws a non-retryable error if invalid. */
  protected abstract apply(base: TableMetadata, parent: Snapshot | null): Promise<ApplyResult>;

  /** Location for a new metadata-side file of this commit. */
  protected metadataPath(name: string): string {
    return `${this.table.state.metadata.location.replace(/\/+$/, '')}/metadata/${name}`;
  }

  /** Writes a manifest of entries under the base's current schema and the given spec. */
  protected async newManifest(base: TableMetadata, specId: number, entries: ManifestEntry[]): Promise<ManifestFile> {
    const location = this.metadataPath(`${this.commitUuid}-m${this.manifestCount++}.avro`);
    const manifest = await writeManifest(this.table.state.io, location, {
      schema: currentSchema(base),
      spec: specById(base, specId),
      formatVersion: 2,
      snapshotId: this.snapshotId,
      entries,
      content: ManifestContent.DATA,
    });
    this.writtenFiles.push(location);
    this.ownEntries.set(location, entries);
    return manifest;
  }

  /** Every entry of a manifest: as written, for this operation's own, else read with inheritance. */
  protected async entriesOf(manifest: ManifestFile): Promise<ManifestEntry[]> {
    return this.ownEntries.get(manifest.manifestPath) ?? readManifest(this.table.state.io, manifest);
  }

  /** Manifests of a snapshot (empty for none). */
  protected async manifestsOf(snapshot: Snapshot | null): Promise<ManifestFile[]> {
    if (!snapshot) return [];
    return readManifestList(this.table.state.io, snapshot.manifestList);
  }

  /**
   * Rewrites the parent's data manifests without the files `drop` selects (spec: a deleted file is
   * recorded once, as a DELETED entry in the snapshot that removes it; older ADDED entries become
   * EXISTING and keep their snapshot id and sequence numbers). Manifests `touch` rules out are kept as
   * they are, so an overwrite of one window rewrites only the manifests that can hold it.
   */
  protected async filterManifests(
    base: TableMetadata,
    manifests: ManifestFile[],
    touch: (m: ManifestFile) => boolean,
    drop: (f: DataFile) => Promise<boolean> | boolean,
  ): Promise<{ manifests: ManifestFile[]; deleted: DataFile[] }> {
    const out: ManifestFile[] = [];
    const deleted: DataFile[] = [];
    for (const m of manifests) {
      if (m.content !== ManifestContent.DATA || !touch(m)) {
        out.push(m);
        continue;
      }
      const entries = await readManifest(this.table.state.io, m);
      const kept: ManifestEntry[] = [];
      const removed: ManifestEntry[] = [];
      for (const e of entries) {
        if (e.status === ManifestEntryStatus.DELETED) continue;
        if (await drop(e.dataFile)) removed.push({ ...e, status: ManifestEntryStatus.DELETED, snapshotId: this.snapshotId });
        else kept.push({ ...e, status: ManifestEntryStatus.EXISTING });
      }
      if (removed.length === 0) {
        out.push(m);
        continue;
      }
      deleted.push(...removed.map((e) => e.dataFile));
      out.push(await this.newManifest(base, m.partitionSpecId, [...kept, ...removed]));
    }
    return { manifests: out, deleted };
  }

  protected addedEntry(file: DataFile): ManifestEntry {
    return { status: ManifestEntryStatus.ADDED, snapshotId: this.snapshotId, sequenceNumber: null, fileSequenceNumber: null, dataFile: file };
  }

  async commit(): Promise<Snapshot> {
    const props = this.table.state.metadata.properties;
    const retry = {
      retries: intProperty(props, COMMIT_NUM_RETRIES, COMMIT_NUM_RETRIES_DEFAULT),
      minWaitMs: intProperty(props, COMMIT_MIN_RETRY_WAIT_MS, COMMIT_MIN_RETRY_WAIT_MS_DEFAULT),
      maxWaitMs: intProperty(props, COMMIT_MAX_RETRY_WAIT_MS, COMMIT_MAX_RETRY_WAIT_MS_DEFAULT),
      factor: 2,
      isRetryable: (e: unknown) => e instanceof CommitConflictError,
    };
    try {
      const snapshot = await withRetry(async (attempt) => {
        if (attempt > 0) await this.table.refresh();
        return this.attempt(attempt);
      }, retry);
      await this.removeStaleAttemptFiles();
      return snapshot;
    } catch (e) {
      if (e instanceof CommitStateUnknownError) return this.resolveUnknown(e);
      await this.cleanUp();
      if (e instanceof CommitConflictError) {
        throw new LakehouseError('COMMIT_FAILED', `Commit to ${identifierToString(this.table.state.identifier)} was rejected ${retry.retries + 1} times because other writers kept changing the table (${e.message}); nothing was committed. Retry later or raise ${COMMIT_NUM_RETRIES}.`, { cause: e, context: { snapshotId: this.snapshotId.toString() } });
      }
      throw e;
    }
  }

  private async attempt(attempt: number): Promise<Snapshot> {
    const base = this.table.state.metadata;
    if (base.formatVersion !== 2) {
      // v1 manifests lack sequence numbers and v1 readers reject v2 manifests; upgrading a shared table is
      // the owner's decision, so say so instead of doing it behind their back.
      throw new LakehouseError('UNSUPPORTED', `Table ${identifierToString(this.table.state.identifier)} is Iceberg format v${base.formatVersion}; lakehouse reads it but writes only format v2 tables. Upgrade it first (e.g. PyIceberg: table.transaction().upgrade_table_version(2), or Spark: ALTER TABLE ... SET TBLPROPERTIES ('format-version'='2')).`);
    }
    for (const check of this.validators) check(base);
    const parent = currentSnapshot(base);
    for (const hook of this.summaryHooks) this.setAll(hook(base, parent));
    const applied = await this.apply(base, parent);
    const settings = this.mergesManifests() ? manifestMergeSettings(base.properties) : undefined;
    const result = !settings?.enabled ? applied : {
      ...applied,
      manifests: await mergeManifests(applied.manifests, settings, {
        snapshotId: this.snapshotId,
        entries: (m) => this.entriesOf(m),
        write: (specId, entries) => this.newManifest(base, specId, entries),
      }, this.mergeCache),
    };
    this.lastResult = result;
    const sequenceNumber = base.lastSequenceNumber + 1;
    const manifestListLocation = this.metadataPath(`snap-${this.snapshotId}-${attempt + 1}-${this.commitUuid}.avro`);
    await writeManifestList(this.table.state.io, manifestListLocation, {
      formatVersion: 2,
      snapshotId: this.snapshotId,
      parentSnapshotId: parent?.snapshotId ?? null,
      sequenceNumber: BigInt(sequenceNumber),
      manifests: result.manifests,
    });
    this.writtenFiles.push(manifestListLocation);
    this.lastManifestList = manifestListLocation;

    const changed = new Set<PartitionKey>();
    for (const f of [...result.added, ...result.deleted]) changed.add(partitionKey(f.specId, f.partition));
    const summary = buildSummary({
      operation: this.operation(), added: result.added, deleted: result.deleted, manifests: result.manifests,
      changedPartitions: changed, extra: this.extra,
    });
    const addedSize = result.added.reduce((a, f) => a + f.fileSizeInBytes, 0);
    const removedSize = result.deleted.reduce((a, f) => a + f.fileSizeInBytes, 0);
    withTotalFilesSize(summary, parent ? parent.summary['total-files-size'] : '0', addedSize, removedSize);

    const snapshot: Snapshot = {
      snapshotId: this.snapshotId,
      parentSnapshotId: parent?.snapshotId ?? null,
      sequenceNumber,
      timestampMs: Math.max(Date.now(), base.lastUpdatedMs),
      manifestList: manifestListLocation,
      summary,
      schemaId: base.currentSchemaId,
    };
    const requirements: TableRequirement[] = [
      { type: 'assert-table-uuid', uuid: base.tableUuid },
      { type: 'assert-ref-snapshot-id', ref: MAIN_BRANCH, snapshotId: parent?.snapshotId ?? null },
    ];
    const updates: TableUpdate[] = [
      { action: 'add-snapshot', snapshot },
      { action: 'set-snapshot-ref', refName: MAIN_BRANCH, ref: { snapshotId: this.snapshotId, type: 'branch' } },
    ];
    this.table.state = await this.table.catalog.commitTable(this.table.state.identifier, requirements, updates);
    return snapshot;
  }

  /** The commit may have landed: the table itself is the only source of truth. */
  private async resolveUnknown(e: CommitStateUnknownError): Promise<Snapshot> {
    let loaded: LoadedTable;
    try {
      loaded = await this.table.refresh();
    } catch (reloadError) {
      throw new CommitStateUnknownError(`Commit of snapshot ${this.snapshotId} to ${identifierToString(this.table.state.identifier)} has an unknown outcome (${e.message}) and reloading the table to check failed (${errorMessage(reloadError)}). Its files were kept; check whether snapshot ${this.snapshotId} is in the table before retrying.`, { cause: e });
    }
    const landed = snapshotById(loaded.metadata, this.snapshotId);
    if (landed) return landed;
    throw new LakehouseError('COMMIT_FAILED', `Commit of snapshot ${this.snapshotId} to ${identifierToString(this.table.state.identifier)} failed with an unknown outcome (${e.message}); the table was reloaded and does not contain the snapshot, so nothing was committed. It is safe to retry.`, { cause: e });
  }

  /** Files written by attempts that lost a race: the landed snapshot does not reference them. */
  private async removeStaleAttemptFiles(): Promise<void> {
    const keep = new Set<string>([this.lastManifestList ?? '']);
    for (const m of this.lastResult?.manifests ?? []) keep.add(m.manifestPath);
    for (const f of this.lastResult?.added ?? []) keep.add(f.filePath);
    const stale = this.writtenFiles.filter((f) => !keep.has(f));
    this.writtenFiles.length = 0;
    if (stale.length > 0) await this.cleanUpFiles(stale);
  }

  private async cleanUp(): Promise<void> {
    await this.cleanUpFiles(this.writtenFiles);
  }

  private async cleanUpFiles(files: string[]): Promise<void> {
    try {
      await this.table.state.io.deleteMany(files);
    } catch {
      // Orphans are harmless to readers; a failed cleanup must not hide the commit error.
    }
  }
}
