import { randomBytes } from 'node:crypto';
import { LakehouseError } from '../core/errors.ts';
import { parseJson, stringifyJson } from '../core/json.ts';
import { withRetry } from '../core/retry.ts';
import type { AuthSession } from './rest-auth.ts';
import { TransportError, displayUri, sendOnce, type HttpMethod, type HttpResponse } from './rest-transport.ts';

/**
 * The HTTP client of the REST catalog: retries that depend on what the request may have done, and
 * the one re-send after a 401 with a refreshed token. Whether a failed request reached the server
 * (rest-transport.ts) decides both whether it may be sent again and, for a commit, whether the
 * outcome is a definite failure or unknown.
 */

/**
 * When a failed request may be sent again:
 * - `safe`: GET/HEAD, no side effects: on 429, 500/502/503/504 and any transport failure;
 * - `mutation`: only where the server cannot have acted on it: not delivered, or 429 (Java's
 *   HTTPClient also retries POST only on 429). With an Idempotency-Key the server honours, like `safe`;
 * - `once`: commits. The catalog never repeats a commit; the snapshot producer owns that decision.
 */
export type RetryPolicy = 'safe' | 'mutation' | 'once';

/** Java's property names, so one catalog configuration works for both clients. */
export const MAX_RETRIES = 'rest.client.max-retries';
export const MAX_RETRIES_DEFAULT = 3;
/** Backoff of non-commit retries; short, because a catalog call sits in front of every write. */
const RETRY_MIN_WAIT_MS = 100;
const RETRY_MAX_WAIT_MS = 5_000;

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** A retryable status, thrown inside the retry loop only; unwrapped to its response when retries run out. */
class RetryableStatus extends LakehouseError {
  readonly response: HttpResponse;
  constructor(response: HttpResponse) {
    super('IO_ERROR', `HTTP ${response.status}`, { retryable: true });
    this.response = response;
  }
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. The OpenAPI asks for this
 * form for `Idempotency-Key`; time-ordered keys also index well in a server's key store.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  let ms = BigInt(nowMs);
  for (let i = 5; i >= 0; i--) {
    b[i] = Number(ms & 0xffn);
    ms >>= 8n;
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface RestRequest {
  method: HttpMethod;
  /** Absolute URL without the query. */
  url: string;
  query?: Record<string, string | undefined>;
  /** Serialised with `stringifyJson` (bigint ids stay exact). */
  body?: unknown;
  policy: RetryPolicy;
  /** Sent as `Idempotency-Key`; the same key on every re-send of this request. */
  idempotencyKey?: string;
}

export interface RestHttpClientOptions {
  /** Catalog base URI, for messages. */
  uri: string;
  /** Sent with every request (custom `header.*` properties, User-Agent, ...). */
  headers: Record<string, string>;
  auth: AuthSession;
  timeoutMs: number;
  maxRetries: number;
  /** True when the server advertised `idempotency-key-lifetime`: keyed mutations become safe to re-send. */
  idempotencySupported?: boolean;
}

export class RestHttpClient {
  private readonly o: RestHttpClientOptions;

  constructor(options: RestHttpClientOptions) {
    this.o = options;
  }

  get service(): string {
    return `the Iceberg REST catalog at ${displayUri(this.o.uri)}`;
  }

  /**
   * Sends a request and returns the final response, whatever its status. Retries per `policy`;
   * after a 401 or 419 asks the auth session for a new token and sends once more, which is safe for
   * every request including commits because the server rejected it before acting.
   */
  async request(r: RestRequest): Promise<HttpResponse> {
    const url = withQuery(r.url, r.query);
    const body = r.body === undefined ? undefined : stringifyJson(r.body);
    const keyed = r.idempotencyKey !== undefined && this.o.idempotencySupported === true;
    const policy: RetryPolicy = r.policy === 'mutation' && keyed ? 'safe' : r.policy;
    const retries = policy === 'once' ? 0 : this.o.maxRetries;
    try {
      return await withRetry(() => this.authenticated(r, url, body, policy), {
        retries,
        minWaitMs: RETRY_MIN_WAIT_MS,
        maxWaitMs: RETRY_MAX_WAIT_MS,
        factor: 2,
        // A token endpoint that fails has had its own retries in the auth session.
        isRetryable: (e) =>
          e instanceof RetryableStatus ||
          (e instanceof TransportError && e.service === this.service && (policy === 'safe' || !e.delivered)),
      });
    } catch (e) {
      if (e instanceof RetryableStatus) return e.response;
      throw e;
    }
  }

  private async authenticated(r: RestRequest, url: string, body: string | undefined, policy: RetryPolicy): Promise<HttpResponse> {
    let authorization = await this.o.auth.authorization();
    let res = await this.sendWith(r, url, body, authorization);
    if ((res.status === 401 || res.status === 419) && (await this.o.auth.refreshAfterRejection(authorization))) {
      authorization = await this.o.auth.authorization();
      res = await this.sendWith(r, url, body, authorization);
    }
    const retryable = res.status === 429 || (policy === 'safe' && RETRYABLE_STATUS.has(res.status));
    if (retryable && policy !== 'once') throw new RetryableStatus(res);
    return res;
  }

  private sendWith(r: RestRequest, url: string, body: string | undefined, authorization: string | undefined): Promise<HttpResponse> {
    const headers: Record<string, string> = { Accept: 'application/json', ...this.o.headers };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (authorization !== undefined) headers['Authorization'] = authorization;
    if (r.idempotencyKey !== undefined) headers['Idempotency-Key'] = r.idempotencyKey;
    return sendOnce({
      method: r.method,
      url,
      headers,
      ...(body !== undefined ? { body } : {}),
      timeoutMs: this.o.timeoutMs,
      service: this.service,
    });
  }
}

function withQuery(url: string, query: Record<string, string | undefined> | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, v);
  const q = params.toString();
  // URLSearchParams writes a space as '+'; %20 means the same to every server and is unambiguous.
  return q === '' ? url : `${url}?${q.replace(/\+/g, '%20')}`;
}

/** The REST `ErrorModel` of a response, or what can be said about a body that is not one. */
export function serverError(res: HttpResponse): { type: string | undefined; message: string } {
  if (res.text.trim() === '') return { type: undefined, message: `HTTP ${res.status} with an empty body` };
  try {
    const j = parseJson(res.text, 'error response') as Record<string, unknown>;
    const err = (j && typeof j === 'object' ? j['error'] : undefined) as Record<string, unknown> | undefined;
    if (err && typeof err === 'object' && typeof err['message'] === 'string') {
      return { type: typeof err['type'] === 'string' ? err['type'] : undefined, message: err['message'] };
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  const raw = res.text.replace(/\s+/g, ' ').trim();
  return { type: undefined, message: `HTTP ${res.status}: ${raw.length > 300 ? raw.slice(0, 300) + '…' : raw}` };
}

/** A response body as JSON with exact 64-bit integers. */
export function responseJson(res: HttpResponse, what: string): unknown {
  return parseJson(res.text, what);
}
