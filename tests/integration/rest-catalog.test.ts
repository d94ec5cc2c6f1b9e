import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint, RestCatalog, createRestCatalog } from '../../catalog/rest-catalog.ts';
import { rowsToRecordBatch, type Namespace, type TableIdentifier, Schema, Table, MAIN_BRANCH, T, CommitConflictError } from '../../iceberg/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import { catalogConformance } from '../catalog-conformance.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readDetailedWithPyIcebergRest, readWithDuckDBRest } from '../interop/readers.ts';
import { requireS3Settings } from '../support/s3-settings.ts';

/**
 * The REST catalog against a real Iceberg REST server (Apache Iceberg's RESTCatalogServer from
 * `iceberg-open-api`, started by `infra/services/iceberg-rest.sh`), never a fake. PyIceberg's own
 * RestCatalog reads back what we wrote, as the independent check.
 *
 * LAKEHOUSE_REST_URI names the server. When its warehouse is on S3 (MinIO), the LAKEHOUSE_S3_*
 * variables give the s3.* properties our FileIO and PyIceberg need.
 */
const uri = process.env.LAKEHOUSE_REST_URI;
if (!uri) {
  throw new Error(
    'LAKEHOUSE_REST_URI is not set: the REST catalog integration tests need a running Iceberg REST server. ' +
      'Start it with `infra/services/iceberg-rest.sh start` and export the LAKEHOUSE_REST_URI it prints (e.g. http://127.0.0.1:18181).',
  );
}
const REST_URI: string = uri;
/** s3.* properties when the tests run against a MinIO warehouse; a file:// warehouse needs none. */
const storageProperties: Record<string, string> = process.env.LAKEHOUSE_S3_ENDPOINT ? requireS3Settings().properties : {};

const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string())]);
const rows = (...ids: number[]) => ids.map((id) => ({ id: BigInt(id), name: `n${id}` }));
const batch = (...ids: number[]) => rowsToRecordBatch(schema, rows(...ids));
const ids = (rs: Record<string, unknown>[]) => rs.map((r) => Number(r['id'])).sort((a, b) => a - b);
const suffix = () => randomBytes(4).toString('hex');
const ident = (namespace: Namespace, name: string): TableIdentifier => ({ namespace, name });
/** Quick retries for tables two committers race on. */
const RACE_PROPERTIES = { 'commit.retry.num-retries': '40', 'commit.retry.min-wait-ms': '5', 'commit.retry.max-wait-ms': '200' };

const open = (extra: Record<string, string> = {}) =>
  createRestCatalog('rest', { uri: REST_URI, ...storageProperties, ...extra });

/** A port nothing listens on: bound once by us, then released. */
function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof LakehouseError ? e.code : `non-lakehouse: ${String(e)}`;
  }
  return 'resolved';
}

/** Drops what a test made: tables (purged) in the namespace and its children, then the namespaces. */
async function removeNamespace(catalog: RestCatalog, ns: Namespace): Promise<void> {
  for (const child of await catalog.listNamespaces(ns).catch(() => [] as Namespace[])) await removeNamespace(catalog, child);
  for (const t of await catalog.listTables(ns).catch(() => [] as TableIdentifier[])) await catalog.dropTable(t, { purge: true }).catch(() => undefined);
  await catalog.dropNamespace(ns).catch(() => undefined);
}

catalogConformance('rest', () => open(), { rejectsDotInNamespaceLevel: true, timeoutMs: 90_000 });

describe('RestCatalog against a real Iceberg REST server', () => {
  let catalog: RestCatalog;
  const created: Namespace[] = [];
  const newNamespace = async (properties?: Record<string, string>): Promise<Namespace> => {
    const ns = [`rest_${suffix()}`];
    created.push(ns);
    await catalog.createNamespace(ns, properties);
    return ns;
  };

  beforeAll(async () => {
    catalog = await open();
  });
  afterEach(async () => {
    for (const ns of created.splice(0)) await removeNamespace(catalog, ns);
  });
  afterAll(async () => catalog?.close());

  it('reads /v1/config: the endpoints the server lists decide which calls are made, HEAD included', async () => {
    expect(catalog.uri).toBe(REST_URI.replace(/\/+$/, ''));
    expect(catalog.properties['uri']).toBe(REST_URI);
    // Java's server lists its endpoints; HEAD is not among the spec's defaults, so this proves they were read.
    expect(catalog.supports(Endpoint.tableExists)).toBe(true);
    expect(catalog.supports(Endpoint.namespaceExists)).toBe(true);
    const withWarehouse = await open({ warehouse: 'lakehouse_wh' });
    expect(withWarehouse.properties['warehouse']).toBe('lakehouse_wh');
    await withWarehouse.close();
  });

  it('creates, lists, loads, updates and drops nested namespaces, following page tokens', async () => {
    const ns = await newNamespace({ owner: 'lakehouse' });
    // Levels with a space, a plus, a percent sign and non-ASCII travel through the 0x1F-separated path encoding.
    const children = ['a b', 'c+d', 'e%f', 'ü_x'];
    for (const c of children) await catalog.createNamespace([...ns, c], { level: c });
    await catalog.createNamespace([...ns, 'a b', 'deep']);

    // One namespace per page: four pages for the children.
    const paged = await open({ 'rest-page-size': '1' });
    try {
      expect(await paged.listNamespaces(ns)).toEqual(children.map((c) => [...ns, c]).sort((x, y) => (x.join('.') < y.join('.') ? -1 : 1)));
      expect(await paged.listNamespaces([...ns, 'a b'])).toEqual([[...ns, 'a b', 'deep']]);
    } finally {
      await paged.close();
    }
    expect(await catalog.listNamespaces()).toContainEqual(ns);
    for (const c of children) {
      expect(await catalog.namespaceExists([...ns, c])).toBe(true);
      expect((await catalog.loadNamespaceProperties([...ns, c]))['level']).toBe(c);
    }
    expect(await catalog.namespaceExists([...ns, 'missing'])).toBe(false);

    expect(await catalog.updateNamespaceProperties(ns, ['owner', 'never-set'], { team: 'ads' })).toEqual({
      removed: ['owner'], updated: ['team'], missing: ['never-set'],
    });
    const props = await catalog.loadNamespaceProperties(ns);
    expect(props['team']).toBe('ads');
    expect(props['owner']).toBeUndefined();

    expect(await codeOf(catalog.createNamespace(ns))).toBe('ALREADY_EXISTS');
    expect(await codeOf(catalog.loadNamespaceProperties([`missing_${suffix()}`]))).toBe('NAMESPACE_NOT_FOUND');
    await catalog.dropNamespace([...ns, 'a b', 'deep']);
    expect(await catalog.namespaceExists([...ns, 'a b', 'deep'])).toBe(false);
  });

  it('creates a partitioned, sorted table with properties and a location, and lists it page by page', async () => {
    const ns = await newNamespace();
    const spec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'id_bucket', transform: 'bucket[4]' }] };
    const sortOrder = { orderId: 1, fields: [{ sourceId: 2, transform: 'identity', direction: 'asc' as const, nullOrder: 'nulls-first' as const }] };
    const t = await catalog.createTable(ident(ns, 'events'), { schema, partitionSpec: spec, sortOrder, properties: { 'write.format.default': 'parquet', owner: 'me' } });
    expect(t.metadata.formatVersion).toBe(2);
    expect(t.metadata.partitionSpecs[0]!.fields).toEqual([{ sourceId: 1, fieldId: 1000, name: 'id_bucket', transform: 'bucket[4]' }]);
    expect(t.metadata.sortOrders.find((o) => o.orderId === t.metadata.defaultSortOrderId)!.fields[0]!.sourceId).toBe(2);
    expect(t.metadata.properties['owner']).toBe('me');
    expect(t.metadata.properties['format-version']).toBeUndefined();
    expect(await t.io.exists(t.metadataLocation)).toBe(true);

    const located = await catalog.createTable(ident(ns, 'placed'), { schema, location: `${t.metadata.location}_placed/` });
    expect(located.metadata.location).toBe(`${t.metadata.location}_placed`);

    for (const name of ['c', 'a', 'b']) await catalog.createTable(ident(ns, name), { schema });
    const paged = await open({ 'rest-page-size': '2' });
    try {
      expect((await paged.listTables(ns)).map((x) => x.name)).toEqual(['a', 'b', 'c', 'events', 'placed']);
    } finally {
      await paged.close();
    }
    const loaded = await catalog.loadTable(ident(ns, 'events'));
    expect(loaded.metadata.tableUuid).toBe(t.metadata.tableUuid);
    expect(loaded.metadataLocation).toBe(t.metadataLocation);
    expect(await catalog.tableExists(ident(ns, 'events'))).toBe(true);
    expect(await catalog.tableExists(ident(ns, 'nope'))).toBe(false);
    expect(await codeOf(catalog.createTable(ident(ns, 'events'), { schema }))).toBe('ALREADY_EXISTS');
    expect(await codeOf(catalog.createTable(ident([`missing_${suffix()}`], 'x'), { schema }))).toBe('NAMESPACE_NOT_FOUND');
  });

  it('renames a table across namespaces, registers its metadata under a new name, and drops with purge', async () => {
    const ns = await newNamespace();
    const other = await newNamespace();
    const t = new Table(catalog, await catalog.createTable(ident(ns, 'src'), { schema }));
    await t.append([batch(1, 2, 3)]);

    await catalog.renameTable(ident(ns, 'src'), ident(other, 'moved'));
    expect(await catalog.tableExists(ident(ns, 'src'))).toBe(false);
    const moved = new Table(catalog, await catalog.loadTable(ident(other, 'moved')));
    expect(ids(await moved.readRows())).toEqual([1, 2, 3]);
    expect(await codeOf(catalog.renameTable(ident(ns, 'src'), ident(ns, 'again')))).toBe('TABLE_NOT_FOUND');
    expect(await codeOf(catalog.renameTable(ident(other, 'moved'), ident([`missing_${suffix()}`], 'x')))).toBe('NAMESPACE_NOT_FOUND');

    const registered = await catalog.registerTable(ident(ns, 'copy'), moved.metadataLocation);
    expect(registered.metadataLocation).toBe(moved.metadataLocation);
    expect(ids(await new Table(catalog, registered).readRows())).toEqual([1, 2, 3]);
    expect(await codeOf(catalog.registerTable(ident(ns, 'copy'), moved.metadataLocation))).toBe('ALREADY_EXISTS');

    // Without purge the files stay: the registered copy still reads them.
    await catalog.dropTable(ident(other, 'moved'));
    expect(ids(await new Table(catalog, await catalog.loadTable(ident(ns, 'copy'))).readRows())).toEqual([1, 2, 3]);
    const dataFile = (await moved.planFiles()).files[0]!.filePath;
    await catalog.dropTable(ident(ns, 'copy'), { purge: true });
    expect(await catalog.tableExists(ident(ns, 'copy'))).toBe(false);
    expect(await moved.io.exists(dataFile)).toBe(false);
    expect(await codeOf(catalog.dropTable(ident(ns, 'copy')))).toBe('TABLE_NOT_FOUND');
  });

  it('appends and overwrites through Table, and reads every snapshot back by id', async () => {
    const ns = await newNamespace();
    const t = new Table(catalog, await catalog.createTable(ident(ns, 't'), { schema }));
    const s1 = await t.append([batch(1, 2)]);
    const s2 = await t.append([batch(3, 4)]);
    const s3 = await t.overwrite('id <= 2', [batch(10)]);
    expect(s3.summary['operation']).toBe('overwrite');

    const fresh = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
    expect(fresh.currentSnapshot()!.snapshotId).toBe(s3.snapshotId);
    expect(ids(await fresh.readRows())).toEqual([3, 4, 10]);
    expect(ids(await fresh.readRows({ snapshotId: s1.snapshotId }))).toEqual([1, 2]);
    expect(ids(await fresh.readRows({ snapshotId: s2.snapshotId }))).toEqual([1, 2, 3, 4]);
    // Java omits parent-snapshot-id for the first snapshot.
    expect(fresh.metadata.snapshots.map((s) => s.parentSnapshotId ?? null)).toEqual([null, s1.snapshotId, s2.snapshotId]);
    // The server kept the metadata log: every commit wrote a new metadata file.
    expect(fresh.metadata.metadataLog.length).toBe(3);
  });

  it('rejects a commit on a stale base with CommitConflictError that carries the server message', async () => {
    const ns = await newNamespace();
    const loaded = await catalog.createTable(ident(ns, 't'), { schema });
    const t = new Table(catalog, loaded);
    await t.append([batch(1)]);
    const err = await catalog
      .commitTable(ident(ns, 't'), [{ type: 'assert-ref-snapshot-id', ref: MAIN_BRANCH, snapshotId: null }], [{ action: 'set-properties', updates: { k: 'v' } }])
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CommitConflictError);
    expect((err as Error).message).toMatch(/409 CommitFailedException: .*main/);
    // assert-table-uuid is added when missing: a wrong uuid is refused the same way.
    const wrongUuid = await codeOf(catalog.commitTable(ident(ns, 't'), [{ type: 'assert-table-uuid', uuid: '00000000-0000-4000-8000-000000000000' }], []));
    expect(wrongUuid).toBe('COMMIT_CONFLICT');
    expect(await codeOf(catalog.commitTable(ident(ns, 'gone'), [], []))).toBe('TABLE_NOT_FOUND');
  });

  it('lands every append of two catalog instances racing on one table exactly once', async () => {
    const ns = await newNamespace();
    await catalog.createTable(ident(ns, 'race'), { schema, properties: RACE_PROPERTIES });
    const second = await open();
    try {
      const writer = async (c: RestCatalog, base: number) => {
        const t = new Table(c, await c.loadTable(ident(ns, 'race')));
        for (let i = 0; i < 4; i++) await t.append([batch(base + i)]);
      };
      await Promise.all([writer(catalog, 100), writer(second, 200)]);
      const t = new Table(catalog, await catalog.loadTable(ident(ns, 'race')));
      expect(ids(await t.readRows())).toEqual([100, 101, 102, 103, 200, 201, 202, 203]);
      expect(t.metadata.snapshots.length).toBe(8);
      // One linear history: each snapshot's parent is the one before it.
      const snaps = t.metadata.snapshots;
      for (let i = 1; i < snaps.length; i++) expect(snaps[i]!.parentSnapshotId).toBe(snaps[i - 1]!.snapshotId);
    } finally {
      await second.close();
    }
  });

  it('gets an OAuth2 token by client credentials from the server and uses it', async () => {
    // Java's reference server issues tokens at the spec's (deprecated) /v1/oauth/tokens without checking them.
    const withAuth = await open({ credential: 'lakehouse-client:not-a-real-secret', scope: 'catalog' });
    try {
      const ns = [`rest_${suffix()}`];
      created.push(ns);
      await withAuth.createNamespace(ns);
      expect(await withAuth.namespaceExists(ns)).toBe(true);
    } finally {
      await withAuth.close();
    }
  });

  it('says which server it cannot reach, without secrets, when nothing listens at the uri', async () => {
    const port = await unusedPort();
    const err = await createRestCatalog('down', { uri: `http://127.0.0.1:${port}`, token: 'super-secret-token', 'rest.client.max-retries': '0' }).then(
      () => undefined,
      (e: unknown) => e as LakehouseError,
    );
    expect(err?.message).toMatch(new RegExp(`^Cannot reach the Iceberg REST catalog at http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); check the uri and that the server runs\\.$`));
    expect(err?.message).not.toContain('super-secret-token');
  });

  describe('read back by PyIceberg through its RestCatalog', () => {
    beforeAll(async () => {
      await ensureVenv();
    }, VENV_TIMEOUT_MS);

    it('reads the rows of every snapshot we committed', async () => {
      const ns = await newNamespace();
      const t = new Table(catalog, await catalog.createTable(ident(ns, 'shared'), {
        schema,
        partitionSpec: { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'id_bucket', transform: 'bucket[2]' }] },
      }));
      const s1 = await t.append([batch(1, 2, 3)]);
      const s2 = await t.overwrite('id = 2', [batch(20, 21)]);
      const ref = { uri: REST_URI, table: `${ns.join('.')}.shared`, properties: storageProperties };

      const now = await readDetailedWithPyIcebergRest(ref);
      expect(now.snapshotId).toBe(String(s2.snapshotId));
      expect(now.rows).toEqual(canonicalRows(schema, rows(1, 3, 20, 21)));
      const then = await readDetailedWithPyIcebergRest({ ...ref, snapshotId: s1.snapshotId });
      expect(then.rows).toEqual(canonicalRows(schema, rows(1, 2, 3)));
      // DuckDB's own REST client, attached to the same server, reading the files from MinIO via httpfs.
      expect(await readWithDuckDBRest(ref)).toEqual(canonicalRows(schema, rows(1, 3, 20, 21)));
    });
  });
});
