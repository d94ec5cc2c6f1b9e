import { identifierToString, type LoadedTable, type Namespace, type TableIdentifier, readTableMetadata, CommitConflictError } from '../iceberg/index.ts';
import type { FileIO } from '../iceberg/io/index.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import {
  byCodePoint,
  checkNamespace,
  checkTableIdentifier,
  namespaceExistsError,
  namespaceNotFoundError,
  namespaceToString,
  tableExistsError,
  tableNotFoundError,
  type Catalog,
  type CreateTableOptions,
  type PropertiesUpdateSummary,
} from './catalog.ts';
import { PointerCatalog, checkPropertyUpdates, updatedProperties, type MetadataPointer, type SwapFailure } from './pointer-catalog.ts';
import { PostgresDriver, isPostgresUri } from './postgres-driver.ts';
import { isSqlError, type SqlDriver, type SqlExecutor } from './sql-driver.ts';
import { DEFAULT_BUSY_TIMEOUT_MS, SqliteDriver, sqlitePathFromUri } from './sqlite-driver.ts';

export { DEFAULT_BUSY_TIMEOUT_MS, sqlitePathFromUri };

/**
 * A catalog in a SQL database with the JDBC catalog's tables (schema V1), so Java's `JdbcCatalog` and
 * PyIceberg's `SqlCatalog` open the same database and see the same namespaces and tables: a SQLite
 * file for one machine, or PostgreSQL shared by writers on many machines. The database sits behind
 * `SqlDriver` (sqlite-driver.ts, postgres-driver.ts); the statements here are portable SQL.
 *
 * Facts it follows (JdbcUtil.java, pyiceberg/catalog/sql.py):
 * - one row per table in `iceberg_tables`, namespace levels joined with '.', `iceberg_type` 'TABLE'
 *   (NULL counts as a table; 'VIEW' rows are views and invisible here);
 * - a namespace exists if it has a property row or holds a table, directly or in a child; creating one
 *   writes the property `exists`='true' so that an empty namespace has a row;
 * - a commit is a compare-and-swap on `metadata_location`.
 */

/** Java's `JdbcCatalog` name for the reserved existence property, hidden from users. */
const NAMESPACE_EXISTS_PROPERTY = 'exists';
const TABLE_RECORD_TYPE = 'TABLE';

// DDL exactly as Java's JdbcUtil (V0 table + the V1 `iceberg_type` column) and PyIceberg's models.
const CREATE_TABLES_SQL = `CREATE TABLE IF NOT EXISTS iceberg_tables (
  catalog_name VARCHAR(255) NOT NULL,
  table_namespace VARCHAR(255) NOT NULL,
  table_name VARCHAR(255) NOT NULL,
  metadata_location VARCHAR(1000),
  previous_metadata_location VARCHAR(1000),
  iceberg_type VARCHAR(5),
  PRIMARY KEY (catalog_name, table_namespace, table_name)
)`;
const CREATE_NAMESPACE_PROPERTIES_SQL = `CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
  catalog_name VARCHAR(255) NOT NULL,
  namespace VARCHAR(255) NOT NULL,
  property_key VARCHAR(255),
  property_value VARCHAR(1000),
  PRIMARY KEY (catalog_name, namespace, property_key)
)`;

const INSERT_PROPERTY_SQL =
  'INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value) VALUES (?, ?, ?, ?)';

/**
 * Creates the catalog tables that do not exist and answers whether `iceberg_tables` has the V1
 * `iceberg_type` column. Existing tables are only looked at: a database user without CREATE rights
 * can use a catalog someone else set up, and a V0 catalog keeps its schema.
 */
async function createCatalogTables(db: SqlDriver): Promise<boolean> {
  for (const [table, ddl] of [
    ['iceberg_tables', CREATE_TABLES_SQL],
    ['iceberg_namespace_properties', CREATE_NAMESPACE_PROPERTIES_SQL],
  ] as const) {
    if ((await db.columns(table)).length > 0) continue;
    try {
      await db.run(ddl);
    } catch (e) {
      // Another writer opening the same new database created it first; PostgreSQL reports that race
      // as a duplicate even with IF NOT EXISTS.
      if (!isSqlError(e, 'duplicate')) throw e;
    }
  }
  return (await db.columns('iceberg_tables')).includes('iceberg_type');
}

export interface SqlCatalogOptions {
  /** The `catalog_name` column: several catalogs can share one database. */
  name: string;
  /**
   * SQLite: `sqlite:////abs/catalog.db` (SQLAlchemy form, as PyIceberg takes it), `jdbc:sqlite:/abs/catalog.db`,
   * or a path. PostgreSQL: `postgresql://user:password@host:5432/db`, `postgresql+psycopg2://…` (PyIceberg),
   * `jdbc:postgresql://host:5432/db` with `jdbc.user` / `jdbc.password` properties (Java); see postgres-driver.ts.
   */
  uri: string;
  /** Root of default table locations: a path, `file:///path` or `s3://bucket/prefix`. */
  warehouse: string;
  /** All catalog properties; `s3.*` ones configure the FileIO, `jdbc.user` / `jdbc.password` PostgreSQL. */
  properties?: Record<string, string>;
  /** SQLite only: how long a statement waits for another process's write lock. */
  busyTimeoutMs?: number;
  /** Replaces the FileIO chosen by location scheme (tests, custom stores). */
  io?: FileIO;
  env?: NodeJS.ProcessEnv;
  /** Base for relative paths in `uri` and `warehouse`; default the working directory. */
  cwd?: string;
}

interface TableRow {
  metadata_location: string | null;
  previous_metadata_location: string | null;
}

/** A table's row, by its key columns. */
interface SqlPointer extends MetadataPointer {
  ns: string;
  name: string;
}

export class SqlCatalog extends PointerCatalog<SqlPointer> implements Catalog {
  /** Always configured: `file:///abs` or `s3://bucket/prefix`, no trailing slash. */
  declare readonly warehouse: string;
  /** Set once by `open`, right after the constructor. */
  private db!: SqlDriver;
  /** V0 databases (Java before views) have no `iceberg_type` column; we read them without it. */
  private hasTypeColumn = true;

  /**
   * Checks the options, connects (SQLite: opens the file, creating it and its folder), then creates the
   * catalog tables unless they exist. PostgreSQL URIs go to PostgreSQL, everything else to SQLite.
   */
  static async open(options: SqlCatalogOptions): Promise<SqlCatalog> {
    const catalog = new SqlCatalog(options);
    try {
      catalog.db = isPostgresUri(options.uri)
        ? await PostgresDriver.open({ uri: options.uri, properties: catalog.props, env: catalog.env })
        : await SqliteDriver.open({ uri: options.uri, cwd: catalog.cwd, busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
      catalog.hasTypeColumn = await createCatalogTables(catalog.db);
    } catch (e) {
      await catalog.close();
      throw e;
    }
    return catalog;
  }

  /** Validates before any connection is made, so a bad setting fails without waiting on a server. */
  private constructor(options: SqlCatalogOptions) {
    if (!options.name) throw new LakehouseError('INVALID_CONFIG', 'A sql catalog needs a name (the catalog_name column).');
    if (!options.warehouse) {
      throw new LakehouseError(
        'INVALID_CONFIG',
        `Catalog '${options.name}' has no warehouse; set "warehouse" to a folder or s3://bucket/prefix where tables are written.`,
      );
    }
    super({
      name: options.name,
      label: `catalog '${options.name}'`,
      warehouse: options.warehouse,
      properties: options.properties ?? {},
      env: options.env ?? process.env,
      io: options.io,
      cwd: options.cwd ?? process.cwd(),
    });
  }

  // ---- namespaces ----

  async createNamespace(namespace: Namespace, properties: Record<string, string> = {}): Promise<void> {
    checkNamespace(namespace);
    const ns = namespaceToString(namespace);
    if (await this.namespaceExistsIn(this.db, ns)) throw namespaceExistsError(this.ref, namespace);
    const rows = { ...properties, [NAMESPACE_EXISTS_PROPERTY]: 'true' };
    try {
      await this.db.transaction(async (tx) => {
        for (const [k, v] of Object.entries(rows)) await tx.run(INSERT_PROPERTY_SQL, [this.name, ns, k, v]);
      });
    } catch (e) {
      if (isSqlError(e, 'duplicate')) throw namespaceExistsError(this.ref, namespace, { cause: e });
      throw e;
    }
  }

  async listNamespaces(parent: Namespace = []): Promise<Namespace[]> {
    if (parent.length > 0) await this.requireNamespace(parent);
    const rows = await this.db.query<{ ns: string }>(
      'SELECT table_namespace AS ns FROM iceberg_tables WHERE catalog_name = ? ' +
        'UNION SELECT namespace AS ns FROM iceberg_namespace_properties WHERE catalog_name = ?',
      [this.name, this.name],
    );
    const depth = parent.length + 1;
    const seen = new Map<string, Namespace>();
    for (const { ns } of rows) {
      const levels = ns === '' ? [] : ns.split('.');
      if (levels.length < depth || !parent.every((p, i) => levels[i] === p)) continue;
      const child = levels.slice(0, depth);
      seen.set(child.join('.'), child);
    }
    return [...seen.values()].sort((a, b) => byCodePoint(a.join('.'), b.join('.')));
  }

  async loadNamespaceProperties(namespace: Namespace): Promise<Record<string, string>> {
    const ns = await this.requireNamespace(namespace);
    const props = await this.fetchProperties(this.db, ns);
    // Reserved bookkeeping, as Java's loadNamespaceMetadata hides it.
    delete props[NAMESPACE_EXISTS_PROPERTY];
    return props;
  }

  async updateNamespaceProperties(
    namespace: Namespace,
    removals: string[],
    updates: Record<string, string>,
  ): Promise<PropertiesUpdateSummary> {
    const ns = await this.requireNamespace(namespace);
    checkPropertyUpdates(removals, updates);
    if (removals.includes(NAMESPACE_EXISTS_PROPERTY) || NAMESPACE_EXISTS_PROPERTY in updates) {
      throw new LakehouseError('INVALID_ARGUMENT', `Namespace property "${NAMESPACE_EXISTS_PROPERTY}" is reserved for the catalog.`);
    }
    // Read inside the transaction so removed/missing describe the rows this transaction changed.
    return this.db.transaction(async (tx) => {
      const current = await this.fetchProperties(tx, ns);
      const { summary } = updatedProperties(current, removals, updates);
      const del = 'DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ? AND property_key = ?';
      // Delete-then-insert: a portable upsert (what PyIceberg does too).
      for (const k of summary.removed) await tx.run(del, [this.name, ns, k]);
      for (const [k, v] of Object.entries(updates)) {
        await tx.run(del, [this.name, ns, k]);
        await tx.run(INSERT_PROPERTY_SQL, [this.name, ns, k, v]);
      }
      // A namespace kept alive only by properties must not vanish when its last one is removed.
      const hadRows = Object.keys(current).length > 0;
      if (hadRows && Object.keys(await this.fetchProperties(tx, ns)).length === 0) {
        await tx.run(INSERT_PROPERTY_SQL, [this.name, ns, NAMESPACE_EXISTS_PROPERTY, 'true']);
      }
      return summary;
    });
  }

  async dropNamespace(namespace: Namespace): Promise<void> {
    const ns = await this.requireNamespace(namespace);
    const children = await this.listNamespaces(namespace);
    if (children.length > 0) {
      throw new LakehouseError(
        'NAMESPACE_NOT_EMPTY',
        `Namespace ${ns} is not empty: it contains ${children.length} namespace(s) (${children.map((c) => c.join('.')).join(', ')}); drop them first.`,
      );
    }
    // Views count too: a Java catalog's view rows would otherwise be orphaned.
    // COUNT is a bigint in PostgreSQL and arrives as a string.
    const [row] = await this.db.query<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?',
      [this.name, ns],
    );
    const n = Number(row?.n ?? 0);
    if (n > 0) {
      throw new LakehouseError('NAMESPACE_NOT_EMPTY', `Namespace ${ns} is not empty: it contains ${n} table(s) or view(s); drop them first.`);
    }
    await this.db.run('DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ?', [this.name, ns]);
  }

  async namespaceExists(namespace: Namespace): Promise<boolean> {
    checkNamespace(namespace);
    return this.namespaceExistsIn(this.db, namespaceToString(namespace));
  }

  // ---- tables ----

  async createTable(identifier: TableIdentifier, options: CreateTableOptions): Promise<LoadedTable> {
    const { ns, name } = this.checkIdentifier(identifier);
    await this.requireNamespace(identifier.namespace);
    if (await this.tableRow(ns, name)) throw tableExistsError(this.ref, identifier);

    // PyIceberg's SqlCatalog layout: the namespace directory is the levels joined by '.'.
    const location = options.location
      ? this.normalizeLocation(options.location)
      : this.defaultTableLocation(identifier.namespace, (await this.fetchProperties(this.db, ns))['location'], ns, name);
    const { metadata, metadataLocation, io } = await this.writeFirstMetadata(options, location);
    try {
      await this.insertTableRow(ns, name, metadataLocation);
    } catch (e) {
      // Nobody references the file we just wrote (or, if the connection broke, maybe someone does).
      if (!isSqlError(e, 'connection-lost')) await io.delete(metadataLocation).catch(() => undefined);
      if (isSqlError(e, 'duplicate')) throw tableExistsError(this.ref, identifier, { cause: e });
      throw e;
    }
    return { identifier, metadataLocation, metadata, io };
  }

  async listTables(namespace: Namespace): Promise<TableIdentifier[]> {
    const ns = await this.requireNamespace(namespace);
    const rows = await this.db.query<{ table_name: string }>(
      `SELECT table_name FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?${this.typeFilter()}`,
      [this.name, ns],
    );
    // Sorted here, by code point: ORDER BY would follow the database's collation, which differs between databases.
    return rows
      .map((r) => r.table_name)
      .sort(byCodePoint)
      .map((name) => ({ namespace: [...namespace], name }));
  }

  async tableExists(identifier: TableIdentifier): Promise<boolean> {
    const { ns, name } = this.checkIdentifier(identifier);
    return (await this.tableRow(ns, name)) !== undefined;
  }

  async renameTable(from: TableIdentifier, to: TableIdentifier): Promise<void> {
    const src = this.checkIdentifier(from);
    const dst = this.checkIdentifier(to);
    if (src.ns === dst.ns && src.name === dst.name) return;
    if (!(await this.tableRow(src.ns, src.name))) throw tableNotFoundError(this.ref, from);
    await this.requireNamespace(to.namespace);
    if (await this.anyRow(dst.ns, dst.name)) throw tableExistsError(this.ref, to);
    let changes: number;
    try {
      changes = await this.db.run(
        'UPDATE iceberg_tables SET table_namespace = ?, table_name = ? ' +
          `WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?${this.typeFilter()}`,
        [dst.ns, dst.name, this.name, src.ns, src.name],
      );
    } catch (e) {
      if (isSqlError(e, 'duplicate')) throw tableExistsError(this.ref, to, { cause: e });
      throw e;
    }
    if (changes === 0) throw tableNotFoundError(this.ref, from);
  }

  async registerTable(identifier: TableIdentifier, metadataLocation: string): Promise<LoadedTable> {
    const { ns, name } = this.checkIdentifier(identifier);
    await this.requireNamespace(identifier.namespace);
    if (await this.anyRow(ns, name)) throw tableExistsError(this.ref, identifier);
    // Read first: registering a pointer to a file that is not table metadata would break every reader.
    const io = this.ioFor(metadataLocation);
    const metadata = await readTableMetadata(io, metadataLocation);
    try {
      await this.insertTableRow(ns, name, metadataLocation);
    } catch (e) {
      if (isSqlError(e, 'duplicate')) throw tableExistsError(this.ref, identifier, { cause: e });
      throw e;
    }
    return { identifier, metadataLocation, metadata, io };
  }

  // ---- the pointer: the row's metadata_location ----

  protected async readPointer(identifier: TableIdentifier): Promise<SqlPointer> {
    const { ns, name } = this.checkIdentifier(identifier);
    const row = await this.tableRow(ns, name);
    if (!row) throw tableNotFoundError(this.ref, identifier);
    return { ns, name, metadataLocation: this.requireMetadataLocation(identifier, row) };
  }

  /**
   * A compare-and-swap on `metadata_location`: the row changes only if it still names the metadata
   * the commit started from. Zero rows changed means another writer committed first.
   */
  protected async swapPointer(_identifier: TableIdentifier, pointer: SqlPointer, next: { location: string }): Promise<boolean> {
    const changes = await this.db.run(
      'UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? ' +
        `WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?${this.typeFilter()}`,
      [next.location, pointer.metadataLocation, this.name, pointer.ns, pointer.name, pointer.metadataLocation],
    );
    return changes > 0;
  }

  protected classifySwapFailure(identifier: TableIdentifier, _pointer: SqlPointer, e: unknown, nextLocation: string): SwapFailure {
    const id = identifierToString(identifier);
    if (isSqlError(e, 'contention')) {
      // Busy/lock timeout, serialization failure, deadlock: the database rolled the statement back.
      return {
        landed: 'no',
        error: new CommitConflictError(
          `Commit to ${id} was rolled back by the catalog database because of another writer (${errorMessage(e)}); nothing was committed, retry.`,
          { cause: e },
        ),
      };
    }
    if (isSqlError(e, 'no-connection')) {
      // No connection, so the statement was never sent: nothing landed, and a retry may find the server back.
      return {
        landed: 'no',
        error: new LakehouseError('IO_ERROR', `Commit to ${id} was not sent: ${e.message} Nothing was committed.`, {
          cause: e,
          retryable: true,
          context: e.context,
        }),
      };
    }
    // A connection lost after sending, an I/O error during the write: the outcome is open.
    return { landed: 'maybe', error: this.commitStateUnknown(identifier, `with ${errorMessage(e)}`, nextLocation, e) };
  }

  protected async deleteEntry(identifier: TableIdentifier): Promise<void> {
    const { ns, name } = this.checkIdentifier(identifier);
    const changes = await this.db.run(
      `DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?${this.typeFilter()}`,
      [this.name, ns, name],
    );
    if (changes === 0) throw tableNotFoundError(this.ref, identifier);
  }

  protected async closeStore(): Promise<void> {
    // Undefined when `open` failed to connect.
    await (this.db as SqlDriver | undefined)?.close();
  }

  // ---- helpers ----

  private typeFilter(): string {
    return this.hasTypeColumn ? ` AND (iceberg_type = '${TABLE_RECORD_TYPE}' OR iceberg_type IS NULL)` : '';
  }

  private async tableRow(ns: string, name: string): Promise<TableRow | undefined> {
    const [row] = await this.db.query<TableRow>(
      'SELECT metadata_location, previous_metadata_location FROM iceberg_tables ' +
        `WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?${this.typeFilter()}`,
      [this.name, ns, name],
    );
    return row;
  }

  /** A table or a view: either occupies the primary key. */
  private async anyRow(ns: string, name: string): Promise<boolean> {
    const rows = await this.db.query('SELECT 1 AS found FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?', [
      this.name,
      ns,
      name,
    ]);
    return rows.length > 0;
  }

  private async insertTableRow(ns: string, name: string, metadataLocation: string): Promise<void> {
    if (this.hasTypeColumn) {
      await this.db.run(
        'INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type) ' +
          'VALUES (?, ?, ?, ?, NULL, ?)',
        [this.name, ns, name, metadataLocation, TABLE_RECORD_TYPE],
      );
    } else {
      await this.db.run(
        'INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location) ' +
          'VALUES (?, ?, ?, ?, NULL)',
        [this.name, ns, name, metadataLocation],
      );
    }
  }

  private async fetchProperties(sql: SqlExecutor, ns: string): Promise<Record<string, string>> {
    const rows = await sql.query<{ property_key: string | null; property_value: string | null }>(
      'SELECT property_key, property_value FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ?',
      [this.name, ns],
    );
    const out: Record<string, string> = {};
    for (const r of rows) if (r.property_key !== null) out[r.property_key] = r.property_value ?? '';
    return out;
  }

  /**
   * Exists if a table or property row names it or a child of it (`a` exists when `a.b` does). The SQL
   * LIKE narrows the rows; the exact test is in JS because SQLite's LIKE ignores ASCII case.
   */
  private async namespaceExistsIn(sql: SqlExecutor, ns: string): Promise<boolean> {
    const like = ns.replace(/[!_%]/g, (c) => '!' + c) + '.%';
    const rows = await sql.query<{ ns: string }>(
      "SELECT table_namespace AS ns FROM iceberg_tables WHERE catalog_name = ? AND (table_namespace = ? OR table_namespace LIKE ? ESCAPE '!') " +
        "UNION SELECT namespace AS ns FROM iceberg_namespace_properties WHERE catalog_name = ? AND (namespace = ? OR namespace LIKE ? ESCAPE '!')",
      [this.name, ns, like, this.name, ns, like],
    );
    return rows.some((r) => r.ns === ns || r.ns.startsWith(ns + '.'));
  }

  private async requireNamespace(namespace: Namespace): Promise<string> {
    checkNamespace(namespace);
    const ns = namespaceToString(namespace);
    if (!(await this.namespaceExistsIn(this.db, ns))) throw namespaceNotFoundError(this.ref, namespace);
    return ns;
  }

  private checkIdentifier(identifier: TableIdentifier): { ns: string; name: string } {
    checkTableIdentifier(identifier);
    return { ns: namespaceToString(identifier.namespace), name: identifier.name };
  }

  private requireMetadataLocation(identifier: TableIdentifier, row: TableRow): string {
    if (!row.metadata_location) {
      throw new LakehouseError(
        'INVALID_METADATA',
        `Catalog '${this.name}' has an entry for ${identifierToString(identifier)} without a metadata_location; drop and re-register the table.`,
      );
    }
    return row.metadata_location;
  }
}
