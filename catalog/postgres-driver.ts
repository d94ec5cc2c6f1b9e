import { userInfo } from 'node:os';
import pg from 'pg';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { SqlError, isSqlError, type SqlDriver, type SqlErrorKind, type SqlExecutor, type SqlValue } from './sql-driver.ts';

/**
 * PostgreSQL through node-postgres (`pg`), the only file that imports it, so the driver's types
 * and errors stay at this edge. One database holds the JDBC catalog tables for every writer on every
 * machine, and Java's JdbcCatalog and PyIceberg's SqlCatalog open the same tables with the URIs their
 * users already write.
 */

export const DEFAULT_PORT = 5432;
/** libpq's `connect_timeout` default is "forever"; a catalog that cannot connect should say so in seconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * Connections per catalog instance. Catalog calls are short and mostly sequential; a small pool
 * keeps many writers on many machines well inside PostgreSQL's default `max_connections` (100).
 */
export const POOL_SIZE = 4;
export const DEFAULT_APPLICATION_NAME = 'lakehouse';
/** Java JdbcCatalog's properties for credentials (it passes `jdbc.*` to the driver); they win over the URI. */
export const JDBC_USER = 'jdbc.user';
export const JDBC_PASSWORD = 'jdbc.password';

/** `postgresql://`, `postgres://`, SQLAlchemy's `postgresql+psycopg2://` (any driver) and `jdbc:postgresql:`. */
export function isPostgresUri(uri: string): boolean {
  return /^(?:jdbc:)?postgres(?:ql)?(?:\+[a-z0-9_]+)?:/i.test(uri.trim());
}

export interface PostgresSettings {
  /** A host name or address, or the folder of a Unix socket (starts with `/`). */
  host: string;
  port: number;
  database: string;
  user: string;
  password: string | undefined;
  /** false: plain TCP; otherwise TLS, verifying the certificate or not. */
  ssl: false | { rejectUnauthorized: boolean };
  connectTimeoutMs: number;
  /** Shown in pg_stat_activity, so a DBA can tell the writers apart. */
  applicationName: string;
}

/**
 * Connection settings from a catalog URI, filled in like libpq: a missing host is `PGHOST` or
 * localhost, port `PGPORT` or 5432, user `PGUSER` or the OS user, database `PGDATABASE` or the user.
 *
 * - `postgresql://user:password@host:5432/db?sslmode=require` (libpq; `postgres://` too), where
 *   `?host=/run/postgresql` names a socket folder;
 * - `postgresql+psycopg2://…` and other `+driver` forms, as PyIceberg users write for SQLAlchemy;
 * - `jdbc:postgresql://host:5432/db?user=u&password=p&ssl=true` and `jdbc:postgresql:db`, as Java's
 *   JdbcCatalog takes them, with `jdbc.user` / `jdbc.password` catalog properties.
 * Query parameters read: user, password, host, port, dbname, sslmode, ssl (JDBC), connect_timeout /
 * connectTimeout (JDBC; seconds), application_name / ApplicationName (JDBC). Others are meant for
 * other clients sharing the URI and are ignored.
 */
export function postgresSettingsFromUri(
  uri: string,
  properties: Record<string, string> = {},
  env: NodeJS.ProcessEnv = process.env,
): PostgresSettings {
  const trimmed = uri.trim();
  const jdbc = /^jdbc:/i.test(trimmed);
  const m = /^(?:jdbc:)?(postgres(?:ql)?)(?:\+[a-z0-9_]+)?:(.*)$/is.exec(trimmed);
  // The rest of the URI is never shown: it may hold a password.
  const shown = `${jdbc ? 'jdbc:' : ''}${m?.[1] ?? 'postgresql'}://…`;
  const invalid = (why: string) =>
    new LakehouseError(
      'INVALID_CONFIG',
      `Catalog uri "${shown}" ${why}; write postgresql://user:password@host:5432/database or jdbc:postgresql://host:5432/database.`,
    );
  if (!m) throw invalid('is not a PostgreSQL uri');
  let rest = m[2]!;
  if (!rest.startsWith('//')) {
    // JDBC's short forms `jdbc:postgresql:db` and `jdbc:postgresql:/` mean localhost:5432.
    if (!jdbc) throw invalid('has no "//" after the scheme');
    rest = '///' + rest.replace(/^\/+/, '');
  }
  let url: URL;
  try {
    url = new URL(`postgresql:${rest}`);
  } catch {
    throw invalid('cannot be parsed (one host:port only; special characters in the user or password must be percent-encoded)');
  }
  const q = url.searchParams;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw invalid('has a malformed percent-encoding');
    }
  };
  const nonEmpty = (...vs: Array<string | null | undefined>) => vs.find((v): v is string => v !== undefined && v !== null && v !== '');

  const host = nonEmpty(decode(url.hostname).replace(/^\[(.*)\]$/, '$1'), q.get('host'), env['PGHOST']) ?? 'localhost';
  const portText = nonEmpty(url.port, q.get('port'), env['PGPORT']) ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`has port "${portText}", which is not a TCP port`);
  const user = nonEmpty(properties[JDBC_USER], decode(url.username), q.get('user'), env['PGUSER']) ?? userInfo().username;
  const password = nonEmpty(properties[JDBC_PASSWORD], decode(url.password), q.get('password'), env['PGPASSWORD']);
  const database = nonEmpty(decode(url.pathname.replace(/^\//, '')), q.get('dbname'), env['PGDATABASE']) ?? user;

  const timeoutText = nonEmpty(q.get('connect_timeout'), q.get('connectTimeout'));
  let connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  if (timeoutText !== undefined) {
    const seconds = Number(timeoutText);
    if (!Number.isFinite(seconds) || seconds < 0) throw invalid(`has connect_timeout "${timeoutText}", which is not a number of seconds`);
    // libpq: 0 means wait forever; pg's 0 means the same.
    connectTimeoutMs = Math.round(seconds * 1000);
  }

  const applicationName = nonEmpty(q.get('application_name'), q.get('ApplicationName')) ?? DEFAULT_APPLICATION_NAME;
  return { host, port, database, user, password, ssl: sslFrom(q, jdbc, invalid), connectTimeoutMs, applicationName };
}

/**
 * libpq's `sslmode`, or JDBC's `ssl=true` (which verifies like verify-full). pg cannot try TLS and
 * fall back, so `allow` and `prefer` (libpq's default) connect without TLS.
 */
function sslFrom(q: URLSearchParams, jdbc: boolean, invalid: (why: string) => Error): PostgresSettings['ssl'] {
  const mode = q.get('sslmode')?.toLowerCase();
  switch (mode) {
    case undefined:
      return jdbc && q.get('ssl')?.toLowerCase() === 'true' ? { rejectUnauthorized: true } : false;
    case 'disable':
    case 'allow':
    case 'prefer':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full':
      return { rejectUnauthorized: true };
    default:
      throw invalid(`has sslmode "${mode}"; use disable, prefer, require, verify-ca or verify-full`);
  }
}

/** `host:port` for messages; `[v6]:port` for IPv6 addresses. */
export function hostPort(s: Pick<PostgresSettings, 'host' | 'port'>): string {
  return `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
}

/**
 * `?` placeholders to PostgreSQL's `$1, $2, …`, leaving `?` inside '…' literals and "…" identifiers
 * alone (a doubled quote inside them closes and reopens, which keeps the state right). The catalog's
 * statements use no comments or dollar quoting.
 */
export function numberedPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '?') {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  return out;
}

export interface PostgresDriverOptions {
  uri: string;
  /** Catalog properties; `jdbc.user` and `jdbc.password` are read. */
  properties?: Record<string, string>;
  /** Source of PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export class PostgresDriver implements SqlDriver {
  readonly description: string;
  private readonly settings: PostgresSettings;
  private readonly pool: pg.Pool;
  private readonly translated = new Map<string, string>();
  private closed = false;

  /** Connects once, so a wrong host, password or database fails here with a sentence, not at the first table. */
  static async open(options: PostgresDriverOptions): Promise<PostgresDriver> {
    const driver = new PostgresDriver(postgresSettingsFromUri(options.uri, options.properties, options.env));
    try {
      (await driver.connect()).release();
    } catch (e) {
      await driver.close();
      throw e;
    }
    return driver;
  }

  private constructor(settings: PostgresSettings) {
    this.settings = settings;
    this.description = `postgresql://${settings.user}@${hostPort(settings)}/${settings.database}`;
    this.pool = new pg.Pool({
      host: settings.host,
      port: settings.port,
      database: settings.database,
      user: settings.user,
      ...(settings.password === undefined ? {} : { password: settings.password }),
      ssl: settings.ssl,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      max: POOL_SIZE,
      idleTimeoutMillis: 30_000,
      // A catalog someone forgot to close must not keep a CLI process alive.
      allowExitOnIdle: true,
      // Notices a server that vanished (network cut, failover) on idle connections.
      keepAlive: true,
      application_name: settings.applicationName,
    });
    // An idle connection that the server ends (restart, idle timeout) is reported here; the pool has
    // already dropped it. Without a listener Node would end the process with an unhandled 'error'.
    this.pool.on('error', () => undefined);
  }

  async query<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.withClient((c) => this.execQuery<Row>(c, sql, params));
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.withClient((c) => this.execRun(c, sql, params));
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken = false;
    try {
      await this.execRun(client, 'BEGIN', []);
      const result = await fn({
        query: <Row>(sql: string, params: readonly SqlValue[] = []) => this.execQuery<Row>(client, sql, params),
        run: (sql: string, params: readonly SqlValue[] = []) => this.execRun(client, sql, params),
      });
      await this.execRun(client, 'COMMIT', []);
      return result;
    } catch (e) {
      broken = isSqlError(e, 'connection-lost');
      // A broken connection has no transaction left to roll back: the server aborts it.
      if (!broken) await this.execRun(client, 'ROLLBACK', []).catch(() => (broken = true));
      throw e;
    } finally {
      client.release(broken);
    }
  }

  /** Resolves the name through the search path, as the catalog's unqualified statements do. */
  async columns(table: string): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      'SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
      [table],
    );
    return rows.map((r) => r.name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** A pooled connection for `fn`; one whose connection broke is destroyed instead of returned. */
  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken = false;
    try {
      return await fn(client);
    } catch (e) {
      broken = isSqlError(e, 'connection-lost');
      throw e;
    } finally {
      client.release(broken);
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    if (this.closed) throw new LakehouseError('INVALID_ARGUMENT', `The catalog connection to ${this.description} is closed; open the catalog again.`);
    try {
      return await this.pool.connect();
    } catch (e) {
      throw connectError(e, this.settings);
    }
  }

  private async execQuery<Row>(client: pg.PoolClient, sql: string, params: readonly SqlValue[]): Promise<Row[]> {
    try {
      return (await client.query(this.numbered(sql), [...params])).rows as Row[];
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private async execRun(client: pg.PoolClient, sql: string, params: readonly SqlValue[]): Promise<number> {
    try {
      return (await client.query(this.numbered(sql), [...params])).rowCount ?? 0;
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private numbered(sql: string): string {
    let out = this.translated.get(sql);
    if (out === undefined) {
      out = numberedPlaceholders(sql);
      this.translated.set(sql, out);
    }
    return out;
  }

  private wrap(e: unknown): SqlError {
    const kind = pgErrorKind(e);
    const what = kind === 'connection-lost' ? 'lost the connection' : 'failed';
    return new SqlError(kind, `PostgreSQL catalog database ${this.description} ${what}: ${errorMessage(e)}`, { cause: e });
  }
}

/** SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html */
function pgErrorKind(e: unknown): SqlErrorKind {
  if (!(e instanceof pg.DatabaseError)) {
    // Socket errors, "Connection terminated unexpectedly", timeouts: the statement may have run.
    return 'connection-lost';
  }
  const code = e.code ?? '';
  // unique_violation; duplicate_table (two first-time CREATE TABLE IF NOT EXISTS racing).
  if (code === '23505' || code === '42P07') return 'duplicate';
  // serialization_failure, deadlock_detected, lock_not_available, query_canceled (statement_timeout):
  // the server rolled the statement back.
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '57014') return 'contention';
  // connection_exception, admin_shutdown, crash_shutdown, cannot_connect_now.
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return 'connection-lost';
  return 'other';
}

/**
 * A sentence for a connection that could not be made, naming host:port, user and database but never
 * the password. Nothing was sent, so the kind is `no-connection` for every cause.
 */
function connectError(e: unknown, s: PostgresSettings): SqlError {
  const at = hostPort(s);
  const reason = errorMessage(e);
  const fail = (message: string, code: 'IO_ERROR' | 'INVALID_CONFIG', retryable: boolean) =>
    new SqlError('no-connection', message, { code, retryable, cause: e, context: { host: s.host, port: s.port, database: s.database, user: s.user } });
  if (e instanceof pg.DatabaseError) {
    switch (e.code) {
      case '28P01':
        return fail(
          `PostgreSQL at ${at} rejected the password for user "${s.user}"; check the password in the catalog uri ` +
            `(postgresql://user:password@host:port/database) or the ${JDBC_PASSWORD} property.`,
          'INVALID_CONFIG',
          false,
        );
      case '28000':
        return fail(
          `PostgreSQL at ${at} does not let user "${s.user}" connect to database "${s.database}" (${reason}); ` +
            `check the user in the catalog uri or the ${JDBC_USER} property, and the server's pg_hba.conf.`,
          'INVALID_CONFIG',
          false,
        );
      case '3D000':
        return fail(
          `Database "${s.database}" does not exist on the PostgreSQL server at ${at}; create it ` +
            `(createdb -h ${s.host} -p ${s.port} -U ${s.user} ${s.database}) or fix the database name in the catalog uri.`,
          'INVALID_CONFIG',
          false,
        );
      case '53300':
      case '57P03':
        return fail(`PostgreSQL at ${at} is not accepting connections right now (${reason}); retry, or raise max_connections.`, 'IO_ERROR', true);
      default:
        return fail(`Cannot connect to PostgreSQL at ${at} as user "${s.user}": ${reason}. Check the catalog uri.`, 'INVALID_CONFIG', false);
    }
  }
  if (/password must be a string/i.test(reason)) {
    // pg's words when the server asks for a password (SCRAM or MD5) and none was configured.
    return fail(
      `PostgreSQL at ${at} asks user "${s.user}" for a password and none was given; add it to the catalog uri ` +
        `(postgresql://user:password@host:port/database) or set the ${JDBC_PASSWORD} property.`,
      'INVALID_CONFIG',
      false,
    );
  }
  if (/ssl|tls|certificate/i.test(reason)) {
    return fail(`TLS to PostgreSQL at ${at} failed (${reason}); check sslmode in the catalog uri against the server's ssl setting.`, 'INVALID_CONFIG', false);
  }
  return fail(
    `Cannot reach the PostgreSQL server at ${at} (${reason}); start it (infra/services/postgres.sh runs one on 127.0.0.1:15432) ` +
      'or fix the host and port in the catalog uri.',
    'IO_ERROR',
    true,
  );
}
