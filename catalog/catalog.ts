import { type CatalogPort, type LoadedTable, type Namespace, type TableIdentifier, identifierToString, type PartitionSpec, type Schema, type SortOrder } from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';

/**
 * The full catalog API the CLI and pipeline use: namespaces, table lifecycle and the commit of the
 * core's `CatalogPort`. One interface for every catalog (sql, rest, glue) so one conformance suite can
 * run against each (iceberg-go `catalogtest`).
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

/** Rejects what no catalog can store: an invalid namespace (see `checkNamespace`) or an empty table name. */
export function checkTableIdentifier(identifier: TableIdentifier): void {
  checkNamespace(identifier.namespace);
  if (identifier.name.trim() === '') {
    throw new LakehouseError('INVALID_ARGUMENT', `Table name in ${identifierToString(identifier)} is empty.`);
  }
}

/**
 * Code-point order, for listings: an SQL ORDER BY would follow the database's collation and a server's
 * order is its own, so every catalog sorts the same way here.
 */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- the errors every catalog raises, worded the same way by all ----

/** How a catalog names itself in messages (`catalog 'prod'`, `Glue catalog 'prod'`) and in error context. */
export interface CatalogRef {
  name: string;
  label: string;
}

export interface ErrorExtras {
  cause?: unknown;
  /** Added to the error's context, e.g. the server's own words. */
  context?: Record<string, unknown>;
}

function options(extras: ErrorExtras, context: Record<string, unknown>) {
  return { ...(extras.cause === undefined ? {} : { cause: extras.cause }), context: { ...context, ...extras.context } };
}

export function tableNotFoundError(catalog: CatalogRef, identifier: TableIdentifier, extras: ErrorExtras = {}): LakehouseError {
  const id = identifierToString(identifier);
  return new LakehouseError(
    'TABLE_NOT_FOUND',
    `Table ${id} does not exist in ${catalog.label}; create it with \`lakehouse tables create\` or check the name.`,
    options(extras, { catalog: catalog.name, table: id }),
  );
}

export function tableExistsError(catalog: CatalogRef, identifier: TableIdentifier, extras: ErrorExtras = {}): LakehouseError {
  const id = identifierToString(identifier);
  return new LakehouseError(
    'ALREADY_EXISTS',
    `Table ${id} already exists in ${catalog.label}; pick another name or drop it first.`,
    options(extras, { catalog: catalog.name, table: id }),
  );
}

/** `where` says more about what was looked for, e.g. `no such database at <endpoint>`. */
export function namespaceNotFoundError(catalog: CatalogRef, namespace: Namespace, extras: ErrorExtras & { where?: string } = {}): LakehouseError {
  const ns = namespaceToString(namespace);
  return new LakehouseError(
    'NAMESPACE_NOT_FOUND',
    `Namespace ${ns} does not exist in ${catalog.label}${extras.where ? ` (${extras.where})` : ''}; ` +
      `create it with \`lakehouse namespaces create ${ns}\` or check the name.`,
    options(extras, { catalog: catalog.name, namespace: ns }),
  );
}

export function namespaceExistsError(catalog: CatalogRef, namespace: Namespace, extras: ErrorExtras = {}): LakehouseError {
  const ns = namespaceToString(namespace);
  return new LakehouseError('ALREADY_EXISTS', `Namespace ${ns} already exists in ${catalog.label}.`, options(extras, { catalog: catalog.name, namespace: ns }));
}
