import { LakehouseError, type ErrorOptions } from '../core/errors.ts';

/**
 * The database under `SqlCatalog`: the few calls the catalog makes, so one catalog implementation
 * runs on SQLite (sqlite-driver.ts) and PostgreSQL (postgres-driver.ts). Statements are written
 * once with `?` placeholders; a driver whose database numbers them (`$1`) translates.
 */
export type SqlValue = string | number | null;

export interface SqlExecutor {
  /** The rows of a SELECT, as objects keyed by column name. */
  query<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Runs INSERT, UPDATE, DELETE or DDL and answers how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface SqlDriver extends SqlExecutor {
  /** Names the database in messages: a file path, or `postgresql://user@host:port/db` (never a password). */
  readonly description: string;
  /**
   * Runs `fn` in one write transaction: committed if it resolves, rolled back if it rejects. The
   * executor it gets is the only way to reach the transaction; other calls on the driver wait or use
   * another connection.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Column names of `table` as an unqualified name resolves; empty when there is no such table. */
  columns(table: string): Promise<string[]>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * What the catalog needs to know about a failed statement; each kind decides what a commit may
 * conclude about whether its metadata pointer moved.
 * - `duplicate`: a row with that primary key (or a table of that name) exists; nothing was written.
 * - `contention`: rolled back because of another writer (lock or busy timeout, serialization failure,
 *   deadlock, statement timeout); nothing was written.
 * - `no-connection`: no connection could be made (server down, refused login); the statement was never sent.
 * - `connection-lost`: the connection broke after the statement was sent; it may or may not have run.
 * - `other`: anything else (I/O error, bad SQL, permissions).
 */
export type SqlErrorKind = 'duplicate' | 'contention' | 'no-connection' | 'connection-lost' | 'other';

/** A failed database call, with the driver's error as `cause`. */
export class SqlError extends LakehouseError {
  readonly kind: SqlErrorKind;

  constructor(kind: SqlErrorKind, message: string, options: ErrorOptions & { code?: 'IO_ERROR' | 'INVALID_CONFIG' } = {}) {
    const { code = 'IO_ERROR', ...rest } = options;
    super(code, message, { retryable: kind === 'contention' || kind === 'no-connection', ...rest });
    this.name = 'SqlError';
    this.kind = kind;
  }
}

export function isSqlError(e: unknown, kind?: SqlErrorKind): e is SqlError {
  return e instanceof SqlError && (kind === undefined || e.kind === kind);
}
