import * as path from 'node:path';
import {
  type LoadedTable,
  type Namespace,
  type TableIdentifier,
  type TableMetadata,
  type TableRequirement,
  type TableUpdate,
  CommitConflictError,
  CommitStateUnknownError,
  applyUpdates,
  checkRequirements,
  identifierToString,
  newTableMetadata,
  nextMetadataLocation,
  readManifest,
  readManifestList,
  readTableMetadata,
  writeTableMetadata,
} from '../iceberg/index.ts';
import { type FileIO, isLocalLocation, toFileUri } from '../iceberg/io/index.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { type CatalogRef, type CreateTableOptions, type DropTableOptions, type PropertiesUpdateSummary, namespaceToString } from './catalog.ts';
import { FileIOCache } from './file-io-cache.ts';

/**
 * The base of catalogs that keep, per table, a pointer to its current metadata file and write the
 * metadata files themselves (SQL, Glue), after PyIceberg's `MetastoreCatalog` and iceberg-go's
 * `catalog/internal`; a REST catalog's server writes them instead. The base owns what does not depend
 * on where the pointer lives: the FileIOs, default table locations, loading, purging, and the commit:
 *
 *   read the pointer -> check the requirements -> write the next metadata file (exclusive create)
 *   -> swap the pointer only if it is unchanged -> classify a failure -> clean up.
 *
 * A commit has three outcomes. Success. A conflict (CommitConflictError, retryable): nothing landed,
 * so the metadata file we wrote can never be referenced and is deleted. An unknown outcome
 * (CommitStateUnknownError): the swap may have landed, so the file stays, since a landed snapshot
 * references it. A concrete catalog reads and swaps its pointer, says what its store's errors mean
 * for that, deletes entries, and keeps its namespaces.
 */

/** What a catalog entry says about its table: the current metadata file, plus what the store needs to swap it safely. */
export interface MetadataPointer {
  metadataLocation: string;
}

/** The metadata a commit wants the pointer to move to. */
export interface NextMetadata {
  base: TableMetadata;
  metadata: TableMetadata;
  location: string;
}

/**
 * What a failed swap means. `landed: 'no'`: the store refused or never received it, so no snapshot
 * can reference our new metadata file and it is deleted. `'maybe'`: it may have been applied, so the
 * file is kept; `error` is then a CommitStateUnknownError.
 */
export interface SwapFailure {
  landed: 'no' | 'maybe';
  error: Error;
}

export interface PointerCatalogOptions {
  name: string;
  /** How messages name the catalog, e.g. `catalog 'prod'`. */
  label: string;
  /** Root of default table locations as configured; absent when every table location comes from elsewhere. */
  warehouse: string | undefined;
  /** All catalog properties; the `s3.*` ones configure the FileIOs. */
  properties: Record<string, string>;
  env: NodeJS.ProcessEnv;
  /** Replaces the FileIO chosen by location scheme (tests, custom stores); closing it stays the caller's job. */
  io: FileIO | undefined;
  /** Base for relative paths in the warehouse and in locations. */
  cwd: string;
}

export abstract class PointerCatalog<P extends MetadataPointer> {
  readonly name: string;
  /** `file:///abs` or `s3://bucket/prefix`, no trailing slash; undefined when not configured. */
  readonly warehouse: string | undefined;
  protected readonly ref: CatalogRef;
  protected readonly props: Record<string, string>;
  protected readonly env: NodeJS.ProcessEnv;
  protected readonly cwd: string;
  private readonly ios: FileIOCache;
  /** Per table, the metadata file last read or written and its parsed content (see metadataAt). */
  private readonly lastMetadata = new Map<string, { location: string; metadata: TableMetadata }>();

  protected constructor(o: PointerCatalogOptions) {
    this.name = o.name;
    this.ref = { name: o.name, label: o.label };
    this.props = o.properties;
    this.env = o.env;
    this.cwd = o.cwd;
    this.ios = new FileIOCache({ properties: o.properties, env: o.env, ...(o.io ? { override: o.io } : {}) });
    this.warehouse = o.warehouse === undefined ? undefined : normalizeLocation(o.warehouse, o.cwd);
    // Fail at start-up, not at the first table, when the warehouse scheme has no FileIO.
    if (this.warehouse !== undefined) this.ioFor(this.warehouse);
  }

  // ---- what a concrete catalog implements ----

  /** The table's pointer; TABLE_NOT_FOUND when the catalog has no entry for it. */
  protected abstract readPointer(identifier: TableIdentifier): Promise<P>;

  /**
   * Points the entry at `next.location`, only if it still holds `pointer`. True when swapped, false
   * when another writer moved it first. Throws what the store threw; `classifySwapFailure` reads that.
   */
  protected abstract swapPointer(identifier: TableIdentifier, pointer: P, next: NextMetadata): Promise<boolean>;

  protected abstract classifySwapFailure(identifier: TableIdentifier, pointer: P, error: unknown, nextLocation: string): SwapFailure;

  /** Removes the table's entry, never its files; TABLE_NOT_FOUND when there is none. */
  protected abstract deleteEntry(identifier: TableIdentifier): Promise<void>;

  /** Releases the store's connections; the FileIOs are closed after it. */
  protected abstract closeStore(): Promise<void>;

  /** Refuses a commit the store cannot guard against concurrent writers, before any file is written. */
  protected checkCommittable(_identifier: TableIdentifier, _pointer: P): void {}

  /** The pointer as a conflict message names it: the metadata file, or the store's version of the entry. */
  protected describePointer(pointer: P): string {
    return pointer.metadataLocation;
  }

  /** Context fields of a conflict error besides the metadata location expected. */
  protected pointerContext(_pointer: P): Record<string, unknown> {
    return {};
  }

  // ---- the shared half of the Catalog API ----

  async loadTable(identifier: TableIdentifier): Promise<LoadedTable> {
    const { metadataLocation } = await this.readPointer(identifier);
    const io = this.ioFor(metadataLocation);
    const metadata = await this.metadataAt(identifier, io, metadataLocation);
    return { identifier, metadataLocation, metadata, io };
  }

  async dropTable(identifier: TableIdentifier, options: DropTableOptions = {}): Promise<void> {
    const last = options.purge ? await this.readBeforePurge(identifier) : undefined;
    await this.deleteEntry(identifier);
    if (last) await this.purgeDroppedTable(last);
  }

  async commitTable(identifier: TableIdentifier, requirements: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    const pointer = await this.readPointer(identifier);
    const baseLocation = pointer.metadataLocation;
    const baseIo = this.ioFor(baseLocation);
    const base = await this.metadataAt(identifier, baseIo, baseLocation);
    checkRequirements(base, requirements);
    if (updates.length === 0) return { identifier, metadataLocation: baseLocation, metadata: base, io: baseIo };
    this.checkCommittable(identifier, pointer);

    const next = applyUpdates(base, updates, { previousMetadataLocation: baseLocation });
    const nextLocation = nextMetadataLocation(next, baseLocation);
    const io = this.ioFor(nextLocation);
    try {
      await writeTableMetadata(io, nextLocation, next);
    } catch (e) {
      if (e instanceof LakehouseError && e.code === 'ALREADY_EXISTS') {
        // Another committer created the same version first: nothing of ours can land.
        throw new CommitConflictError(
          `Commit to ${identifierToString(identifier)} lost a race: metadata file ${nextLocation} was written by another committer; reload and retry.`,
          { cause: e },
        );
      }
      throw e;
    }

    let swapped: boolean;
    try {
      swapped = await this.swapPointer(identifier, pointer, { base, metadata: next, location: nextLocation });
    } catch (e) {
      const failure = this.classifySwapFailure(identifier, pointer, e, nextLocation);
      if (failure.landed === 'no') await discard(io, nextLocation);
      throw failure.error;
    }
    if (!swapped) {
      await discard(io, nextLocation);
      throw this.commitConflict(identifier, pointer);
    }
    this.lastMetadata.set(identifierToString(identifier), { location: nextLocation, metadata: next });
    return { identifier, metadataLocation: nextLocation, metadata: next, io };
  }

  /** Closes the store first (no operation can start a new file after it), then every FileIO opened. */
  async close(): Promise<void> {
    try {
      await this.closeStore();
    } finally {
      await this.ios.close();
    }
  }

  /**
   * The table's metadata at `location`, parsed once: a metadata file is never rewritten (each commit
   * writes a new name), so the last one read or written per table is kept and the pointer alone decides
   * whether it is still current. Parsing is most of a commit's cost once a table has thousands of
   * snapshots, and a writer commits on top of what it just wrote.
   */
  private async metadataAt(identifier: TableIdentifier, io: FileIO, location: string): Promise<TableMetadata> {
    const key = identifierToString(identifier);
    const last = this.lastMetadata.get(key);
    if (last?.location === location) return last.metadata;
    const metadata = await readTableMetadata(io, location);
    this.lastMetadata.set(key, { location, metadata });
    return metadata;
  }

  // ---- helpers for the concrete catalogs ----

  protected ioFor(location: string): FileIO {
    return this.ios.forLocation(location);
  }

  protected normalizeLocation(location: string): string {
    return normalizeLocation(location, this.cwd);
  }

  /**
   * Where a table created without a location goes: `<namespace location>/<table>` when the namespace
   * has a `location` property, else `<warehouse>/<directory>/<table>`, the directory being the
   * catalog's layout of the namespace.
   */
  protected defaultTableLocation(namespace: Namespace, namespaceLocation: string | undefined, directory: string, table: string): string {
    if (namespaceLocation) return `${this.normalizeLocation(namespaceLocation)}/${table}`;
    if (this.warehouse !== undefined) return `${this.warehouse}/${directory}/${table}`;
    const ns = namespaceToString(namespace);
    throw new LakehouseError(
      'INVALID_CONFIG',
      `Cannot choose a location for table ${ns}.${table}: ${this.ref.label} has no warehouse and namespace ${ns} has no location. ` +
        'Set "warehouse" (e.g. s3://bucket/warehouse), give the namespace a "location" property, or pass a table location.',
    );
  }

  /**
   * The file half of creating a table: fresh metadata from the create options at `location`, written
   * as version 00000 with an exclusive create. The catalog then inserts its entry
   * and deletes this file if that is refused.
   */
  protected async writeFirstMetadata(
    options: CreateTableOptions,
    location: string,
  ): Promise<{ metadata: TableMetadata; metadataLocation: string; io: FileIO }> {
    const metadata = newTableMetadata({
      schema: options.schema,
      location,
      ...(options.partitionSpec ? { spec: options.partitionSpec } : {}),
      ...(options.sortOrder ? { sortOrder: options.sortOrder } : {}),
      ...(options.properties ? { properties: options.properties } : {}),
      ...(options.formatVersion ? { formatVersion: options.formatVersion } : {}),
    });
    const metadataLocation = nextMetadataLocation(metadata, null);
    const io = this.ioFor(metadataLocation);
    await writeTableMetadata(io, metadataLocation, metadata);
    return { metadata, metadataLocation, io };
  }

  /** Another writer moved the pointer since we read it: nothing of ours landed. */
  protected commitConflict(identifier: TableIdentifier, pointer: P, cause?: unknown): CommitConflictError {
    return new CommitConflictError(
      `Table ${identifierToString(identifier)} was changed by another writer since ${this.describePointer(pointer)} was read; nothing was committed. Reload and retry.`,
      { ...(cause === undefined ? {} : { cause }), context: { expected: pointer.metadataLocation, ...this.pointerContext(pointer) } },
    );
  }

  /** The swap may have landed: `how` says what failed; the new metadata file is kept for a landed commit. */
  protected commitStateUnknown(identifier: TableIdentifier, how: string, nextLocation: string, cause: unknown): CommitStateUnknownError {
    return new CommitStateUnknownError(
      `Commit to ${identifierToString(identifier)} failed ${how}; it may or may not have landed. ` +
        `Reload the table and look for the snapshot before retrying; ${nextLocation} was kept.`,
      { cause },
    );
  }

  /**
   * What a purging drop will delete, read before the entry goes. A table whose metadata cannot be
   * read (an entry without a metadata location, a metadata file gone or corrupt) is still dropped,
   * only without its files, as Java's catalogs do; a failure to read the entry itself stops the drop.
   */
  private async readBeforePurge(identifier: TableIdentifier): Promise<LoadedTable | undefined> {
    let pointer: P;
    try {
      pointer = await this.readPointer(identifier);
    } catch (e) {
      if (e instanceof LakehouseError && e.code === 'INVALID_METADATA') return undefined;
      throw e;
    }
    const { metadataLocation } = pointer;
    const io = this.ioFor(metadataLocation);
    return readTableMetadata(io, metadataLocation).then(
      (metadata) => ({ identifier, metadataLocation, metadata, io }),
      () => undefined,
    );
  }

  /**
   * The purge half of `dropTable({ purge: true })`, after the catalog entry is gone: files go only
   * after the entry, so a reader never finds an entry whose files are half deleted. Leftovers are
   * reported by name.
   */
  private async purgeDroppedTable(table: LoadedTable): Promise<void> {
    const report = await purgeTableFiles(table.io, table.metadata, table.metadataLocation);
    if (report.failures.length > 0) {
      const first = report.failures[0]!;
      throw new LakehouseError(
        'IO_ERROR',
        `Dropped table ${identifierToString(table.identifier)} from ${this.ref.label}, but ${report.failures.length} file(s) could not be ` +
          `read or deleted (first: ${first.location}: ${first.reason}); ${report.deleted} were deleted. Delete the rest by hand.`,
        { context: { failures: report.failures } },
      );
    }
  }
}

/** Deletes a metadata file no entry can reference; a failure only leaves an orphan behind. */
async function discard(io: FileIO, location: string): Promise<void> {
  await io.delete(location).catch(() => undefined);
}

/**
 * A location without surrounding blanks or trailing slashes; a local path becomes an absolute
 * `file:///` URI: table locations are written into metadata and read by other processes, so they must
 * not depend on a working directory, and the `file:` form is what PyIceberg and Java write.
 */
export function normalizeLocation(location: string, cwd: string = process.cwd()): string {
  const trimmed = location.trim().replace(/\/+$/, '');
  if (!isLocalLocation(trimmed)) return trimmed;
  return toFileUri(/^file:/i.test(trimmed) ? trimmed : path.resolve(cwd, trimmed));
}

// ---- namespace properties ----

/** Refuses keys that are both removed and updated: which of the two should win is not said. */
export function checkPropertyUpdates(removals: string[], updates: Record<string, string>): void {
  const overlap = removals.filter((k) => k in updates);
  if (overlap.length > 0) {
    throw new LakehouseError('INVALID_ARGUMENT', `Properties ${overlap.join(', ')} are both removed and updated; pick one.`);
  }
}

/**
 * The properties after removing and updating, and the summary of what that did (PyIceberg's
 * `_get_updated_props_and_update_summary`): a removal of a key that is not there is `missing`.
 */
export function updatedProperties(
  current: Record<string, string>,
  removals: string[],
  updates: Record<string, string>,
): { properties: Record<string, string>; summary: PropertiesUpdateSummary } {
  const removed = removals.filter((k) => k in current);
  const missing = removals.filter((k) => !(k in current));
  const properties = { ...current, ...updates };
  for (const k of removed) delete properties[k];
  return { properties, summary: { removed, updated: Object.keys(updates), missing } };
}

// ---- purge ----

export interface PurgeReport {
  deleted: number;
  /** Files that could not be read (to find what they reference) or deleted, with the reason. */
  failures: Array<{ location: string; reason: string }>;
}

/**
 * Deletes every file `metadata` reaches (see `DropTableOptions.purge`), data first and metadata last,
 * so an interrupted purge leaves files that the remaining metadata still explains. Best effort like
 * PyIceberg's `purge_table`: one unreadable manifest does not stop the rest; failures are returned.
 */
export async function purgeTableFiles(io: FileIO, metadata: TableMetadata, metadataLocation: string): Promise<PurgeReport> {
  const failures: PurgeReport['failures'] = [];
  const manifestLists = new Set<string>();
  const manifests = new Set<string>();
  const dataFiles = new Set<string>();
  for (const snapshot of metadata.snapshots) {
    manifestLists.add(snapshot.manifestList);
    let entries;
    try {
      entries = await readManifestList(io, snapshot.manifestList);
    } catch (e) {
      failures.push({ location: snapshot.manifestList, reason: `unreadable manifest list: ${errorMessage(e)}` });
      continue;
    }
    for (const manifest of entries) {
      // Snapshots share manifests; read each once.
      if (manifests.has(manifest.manifestPath)) continue;
      manifests.add(manifest.manifestPath);
      try {
        for (const entry of await readManifest(io, manifest)) dataFiles.add(entry.dataFile.filePath);
      } catch (e) {
        failures.push({ location: manifest.manifestPath, reason: `unreadable manifest: ${errorMessage(e)}` });
      }
    }
  }
  const statistics = [...(metadata.statistics ?? []), ...(metadata.partitionStatistics ?? [])]
    .map((s) => (s as Record<string, unknown>)['statistics-path'])
    .filter((p): p is string => typeof p === 'string');
  const metadataFiles = new Set([...metadata.metadataLog.map((m) => m.metadataFile), metadataLocation]);

  let deleted = 0;
  for (const group of [dataFiles, statistics, manifests, manifestLists, metadataFiles]) {
    const locations = [...group];
    try {
      await io.deleteMany(locations);
      deleted += locations.length;
    } catch {
      // The batch call stops at its first failure; go one by one to delete the rest and name each failure.
      for (const location of locations) {
        try {
          await io.delete(location);
          deleted++;
        } catch (e) {
          failures.push({ location, reason: errorMessage(e) });
        }
      }
    }
  }
  return { deleted, failures };
}
