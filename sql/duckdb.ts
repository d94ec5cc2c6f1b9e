import { DuckDBInstance, DuckDBTypeId, DuckDBUIntegerVector, StatementType, type DuckDBConnection, type DuckDBResultReader } from '@duckdb/node-api';
import { LakehouseError } from '../core/errors.ts';

/**
 * The one file that imports DuckDB, so a change of DuckDB binding stays in one place. An in-memory database per job run: the jobs read
 * Parquet files the Iceberg planner chose and hand rows back; nothing persists in DuckDB itself.
 * Values come back in lakehouse's representation: BIGINT and timestamps (microseconds) as bigint,
 * DOUBLE as number, VARCHAR as string, BOOLEAN as boolean.
 */
export class DuckDb {
  private constructor(private readonly instance: DuckDBInstance, private readonly connection: DuckDBConnection, private readonly ownsInstance = true) {}

  /** `config`: DuckDB settings fixed at start-up, e.g. `autoload_known_extensions: 'false'`. */
  static async open(opts: { threads?: number; config?: Record<string, string> } = {}): Promise<DuckDb> {
    const config: Record<string, string> = { ...opts.config };
    if (opts.threads !== undefined) config.threads = String(opts.threads);
    const instance = await DuckDBInstance.create(':memory:', config);
    const connection = await instance.connect();
    const db = new DuckDb(instance, connection);
    // Windows are aligned to the UTC epoch, and timestamptz arithmetic must not depend on the host's zone.
    await db.run("SET TimeZone = 'UTC'");
    return db;
  }

  /**
   * Another connection to the same database, for a long-running process: the instance's loaded extensions
   * and threads stay, while temp tables, views and variables are the connection's own, so each piece of
   * work starts clean. Its close() closes only the connection.
   */
  async connect(): Promise<DuckDb> {
    const db = new DuckDb(this.instance, await this.instance.connect(), false);
    await db.run("SET TimeZone = 'UTC'");
    return db;
  }

  /** Runs one or more statements. */
  async run(sql: string): Promise<void> {
    try {
      await this.connection.run(sql);
    } catch (e) {
      throw duckError(e, sql);
    }
  }

  /** Runs a query and returns its rows as objects. */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    let objects: Record<string, unknown>[];
    try {
      objects = (await this.connection.runAndReadAll(sql)).getRowObjects() as Record<string, unknown>[];
    } catch (e) {
      throw duckError(e, sql);
    }
    return objects.map(plainRow);
  }

  /**
   * rows(), streamed: the rows as objects, about `chunkRows` at a time (whole DuckDB chunks of 2,048), so a
   * result of millions of rows never exists as objects all at once. The connection is busy until the
   * generator is done.
   */
  async *rowChunks(sql: string, chunkRows = 65_536): AsyncGenerator<Record<string, unknown>[]> {
    let result;
    try {
      result = await this.connection.stream(sql);
    } catch (e) {
      throw duckError(e, sql);
    }
    const names = result.columnNames();
    let out: Record<string, unknown>[] = [];
    for (;;) {
      let chunk;
      try {
        chunk = await result.fetchChunk();
      } catch (e) {
        throw duckError(e, sql);
      }
      if (!chunk || chunk.rowCount === 0) break;
      for (const o of chunk.getRowObjects(names)) out.push(plainRow(o));
      if (out.length >= chunkRows) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  }

  /**
   * Streams a query whose columns are all UINTEGER (no NULLs), a chunk of rows at a time, as one
   * Uint32Array per column: millions of rows without a JS object per row or value.
   */
  async *uint32Chunks(sql: string): AsyncGenerator<Uint32Array[]> {
    let result;
    try {
      result = await this.connection.stream(sql);
    } catch (e) {
      throw duckError(e, sql);
    }
    const columns = result.columnCount;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) return;
      const n = chunk.rowCount;
      const out: Uint32Array[] = [];
      for (let c = 0; c < columns; c++) {
        const vector = chunk.getColumnVector(c);
        // The binding's UINTEGER vector holds its values as a Uint32Array (a field its types call private):
        // copied whole, 4 x 10 M values take milliseconds instead of a getItem() call each.
        const items = vector instanceof DuckDBUIntegerVector ? (vector as unknown as { items?: unknown }).items : undefined;
        if (items instanceof Uint32Array && items.length >= n) {
          out.push(items.slice(0, n));
        } else {
          const values = new Uint32Array(n);
          for (let i = 0; i < n; i++) values[i] = vector.getItem(i) as number;
          out.push(values);
        }
      }
      yield out;
    }
  }

  /**
   * Splits `sql` into its statements and prepares (binds) each, in order, without running any: a
   * caller can look at every statement's kind before the first one runs. DuckDB's own message on a
   * syntax or binder error.
   */
  async prepareAll(sql: string): Promise<PreparedQuery[]> {
    try {
      const extracted = await this.connection.extractStatements(sql);
      const out: PreparedQuery[] = [];
      for (let i = 0; i < extracted.count; i++) {
        const prepared = await extracted.prepare(i);
        out.push({
          kind: StatementType[prepared.statementType] ?? String(prepared.statementType),
          run: async () => {
            try {
              return resultSet(await prepared.runAndReadAll());
            } catch (e) {
              throw userSqlError(e);
            }
          },
        });
      }
      return out;
    } catch (e) {
      throw userSqlError(e);
    }
  }

  close(): void {
    this.connection.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}

/** A row of DuckDB value objects as plain values (see toValue). */
function plainRow(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = toValue(v);
  return out;
}

/** DuckDB value objects to plain values: timestamps carry `micros`; everything we select is scalar. */
function toValue(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'micros' in v) return (v as { micros: bigint }).micros;
  return v;
}

function duckError(e: unknown, sql: string): LakehouseError {
  const message = e instanceof Error ? e.message : String(e);
  const first = sql.trim().split('\n')[0]!.slice(0, 120);
  return new LakehouseError('QUERY_FAILED', `DuckDB failed (${message.split('\n')[0]}) running: ${first}`, { cause: e });
}

/** A prepared statement of a user's SQL: its kind (`SELECT`, `INSERT`, ...) and how to run it. */
export interface PreparedQuery {
  kind: string;
  run(): Promise<ResultSet>;
}

/**
 * A query result in two forms: `text`, each value as DuckDB prints it (NULL as null), for tables and CSV;
 * `values`, each value ready for exact JSON: 64-bit and wider integers as bigint, timestamps as ISO-8601
 * strings with microseconds (`Z` for TIMESTAMPTZ), decimals as exact strings, lists and structs as arrays
 * and objects.
 */
export interface ResultSet {
  columns: { name: string; type: string }[];
  text: (string | null)[][];
  values: unknown[][];
}

function resultSet(reader: DuckDBResultReader): ResultSet {
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const ids = names.map((_, i) => reader.columnTypeId(i));
  const raw = reader.getRows();
  const json = reader.getRowsJson();
  const text = raw.map((row) => row.map((v) => (v === null ? null : String(v))));
  const values = json.map((row, r) => row.map((v, c) => exactValue(ids[c]!, raw[r]![c], v)));
  return { columns: names.map((name, i) => ({ name, type: String(types[i]) })), text, values };
}

const WIDE_INTEGERS = new Set([DuckDBTypeId.BIGINT, DuckDBTypeId.UBIGINT, DuckDBTypeId.HUGEINT, DuckDBTypeId.UHUGEINT]);

/** The JSON form DuckDB's converter gives, made exact where it is a string or loses precision. */
function exactValue(typeId: DuckDBTypeId, raw: unknown, json: unknown): unknown {
  if (raw === null || json === null) return null;
  if (WIDE_INTEGERS.has(typeId) && typeof json === 'string') return BigInt(json);
  if (typeId === DuckDBTypeId.TIMESTAMP_TZ || typeId === DuckDBTypeId.TIMESTAMP) {
    const micros = (raw as { micros?: bigint }).micros;
    const iso = micros === undefined ? null : isoMicros(micros, typeId === DuckDBTypeId.TIMESTAMP_TZ);
    return iso ?? json;
  }
  return json;
}

/** `2026-11-01T10:00:00.123456Z` (or without the `Z`); null outside the range Date can show (infinity). */
function isoMicros(micros: bigint, utc: boolean): string | null {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime()) || Math.abs(Number(ms)) > 8.64e15) return null;
  const frac = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const iso = d.toISOString().replace(/\.\d{3}Z$/, `.${frac.toString().padStart(6, '0')}`);
  return utc ? `${iso}Z` : iso;
}

/** A user's SQL failed: DuckDB's message, whole (it points at the place in the statement). */
function userSqlError(e: unknown): LakehouseError {
  if (e instanceof LakehouseError) return e;
  return new LakehouseError('SQL_ERROR', e instanceof Error ? e.message : String(e), { cause: e });
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A SQL list of string literals, e.g. for read_parquet([...]). */
export function sqlStringList(items: readonly string[]): string {
  return `[${items.map(sqlString).join(', ')}]`;
}
