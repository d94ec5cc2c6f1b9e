import { identifierToString, type LoadedTable, type Namespace, type TableIdentifier, UNPARTITIONED, partitionSpecToJson, UNSORTED, sortOrderToJson, tableMetadataFromJson, type TableMetadata, FORMAT_VERSION, requirementToJson, updateToJson, type TableRequirement, type TableUpdate, CommitConflictError, CommitStateUnknownError } from '../iceberg/index.ts';
import type { FileIO } from '../iceberg/io/index.ts';
import { LakehouseError, errorMessage, type ErrorCode } from '../core/errors.ts';
import { intProperty } from '../core/properties.ts';
import {
  byCodePoint,
  checkNamespace,
  checkTableIdentifier,
  namespaceExistsError,
  namespaceNotFoundError,
  namespaceToString,
  tableExistsError,
  tableNotFoundError,
  type Catalog,
  type CatalogRef,
  type CreateTableOptions,
  type DropTableOptions,
  type PropertiesUpdateSummary,
} from './catalog.ts';
import { FileIOCache } from './file-io-cache.ts';
import { redactSecrets, secretValues } from './redact.ts';
import { AUDIENCE, CREDENTIAL, OAUTH2_SERVER_URI, RESOURCE, SCOPE, TOKEN, authSessionFrom, type AuthSession } from './rest-auth.ts';
import { MAX_RETRIES, MAX_RETRIES_DEFAULT, RestHttpClient, responseJson, serverError, uuidv7, type RestRequest } from './rest-http.ts';
import { REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS_DEFAULT, TransportError, capitalize, displayUri, type HttpResponse } from './rest-transport.ts';

/**
 * A client of the Iceberg REST catalog protocol (the spec's `rest-catalog-open-api.yaml`; behaviour
 * checked against Java's RESTSessionCatalog and PyIceberg's RestCatalog). The server owns metadata
 * files: a create, register or commit sends data and gets back the new metadata and its location;
 * we only write data files, manifests and manifest lists through the FileIO the server's answer
 * configures.
 *
 * Commit outcomes: 200 landed; 409 CommitConflictError (nothing landed);
 * 500/502/503/504, a timeout or a dropped connection after the request left CommitStateUnknownError.
 * The catalog never repeats a commit itself — the snapshot producer rebases on conflict and reloads
 * on an unknown outcome.
 */

/** Catalog property names, spelled as Java's and PyIceberg's REST clients read them. */
export const URI = 'uri';
export const WAREHOUSE = 'warehouse';
/** Path segment after `/v1/` the server tells clients to use, normally through /v1/config. */
export const PREFIX = 'prefix';
/** `header.X-Foo = bar` sends `X-Foo: bar` with every request (PyIceberg `header.*`). */
export const HEADER_PREFIX = 'header.';
/** Asks list calls for pages of this size (PyIceberg and Java `rest-page-size`); unset = the server's choice. */
export const PAGE_SIZE = 'rest-page-size';
/** Separator of namespace levels in paths, URL-encoded; the spec's default is the unit separator 0x1F. */
export const NAMESPACE_SEPARATOR = 'namespace-separator';
export const NAMESPACE_SEPARATOR_DEFAULT = '%1F';
const ACCESS_DELEGATION_HEADER = 'X-Iceberg-Access-Delegation';
/** PyIceberg's default: ask the server to hand out storage credentials with each table. */
const ACCESS_DELEGATION_DEFAULT = 'vended-credentials';
const USER_AGENT = 'lakehouse (Iceberg REST client)';

/** Endpoints as the spec names them in `/v1/config` `endpoints`; also the templates our URLs are built from. */
export const Endpoint = {
  listNamespaces: 'GET /v1/{prefix}/namespaces',
  createNamespace: 'POST /v1/{prefix}/namespaces',
  loadNamespace: 'GET /v1/{prefix}/namespaces/{namespace}',
  namespaceExists: 'HEAD /v1/{prefix}/namespaces/{namespace}',
  dropNamespace: 'DELETE /v1/{prefix}/namespaces/{namespace}',
  updateNamespace: 'POST /v1/{prefix}/namespaces/{namespace}/properties',
  listTables: 'GET /v1/{prefix}/namespaces/{namespace}/tables',
  createTable: 'POST /v1/{prefix}/namespaces/{namespace}/tables',
  loadTable: 'GET /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  tableExists: 'HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  updateTable: 'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  dropTable: 'DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  registerTable: 'POST /v1/{prefix}/namespaces/{namespace}/register',
  renameTable: 'POST /v1/{prefix}/tables/rename',
} as const;
export type Endpoint = (typeof Endpoint)[keyof typeof Endpoint];

/**
 * What a server that sends no `endpoints` is assumed to serve (the spec's list for /v1/config;
 * the HEAD calls are not in it, so existence checks fall back to GET).
 */
export const DEFAULT_ENDPOINTS: readonly string[] = [
  Endpoint.listNamespaces, Endpoint.createNamespace, Endpoint.loadNamespace, Endpoint.dropNamespace,
  Endpoint.updateNamespace, Endpoint.listTables, Endpoint.createTable, Endpoint.loadTable, Endpoint.updateTable,
  Endpoint.dropTable, Endpoint.registerTable, Endpoint.renameTable,
];

export interface RestCatalogOptions {
  name: string;
  /** Base address of the catalog, without `/v1`, e.g. `http://127.0.0.1:8181`. */
  uri: string;
  /** Sent as `?warehouse=` to /v1/config; servers that host several warehouses pick one by it. */
  warehouse?: string;
  prefix?: string;
  /** A bearer token. With `credential` too, the token is used first and the credential renews it. */
  token?: string;
  /** OAuth2 client credentials, `client_id:client_secret`. */
  credential?: string;
  /** Token endpoint; default `<uri>/v1/oauth/tokens` (deprecated in the spec, still served by Java's server). */
  oauth2ServerUri?: string;
  /** OAuth2 scope; default `catalog`. */
  scope?: string;
  /** Extra HTTP headers for every request (same as `header.<name>` properties). */
  headers?: Record<string, string>;
  /** Every other catalog property, flat: `s3.*` for the FileIO, `rest.client.*`, `rest-page-size`, `header.*`. */
  properties?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

interface ServerConfig {
  defaults: Record<string, string>;
  overrides: Record<string, string>;
  /** Absent = the server did not say (then DEFAULT_ENDPOINTS). */
  endpoints: string[] | undefined;
  idempotencyKeyLifetime: string | undefined;
}

interface KnownTable {
  uuid: string;
  io: FileIO;
}

/** How one operation names its 404 and 409: the codes a caller matches on. */
interface ErrorCases {
  404?: (type: string | undefined, detail: string) => LakehouseError;
  409?: (type: string | undefined, detail: string) => LakehouseError;
}

/** A request to one endpoint: method and URL come from the endpoint template. */
interface Call {
  endpoint: Endpoint;
  namespace?: Namespace;
  table?: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  policy: RestRequest['policy'];
}

/** Keys whose change means the auth session built before /v1/config no longer fits. */
const AUTH_KEYS = [URI, TOKEN, CREDENTIAL, OAUTH2_SERVER_URI, SCOPE, AUDIENCE, RESOURCE];

export class RestCatalog implements Catalog {
  readonly name: string;
  /** Base URI in use (the server may override it in /v1/config). */
  readonly uri: string;
  private readonly props: Record<string, string>;
  private readonly prefix: string;
  private readonly separator: string;
  private readonly pageSize: number | undefined;
  private readonly endpoints: Set<string>;
  private readonly http: RestHttpClient;
  private readonly auth: AuthSession;
  private readonly ios: FileIOCache;
  private readonly ref: CatalogRef;
  /** uuid and FileIO of tables seen through this catalog, by identifier. */
  private readonly known = new Map<string, KnownTable>();

  /**
   * Reads the server's configuration (`GET /v1/config`) and merges it as the spec orders it:
   * server defaults < these options < server overrides.
   */
  static async open(options: RestCatalogOptions): Promise<RestCatalog> {
    if (!options.name) throw new LakehouseError('INVALID_CONFIG', 'A rest catalog needs a name.');
    const client: Record<string, string> = { ...(options.properties ?? {}) };
    const set = (key: string, v: string | undefined) => {
      if (v !== undefined) client[key] = v;
    };
    set(URI, options.uri);
    set(WAREHOUSE, options.warehouse);
    set(PREFIX, options.prefix);
    set(TOKEN, options.token);
    set(CREDENTIAL, options.credential);
    set(OAUTH2_SERVER_URI, options.oauth2ServerUri);
    set(SCOPE, options.scope);
    for (const [k, v] of Object.entries(options.headers ?? {})) client[HEADER_PREFIX + k] = v;
    checkUri(options.name, client[URI]);

    const settings = clientSettings(options.name, client);
    const bootAuth = authSessionFrom({ uri: client[URI]!, properties: client, headers: settings.headers, timeoutMs: settings.timeoutMs });
    const bootHttp = new RestHttpClient({ uri: client[URI]!, headers: settings.headers, auth: bootAuth, timeoutMs: settings.timeoutMs, maxRetries: settings.maxRetries });
    const config = await fetchConfig(bootHttp, client, bootAuth);

    const merged: Record<string, string> = { ...config.defaults, ...client, ...config.overrides };
    checkUri(options.name, merged[URI]);
    const authChanged = AUTH_KEYS.some((k) => merged[k] !== client[k]);
    const mergedSettings = clientSettings(options.name, merged);
    const auth = authChanged
      ? authSessionFrom({ uri: merged[URI]!, properties: merged, headers: mergedSettings.headers, timeoutMs: mergedSettings.timeoutMs })
      : bootAuth;
    return new RestCatalog(options.name, merged, config, auth, options.env ?? process.env);
  }

  private constructor(name: string, props: Record<string, string>, config: ServerConfig, auth: AuthSession, env: NodeJS.ProcessEnv) {
    const settings = clientSettings(name, props);
    this.name = name;
    this.uri = props[URI]!.replace(/\/+$/, '');
    this.props = props;
    this.prefix = (props[PREFIX] ?? '').replace(/^\/+|\/+$/g, '');
    this.pageSize = settings.pageSize;
    this.separator = decodeSeparator(name, props[NAMESPACE_SEPARATOR] ?? NAMESPACE_SEPARATOR_DEFAULT);
    this.endpoints = new Set((config.endpoints ?? DEFAULT_ENDPOINTS).map(normalizeEndpoint));
    this.ref = { name, label: `catalog '${name}'` };
    this.auth = auth;
    this.ios = new FileIOCache({ properties: props, env });
    this.http = new RestHttpClient({
      uri: this.uri,
      headers: settings.headers,
      auth,
      timeoutMs: settings.timeoutMs,
      maxRetries: settings.maxRetries,
      idempotencySupported: config.idempotencyKeyLifetime !== undefined,
    });
  }

  /** The merged catalog properties (server defaults < client < server overrides). */
  get properties(): Readonly<Record<string, string>> {
    return this.props;
  }

  /** Whether the server serves an endpoint, e.g. `supports(Endpoint.tableExists)`. */
  supports(endpoint: Endpoint): boolean {
    return this.endpoints.has(endpoint);
  }

  // ---- namespaces ----

  async createNamespace(namespace: Namespace, properties: Record<string, string> = {}): Promise<void> {
    checkNamespace(namespace);
    const ns = namespaceToString(namespace);
    await this.call(
      { endpoint: Endpoint.createNamespace, body: { namespace, properties }, policy: 'mutation' },
      `create namespace ${ns}`,
      {
        409: (_t, detail) => namespaceExistsError(this.ref, namespace, { context: { server: detail } }),
        // Servers that require parents to exist answer 404 for a missing one.
        404: (_t, detail) => this.namespaceNotFound(namespace.length > 1 ? namespace.slice(0, -1) : namespace, detail),
      },
    );
  }

  async listNamespaces(parent: Namespace = []): Promise<Namespace[]> {
    if (parent.length > 0) checkNamespace(parent);
    const query: Record<string, string | undefined> = { parent: parent.length > 0 ? parent.join(this.separator) : undefined };
    const out = await this.paged({ endpoint: Endpoint.listNamespaces, query, policy: 'safe' }, 'namespaces',
      `list the namespaces${parent.length > 0 ? ` in ${namespaceToString(parent)}` : ''}`,
      { 404: (_t, detail) => this.namespaceNotFound(parent, detail) },
      (item) => stringList(item, 'namespace'));
    return out.sort((a, b) => byCodePoint(a.join('.'), b.join('.')));
  }

  async loadNamespaceProperties(namespace: Namespace): Promise<Record<string, string>> {
    checkNamespace(namespace);
    const res = await this.call(
      { endpoint: Endpoint.loadNamespace, namespace, policy: 'safe' },
      `load namespace ${namespaceToString(namespace)}`,
      { 404: (_t, detail) => this.namespaceNotFound(namespace, detail) },
    );
    const body = this.json(res, `load namespace ${namespaceToString(namespace)}`) as Record<string, unknown>;
    return stringMap(body['properties'] ?? {}, 'properties');
  }

  async updateNamespaceProperties(
    namespace: Namespace,
    removals: string[],
    updates: Record<string, string>,
  ): Promise<PropertiesUpdateSummary> {
    checkNamespace(namespace);
    const ns = namespaceToString(namespace);
    const res = await this.call(
      { endpoint: Endpoint.updateNamespace, namespace, body: { removals, updates }, policy: 'mutation' },
      `update the properties of namespace ${ns}`,
      { 404: (_t, detail) => this.namespaceNotFound(namespace, detail) },
    );
    const body = this.json(res, `update namespace ${ns}`) as Record<string, unknown>;
    return {
      removed: stringList(body['removed'] ?? [], 'removed'),
      updated: stringList(body['updated'] ?? [], 'updated'),
      missing: stringList(body['missing'] ?? [], 'missing'),
    };
  }

  /**
   * The Catalog contract refuses to drop a namespace that has children. Servers differ (Java's
   * JdbcCatalog drops the parent's row and leaves the children, so the parent lives on through
   * them), so the children are checked here; the server still checks tables.
   */
  async dropNamespace(namespace: Namespace): Promise<void> {
    checkNamespace(namespace);
    const ns = namespaceToString(namespace);
    if (this.supports(Endpoint.listNamespaces)) {
      const children = await this.listNamespaces(namespace);
      if (children.length > 0) {
        throw new LakehouseError(
          'NAMESPACE_NOT_EMPTY',
          `Namespace ${ns} is not empty: it contains ${children.length} namespace(s) (${children.map(namespaceToString).join(', ')}); drop them first.`,
        );
      }
    }
    await this.call(
      { endpoint: Endpoint.dropNamespace, namespace, policy: 'mutation' },
      `drop namespace ${ns}`,
      {
        404: (_t, detail) => this.namespaceNotFound(namespace, detail),
        409: (_t, detail) =>
          new LakehouseError('NAMESPACE_NOT_EMPTY', `Namespace ${ns} is not empty (${detail}); drop its tables and child namespaces first.`),
      },
    );
  }

  async namespaceExists(namespace: Namespace): Promise<boolean> {
    checkNamespace(namespace);
    if (!this.supports(Endpoint.namespaceExists)) {
      // Servers from before HEAD existed (PyIceberg and Java fall back the same way).
      return this.loadNamespaceProperties(namespace).then(
        () => true,
        (e: unknown) => (e instanceof LakehouseError && e.code === 'NAMESPACE_NOT_FOUND' ? false : Promise.reject(e)),
      );
    }
    const res = await this.send({ endpoint: Endpoint.namespaceExists, namespace, policy: 'safe' });
    if (res.status === 404) return false;
    if (res.status === 200 || res.status === 204) return true;
    throw this.error(res, `check whether namespace ${namespaceToString(namespace)} exists`);
  }

  // ---- tables ----

  async createTable(identifier: TableIdentifier, options: CreateTableOptions): Promise<LoadedTable> {
    const id = this.checkIdentifier(identifier);
    const properties = { ...(options.properties ?? {}) };
    // Our writer writes format v2 only; a server that defaulted to v1 or v3 would make a table we
    // cannot append to, so the version is always asked for explicitly.
    properties[FORMAT_VERSION] = String(options.formatVersion ?? properties[FORMAT_VERSION] ?? 2);
    const body: Record<string, unknown> = {
      name: identifier.name,
      schema: options.schema.toJSON(),
      'partition-spec': partitionSpecToJson(options.partitionSpec ?? UNPARTITIONED),
      'write-order': sortOrderToJson(options.sortOrder ?? UNSORTED),
      properties,
      'stage-create': false,
    };
    if (options.location) body['location'] = options.location.replace(/\/+$/, '');
    const what = `create table ${id}`;
    const res = await this.call(
      { endpoint: Endpoint.createTable, namespace: identifier.namespace, body, policy: 'mutation' },
      what,
      {
        404: (_t, detail) => this.namespaceNotFound(identifier.namespace, detail),
        409: (_t, detail) => this.tableExistsError(identifier, detail),
      },
    );
    return this.loadedFrom(identifier, res, what);
  }

  async loadTable(identifier: TableIdentifier): Promise<LoadedTable> {
    const id = this.checkIdentifier(identifier);
    const what = `load table ${id}`;
    const res = await this.call(
      { endpoint: Endpoint.loadTable, namespace: identifier.namespace, table: identifier.name, policy: 'safe' },
      what,
      { 404: (_t, detail) => this.tableNotFound(identifier, detail) },
    );
    return this.loadedFrom(identifier, res, what);
  }

  async listTables(namespace: Namespace): Promise<TableIdentifier[]> {
    checkNamespace(namespace);
    const out = await this.paged({ endpoint: Endpoint.listTables, namespace, policy: 'safe' }, 'identifiers',
      `list the tables in ${namespaceToString(namespace)}`,
      { 404: (_t, detail) => this.namespaceNotFound(namespace, detail) },
      (item) => {
        const o = (item ?? {}) as Record<string, unknown>;
        if (typeof o['name'] !== 'string') throw new Error('a table identifier without a name');
        return { namespace: stringList(o['namespace'] ?? namespace, 'namespace'), name: o['name'] };
      });
    return out.sort((a, b) => byCodePoint(a.name, b.name));
  }

  async tableExists(identifier: TableIdentifier): Promise<boolean> {
    const id = this.checkIdentifier(identifier);
    if (!this.supports(Endpoint.tableExists)) {
      return this.loadTable(identifier).then(
        () => true,
        (e: unknown) => (e instanceof LakehouseError && e.code === 'TABLE_NOT_FOUND' ? false : Promise.reject(e)),
      );
    }
    const res = await this.send({ endpoint: Endpoint.tableExists, namespace: identifier.namespace, table: identifier.name, policy: 'safe' });
    if (res.status === 404) return false;
    if (res.status === 200 || res.status === 204) return true;
    throw this.error(res, `check whether table ${id} exists`);
  }

  /**
   * With `purge` the server deletes the table's files (`purgeRequested=true`): it owns the metadata
   * and may hold storage credentials we lack, as Java's client leaves it to the server too.
   */
  async dropTable(identifier: TableIdentifier, options: DropTableOptions = {}): Promise<void> {
    const id = this.checkIdentifier(identifier);
    await this.call(
      {
        endpoint: Endpoint.dropTable, namespace: identifier.namespace, table: identifier.name,
        // Java's client sends the flag only when purging.
        query: { purgeRequested: options.purge ? 'true' : undefined }, policy: 'mutation',
      },
      `drop table ${id}`,
      { 404: (_t, detail) => this.tableNotFound(identifier, detail) },
    );
    this.known.delete(tableKey(identifier));
  }

  async renameTable(from: TableIdentifier, to: TableIdentifier): Promise<void> {
    const src = this.checkIdentifier(from);
    const dst = this.checkIdentifier(to);
    if (src === dst) return;
    let destinationNamespaceMissing = false;
    try {
      await this.call(
        {
          endpoint: Endpoint.renameTable,
          body: { source: { namespace: from.namespace, name: from.name }, destination: { namespace: to.namespace, name: to.name } },
          policy: 'mutation',
        },
        `rename table ${src} to ${dst}`,
        {
          404: (type, detail) => {
            destinationNamespaceMissing = /namespace/i.test(type ?? '');
            return this.tableNotFound(from, detail);
          },
          409: (_t, detail) => this.tableExistsError(to, detail),
        },
      );
    } catch (e) {
      // A missing namespace may be the source's (then the table is missing) or the destination's.
      if (destinationNamespaceMissing && !(await this.namespaceExists(to.namespace))) {
        throw this.namespaceNotFound(to.namespace, e instanceof LakehouseError ? String(e.context['server'] ?? '') : '');
      }
      throw e;
    }
    const known = this.known.get(tableKey(from));
    this.known.delete(tableKey(from));
    if (known) this.known.set(tableKey(to), known);
  }

  async registerTable(identifier: TableIdentifier, metadataLocation: string): Promise<LoadedTable> {
    const id = this.checkIdentifier(identifier);
    const what = `register table ${id}`;
    const res = await this.call(
      { endpoint: Endpoint.registerTable, namespace: identifier.namespace, body: { name: identifier.name, 'metadata-location': metadataLocation }, policy: 'mutation' },
      what,
      {
        404: (_t, detail) => this.namespaceNotFound(identifier.namespace, detail),
        409: (_t, detail) => this.tableExistsError(identifier, detail),
      },
    );
    return this.loadedFrom(identifier, res, what);
  }

  /**
   * One commit attempt: `POST .../tables/{t}` with `{identifier, requirements, updates}` and a fresh
   * `Idempotency-Key`. `assert-table-uuid` is added when missing (Java's client always sends it), so
   * a table dropped and re-created under the same name is never written to by mistake.
   */
  async commitTable(identifier: TableIdentifier, requirements: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    const id = this.checkIdentifier(identifier);
    const reqs = await this.withUuidRequirement(identifier, requirements);
    const what = `commit to table ${id}`;
    const body = {
      identifier: { namespace: identifier.namespace, name: identifier.name },
      requirements: reqs.map(requirementToJson),
      updates: updates.map(updateToJson),
    };
    let res: HttpResponse;
    try {
      res = await this.send({ endpoint: Endpoint.updateTable, namespace: identifier.namespace, table: identifier.name, body, policy: 'once' });
    } catch (e) {
      if (e instanceof TransportError && e.delivered) {
        throw new CommitStateUnknownError(
          `Commit to table ${id} has an unknown outcome: ${this.redact(e.message)} The server may have applied it; reload the table and look for the snapshot before retrying.`,
          { cause: e },
        );
      }
      // Never delivered (connection refused, DNS): nothing can have landed.
      throw e;
    }
    if (res.status === 200) {
      try {
        return this.loadedFrom(identifier, res, what);
      } catch (e) {
        // The server said it committed; an answer we cannot read must not make the caller delete files.
        throw new CommitStateUnknownError(
          `Commit to table ${id} was accepted (200) but the answer could not be read (${errorMessage(e)}); reload the table to see its state.`,
          { cause: e },
        );
      }
    }
    const { type, message } = serverError(res);
    const detail = this.redact(type ? `${type}: ${message}` : message);
    const context = { status: res.status, server: detail, table: id };
    if (res.status === 409) {
      throw new CommitConflictError(
        `Commit to table ${id} was rejected by ${this.http.service} (409 ${detail}); another writer changed the table and nothing was committed. Reload and retry.`,
        { context },
      );
    }
    if (res.status === 404) throw this.tableNotFound(identifier, detail);
    if (res.status === 400 || res.status === 422) {
      throw new LakehouseError(
        'VALIDATION_FAILED',
        `${capitalize(this.http.service)} rejected the commit to table ${id} as invalid (${res.status} ${detail}); nothing was committed.`,
        { context },
      );
    }
    if (res.status >= 500 && res.status !== 501) {
      throw new CommitStateUnknownError(
        `Commit to table ${id} has an unknown outcome: ${this.http.service} answered ${res.status} (${detail}). It may have been applied; reload the table and look for the snapshot before retrying.`,
        { context },
      );
    }
    throw this.error(res, what);
  }

  async close(): Promise<void> {
    this.known.clear();
    await this.ios.close();
  }

  // ---- helpers ----

  /** `/v1/{prefix}/namespaces/{namespace}/tables/{table}` with the parts encoded; the endpoint string is the template. */
  private url(endpoint: Endpoint, namespace?: Namespace, table?: string): string {
    let path = endpoint.slice(endpoint.indexOf(' ') + 1);
    path = path.replace('/{prefix}', this.prefix === '' ? '' : `/${this.prefix}`);
    if (namespace !== undefined) path = path.replace('{namespace}', this.encodeNamespace(namespace));
    if (table !== undefined) path = path.replace('{table}', encodeSegment(table));
    return this.uri + path;
  }

  /** Levels URL-encoded one by one and joined by the encoded separator (`a%1Fb`), as Java's RESTUtil does. */
  private encodeNamespace(namespace: Namespace): string {
    return namespace.map(encodeSegment).join(encodeSegment(this.separator));
  }

  /**
   * Sends a call and returns the response, whatever its status. Every mutation carries a fresh
   * Idempotency-Key (a UUIDv7), reused only by re-sends of this same call.
   */
  private async send(c: Call): Promise<HttpResponse> {
    if (!this.endpoints.has(c.endpoint)) {
      throw new LakehouseError(
        'UNSUPPORTED',
        `${capitalize(this.http.service)} does not offer ${c.endpoint} (it is not among the endpoints its /v1/config lists).`,
        { context: { endpoint: c.endpoint } },
      );
    }
    const method = c.endpoint.slice(0, c.endpoint.indexOf(' ')) as RestRequest['method'];
    try {
      return await this.http.request({
        method,
        url: this.url(c.endpoint, c.namespace, c.table),
        ...(c.query ? { query: c.query } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        policy: c.policy,
        ...(c.policy === 'safe' ? {} : { idempotencyKey: uuidv7() }),
      });
    } catch (e) {
      if (e instanceof LakehouseError && !(e instanceof TransportError)) {
        throw new LakehouseError(e.code, this.redact(e.message), { cause: e, retryable: e.retryable, context: e.context });
      }
      throw e;
    }
  }

  /**
   * Sends a call and returns its 2xx response; anything else becomes a LakehouseError, `cases`
   * deciding what 404 and 409 mean for this operation.
   */
  private async call(c: Call, what: string, cases: ErrorCases = {}): Promise<HttpResponse> {
    const res = await this.send(c);
    if (res.status >= 200 && res.status < 300) return res;
    const handler = res.status === 404 ? cases[404] : res.status === 409 ? cases[409] : undefined;
    if (handler) {
      const { type, message } = serverError(res);
      throw handler(type, this.redact(type ? `${type}: ${message}` : message));
    }
    throw this.error(res, what);
  }

  /** Follows `next-page-token` until the server sends none. */
  private async paged<T>(c: Call, key: string, what: string, cases: ErrorCases, item: (j: unknown) => T): Promise<T[]> {
    const out: T[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    for (;;) {
      const query = { ...(c.query ?? {}), pageSize: this.pageSize === undefined ? undefined : String(this.pageSize), pageToken: token };
      const res = await this.call({ ...c, query }, what, cases);
      const body = this.json(res, what) as Record<string, unknown>;
      const items = body[key];
      if (!Array.isArray(items)) throw this.badAnswer(what, `it has no "${key}" list`);
      try {
        for (const j of items) out.push(item(j));
      } catch (e) {
        throw this.badAnswer(what, errorMessage(e));
      }
      const next = body['next-page-token'];
      if (typeof next !== 'string' || next === '') return out;
      if (seen.has(next)) throw this.badAnswer(what, `it sent page token "${next}" twice, which would never end`);
      seen.add(next);
      token = next;
    }
  }

  private json(res: HttpResponse, what: string): unknown {
    try {
      const j = responseJson(res, `answer to ${what}`);
      if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('not a JSON object');
      return j;
    } catch (e) {
      throw this.badAnswer(what, errorMessage(e));
    }
  }

  private badAnswer(what: string, problem: string): LakehouseError {
    return new LakehouseError('IO_ERROR', `${capitalize(this.http.service)} sent an answer to ${what} that is not what the REST spec describes: ${this.redact(problem)}.`);
  }

  /** A LoadTableResult (create, load, register, commit) as a LoadedTable with the FileIO its config asks for. */
  private loadedFrom(identifier: TableIdentifier, res: HttpResponse, what: string): LoadedTable {
    const body = this.json(res, what) as Record<string, unknown>;
    const metadataLocation = body['metadata-location'];
    if (typeof metadataLocation !== 'string' || metadataLocation === '') throw this.badAnswer(what, 'it has no "metadata-location"');
    let metadata: TableMetadata;
    try {
      metadata = tableMetadataFromJson(body['metadata']);
    } catch (e) {
      throw new LakehouseError(
        e instanceof LakehouseError ? e.code : 'INVALID_METADATA',
        `The table metadata ${this.http.service} sent for ${what} is not valid: ${errorMessage(e)}`,
        { cause: e },
      );
    }
    // Per the spec, vended storage credentials win over the table config, which wins over the catalog's.
    const config = body['config'] === undefined ? {} : stringMap(body['config'], 'config');
    const credential = bestCredential(body['storage-credentials'], metadataLocation);
    const known = this.known.get(tableKey(identifier));
    const io = Object.keys(config).length === 0 && credential === undefined && known
      ? known.io
      : this.ios.forLocation(metadataLocation, { ...this.props, ...config, ...(credential ?? {}) });
    this.known.set(tableKey(identifier), { uuid: metadata.tableUuid, io });
    return { identifier, metadataLocation, metadata, io };
  }

  private async withUuidRequirement(identifier: TableIdentifier, requirements: TableRequirement[]): Promise<TableRequirement[]> {
    if (requirements.some((r) => r.type === 'assert-table-uuid' || r.type === 'assert-create')) return requirements;
    const uuid = this.known.get(tableKey(identifier))?.uuid ?? (await this.loadTable(identifier)).metadata.tableUuid;
    return [{ type: 'assert-table-uuid', uuid }, ...requirements];
  }

  /** The default sentence for a failed response; operations give their own for 404 and 409. */
  private error(res: HttpResponse, what: string): LakehouseError {
    const { type, message } = serverError(res);
    const detail = this.redact(type ? `${type}: ${message}` : message);
    const s = res.status;
    const svc = capitalize(this.http.service);
    const context = { status: s, server: detail };
    const make = (code: ErrorCode, text: string, retryable = false) => new LakehouseError(code, text, { context, retryable });
    if (s === 400 || s === 422) return make('INVALID_ARGUMENT', `${svc} rejected the request to ${what} (${s} ${detail}).`);
    if (s === 401 || s === 419) {
      return make('INVALID_CONFIG', `${svc} refused to ${what}: the request is not authenticated (${s} ${detail}); check the catalog's "${TOKEN}" or "${CREDENTIAL}".`);
    }
    if (s === 403) {
      return make('INVALID_CONFIG', `${svc} does not allow this client to ${what} (403 ${detail}); check the principal's privileges or the catalog's "${CREDENTIAL}".`);
    }
    if (s === 404) return make('NOT_FOUND', `${svc} has nothing at the address used to ${what} (404 ${detail}); check the uri and "${PREFIX}".`);
    if (s === 405 || s === 406 || s === 501) return make('UNSUPPORTED', `${svc} does not support the request to ${what} (${s} ${detail}).`);
    if (s === 409) return make('ALREADY_EXISTS', `${svc} refused to ${what} because of a conflict (409 ${detail}).`);
    if (s === 429) return make('IO_ERROR', `${svc} is limiting the request rate and refused to ${what} (429 ${detail}); retry later.`, true);
    if (s >= 500) return make('IO_ERROR', `${svc} failed to ${what} (${s} ${detail}).`, true);
    return make('IO_ERROR', `${svc} answered ${s} to the request to ${what} (${detail}).`);
  }

  private redact(text: string): string {
    return redactSecrets(text, [...this.auth.secrets(), ...secretValues(this.props)]);
  }

  private checkIdentifier(identifier: TableIdentifier): string {
    checkTableIdentifier(identifier);
    return identifierToString(identifier);
  }

  private namespaceNotFound(namespace: Namespace, detail: string): LakehouseError {
    return namespaceNotFoundError(this.ref, namespace, { context: { server: detail } });
  }

  private tableNotFound(identifier: TableIdentifier, detail: string): LakehouseError {
    return tableNotFoundError(this.ref, identifier, { context: { server: detail } });
  }

  private tableExistsError(identifier: TableIdentifier, detail: string): LakehouseError {
    return tableExistsError(this.ref, identifier, { context: { server: detail } });
  }
}

/**
 * A REST catalog from flat configuration keys, as `load-catalog.ts` resolves them: `uri` (required),
 * `warehouse`, `prefix`, `token`, `credential`, `oauth2-server-uri`, `scope`, `header.*`, `s3.*`,
 * `rest.client.*`, `rest-page-size`.
 */
export async function createRestCatalog(name: string, props: Record<string, string>, env: NodeJS.ProcessEnv = process.env): Promise<RestCatalog> {
  if (!props[URI]) {
    throw new LakehouseError('INVALID_CONFIG', `Catalog '${name}' of type rest has no uri; set it to the catalog's base address, e.g. "uri": "http://127.0.0.1:8181".`);
  }
  return RestCatalog.open({ name, uri: props[URI], properties: props, env });
}

// ---- module helpers ----

interface ClientSettings {
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
  pageSize: number | undefined;
}

/** Validated client settings from properties: a bad value fails at open with the property's name. */
function clientSettings(name: string, props: Record<string, string>): ClientSettings {
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT };
  let delegation = false;
  for (const [k, v] of Object.entries(props)) {
    if (!k.startsWith(HEADER_PREFIX) || k.length === HEADER_PREFIX.length) continue;
    const header = k.slice(HEADER_PREFIX.length);
    headers[header] = v;
    if (header.toLowerCase() === ACCESS_DELEGATION_HEADER.toLowerCase()) delegation = true;
  }
  if (!delegation) headers[ACCESS_DELEGATION_HEADER] = ACCESS_DELEGATION_DEFAULT;
  const owner = `Catalog '${name}'`;
  return {
    headers,
    timeoutMs: intProperty(props, REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS_DEFAULT, { min: 1, owner }),
    maxRetries: intProperty(props, MAX_RETRIES, MAX_RETRIES_DEFAULT, { min: 0, owner }),
    pageSize: intProperty(props, PAGE_SIZE, undefined, { min: 1, owner }),
  };
}

function checkUri(name: string, uri: string | undefined): void {
  if (!uri) throw new LakehouseError('INVALID_CONFIG', `Catalog '${name}' of type rest has no uri; set it, e.g. "uri": "http://127.0.0.1:8181".`);
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new LakehouseError('INVALID_CONFIG', `Catalog '${name}' uri "${displayUri(uri)}" is not a URL; write it as http://host:port.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new LakehouseError('INVALID_CONFIG', `Catalog '${name}' uri "${displayUri(uri)}" must start with http:// or https://.`);
  }
  if (u.username !== '' || u.password !== '') {
    // fetch refuses such URLs, and a password in the uri would end up in messages.
    throw new LakehouseError('INVALID_CONFIG', `Catalog '${name}' uri "${displayUri(uri)}" contains a user name or password; use "${CREDENTIAL}" or "${TOKEN}" instead.`);
  }
}

/** GET /v1/config?warehouse=…, with sentences for what usually goes wrong at this first call. */
async function fetchConfig(http: RestHttpClient, client: Record<string, string>, auth: AuthSession): Promise<ServerConfig> {
  const base = client[URI]!.replace(/\/+$/, '');
  const warehouse = client[WAREHOUSE];
  const redact = (s: string) => redactSecrets(s, [...auth.secrets(), ...secretValues(client)]);
  let res: HttpResponse;
  try {
    res = await http.request({ method: 'GET', url: `${base}/v1/config`, query: { warehouse: warehouse || undefined }, policy: 'safe' });
  } catch (e) {
    if (e instanceof LakehouseError) throw new LakehouseError(e.code, redact(e.message), { cause: e, retryable: e.retryable, context: e.context });
    throw e;
  }
  const svc = capitalize(http.service);
  if (res.status !== 200) {
    const { type, message } = serverError(res);
    const detail = redact(type ? `${type}: ${message}` : message);
    const context = { status: res.status, server: detail };
    if (res.status === 401 || res.status === 419) {
      throw new LakehouseError('INVALID_CONFIG', `${svc} refused the client as not authenticated (${res.status} ${detail}); check the catalog's "${TOKEN}" or "${CREDENTIAL}".`, { context });
    }
    if (res.status === 403) {
      throw new LakehouseError('INVALID_CONFIG', `${svc} does not allow this client to read its configuration (403 ${detail}); check the catalog's "${CREDENTIAL}" and "${SCOPE}".`, { context });
    }
    if (res.status === 404 && warehouse) {
      throw new LakehouseError('INVALID_CONFIG', `${svc} does not know warehouse "${warehouse}" (404 ${detail}); check the catalog's "${WAREHOUSE}".`, { context });
    }
    if (res.status === 404 || res.status === 400) {
      throw new LakehouseError('INVALID_CONFIG', `${svc} has no /v1/config (${res.status} ${detail}); the uri must be the catalog's base address, without /v1.`, { context });
    }
    throw new LakehouseError('IO_ERROR', `${svc} failed to return its configuration (${res.status} ${detail}).`, { context, retryable: res.status >= 500 });
  }
  let j: Record<string, unknown>;
  try {
    j = responseJson(res, 'configuration') as Record<string, unknown>;
    if (j === null || typeof j !== 'object') throw new Error('not a JSON object');
    const endpoints = j['endpoints'];
    const lifetime = j['idempotency-key-lifetime'];
    return {
      defaults: stringMap(j['defaults'] ?? {}, 'defaults'),
      overrides: stringMap(j['overrides'] ?? {}, 'overrides'),
      endpoints: endpoints === undefined || endpoints === null ? undefined : stringList(endpoints, 'endpoints'),
      idempotencyKeyLifetime: typeof lifetime === 'string' && lifetime !== '' ? lifetime : undefined,
    };
  } catch (e) {
    throw new LakehouseError('IO_ERROR', `${svc} sent a /v1/config answer that is not a catalog configuration (${errorMessage(e)}); is the uri an Iceberg REST catalog?`, { cause: e });
  }
}

/** `get /v1/{prefix}/namespaces ` -> `GET /v1/{prefix}/namespaces`. */
function normalizeEndpoint(e: string): string {
  const [method = '', ...rest] = e.trim().split(/\s+/);
  return `${method.toUpperCase()} ${rest.join(' ')}`;
}

function decodeSeparator(name: string, raw: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    s = raw;
  }
  if (s === '') throw new LakehouseError('INVALID_CONFIG', `Catalog '${name}' property ${NAMESPACE_SEPARATOR} must not be empty.`);
  return s;
}

/** RFC 3986 path segment: like encodeURIComponent, plus the sub-delimiters it leaves alone. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function tableKey(identifier: TableIdentifier): string {
  return JSON.stringify([...identifier.namespace, identifier.name]);
}

/** The storage credential whose prefix is the longest match for the location (Java S3FileIO, PyIceberg). */
function bestCredential(raw: unknown, location: string): Record<string, string> | undefined {
  if (!Array.isArray(raw)) return undefined;
  let best: { prefix: string; config: Record<string, string> } | undefined;
  for (const c of raw) {
    const o = (c ?? {}) as Record<string, unknown>;
    if (typeof o['prefix'] !== 'string' || !location.startsWith(o['prefix'])) continue;
    if (!best || o['prefix'].length > best.prefix.length) best = { prefix: o['prefix'], config: stringMap(o['config'] ?? {}, 'storage credential config') };
  }
  return best?.config;
}

function stringMap(j: unknown, what: string): Record<string, string> {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new LakehouseError('IO_ERROR', `"${what}" is not a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(j as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : String(v);
  }
  return out;
}

function stringList(j: unknown, what: string): string[] {
  if (!Array.isArray(j) || j.some((x) => typeof x !== 'string')) throw new LakehouseError('IO_ERROR', `"${what}" is not a list of strings`);
  return j as string[];
}
