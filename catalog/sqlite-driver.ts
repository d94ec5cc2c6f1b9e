import Database from 'better-sqlite3';
import * as path from 'node:path';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { LocalFileIO } from '../iceberg/io/index.ts';
import { SqlError, type SqlDriver, type SqlErrorKind, type SqlExecutor, type SqlValue } from './sql-driver.ts';

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/**
 * The database file named by a SQLAlchemy- or JDBC-style URI, or `:memory:`. SQLAlchemy's rule is
 * kept exactly so one config string names one file for us and PyIceberg: `sqlite:///rel/path` is
 * relative (three slashes), `sqlite:////abs/path` absolute (four).
 */
export function sqlitePathFromUri(uri: string, cwd: string = process.cwd()): string {
  const withoutQuery = uri.replace(/\?.*$/, '');
  let p: string;
  const sqla = /^sqlite(?:\+\w+)?:\/\/(.*)$/i.exec(withoutQuery);
  const jdbc = /^jdbc:sqlite:(.*)$/i.exec(withoutQuery);
  if (sqla) {
    const rest = sqla[1]!;
    if (rest === '' || rest === '/' || rest === '/:memory:') return ':memory:';
    if (!rest.startsWith('/')) {
      throw new LakehouseError('INVALID_CONFIG', `Catalog uri "${uri}" has a host; write sqlite:////absolute/path.db or sqlite:///relative/path.db.`);
    }
    p = rest.slice(1);
  } else if (jdbc) {
    p = jdbc[1]!.replace(/^file:/i, '');
    if (p === ':memory:' || p === '') return ':memory:';
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    // Only the scheme is shown: the rest may hold a password.
    const scheme = uri.slice(0, uri.indexOf(':'));
    throw new LakehouseError(
      'UNSUPPORTED',
      `Catalog uri "${scheme}://…" is not a SQLite database (this parser reads SQLite only); the sql catalog opens ` +
        'sqlite:////path/catalog.db and postgresql://user:password@host:5432/database.',
    );
  } else {
    p = withoutQuery;
  }
  return path.resolve(cwd, p);
}

export interface SqliteDriverOptions {
  uri: string;
  /** Base for a relative path in `uri`. */
  cwd?: string;
  busyTimeoutMs?: number;
}

/**
 * SQLite through better-sqlite3, the only file that imports it, so the driver's types and errors
 * stay at this edge. better-sqlite3 is synchronous and this is one connection, so an open transaction
 * would see statements that other async callers issue while it awaits; those callers wait until it
 * ends instead.
 */
export class SqliteDriver implements SqlDriver {
  readonly description: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** Settles when the running transaction ends; undefined when none runs. */
  private inTransaction: Promise<unknown> | undefined;

  /** Opens (creating if needed) the file and its folder, in WAL mode. */
  static async open(options: SqliteDriverOptions): Promise<SqliteDriver> {
    const file = sqlitePathFromUri(options.uri, options.cwd);
    // SQLite creates the file but not its folder; the default catalog lives in ./warehouse.
    if (file !== ':memory:') await new LocalFileIO().ensureDirectory(path.dirname(file));
    return new SqliteDriver(file, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
  }

  private constructor(file: string, busyTimeoutMs: number) {
    this.description = file;
    try {
      this.db = new Database(file, { timeout: busyTimeoutMs });
      // WAL lets readers in other processes (PyIceberg, a second pipeline) proceed during a commit;
      // the busy timeout makes writers queue instead of failing at once.
      this.db.pragma('journal_mode = WAL');
    } catch (e) {
      throw new SqlError('other', `Cannot open catalog database ${file}: ${errorMessage(e)}. Check the path and its permissions.`, { cause: e });
    }
  }

  async query<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    await this.idle();
    return this.execQuery<Row>(sql, params);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    await this.idle();
    return this.execRun(sql, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    await this.idle();
    const tx: SqlExecutor = {
      query: async <Row>(sql: string, params: readonly SqlValue[] = []) => this.execQuery<Row>(sql, params),
      run: async (sql: string, params: readonly SqlValue[] = []) => this.execRun(sql, params),
    };
    const body = (async () => {
      // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes
      // can fail with SQLITE_BUSY at once, without waiting, when another process also upgrades.
      this.execRun('BEGIN IMMEDIATE', []);
      try {
        const result = await fn(tx);
        this.execRun('COMMIT', []);
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    })();
    const settled = body.catch(() => undefined);
    this.inTransaction = settled;
    try {
      return await body;
    } finally {
      if (this.inTransaction === settled) this.inTransaction = undefined;
    }
  }

  async columns(table: string): Promise<string[]> {
    await this.idle();
    return this.execQuery<{ name: string }>(`PRAGMA table_info(${quoteIdentifier(table)})`, []).map((c) => c.name);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private async idle(): Promise<void> {
    while (this.inTransaction) await this.inTransaction;
  }

  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private execQuery<Row>(sql: string, params: readonly SqlValue[]): Row[] {
    try {
      return this.statement(sql).all(...params) as Row[];
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private execRun(sql: string, params: readonly SqlValue[]): number {
    try {
      return this.statement(sql).run(...params).changes;
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private wrap(e: unknown): SqlError {
    return new SqlError(sqliteErrorKind(e), `SQLite catalog database ${this.description}: ${errorMessage(e)}`, { cause: e });
  }
}

function sqliteErrorKind(e: unknown): SqlErrorKind {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') return 'duplicate';
  // SQLITE_BUSY in autocommit mode means the statement never got the write lock: nothing was written.
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'contention';
  return 'other';
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
