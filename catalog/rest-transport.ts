import { LakehouseError, errorMessage } from '../core/errors.ts';

/**
 * One HTTP exchange of the REST catalog and its token endpoint, and the difference that matters for
 * a commit: a request that never reached the server (nothing can have happened) and one that reached
 * it and then lost its answer (anything may have happened). Node's global fetch; no HTTP package.
 * Retries and authentication are the client's (rest-http.ts, rest-auth.ts), both built on this.
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'DELETE';

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The body as text ('' for HEAD and 204). */
  text: string;
}

/** Our own: the whole request, connect to last byte. Java's socket timeout is per read. */
export const REQUEST_TIMEOUT_MS = 'rest.client.request-timeout-ms';
export const REQUEST_TIMEOUT_MS_DEFAULT = 120_000;

/** Connect-phase failures: the request never left this process, so the server cannot have acted on it. */
const UNDELIVERED_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_INVALID_URL',
]);

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

/** A service description at the start of a sentence. */
export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
