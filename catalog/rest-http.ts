import { randomBytes } from 'node:crypto';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { parseJson, stringifyJson } from '../core/json.ts';
import { withRetry } from '../core/retry.ts';
import type { AuthSession } from './rest-auth.ts';

/**
 * The HTTP layer of the REST catalog: one request with a timeout, retries that depend on what the
 * request may have done, the one re-send after a 401 with a refreshed token, and the difference
 * between "never reached the server" and "reached it, then lost the answer" — a commit turns the
 * first into a definite failure and the second into an unknown outcome (STYLE habit 4).
 * Node's global fetch; no HTTP package.
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'DELETE';

/**
 * When a failed request may be sent again:
 * - `safe`: GET/HEAD, no side effects: on 429, 500/502/503/504 and any transport failure;
 * - `mutation`: only where the server cannot have acted on it: not delivered, or 429 (Java's
 *   HTTPClient also retries POST only on 429). With an Idempotency-Key the server honours, like `safe`;
 * - `once`: commits. The catalog never repeats a commit; the snapshot producer owns that decision.
 */
export type RetryPolicy = 'safe' | 'mutation' | 'once';

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The body as text ('' for HEAD and 204). */
  text: string;
}

/** Java's property names, so one catalog configuration works for both clients. */
export const MAX_RETRIES = 'rest.client.max-retries';
/** Our own: the whole request, connect to last byte. Java's socket timeout is per read. */
export const REQUEST_TIMEOUT_MS = 'rest.client.request-timeout-ms';
export const MAX_RETRIES_DEFAULT = 3;
export const REQUEST_TIMEOUT_MS_DEFAULT = 120_000;
/** Backoff of non-commit retries; short, because a catalog call sits in front of every write. */
const RETRY_MIN_WAIT_MS = 100;
const RETRY_MAX_WAIT_MS = 5_000;

/** Connect-phase failures: the request never left this process, so the server cannot have acted on it. */
const UNDELIVERED_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_INVALID_URL',
]);

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/**
 * A failure below HTTP: no status came back. `delivered` is false when the connection was never
 * made (nothing reached the server) and true when it may have been (reset, timeout mid-request).
 */
export class TransportError extends LakehouseError {
  readonly delivered: boolean;
  /** Which server failed (SendOptions.service): the catalog's retry loop repeats only its own calls. */
  readonly service: string;

  constructor(message: string, delivered: boolean, service: string, cause: unknown) {
    super('IO_ERROR', message, { retryable: true, cause, context: { delivered } });
    this.name = 'TransportError';
    this.delivered = delivered;
    this.service = service;
  }
}

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

/** `https://user:pw@host/x?token=y` -> `https://host/x`: what may appear in a message. */
export function displayUri(uri: string): string {
  try {
    const u = new URL(uri);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return uri.replace(/\/\/[^/@]*@/, '//').replace(/[?#].*$/, '');
  }
}

/** The innermost useful description of a fetch failure: `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1`. */
export function describeCause(e: unknown): { code: string | undefined; text: string } {
  let cur: unknown = e;
  let code: string | undefined;
  let text = errorMessage(e);
  // fetch wraps the socket error in TypeError('fetch failed') { cause }; walk down to the real one.
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
    if (cur.name === 'TimeoutError') return { code: 'TIMEOUT', text: 'timed out' };
    const errors = (cur as { errors?: unknown }).errors;
    if (code === undefined && Array.isArray(errors) && errors[0] instanceof Error) {
      // Node's happy-eyeballs connect gives an AggregateError with one error per address tried.
      const first = (errors[0] as { code?: unknown }).code;
      if (typeof first === 'string') code = first;
    }
    if (cur.message && cur.message !== 'fetch failed') text = cur.message;
    cur = cur.cause;
  }
  return { code, text: code !== undefined && !text.includes(code) ? `${code}: ${text}` : text || code || 'unknown error' };
}

export interface SendOptions {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** For messages: the service and its base address, e.g. `the Iceberg REST catalog at http://h:8181`. */
  service: string;
}

/**
 * One HTTP exchange. Every status is returned; only transport failures throw, as TransportError
 * with `delivered` set from the failure's phase.
 */
export async function sendOnce(o: SendOptions): Promise<HttpResponse> {
  let res: Response;
  try {
    res = await fetch(o.url, {
      method: o.method,
      headers: o.headers,
      ...(o.body !== undefined ? { body: o.body } : {}),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: 'follow',
    });
  } catch (e) {
    throw transportError(e, o);
  }
  try {
    const text = o.method === 'HEAD' ? '' : await res.text();
    return { status: res.status, headers: res.headers, text };
  } catch (e) {
    // The status line arrived, so the server got the request; only the body was lost.
    throw transportError(e, o, true);
  }
}

function transportError(e: unknown, o: SendOptions, delivered?: boolean): TransportError {
  const { code, text } = describeCause(e);
  // fetch refuses some ports outright ("bad port", no code): nothing was sent either.
  const refused = (code !== undefined && UNDELIVERED_CODES.has(code)) || /^bad port$/i.test(text);
  const wasDelivered = delivered ?? !refused;
  const path = o.url.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/\?.*$/, '');
  if (!wasDelivered) {
    return new TransportError(`Cannot reach ${o.service} (${text}); check the uri and that the server runs.`, false, o.service, e);
  }
  if (code === 'TIMEOUT') {
    return new TransportError(
      `${capitalize(o.service)} did not answer ${o.method} ${path} within ${o.timeoutMs} ms; raise ${REQUEST_TIMEOUT_MS} if the server is just slow.`,
      true,
      o.service,
      e,
    );
  }
  return new TransportError(`${capitalize(o.service)} dropped ${o.method} ${path} before answering (${text}).`, true, o.service, e);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
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
