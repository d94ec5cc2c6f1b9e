import { LakehouseError } from '../core/errors.ts';
import { parseJson } from '../core/json.ts';
import { withRetry } from '../core/retry.ts';
import { TransportError, capitalize, displayUri, sendOnce, type HttpResponse } from './rest-transport.ts';

/**
 * Authentication for the REST catalog: none, a static bearer token, or OAuth2 client credentials
 * with refresh. Property names are the ones Java's `OAuth2Properties` and PyIceberg read, so a
 * catalog configured for them works here unchanged.
 *
 * Secrets never leave this file in text: messages name the property to check, not its value, and
 * `secrets()` lists every value the catalog must redact from the messages it builds.
 */

export const TOKEN = 'token';
/** `client_id:client_secret`, or just a secret (then no client_id is sent), as Java and PyIceberg take it. */
export const CREDENTIAL = 'credential';
export const OAUTH2_SERVER_URI = 'oauth2-server-uri';
export const SCOPE = 'scope';
/** Java `OAuth2Properties.CATALOG_SCOPE`, PyIceberg `CATALOG_SCOPE`. */
export const SCOPE_DEFAULT = 'catalog';
export const AUDIENCE = 'audience';
export const RESOURCE = 'resource';
/** The deprecated token endpoint of the REST spec, relative to the catalog uri; used when no oauth2-server-uri is set. */
export const LEGACY_TOKEN_PATH = 'v1/oauth/tokens';
/** Refresh this long before `expires_in` runs out (PyIceberg's margin), capped at a tenth of the lifetime. */
const REFRESH_MARGIN_MS = 60_000;

export interface AuthSession {
  /** The `Authorization` header for the next request, fetching or refreshing a token first when due. */
  authorization(): Promise<string | undefined>;
  /**
   * Called after the server answered 401/419 to a request sent with `rejected`. Returns true when a
   * different token is now available (so one re-send makes sense), false when nothing can change.
   */
  refreshAfterRejection(rejected: string | undefined): Promise<boolean>;
  /** Values that must never appear in a message or log (tokens, client secret). */
  secrets(): string[];
}

export class NoAuth implements AuthSession {
  async authorization(): Promise<undefined> {
    return undefined;
  }
  async refreshAfterRejection(): Promise<boolean> {
    return false;
  }
  secrets(): string[] {
    return [];
  }
}

export class StaticTokenAuth implements AuthSession {
  private readonly token: string;
  constructor(token: string) {
    this.token = token;
  }
  async authorization(): Promise<string> {
    return `Bearer ${this.token}`;
  }
  async refreshAfterRejection(): Promise<boolean> {
    return false;
  }
  secrets(): string[] {
    return [this.token];
  }
}

export interface ClientCredentialsOptions {
  tokenUri: string;
  /** The `credential` property as given. */
  credential: string;
  scope: string;
  /** Extra form fields (audience, resource). */
  extraParams?: Record<string, string>;
  /** Custom headers for the token request too, as PyIceberg's session sends them. */
  headers?: Record<string, string>;
  /** A token to use until it is rejected or expires (Java: `token` wins, `credential` refreshes). */
  initialToken?: string;
  timeoutMs: number;
  now?: () => number;
}

/**
 * OAuth2 client credentials (RFC 6749 §4.4), the flow Java's and PyIceberg's REST clients use:
 * a form POST of grant_type, client_id, client_secret and scope to the token endpoint. The token is
 * fetched lazily, refreshed before `expires_in` runs out and once after a 401. Concurrent callers
 * share one in-flight fetch.
 */
export class ClientCredentialsAuth implements AuthSession {
  private readonly o: ClientCredentialsOptions;
  private readonly clientId: string | undefined;
  private readonly clientSecret: string;
  private readonly now: () => number;
  private token: string | undefined;
  /** Absent = no expiry known: used until rejected. */
  private refreshAtMs: number | undefined;
  private inflight: Promise<string> | undefined;
  /** Every token issued to us, so a message quoting an old one is still redacted. */
  private readonly issued: string[] = [];

  constructor(options: ClientCredentialsOptions) {
    this.o = options;
    const colon = options.credential.indexOf(':');
    this.clientId = colon >= 0 ? options.credential.slice(0, colon) : undefined;
    this.clientSecret = colon >= 0 ? options.credential.slice(colon + 1) : options.credential;
    this.now = options.now ?? Date.now;
    if (options.initialToken) {
      this.token = options.initialToken;
      this.issued.push(options.initialToken);
    }
  }

  async authorization(): Promise<string> {
    const due = this.token === undefined || (this.refreshAtMs !== undefined && this.now() >= this.refreshAtMs);
    const token = due ? await this.fetchToken() : this.token!;
    return `Bearer ${token}`;
  }

  async refreshAfterRejection(rejected: string | undefined): Promise<boolean> {
    // Another request may have refreshed already; then its token is the one to try.
    if (this.token !== undefined && rejected !== `Bearer ${this.token}`) return true;
    const before = this.token;
    return (await this.fetchToken()) !== before;
  }

  secrets(): string[] {
    return [this.clientSecret, this.o.credential, ...this.issued];
  }

  private fetchToken(): Promise<string> {
    // A token request changes nothing on the server: safe to repeat after a transport error or a 5xx.
    this.inflight ??= withRetry(() => this.requestToken(), { retries: 2, minWaitMs: 100, maxWaitMs: 2_000, factor: 2 }).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async requestToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.clientId !== undefined) form.set('client_id', this.clientId);
    form.set('client_secret', this.clientSecret);
    form.set('scope', this.o.scope);
    for (const [k, v] of Object.entries(this.o.extraParams ?? {})) form.set(k, v);
    const service = `the OAuth2 token endpoint ${displayUri(this.o.tokenUri)}`;
    const started = this.now();
    let res: HttpResponse;
    try {
      res = await sendOnce({
        method: 'POST',
        url: this.o.tokenUri,
        headers: { ...(this.o.headers ?? {}), Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        timeoutMs: this.o.timeoutMs,
        service,
      });
    } catch (e) {
      if (e instanceof TransportError) throw e;
      throw new LakehouseError('IO_ERROR', `Cannot get a token from ${service}.`, { cause: e, retryable: true });
    }
    if (res.status !== 200) throw tokenError(res, service);
    const body = parseTokenResponse(res, service);
    this.token = body.accessToken;
    this.issued.push(body.accessToken);
    if (this.issued.length > 8) this.issued.splice(0, this.issued.length - 8);
    if (body.expiresInS !== undefined) {
      const lifetimeMs = body.expiresInS * 1000;
      this.refreshAtMs = started + lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 10);
    } else {
      this.refreshAtMs = undefined;
    }
    return body.accessToken;
  }
}

function parseTokenResponse(res: HttpResponse, service: string): { accessToken: string; expiresInS: number | undefined } {
  let j: unknown;
  try {
    j = parseJson(res.text, 'token response');
  } catch {
    throw new LakehouseError('IO_ERROR', `${capitalize(service)} answered 200 with a body that is not JSON; is oauth2-server-uri the token endpoint?`);
  }
  const o = (j ?? {}) as Record<string, unknown>;
  const token = o['access_token'];
  if (typeof token !== 'string' || token === '') {
    throw new LakehouseError('IO_ERROR', `${capitalize(service)} answered without an access_token; is oauth2-server-uri the token endpoint?`);
  }
  const type = o['token_type'];
  if (typeof type === 'string' && type.toLowerCase() !== 'bearer' && type.toLowerCase() !== 'n_a') {
    throw new LakehouseError('UNSUPPORTED', `${capitalize(service)} issued a "${type}" token; only bearer tokens are supported.`);
  }
  const exp = o['expires_in'];
  const expiresInS = typeof exp === 'number' && exp > 0 ? exp : typeof exp === 'string' && /^\d+$/.test(exp) ? Number(exp) : undefined;
  return { accessToken: token, expiresInS };
}

/** RFC 6749 §5.2 error bodies (`{error, error_description}`); never echoes what we sent. */
function tokenError(res: HttpResponse, service: string): LakehouseError {
  let detail = `HTTP ${res.status}`;
  try {
    const o = parseJson(res.text, 'token error') as Record<string, unknown>;
    if (typeof o?.['error'] === 'string') {
      detail = `${res.status} ${o['error']}${typeof o['error_description'] === 'string' ? `: ${o['error_description']}` : ''}`;
    } else if (o?.['error'] && typeof (o['error'] as Record<string, unknown>)['message'] === 'string') {
      detail = `${res.status}: ${(o['error'] as Record<string, unknown>)['message'] as string}`;
    }
  } catch {
    // keep the status only: an HTML error page says nothing useful
  }
  if (res.status === 400 || res.status === 401 || res.status === 403) {
    return new LakehouseError(
      'INVALID_CONFIG',
      `${capitalize(service)} rejected the client credentials (${detail}); check the catalog's "${CREDENTIAL}" (client_id:client_secret), "${SCOPE}" and "${OAUTH2_SERVER_URI}".`,
      { context: { status: res.status } },
    );
  }
  return new LakehouseError('IO_ERROR', `${capitalize(service)} failed to issue a token (${detail}).`, {
    retryable: res.status >= 500 || res.status === 429,
    context: { status: res.status },
  });
}

export interface AuthProperties {
  /** Catalog base URI, for the legacy token endpoint. */
  uri: string;
  properties: Record<string, string>;
  headers: Record<string, string>;
  timeoutMs: number;
  now?: () => number;
}

/**
 * The session the properties ask for: `credential` -> client credentials (with `token` as the first
 * token if both are set), `token` alone -> static bearer, neither -> none.
 */
export function authSessionFrom(a: AuthProperties): AuthSession {
  const p = a.properties;
  const credential = nonEmpty(p[CREDENTIAL]);
  const token = nonEmpty(p[TOKEN]);
  if (credential !== undefined) {
    const extraParams: Record<string, string> = {};
    for (const k of [AUDIENCE, RESOURCE]) if (nonEmpty(p[k]) !== undefined) extraParams[k] = p[k]!;
    return new ClientCredentialsAuth({
      tokenUri: nonEmpty(p[OAUTH2_SERVER_URI]) ?? `${a.uri.replace(/\/+$/, '')}/${LEGACY_TOKEN_PATH}`,
      credential,
      scope: nonEmpty(p[SCOPE]) ?? SCOPE_DEFAULT,
      extraParams,
      headers: a.headers,
      ...(token !== undefined ? { initialToken: token } : {}),
      timeoutMs: a.timeoutMs,
      ...(a.now ? { now: a.now } : {}),
    });
  }
  if (token !== undefined) return new StaticTokenAuth(token);
  return new NoAuth();
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}
