import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientCredentialsAuth } from '../../catalog/rest-auth.ts';
import { RestCatalog, createRestCatalog, type RestCatalogOptions } from '../../catalog/rest-catalog.ts';
import { uuidv7 } from '../../catalog/rest-http.ts';
import { type TableIdentifier, Schema, tableMetadataToJson, newTableMetadata, T, CommitConflictError, CommitStateUnknownError } from '../../iceberg/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import * as resolveFileIOModule from '../../iceberg/io/resolve-file-io.ts';
import { stringifyJson } from '../../core/json.ts';

/**
 * Error paths and wire details of the REST catalog that a real server cannot be made to show on
 * demand (409/5xx on commit, timeouts, dropped connections, token expiry), against a tiny local
 * HTTP server that answers what each test scripts. Everything a real server does is tested in
 * tests/integration/rest-catalog.test.ts against Apache Iceberg's REST server.
 */

vi.mock('../../iceberg/io/resolve-file-io.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof resolveFileIOModule>();
  return { ...orig, resolveFileIO: vi.fn(orig.resolveFileIO) };
});

interface Seen {
  method: string;
  /** Path and query as sent, still percent-encoded. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void | 'hang' | 'reset';

class FakeServer {
  readonly seen: Seen[] = [];
  private server!: Server;
  port = 0;
  constructor(private handler: Handler) {}

  /** `keepAlive: false` answers `Connection: close`, so the client holds no pooled socket to a closed server. */
  static async start(handler: Handler, opts: { keepAlive?: boolean } = {}): Promise<FakeServer> {
    const f = new FakeServer(handler);
    f.server = createServer((req, res) => {
      if (opts.keepAlive === false) res.shouldKeepAlive = false;
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const seen = { method: req.method!, url: req.url!, headers: req.headers, body };
        f.seen.push(seen);
        const r = f.handler(seen, res);
        if (r === 'reset') req.socket.destroy();
      });
    });
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    f.port = (f.server.address() as AddressInfo).port;
    servers.push(f);
    return f;
  }

  get uri(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  requests(method: string, pathPrefix: string): Seen[] {
    return this.seen.filter((s) => s.method === method && s.url.startsWith(pathPrefix));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const servers: FakeServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  vi.mocked(resolveFileIOModule.resolveFileIO).mockClear();
});

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : stringifyJson(body);
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(text);
}

function errorBody(code: number, type: string, message: string) {
  return { error: { message, type, code } };
}

const schema = new Schema([T.field(1, 'id', T.long(), true)]);
const UUID = '6f0b3c1e-2f57-4c0a-9a4e-1f9d2b1c0a11';
const metadata = (location = 'file:///tmp/lakehouse-fake/ns/t') => newTableMetadata({ schema, location, tableUuid: UUID });
const tableResult = (extra: Record<string, unknown> = {}, location?: string) => ({
  'metadata-location': `${location ?? 'file:///tmp/lakehouse-fake/ns/t'}/metadata/00000-x.metadata.json`,
  metadata: tableMetadataToJson(metadata(location)),
  ...extra,
});
const ALL_ENDPOINTS = [
  'GET /v1/{prefix}/namespaces', 'POST /v1/{prefix}/namespaces', 'GET /v1/{prefix}/namespaces/{namespace}',
  'HEAD /v1/{prefix}/namespaces/{namespace}', 'DELETE /v1/{prefix}/namespaces/{namespace}',
  'POST /v1/{prefix}/namespaces/{namespace}/properties', 'GET /v1/{prefix}/namespaces/{namespace}/tables',
  'POST /v1/{prefix}/namespaces/{namespace}/tables', 'GET /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  'HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}', 'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  'DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}', 'POST /v1/{prefix}/namespaces/{namespace}/register',
  'POST /v1/{prefix}/tables/rename',
];
const id: TableIdentifier = { namespace: ['ns'], name: 't' };

/**
 * A server that answers /v1/config with `config` and GET of table ns.t with a LoadTableResult;
 * everything else goes to `rest`.
 */
async function serve(
  rest: Handler,
  config: Record<string, unknown> = { defaults: {}, overrides: {}, endpoints: ALL_ENDPOINTS },
  opts: { keepAlive?: boolean } = {},
): Promise<FakeServer> {
  return FakeServer.start((req, res) => {
    if (req.method === 'GET' && req.url.startsWith('/v1/config')) return json(res, 200, config);
    if (req.method === 'GET' && /\/namespaces\/ns\/tables\/t$/.test(req.url)) return json(res, 200, tableResult());
    return rest(req, res);
  }, opts);
}

const open = (server: FakeServer, extra: Partial<RestCatalogOptions> = {}) =>
  RestCatalog.open({ name: 'rest', uri: server.uri, ...extra, properties: { 'rest.client.request-timeout-ms': '2000', ...(extra.properties ?? {}) } });

async function failure(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

const appendUpdates = () => [
  { action: 'set-snapshot-ref' as const, refName: 'main', ref: { snapshotId: 9_007_199_254_740_993n, type: 'branch' as const } },
];

describe('RestCatalog configuration', () => {
  it('merges server defaults < client properties < server overrides, and sends ?warehouse=', async () => {
    const server = await serve(() => undefined, {
      defaults: { a: 'server-default', b: 'server-default' },
      overrides: { c: 'server-override' },
    });
    const catalog = await open(server, { warehouse: 'my wh', properties: { b: 'client', c: 'client' } });
    expect(catalog.properties).toMatchObject({ a: 'server-default', b: 'client', c: 'server-override', warehouse: 'my wh' });
    expect(server.seen[0]!.url).toBe('/v1/config?warehouse=my%20wh');
  });

  it('puts the prefix the server hands out between /v1 and the resource', async () => {
    const server = await serve((req, res) => json(res, 200, { namespaces: [['a']] }), { defaults: {}, overrides: { prefix: 'catalogs/prod' } });
    const catalog = await open(server);
    expect(await catalog.listNamespaces()).toEqual([['a']]);
    expect(server.requests('GET', '/v1/catalogs/prod/namespaces')).toHaveLength(1);
  });

  it('uses GET for existence checks when the server lists no HEAD endpoints (the spec default set)', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/v1/namespaces/there') return json(res, 200, { namespace: ['there'], properties: {} });
      return json(res, 404, errorBody(404, 'NoSuchNamespaceException', 'Namespace does not exist: gone'));
    }, { defaults: {}, overrides: {} });
    const catalog = await open(server);
    expect(await catalog.namespaceExists(['there'])).toBe(true);
    expect(await catalog.namespaceExists(['gone'])).toBe(false);
    expect(server.seen.filter((s) => s.method === 'HEAD')).toHaveLength(0);
  });

  it('refuses a call to an endpoint the server does not list, without sending it', async () => {
    const server = await serve(() => undefined, { defaults: {}, overrides: {}, endpoints: ['GET /v1/{prefix}/namespaces'] });
    const catalog = await open(server);
    const err = await failure(catalog.renameTable(id, { namespace: ['ns'], name: 'u' }));
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toContain('POST /v1/{prefix}/tables/rename');
    expect(server.requests('POST', '/v1/tables/rename')).toHaveLength(0);
  });

  it('fails at open with the property name when a setting is not a number', async () => {
    const server = await serve(() => undefined);
    const err = await failure(open(server, { properties: { 'rest-page-size': 'ten' } }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('rest-page-size');
  });

  it('refuses a uri with a password in it, without repeating the password', async () => {
    const err = await failure(createRestCatalog('rest', { uri: 'http://admin:hunter22@127.0.0.1:1' }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).not.toContain('hunter22');
  });

  it('says which catalog it cannot reach and how to fix it', async () => {
    const server = await serve(() => undefined);
    const uri = server.uri;
    await server.close();
    const err = await failure(createRestCatalog('rest', { uri, 'rest.client.max-retries': '0' }));
    expect(err.message.startsWith(`Cannot reach the Iceberg REST catalog at ${uri} (`)).toBe(true);
    expect(err.message).toMatch(/\(connect ECONNREFUSED [^)]*\); check the uri and that the server runs\.$/);
  });
});

describe('RestCatalog requests', () => {
  it('encodes namespace levels one by one and joins them with %1F, in paths and in ?parent=', async () => {
    const server = await serve((req, res) => {
      if (req.url.startsWith('/v1/namespaces?')) return json(res, 200, { namespaces: [] });
      return json(res, 200, { identifiers: [] });
    });
    const catalog = await open(server);
    await catalog.listTables(['a', 'b c', 'd/e', 'ü']);
    await catalog.listNamespaces(['a', 'b c']);
    expect(server.seen[1]!.url).toBe('/v1/namespaces/a%1Fb%20c%1Fd%2Fe%1F%C3%BC/tables');
    expect(server.seen[2]!.url).toBe('/v1/namespaces?parent=a%1Fb%20c');
  });

  it('follows next-page-token until the server sends none, with the configured page size', async () => {
    const pages: Record<string, unknown> = {
      '': { identifiers: [{ namespace: ['ns'], name: 'c' }], 'next-page-token': 'p2' },
      p2: { identifiers: [{ namespace: ['ns'], name: 'a' }], 'next-page-token': 'p3' },
      p3: { identifiers: [{ namespace: ['ns'], name: 'b' }], 'next-page-token': null },
    };
    const server = await serve((req, res) => json(res, 200, pages[new URL(req.url, 'http://x').searchParams.get('pageToken') ?? '']));
    const catalog = await open(server, { properties: { 'rest-page-size': '1' } });
    expect((await catalog.listTables(['ns'])).map((t) => t.name)).toEqual(['a', 'b', 'c']);
    expect(server.requests('GET', '/v1/namespaces/ns/tables').map((s) => s.url)).toEqual([
      '/v1/namespaces/ns/tables?pageSize=1', '/v1/namespaces/ns/tables?pageSize=1&pageToken=p2', '/v1/namespaces/ns/tables?pageSize=1&pageToken=p3',
    ]);
  });

  it('sends custom headers from header.* properties and the headers option, and asks for vended credentials', async () => {
    const server = await serve((req, res) => json(res, 200, { namespaces: [] }));
    const catalog = await open(server, { headers: { 'X-Team': 'ads' }, properties: { 'header.X-Trace': 'on' } });
    await catalog.listNamespaces();
    const h = server.seen[1]!.headers;
    expect(h['x-team']).toBe('ads');
    expect(h['x-trace']).toBe('on');
    expect(h['x-iceberg-access-delegation']).toBe('vended-credentials');
  });

  it('maps a 404 on a namespace to NAMESPACE_NOT_FOUND with our sentence', async () => {
    const server = await serve((req, res) => json(res, 404, errorBody(404, 'NoSuchNamespaceException', 'Namespace does not exist: gone')));
    const catalog = await open(server);
    const err = await failure(catalog.listTables(['gone']));
    expect(err.code).toBe('NAMESPACE_NOT_FOUND');
    expect(err.message).toBe("Namespace gone does not exist in catalog 'rest'; create it with `lakehouse namespaces create gone` or check the name.");
  });

  it('retries a GET after a 503 and succeeds', async () => {
    let calls = 0;
    const server = await serve((req, res) => (++calls === 1 ? json(res, 503, errorBody(503, 'ServiceUnavailable', 'busy')) : json(res, 200, { namespaces: [['a']] })));
    const catalog = await open(server);
    expect(await catalog.listNamespaces()).toEqual([['a']]);
    expect(calls).toBe(2);
  });

  it('does not repeat a create after a 500 unless the server supports Idempotency-Key, then repeats it with the same key', async () => {
    const failing: Handler = (req, res) => json(res, 500, errorBody(500, 'ServerError', 'oops'));
    const plain = await serve(failing);
    const err = await failure((await open(plain)).createNamespace(['a']));
    expect(err.code).toBe('IO_ERROR');
    expect(plain.requests('POST', '/v1/namespaces')).toHaveLength(1);

    let calls = 0;
    const keyed = await serve((req, res) => (++calls < 3 ? failing(req, res) : json(res, 200, { namespace: ['a'], properties: {} })), {
      defaults: {}, overrides: {}, endpoints: ALL_ENDPOINTS, 'idempotency-key-lifetime': 'PT30M',
    });
    await (await open(keyed)).createNamespace(['a']);
    const keys = keyed.requests('POST', '/v1/namespaces').map((s) => s.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });

  it('passes server config and vended credentials to the FileIO, credentials winning', async () => {
    const location = 's3://bucket/wh/ns/t';
    const server = await FakeServer.start((req, res) => {
      if (req.url.startsWith('/v1/config')) return json(res, 200, { defaults: { 's3.region': 'eu-west-1' }, overrides: {}, endpoints: ALL_ENDPOINTS });
      json(res, 200, tableResult({
        config: { 's3.endpoint': 'http://minio:9000', 's3.access-key-id': 'from-config', 's3.secret-access-key': 'config-secret' },
        'storage-credentials': [
          { prefix: 's3://bucket/', config: { 's3.access-key-id': 'short-prefix', 's3.secret-access-key': 'short-secret' } },
          { prefix: 's3://bucket/wh/ns', config: { 's3.access-key-id': 'vended', 's3.secret-access-key': 'vended-secret' } },
        ],
      }, location));
    });
    const catalog = await open(server, { properties: { 's3.path-style-access': 'true' } });
    const loaded = await catalog.loadTable(id);
    const calls = vi.mocked(resolveFileIOModule.resolveFileIO).mock.calls;
    const [where, props] = calls[calls.length - 1]!;
    expect(where).toBe(loaded.metadataLocation);
    expect(props).toMatchObject({
      's3.region': 'eu-west-1', 's3.path-style-access': 'true', 's3.endpoint': 'http://minio:9000',
      's3.access-key-id': 'vended', 's3.secret-access-key': 'vended-secret',
    });
  });
});

describe('RestCatalog.commitTable', () => {
  const commitPath = '/v1/namespaces/ns/tables/t';
  const commits = (s: FakeServer) => s.requests('POST', commitPath);

  it('sends identifier, requirements with the table uuid first, updates with exact 64-bit ids, and a fresh UUIDv7 Idempotency-Key', async () => {
    const server = await serve((req, res) => json(res, 200, tableResult()));
    const catalog = await open(server);
    await catalog.loadTable(id);
    await catalog.commitTable(id, [{ type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: null }], appendUpdates());
    await catalog.commitTable(id, [], appendUpdates());
    const [first, second] = commits(server);
    expect(JSON.parse(first!.body)).toMatchObject({
      identifier: { namespace: ['ns'], name: 't' },
      requirements: [{ type: 'assert-table-uuid', uuid: UUID }, { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null }],
      updates: [{ action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch' }],
    });
    expect(first!.body).toContain('"snapshot-id":9007199254740993');
    const keys = [first!.headers['idempotency-key'], second!.headers['idempotency-key']];
    for (const k of keys) expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('loads the table to learn its uuid when this catalog has not seen it', async () => {
    const server = await serve((req, res) => json(res, 200, tableResult()));
    const catalog = await open(server);
    await catalog.commitTable(id, [], appendUpdates());
    expect(JSON.parse(commits(server)[0]!.body).requirements).toEqual([{ type: 'assert-table-uuid', uuid: UUID }]);
  });

  it('turns 409 into CommitConflictError carrying the server message, sent once', async () => {
    const server = await serve((req, res) => json(res, 409, errorBody(409, 'CommitFailedException', 'Requirement failed: branch main has changed')));
    const catalog = await open(server);
    const err = await failure(catalog.commitTable(id, [], appendUpdates()));
    expect(err).toBeInstanceOf(CommitConflictError);
    expect(err.message).toContain('CommitFailedException: Requirement failed: branch main has changed');
    expect(commits(server)).toHaveLength(1);
  });

  for (const status of [500, 502, 503, 504]) {
    it(`turns ${status} into CommitStateUnknownError and never repeats the commit`, async () => {
      const server = await serve((req, res) => json(res, status, errorBody(status, 'ServerError', 'backend hiccup')));
      const catalog = await open(server);
      const err = await failure(catalog.commitTable(id, [], appendUpdates()));
      expect(err).toBeInstanceOf(CommitStateUnknownError);
      expect(err.message).toContain(`answered ${status} (ServerError: backend hiccup)`);
      expect(commits(server)).toHaveLength(1);
    });
  }

  it('turns a timeout after sending into CommitStateUnknownError', async () => {
    const server = await serve(() => 'hang');
    const catalog = await open(server, { properties: { 'rest.client.request-timeout-ms': '300' } });
    await catalog.loadTable(id);
    const err = await failure(catalog.commitTable(id, [], appendUpdates()));
    expect(err).toBeInstanceOf(CommitStateUnknownError);
    expect(err.message).toContain('did not answer POST /v1/namespaces/ns/tables/t within 300 ms');
  });

  it('turns a connection dropped after the server read the request into CommitStateUnknownError', async () => {
    const server = await serve(() => 'reset');
    const catalog = await open(server);
    const err = await failure(catalog.commitTable(id, [], appendUpdates()));
    expect(err).toBeInstanceOf(CommitStateUnknownError);
    expect(commits(server)).toHaveLength(1);
  });

  it('treats a refused connection as a definite failure: nothing was sent', async () => {
    const server = await serve(() => undefined, undefined, { keepAlive: false });
    const catalog = await open(server, { properties: { 'rest.client.max-retries': '0' } });
    await catalog.loadTable(id);
    await server.close();
    const err = await failure(catalog.commitTable(id, [], appendUpdates()));
    expect(err).not.toBeInstanceOf(CommitStateUnknownError);
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toMatch(/^Cannot reach the Iceberg REST catalog at /);
  });

  it('turns a 200 whose body cannot be read into CommitStateUnknownError, so no file is deleted', async () => {
    const server = await serve((req, res) => json(res, 200, '{"metadata-location": '));
    const catalog = await open(server);
    const err = await failure(catalog.commitTable(id, [], appendUpdates()));
    expect(err).toBeInstanceOf(CommitStateUnknownError);
  });

  it('answers TABLE_NOT_FOUND for 404 and VALIDATION_FAILED with the server message for 400 and 422', async () => {
    const answers: Record<string, [number, string]> = { a: [404, 'NoSuchTableException'], b: [400, 'BadRequestException'], c: [422, 'ValidationException'] };
    const server = await serve((req, res) => {
      const name = req.url.slice(req.url.lastIndexOf('/') + 1);
      if (req.method === 'GET') return json(res, 200, tableResult());
      const [status, type] = answers[name]!;
      json(res, status, errorBody(status, type, `cannot apply to ${name}`));
    });
    const catalog = await open(server);
    expect((await failure(catalog.commitTable({ namespace: ['ns'], name: 'a' }, [], appendUpdates()))).code).toBe('TABLE_NOT_FOUND');
    for (const name of ['b', 'c']) {
      const err = await failure(catalog.commitTable({ namespace: ['ns'], name }, [], appendUpdates()));
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.message).toContain(`cannot apply to ${name}`);
    }
  });
});

describe('RestCatalog authentication', () => {
  it('sends a static bearer token with every request, /v1/config included', async () => {
    const server = await serve((req, res) => json(res, 200, { namespaces: [] }));
    const catalog = await open(server, { token: 'tok-123456' });
    await catalog.listNamespaces();
    expect(server.seen.map((s) => s.headers['authorization'])).toEqual(['Bearer tok-123456', 'Bearer tok-123456']);
  });

  it('gets a token by client credentials (form-encoded, scope "catalog" by default) from <uri>/v1/oauth/tokens', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/v1/oauth/tokens') return json(res, 200, { access_token: 'issued-1', token_type: 'bearer', expires_in: 3600 });
      json(res, 200, { namespaces: [] });
    });
    const catalog = await open(server, { credential: 'client-a:s3cret-value' });
    await catalog.listNamespaces();
    const [token] = server.requests('POST', '/v1/oauth/tokens');
    expect(token!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(token!.body))).toEqual({
      grant_type: 'client_credentials', client_id: 'client-a', client_secret: 's3cret-value', scope: 'catalog',
    });
    expect(server.requests('GET', '/v1/namespaces')[0]!.headers['authorization']).toBe('Bearer issued-1');
    expect(server.requests('POST', '/v1/oauth/tokens')).toHaveLength(1);
  });

  it('uses oauth2-server-uri and scope when given', async () => {
    const idp = await FakeServer.start((req, res) => json(res, 200, { access_token: 'from-idp', token_type: 'Bearer' }));
    const server = await serve((req, res) => json(res, 200, { namespaces: [] }));
    const catalog = await open(server, { credential: 'c:secret-xyz', oauth2ServerUri: `${idp.uri}/realms/x/token`, scope: 'PRINCIPAL_ROLE:ALL' });
    await catalog.listNamespaces();
    expect(idp.seen[0]!.url).toBe('/realms/x/token');
    expect(new URLSearchParams(idp.seen[0]!.body).get('scope')).toBe('PRINCIPAL_ROLE:ALL');
    expect(server.requests('POST', '/v1/oauth/tokens')).toHaveLength(0);
    expect(server.requests('GET', '/v1/namespaces')[0]!.headers['authorization']).toBe('Bearer from-idp');
  });

  it('gets a new token once after a 401 and repeats the request with it', async () => {
    let issued = 0;
    const server = await serve((req, res) => {
      if (req.url === '/v1/oauth/tokens') return json(res, 200, { access_token: `tok-${++issued}`, token_type: 'bearer' });
      if (req.headers['authorization'] === 'Bearer tok-1' && req.url.startsWith('/v1/namespaces')) {
        return json(res, 401, errorBody(401, 'NotAuthorizedException', 'Token expired'));
      }
      json(res, 200, { namespaces: [['a']] });
    });
    const catalog = await open(server, { credential: 'c:secret-xyz' });
    expect(await catalog.listNamespaces()).toEqual([['a']]);
    expect(server.requests('GET', '/v1/namespaces').map((s) => s.headers['authorization'])).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('reports a persistent 401 without the credential or the tokens in the message', async () => {
    let issued = 0;
    const server = await serve((req, res) => {
      if (req.url === '/v1/oauth/tokens') return json(res, 200, { access_token: `leaky-token-${++issued}`, token_type: 'bearer' });
      // A careless server that echoes the header it rejected.
      json(res, 401, errorBody(401, 'NotAuthorizedException', `rejected ${String(req.headers['authorization'])} for c:secret-xyz`));
    });
    const err = await failure(open(server, { credential: 'c:secret-xyz' }).then((c) => c.listNamespaces()));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('not authenticated');
    expect(err.message).not.toMatch(/secret-xyz|leaky-token/);
    expect(JSON.stringify(err.context)).not.toMatch(/secret-xyz|leaky-token/);
  });

  it('reports credentials the token endpoint rejects, naming the property and not the secret', async () => {
    const server = await FakeServer.start((req, res) => json(res, 401, { error: 'invalid_client', error_description: 'Bad client' }));
    const err = await failure(open(server, { credential: 'c:secret-xyz' }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('invalid_client: Bad client');
    expect(err.message).toContain('"credential"');
    expect(err.message).not.toContain('secret-xyz');
  });

  it('refreshes a token before expires_in runs out', async () => {
    let issued = 0;
    const idp = await FakeServer.start((req, res) => json(res, 200, { access_token: `t${++issued}`, token_type: 'bearer', expires_in: 3600 }));
    let now = 1_000_000;
    const auth = new ClientCredentialsAuth({ tokenUri: idp.uri, credential: 'c:secret-xyz', scope: 'catalog', timeoutMs: 2000, now: () => now });
    expect(await auth.authorization()).toBe('Bearer t1');
    now += 3_000_000; // 50 minutes: still valid
    expect(await auth.authorization()).toBe('Bearer t1');
    now += 541_000; // 59 min 1 s: inside the one-minute refresh margin
    expect(await auth.authorization()).toBe('Bearer t2');
    expect(idp.seen).toHaveLength(2);
  });

  it('shares one token request among concurrent callers', async () => {
    const idp = await FakeServer.start((req, res) => {
      setTimeout(() => json(res, 200, { access_token: 'only', token_type: 'bearer' }), 50);
    });
    const auth = new ClientCredentialsAuth({ tokenUri: idp.uri, credential: 'secret-only', scope: 'catalog', timeoutMs: 2000 });
    expect(await Promise.all([auth.authorization(), auth.authorization(), auth.authorization()])).toEqual(['Bearer only', 'Bearer only', 'Bearer only']);
    expect(idp.seen).toHaveLength(1);
    // A credential without a colon is a bare secret: no client_id is sent.
    expect(new URLSearchParams(idp.seen[0]!.body).has('client_id')).toBe(false);
  });
});

describe('uuidv7', () => {
  it('puts the millisecond time in the first 48 bits and sets version 7 and the RFC variant', () => {
    const u = uuidv7(0x0123456789ab);
    expect(u).toMatch(/^01234567-89ab-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
