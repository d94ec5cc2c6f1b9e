import { type CatalogPort, type LoadedTable, type Namespace, type TableIdentifier, identifierToString, nextMetadataLocation, writeTableMetadata, applyUpdates, newTableMetadata, type TableUpdate, readManifest, readManifestList, type PartitionSpec, type Schema, type SortOrder, type TableMetadata, CommitConflictError } from '../iceberg/index.ts';
import type { FileIO } from '../iceberg/io/index.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';

/**
 * The full catalog API the CLI and pipeline use: namespaces, table lifecycle and the commit of the
 * core's `CatalogPort`. One interface for every catalog (sql now; rest and glue later) so one
 * conformance suite can run against each (STYLE habit 10, iceberg-go `catalogtest`).
 */
export interface CreateTableOptions {
  schema: Schema;
  partitionSpec?: PartitionSpec;
  sortOrder?: SortOrder;
  /** Absent = the namespace's `location` property + `/<table>`, else `<warehouse>/<ns>/<table>`. */
  location?: string;
  properties?: Record<string, string>;
  formatVersion?: 1 | 2;
}

export interface DropTableOptions {
  /**
   * Also delete the files the table's metadata reaches: every metadata file in the metadata log,
   * manifest lists, manifests, data and delete files, statistics files. Files under the table location
   * that no metadata references (orphans of failed writes) are left alone, as Java and PyIceberg do:
   * a location may be shared, and only referenced files are known to be the table's.
   */
  purge?: boolean;
}

/** What an update of namespace properties did, as PyIceberg's `PropertiesUpdateSummary`. */
export interface PropertiesUpdateSummary {
  removed: string[];
  updated: string[];
  /** Keys asked to be removed that were not there. */
  missing: string[];
}

export interface Catalog extends CatalogPort {
  createNamespace(namespace: Namespace, properties?: Record<string, string>): Promise<void>;
  /** Children of `parent` (top-level namespaces without it), each as its full level list. */
  listNamespaces(parent?: Namespace): Promise<Namespace[]>;
  loadNamespaceProperties(namespace: Namespace): Promise<Record<string, string>>;
  updateNamespaceProperties(
    namespace: Namespace,
    removals: string[],
    updates: Record<string, string>,
  ): Promise<PropertiesUpdateSummary>;
  /** Fails with NAMESPACE_NOT_EMPTY while it holds tables or child namespaces. */
  dropNamespace(namespace: Namespace): Promise<void>;
  namespaceExists(namespace: Namespace): Promise<boolean>;

  createTable(identifier: TableIdentifier, options: CreateTableOptions): Promise<LoadedTable>;
  listTables(namespace: Namespace): Promise<TableIdentifier[]>;
  tableExists(identifier: TableIdentifier): Promise<boolean>;
  dropTable(identifier: TableIdentifier, options?: DropTableOptions): Promise<void>;
  /** Renames the catalog entry only; files stay where they are (Iceberg locations are absolute). */
  renameTable(from: TableIdentifier, to: TableIdentifier): Promise<void>;
  /** Adds an entry for an existing metadata file, e.g. one written by another catalog. */
  registerTable(identifier: TableIdentifier, metadataLocation: string): Promise<LoadedTable>;
  close(): Promise<void>;
}

/** `['a', 'b']` -> `a.b`, the form JDBC and PyIceberg's SQL catalog store. */
export function namespaceToString(namespace: Namespace): string {
  return namespace.join('.');
}

/**
 * Rejects namespaces the dot-joined storage form cannot round-trip: empty, an empty level, or a level
 * that contains a dot (`['a.b']` and `['a', 'b']` would be the same row).
 */
export function checkNamespace(namespace: Namespace): void {
  if (namespace.length === 0) {
    throw new LakehouseError('INVALID_ARGUMENT', 'A namespace needs at least one level, e.g. "lakehouse".');
  }
  for (const level of namespace) {
    if (level.trim() === '' || level.includes('.')) {
      throw new LakehouseError(
        'INVALID_ARGUMENT',
        `Namespace level "${level}" in ${JSON.stringify(namespace)} is not valid: levels must be non-empty and contain no dots.`,
      );
    }
  }
}

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

/**
 * The purge half of `dropTable({ purge: true })`, after the catalog entry is gone: files go only after
 * the entry, so a reader never finds an entry whose files are half deleted. Leftovers are reported by name.
 */
export async function purgeDroppedTable(catalogLabel: string, table: LoadedTable): Promise<void> {
  const report = await purgeTableFiles(table.io, table.metadata, table.metadataLocation);
  if (report.failures.length > 0) {
    const first = report.failures[0]!;
    throw new LakehouseError(
      'IO_ERROR',
      `Dropped table ${identifierToString(table.identifier)} from ${catalogLabel}, but ${report.failures.length} file(s) could not be ` +
        `read or deleted (first: ${first.location}: ${first.reason}); ${report.deleted} were deleted. Delete the rest by hand.`,
      { context: { failures: report.failures } },
    );
  }
}

/**
 * The file half of a commit for catalogs that keep a pointer to a metadata file (SQL, Glue): applies the
 * updates to the base, writes the next `NNNNN-<uuid>.metadata.json` with an exclusive create, and returns
 * it for the catalog to swap its pointer to. Losing the exclusive create to another committer is a
 * conflict (nothing of ours can land); the caller deletes the file if its own swap then fails.
 */
export async function writeNextMetadata(
  identifier: TableIdentifier,
  base: TableMetadata,
  baseLocation: string,
  updates: TableUpdate[],
  ioFor: (location: string) => FileIO,
): Promise<{ next: TableMetadata; nextLocation: string; io: FileIO }> {
  const next = applyUpdates(base, updates, { previousMetadataLocation: baseLocation });
  const nextLocation = nextMetadataLocation(next, baseLocation);
  const io = ioFor(nextLocation);
  try {
    await writeTableMetadata(io, nextLocation, next);
  } catch (e) {
    if (e instanceof LakehouseError && e.code === 'ALREADY_EXISTS') {
      throw new CommitConflictError(
        `Commit to ${identifierToString(identifier)} lost a race: metadata file ${nextLocation} was written by another committer; reload and retry.`,
        { cause: e },
      );
    }
    throw e;
  }
  return { next, nextLocation, io };
}

/**
 * The file half of creating a table in a pointer-based catalog (SQL, Glue): fresh metadata from the
 * create options at `location`, written as version 00000 with an exclusive create. The catalog then
 * inserts its entry and deletes this file if that fails.
 */
export async function writeNewTableMetadata(
  options: CreateTableOptions,
  location: string,
  ioFor: (location: string) => FileIO,
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
  const io = ioFor(metadataLocation);
  await writeTableMetadata(io, metadataLocation, metadata);
  return { metadata, metadataLocation, io };
}
