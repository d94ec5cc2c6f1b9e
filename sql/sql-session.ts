import type { Catalog } from '../catalog/catalog.ts';
import { LakehouseError } from '../core/errors.ts';
import { type Namespace, type TableIdentifier, Table, currentSchema, identifierToString, mapLimit } from '../iceberg/index.ts';
import { isLocalLocation } from '../iceberg/io/index.ts';
import { DataFileCache } from './data-file-cache.ts';
import { DuckDb, type PreparedQuery, type ResultSet, sqlString, sqlStringList } from './duckdb.ts';
import { quoteIdent, snapshotSelect } from './table-view.ts';

/**
 * SQL over a catalog's Iceberg tables by name: `SELECT ... FROM lakehouse.campaign_metrics` in DuckDB.
 *
 * Each table a statement names becomes a DuckDB view over one snapshot: the current one as the catalog's
 * pointer says (the metadata location the catalog returns, never the newest metadata file in a folder),
 * or the one chosen by `asOfMs` / `snapshotId`. The view reads exactly the data files our planner
 * returns for that snapshot, by Parquet field id (see table-view.ts); object-store files are fetched
 * through the table's FileIO into the local cache, as the metrics job reads them (DataFileCache). A table
 * is looked up again before every statement, so a long interactive session sees each new commit.
 *
 * Read-only, in three layers: every statement must be a query (DuckDB's `json_serialize_sql` accepts
 * only SELECT-like statements: SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) and, once bound,
 * must say SELECT; the only database is DuckDB's in-memory one, which holds nothing but these views; and
 * the views read data files, which no statement can write through. Nothing here can commit to a catalog.
 */
export interface SqlSessionOptions {
  catalog: Catalog;
  /** Namespace of unqualified table names; default `lakehouse`. */
  defaultNamespace?: Namespace;
  /** Read every table at the snapshot that was current at this time (epoch milliseconds). */
  asOfMs?: number;
  /** Read every table named at this snapshot id (for one-table queries). */
  snapshotId?: bigint;
  /** Local cache of object-store data files; default `$LAKEHOUSE_CACHE/data-files`. */
  cacheDir?: string;
  /** DuckDB threads (default: all cores). */
  threads?: number;
  /** Called as object-store files of a table are fetched into the cache. */
  onFetch?: (table: string, done: number, total: number) => void;
}

export interface StatementResult extends ResultSet {
  /** The snapshot each table the statement read was read at (null: the table has no snapshot yet). */
  snapshots: Record<string, bigint | null>;
}

/** Schemas DuckDB owns; a name in one of them is DuckDB's, not the catalog's. */
const DUCKDB_SCHEMAS = new Set(['main', 'information_schema', 'pg_catalog', 'temp', 'system']);

interface ViewState {
  metadataLocation: string;
  snapshotId: bigint | null;
}

export class SqlSession {
  private readonly views = new Map<string, ViewState>();
  private readonly schemas = new Set<string>();
  private readonly defaultNamespace: Namespace;

  private constructor(private readonly opts: SqlSessionOptions, private readonly db: DuckDb) {
    this.defaultNamespace = opts.defaultNamespace ?? ['lakehouse'];
  }

  static async open(opts: SqlSessionOptions): Promise<SqlSession> {
    // No extension is installed or loaded behind the user's back: a query cannot reach a writer that
    // DuckDB would fetch on first use (e.g. ATTACH of another database type).
    const db = await DuckDb.open({
      threads: opts.threads,
      config: { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false', allow_community_extensions: 'false' },
    });
    const session = new SqlSession(opts, db);
    try {
      // Footers read when a view is made (the field-id check) serve the queries that follow.
      await db.run('SET parquet_metadata_cache = true');
      const schema = session.defaultNamespace.join('.');
      await session.ensureSchema(schema);
      // Unqualified names resolve in the default namespace first, then in DuckDB's own schema.
      await db.run(`SET search_path = ${sqlString(`${quoteIdent(schema)},main`)}`);
    } catch (e) {
      db.close();
      throw e;
    }
    return session;
  }

  /** Runs every statement of `sql` (separated by `;`), each a query; one result per statement. */
  async query(sql: string): Promise<StatementResult[]> {
    const { statements, snapshots } = await this.checkedStatements(sql);
    const results: StatementResult[] = [];
    for (const s of statements) results.push({ ...(await s.run()), snapshots });
    return results;
  }

  /** Views for the tables `sql` names, then its statements prepared, each checked to be a query. */
  private async checkedStatements(sql: string): Promise<{ statements: PreparedQuery[]; snapshots: Record<string, bigint | null> }> {
    const refs = await this.tableReferences(sql);
    const snapshots: Record<string, bigint | null> = {};
    for (const id of refs) snapshots[identifierToString(id)] = await this.ensureView(id);
    let statements: PreparedQuery[];
    try {
      statements = await this.db.prepareAll(sql);
    } catch (e) {
      // An unqualified name that is neither a CTE nor a table of the default namespace reaches DuckDB.
      const missing = e instanceof LakehouseError ? /Table with name (\S+) does not exist/.exec(e.message) : null;
      if (missing) throw await this.unknownTable(missing[1]!, e);
      throw e;
    }
    for (const s of statements) {
      if (s.kind !== 'SELECT') throw readOnlyError(s.kind);
    }
    return { statements, snapshots };
  }

  /**
   * Writes the result of one query to a Parquet file with DuckDB's COPY. The query passes the same
   * checks as `query`, and COPY runs on DuckDB's own rendering of its parse tree, so a trailing comment
   * or semicolon cannot change what is copied.
   */
  async exportParquet(sql: string, outPath: string): Promise<{ snapshots: Record<string, bigint | null> }> {
    const statements = await this.checkedStatements(sql);
    if (statements.statements.length !== 1) {
      throw new LakehouseError('INVALID_ARGUMENT', `--format parquet writes one result, and the SQL has ${statements.statements.length} statements; run them one at a time.`);
    }
    const [row] = await this.db.rows(`SELECT json_deserialize_sql(json_serialize_sql(${sqlString(sql)})) AS text`);
    await this.db.run(`COPY (\n${String(row!.text)}\n) TO ${sqlString(outPath)} (FORMAT parquet, COMPRESSION zstd)`);
    return { snapshots: statements.snapshots };
  }

  /** Every table of the catalog (top-level namespaces), as `namespace.table`, sorted. */
  async tableNames(): Promise<string[]> {
    const namespaces = await this.opts.catalog.listNamespaces();
    const lists = await mapLimit(namespaces, 4, (ns) => this.opts.catalog.listTables(ns));
    return lists.flat().map(identifierToString).sort();
  }

  close(): void {
    this.db.close();
  }

  /**
   * The catalog tables `sql` names. DuckDB parses it (`json_serialize_sql`, which also refuses every
   * statement that is not a query) and we collect its base-table references: `ns.table` for any schema
   * DuckDB does not own, and unqualified names that are not a CTE of the statement, looked up in the
   * default namespace. An unknown name is an error that lists the tables there are.
   */
  private async tableReferences(sql: string): Promise<TableIdentifier[]> {
    const [row] = await this.db.rows(`SELECT json_serialize_sql(${sqlString(sql)}) AS tree`);
    const tree = JSON.parse(String(row!.tree)) as { error?: boolean; error_type?: string; error_message?: string; statements?: unknown[] };
    if (tree.error) {
      if (/only select statements/i.test(tree.error_message ?? '')) throw readOnlyError(firstKeyword(sql));
      throw new LakehouseError('SQL_ERROR', `${capitalize(tree.error_type ?? 'parser')} Error: ${tree.error_message ?? 'the SQL could not be parsed'}`);
    }
    const bases: { schema: string; table: string; catalog: string }[] = [];
    const ctes = new Set<string>();
    walk(tree.statements, (node) => {
      if (node.type === 'BASE_TABLE' && typeof node.table_name === 'string') {
        bases.push({ schema: String(node.schema_name ?? ''), table: node.table_name, catalog: String(node.catalog_name ?? '') });
      }
      const map = (node.cte_map as { map?: { key: string }[] } | undefined)?.map;
      if (Array.isArray(map)) for (const m of map) ctes.add(m.key.toLowerCase());
    });
    const out = new Map<string, TableIdentifier>();
    for (const b of bases) {
      if (b.catalog !== '' || DUCKDB_SCHEMAS.has(b.schema.toLowerCase())) continue;
      if (b.schema === '' && ctes.has(b.table.toLowerCase())) continue;
      const id: TableIdentifier = { namespace: b.schema === '' ? this.defaultNamespace : b.schema.split('.'), name: b.table };
      if (b.schema === '' && !(await this.opts.catalog.tableExists(id))) continue; // DuckDB's own name, or its error
      out.set(identifierToString(id), id);
    }
    return [...out.values()];
  }

  /** Creates or refreshes the view of one table; returns the snapshot it reads. */
  private async ensureView(id: TableIdentifier): Promise<bigint | null> {
    const key = identifierToString(id);
    let table: Table;
    try {
      table = new Table(this.opts.catalog, await this.opts.catalog.loadTable(id));
    } catch (e) {
      if (e instanceof LakehouseError && (e.code === 'TABLE_NOT_FOUND' || e.code === 'NAMESPACE_NOT_FOUND')) throw await this.unknownTable(key, e);
      throw e;
    }
    const known = this.views.get(key);
    if (known && known.metadataLocation === table.metadataLocation) return known.snapshotId;
    let plan;
    try {
      plan = await table.planFiles({ snapshotId: this.opts.snapshotId, asOfMs: this.opts.asOfMs });
    } catch (e) {
      if (e instanceof LakehouseError && e.code === 'NOT_FOUND') throw new LakehouseError('NOT_FOUND', `${key}: ${e.message}`, { cause: e });
      throw e;
    }
    const locations = plan.files.map((f) => f.filePath);
    const paths = await this.localPaths(key, table, locations);
    const schema = id.namespace.join('.');
    await this.ensureSchema(schema);
    // As Java and PyIceberg read: the current snapshot with the table's current schema (a column renamed
    // since the last commit shows its new name), an earlier snapshot with the schema it was written with.
    await this.refuseFilesWithoutFieldIds(key, paths);
    const timeTravel = this.opts.snapshotId !== undefined || this.opts.asOfMs !== undefined;
    const columns = timeTravel ? plan.schema : currentSchema(table.metadata);
    await this.db.run(`CREATE OR REPLACE VIEW ${quoteIdent(schema)}.${quoteIdent(id.name)} AS ${snapshotSelect(columns, paths)}`);
    const snapshotId = plan.snapshot?.snapshotId ?? null;
    this.views.set(key, { metadataLocation: table.metadataLocation, snapshotId });
    return snapshotId;
  }

  /**
   * A Parquet file without field ids (added from outside Iceberg, e.g. by add_files) would read as all
   * NULL under the id mapping; the spec reads such files through the table's name mapping, which this
   * does not apply yet, so it refuses instead of answering wrong. Only footers are read, and DuckDB keeps
   * them for the query that follows.
   */
  private async refuseFilesWithoutFieldIds(key: string, paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    const bad = await this.db.rows(`SELECT file_name FROM parquet_schema(${sqlStringList(paths)}) GROUP BY file_name HAVING count(field_id) = 0 LIMIT 1`);
    if (bad.length > 0) {
      throw new LakehouseError('UNSUPPORTED', `${key}: data file ${String(bad[0]!.file_name)} has no Iceberg field ids, so its columns cannot be matched by id (lakehouse sql does not apply a name mapping yet); rewrite the table's files with an Iceberg writer (e.g. a compaction) first.`);
    }
  }

  private async localPaths(key: string, table: Table, locations: string[]): Promise<string[]> {
    const cache = new DataFileCache(table.io, this.opts.cacheDir);
    if (locations.every(isLocalLocation)) return cache.localPaths(locations);
    let done = 0;
    this.opts.onFetch?.(key, 0, locations.length);
    return mapLimit(locations, 8, async (loc) => {
      const p = await cache.localPath(loc);
      this.opts.onFetch?.(key, ++done, locations.length);
      return p;
    });
  }

  private async ensureSchema(name: string): Promise<void> {
    if (this.schemas.has(name)) return;
    await this.db.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(name)}`);
    this.schemas.add(name);
  }

  private async unknownTable(name: string, cause: unknown): Promise<LakehouseError> {
    let known: string[] = [];
    try {
      known = await this.tableNames();
    } catch {
      // The list is a courtesy; the missing table is the error.
    }
    const list = known.length === 0 ? 'the catalog has no tables yet' : `the catalog has: ${known.slice(0, 30).join(', ')}${known.length > 30 ? `, ... (${known.length} in all)` : ''}`;
    return new LakehouseError('TABLE_NOT_FOUND', `Table ${name} does not exist; ${list}.`, { cause });
  }
}

function readOnlyError(kind: string): LakehouseError {
  return new LakehouseError(
    'READ_ONLY',
    `lakehouse sql only reads tables, so ${kind} statements are refused; run a query (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE). Tables change through lakehouse's own commands (ingest, metrics run, tables expire).`,
  );
}

/** The statement keyword for a refusal: the first word of the first statement that is not a query. */
function firstKeyword(sql: string): string {
  const words = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').split(';').map((s) => s.trim().split(/\s+/)[0]!.toUpperCase()).filter((w) => w !== '');
  return words.find((w) => !['SELECT', 'WITH', 'FROM', 'VALUES', 'DESCRIBE', 'SHOW', 'SUMMARIZE', 'TABLE', '('].includes(w)) ?? words[0] ?? 'these';
}

function capitalize(s: string): string {
  return s.replace(/(^|\s)\w/g, (c) => c.toUpperCase());
}

function walk(node: unknown, visit: (n: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit);
  } else if (node !== null && typeof node === 'object') {
    visit(node as Record<string, unknown>);
    for (const v of Object.values(node)) walk(v, visit);
  }
}
