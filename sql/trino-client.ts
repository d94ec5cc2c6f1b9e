import { LakehouseError, errorMessage } from '../core/errors.ts';
import { parseJson } from '../core/json.ts';
import { withRetry } from '../core/retry.ts';

/**
 * A small client for Trino's HTTP protocol (the one its JDBC driver and CLI speak): POST the statement to
 * /v1/statement, then GET each `nextUri` until there is none, collecting `columns` and `data` on the way.
 * No driver package: the protocol is plain JSON over HTTP, and the one thing a generic JSON parser gets
 * wrong, BIGINT values above 2^53 sent as bare numbers, is handled by parsing with core/json.
 *
 * Values come back in lakehouse's representation, as DuckDb.rows gives them: BIGINT and
 * TIMESTAMP(p) WITH TIME ZONE (microseconds since the epoch, UTC) as bigint; INTEGER, DOUBLE and REAL as
 * number (Trino's "NaN" / "Infinity" strings included); DECIMAL as its exact text; BOOLEAN, VARCHAR, DATE
 * and anything else as Trino sends them.
 */
export interface TrinoClientOptions {
  /** Base URI of the coordinator, e.g. http://127.0.0.1:18080. */
  uri: string;
  /** X-Trino-User; Trino without authentication only records it. */
  user?: string;
  /** Default catalog and schema for unqualified table names. */
  catalog?: string;
  schema?: string;
  /** Whole-query bound in ms, queueing included (default 5 min). */
  timeoutMs?: number;
}

export interface TrinoColumn {
  name: string;
  /** Trino's type text, e.g. `bigint`, `timestamp(6) with time zone`, `decimal(12,2)`. */
  type: string;
}

export interface TrinoResult {
  queryId: string;
  columns: TrinoColumn[];
  rows: Record<string, unknown>[];
}

/** The protocol's answer to POST /v1/statement and to each nextUri. */
interface StatementResponse {
  id: string;
  nextUri?: string;
  columns?: { name: string; type: string }[];
  data?: unknown[][];
  stats?: { state?: string };
  error?: { message?: string; errorName?: string; errorType?: string };
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** Trino asks clients to retry 502/503/504 on any protocol request (a coordinator busy or restarting). */
const RETRY = { retries: 5, minWaitMs: 50, maxWaitMs: 2000, factor: 2 };

export class TrinoClient {
  private readonly uri: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(opts: TrinoClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.uri);
    } catch {
      throw new LakehouseError('INVALID_CONFIG', `Trino URI "${opts.uri}" is not a URL; give the coordinator's base URI, e.g. http://127.0.0.1:18080.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new LakehouseError('INVALID_CONFIG', `Trino URI "${opts.uri}" must start with http:// or https://.`);
    }
    this.uri = opts.uri.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.headers = {
      'X-Trino-User': opts.user ?? 'lakehouse',
      // Timestamps WITH TIME ZONE are rendered in the session zone; UTC makes them parse to the stored instant.
      'X-Trino-Time-Zone': 'UTC',
      'X-Trino-Source': 'lakehouse',
      // Without it Trino treats the client as one from before parametric timestamps and rounds every
      // timestamp to milliseconds, which would lose the microseconds Iceberg stores.
      'X-Trino-Client-Capabilities': 'PARAMETRIC_DATETIME',
    };
    if (opts.catalog !== undefined) this.headers['X-Trino-Catalog'] = opts.catalog;
    if (opts.schema !== undefined) this.headers['X-Trino-Schema'] = opts.schema;
  }

  /** Runs one statement and returns every row. A failed query is a LakehouseError with Trino's message. */
  async query(sql: string): Promise<TrinoResult> {
    const deadline = Date.now() + this.timeoutMs;
    let page = await this.request('POST', `${this.uri}/v1/statement`, sql, deadline);
    let columns: TrinoColumn[] | undefined;
    const data: unknown[][] = [];
    for (;;) {
      if (page.error) {
        throw new LakehouseError('QUERY_FAILED', `Trino query ${page.id} failed: ${page.error.message ?? page.error.errorName ?? 'no message'}`, {
          context: { queryId: page.id, errorName: page.error.errorName, errorType: page.error.errorType, sql },
        });
      }
      if (page.columns) columns ??= page.columns.map((c) => ({ name: c.name, type: c.type }));
      if (page.data) data.push(...page.data);
      if (!page.nextUri) break;
      page = await this.request('GET', page.nextUri, undefined, deadline);
    }
    const cols = columns ?? [];
    return {
      queryId: page.id,
      columns: cols,
      rows: data.map((row) => {
        const out: Record<string, unknown> = {};
        cols.forEach((c, i) => { out[c.name] = toValue(c.type, row[i]); });
        return out;
      }),
    };
  }

  private async request(method: 'GET' | 'POST', url: string, body: string | undefined, deadline: number): Promise<StatementResponse> {
    return withRetry(async () => {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new LakehouseError('QUERY_FAILED', `Trino at ${this.uri} did not finish the query within ${this.timeoutMs} ms.`);
      }
      let res: Response;
      try {
        res = await fetch(url, { method, headers: this.headers, body, signal: AbortSignal.timeout(left) });
      } catch (e) {
        throw new LakehouseError('IO_ERROR', `Trino at ${this.uri} did not answer (${errorMessage(e)}); is it running? (infra/services.sh up trino)`, { cause: e });
      }
      const text = await res.text();
      if (res.status === 502 || res.status === 503 || res.status === 504) {
        throw new LakehouseError('IO_ERROR', `Trino at ${this.uri} answered HTTP ${res.status}.`, { retryable: true });
      }
      if (!res.ok) {
        throw new LakehouseError('QUERY_FAILED', `Trino at ${this.uri} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
      }
      return parseJson(text, 'Trino response') as StatementResponse;
    }, RETRY);
  }
}

/** Trino's JSON value to lakehouse's representation (see the class comment). */
function toValue(type: string, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'bigint') return typeof v === 'bigint' ? v : BigInt(v as number);
  if (type === 'double' || type === 'real') return typeof v === 'string' ? Number(v) : v;
  if (/^timestamp\(\d+\) with time zone$/.test(type)) return timestampTzMicros(String(v));
  return v;
}

const TIMESTAMP_TZ = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,12}))? (UTC|Z|[+-]\d\d:\d\d)$/;

/** "2026-11-01 12:00:00.123456 UTC" (or an offset) to microseconds since the epoch. */
export function timestampTzMicros(text: string): bigint {
  const m = TIMESTAMP_TZ.exec(text);
  if (!m) {
    throw new LakehouseError('UNSUPPORTED', `Trino timestamp "${text}" is not "YYYY-MM-DD hh:mm:ss[.f] <UTC or ±hh:mm>"; only fixed offsets are read.`);
  }
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const fraction = frac.padEnd(6, '0');
  if (/[1-9]/.test(fraction.slice(6))) {
    throw new LakehouseError('UNSUPPORTED', `Trino timestamp "${text}" is finer than a microsecond; Iceberg timestamps are microseconds.`);
  }
  let offsetMinutes = 0;
  if (zone !== 'UTC' && zone !== 'Z') {
    const sign = zone![0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offsetMinutes * 60_000;
  return BigInt(ms) * 1000n + BigInt(fraction.slice(0, 6));
}
