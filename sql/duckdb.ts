import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { LakehouseError } from '../core/errors.ts';

/**
 * The one file that imports DuckDB, so a change of DuckDB binding stays in one place. An in-memory database per job run: the jobs read
 * Parquet files the Iceberg planner chose and hand rows back; nothing persists in DuckDB itself.
 * Values come back in lakehouse's representation: BIGINT and timestamps (microseconds) as bigint,
 * DOUBLE as number, VARCHAR as string, BOOLEAN as boolean.
 */
export class DuckDb {
  private constructor(private readonly instance: DuckDBInstance, private readonly connection: DuckDBConnection) {}

  static async open(opts: { threads?: number } = {}): Promise<DuckDb> {
    const config: Record<string, string> = {};
    if (opts.threads !== undefined) config.threads = String(opts.threads);
    const instance = await DuckDBInstance.create(':memory:', config);
    const connection = await instance.connect();
    const db = new DuckDb(instance, connection);
    // Windows are aligned to the UTC epoch, and timestamptz arithmetic must not depend on the host's zone.
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
    return objects.map((o) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) out[k] = toValue(v);
      return out;
    });
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
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

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A SQL list of string literals, e.g. for read_parquet([...]). */
export function sqlStringList(items: readonly string[]): string {
  return `[${items.map(sqlString).join(', ')}]`;
}
