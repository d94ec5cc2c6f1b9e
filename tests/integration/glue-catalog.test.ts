import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GlueCatalog, createGlueCatalog } from '../../catalog/glue-catalog.ts';
import { rowsToRecordBatch, type TableIdentifier, Schema, Table, T, CommitConflictError } from '../../iceberg/index.ts';
import { type FileIO, type FileInfo, type WriteOptions, toFileUri, resolveFileIO } from '../../iceberg/io/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import { catalogConformance } from '../catalog-conformance.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIcebergGlue } from '../interop/readers.ts';

/**
 * GlueCatalog against a real Glue API: moto's server (LAKEHOUSE_GLUE_ENDPOINT). Table files go to
 * MinIO when the services setup exported LAKEHOUSE_S3_* (warehouse s3://$LAKEHOUSE_S3_BUCKET/glue-<random>),
 * else to a temporary directory.
 *
 * What moto stores is read back with plain Glue JSON requests (`glueApi`), not through our client, so
 * the layout checks do not trust the code under test; moto does not verify request signatures, so
 * those requests carry a dummy one.
 *
 * moto 5.2.5 ignores UpdateTable's VersionId, so on a stock moto_server two committers can overwrite
 * each other and the VersionId and racing tests fail (as they should: the guard is what makes Glue
 * commits safe). AWS refuses a stale VersionId with ConcurrentModificationException "Update table
 * failed due to concurrent modifications."; moto does the same once `GlueResponse.update_table` is
 * wrapped to compare the request's VersionId with the table's current version under a lock before
 * updating (a dozen lines of Python run before `moto.server.main()`).
 */
const ENDPOINT = process.env.LAKEHOUSE_GLUE_ENDPOINT;
if (!ENDPOINT) {
  throw new Error(
    'LAKEHOUSE_GLUE_ENDPOINT is not set. These tests need a Glue API: start moto (infra/services/moto.sh, or ' +
      '`moto_server -H 127.0.0.1 -p 15000`) and export LAKEHOUSE_GLUE_ENDPOINT=http://127.0.0.1:15000.',
  );
}

/** moto accepts any keys; the services setup names fixed ones so that requests are signed normally. */
const GLUE_REGION = process.env.LAKEHOUSE_GLUE_REGION || 'us-east-1';
const GLUE_ACCESS_KEY = process.env.LAKEHOUSE_GLUE_ACCESS_KEY || 'testing';
const GLUE_SECRET_KEY = process.env.LAKEHOUSE_GLUE_SECRET_KEY || 'testing';
const S3_ENDPOINT = process.env.LAKEHOUSE_S3_ENDPOINT;
const suffix = () => randomBytes(5).toString('hex');
const randomDb = () => `glue_${suffix()}`;
const ident = (db: string, name: string): TableIdentifier => ({ namespace: [db], name });

let warehouse: string;
let localWarehouseDir: string | undefined;
let props: Record<string, string>;
const opened: GlueCatalog[] = [];

async function open(extra: Record<string, string> = {}): Promise<GlueCatalog> {
  const c = await createGlueCatalog('glue_test', { ...props, ...extra });
  opened.push(c);
  return c;
}

/** One Glue API call as moto stores it (AWS JSON 1.1 protocol), outside our client. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function glueApi(operation: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(ENDPOINT!, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `AWSGlue.${operation}`,
      // moto routes by the service in the credential scope and checks no signature.
      Authorization: `AWS4-HMAC-SHA256 Credential=${GLUE_ACCESS_KEY}/20260101/${GLUE_REGION}/glue/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`Glue ${operation}: ${String(json['__type'])}: ${String(json['message'])}`);
  return json;
}

async function errorOf(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw new Error(`expected a LakehouseError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a rejection, but the call succeeded');
}

/** Drops what a test made in a database (tables purged), then the database; best effort. */
async function removeDatabase(db: string): Promise<void> {
  const catalog = await open();
  for (const t of await catalog.listTables([db]).catch(() => [])) {
    await catalog.dropTable(t, { purge: true }).catch(() => catalog.dropTable(t).catch(() => undefined));
  }
  // Glue's DeleteDatabase also removes the non-Iceberg tables a test created by hand.
  await glueApi('DeleteDatabase', { Name: db }).catch(() => undefined);
}

beforeAll(async () => {
  if (S3_ENDPOINT) {
    const bucket = process.env.LAKEHOUSE_S3_BUCKET;
    if (!bucket) throw new Error('LAKEHOUSE_S3_ENDPOINT is set but LAKEHOUSE_S3_BUCKET is not; the services setup writes both.');
    warehouse = `s3://${bucket}/glue-${suffix()}`;
  } else {
    localWarehouseDir = await mkdtemp(join(tmpdir(), 'lakehouse-glue-'));
    warehouse = toFileUri(localWarehouseDir);
  }
  props = {
    warehouse,
    'glue.endpoint': ENDPOINT!,
    'glue.region': GLUE_REGION,
    'glue.access-key-id': GLUE_ACCESS_KEY,
    'glue.secret-access-key': GLUE_SECRET_KEY,
    ...(S3_ENDPOINT
      ? {
          's3.endpoint': S3_ENDPOINT,
          's3.access-key-id': process.env.LAKEHOUSE_S3_ACCESS_KEY ?? '',
          's3.secret-access-key': process.env.LAKEHOUSE_S3_SECRET_KEY ?? '',
          's3.region': process.env.LAKEHOUSE_S3_REGION || 'us-east-1',
        }
      : {}),
  };
});

afterAll(async () => {
  for (const c of opened.splice(0)) await c.close();
  if (localWarehouseDir) {
    await rm(localWarehouseDir, { recursive: true, force: true });
  } else if (warehouse) {
    // Files that drop-without-purge keeps on purpose; the prefix is this run's alone.
    const io = resolveFileIO(warehouse, props);
    const left: string[] = [];
    for await (const f of io.list(warehouse)) left.push(f.location);
    await io.deleteMany(left);
  }
});

// The behaviour every catalog shares, with Glue's single-level databases.
catalogConformance('GlueCatalog on moto', () => open(), { nestedNamespaces: false, timeoutMs: 120_000 });

describe('GlueCatalog on moto: the Glue layout', () => {
  const dbs: string[] = [];
  const newDb = async (properties?: Record<string, string>): Promise<string> => {
    const db = randomDb();
    dbs.push(db);
    await (await open()).createNamespace([db], properties);
    return db;
  };
  afterEach(async () => {
    for (const db of dbs.splice(0)) await removeDatabase(db);
  });

  it('keeps a namespace as a Glue database: Description and location in their own fields, the rest as Parameters', async () => {
    const catalog = await open();
    const location = `${warehouse}/elsewhere_${suffix()}`;
    const db = await newDb({ Description: 'campaign events', location, owner: 'data_eng' });
    const { Database } = await glueApi('GetDatabase', { Name: db });
    expect(Database).toMatchObject({ Name: db, Description: 'campaign events', LocationUri: location, Parameters: { owner: 'data_eng' } });
    expect(await catalog.loadNamespaceProperties([db])).toEqual({ Description: 'campaign events', location, owner: 'data_eng' });
    // A database with a LocationUri holds its tables right under it (Java, PyIceberg).
    const t = await catalog.createTable(ident(db, 'events'), { schema: new Schema([T.field(1, 'id', T.long())]) });
    expect(t.metadata.location).toBe(`${location}/events`);
  });

  it('puts a table of a database without LocationUri at <warehouse>/<db>.db/<table>', async () => {
    const db = await newDb();
    const t = await (await open()).createTable(ident(db, 'events'), { schema: new Schema([T.field(1, 'id', T.long())]) });
    expect(t.metadata.location).toBe(`${warehouse}/${db}.db/events`);
  });

  it('refuses a nested namespace with a sentence, and lists no children under a database', async () => {
    const catalog = await open();
    const db = await newDb();
    const err = await errorOf(catalog.createNamespace([db, 'child']));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/single level/);
    expect(await catalog.listNamespaces([db])).toEqual([]);
    expect((await errorOf(catalog.listNamespaces([randomDb()]))).code).toBe('NAMESPACE_NOT_FOUND');
  });

  it('stores an Iceberg table as an EXTERNAL_TABLE with the metadata pointers, its location and console columns', async () => {
    const catalog = await open();
    const db = await newDb();
    const schema = new Schema([
      T.field(1, 'id', T.long(), true),
      T.field(2, 'name', T.string(), false, 'customer name'),
      T.field(3, 'amount', T.decimal(9, 2)),
      T.field(4, 'ts', T.timestamptz()),
      T.field(5, 'at', T.time()),
      T.field(6, 'u', T.uuid()),
      T.field(7, 'f', T.fixed(4)),
      T.field(8, 'tags', T.list(10, T.string())),
      T.field(9, 'attrs', T.map(11, T.string(), 12, T.int())),
      T.field(13, 'geo', T.struct([T.field(14, 'lat', T.double()), T.field(15, 'lon', T.double())])),
    ]);
    const created = await catalog.createTable(ident(db, 'rich'), { schema, properties: { 'write.parquet.compression-codec': 'zstd' } });
    const id = (name: string) => String(created.metadata.schemas[0]!.fields.find((f) => f.name === name)!.id);
    const col = (name: string, type: string, optional: boolean, current = true, comment?: string) => ({
      Name: name,
      Type: type,
      ...(comment ? { Comment: comment } : {}),
      Parameters: { 'iceberg.field.id': id(name), 'iceberg.field.optional': String(optional), 'iceberg.field.current': String(current) },
    });

    let { Table: stored } = await glueApi('GetTable', { DatabaseName: db, Name: 'rich' });
    expect(stored.TableType).toBe('EXTERNAL_TABLE');
    expect(stored.Parameters).toEqual({
      table_type: 'ICEBERG',
      metadata_location: created.metadataLocation,
      'write.parquet.compression-codec': 'zstd',
    });
    expect(stored.StorageDescriptor.Location).toBe(created.metadata.location);
    expect(stored.StorageDescriptor.Columns).toEqual([
      col('id', 'bigint', false),
      col('name', 'string', true, true, 'customer name'),
      col('amount', 'decimal(9,2)', true),
      col('ts', 'timestamp', true),
      col('at', 'string', true),
      col('u', 'string', true),
      col('f', 'binary', true),
      col('tags', 'array<string>', true),
      col('attrs', 'map<string,int>', true),
      col('geo', 'struct<lat:double,lon:double>', true),
    ]);

    // A new current schema without `at`: its columns come first, the dropped one follows as not current.
    const current = created.metadata.schemas[0]!;
    const nextSchema = new Schema(
      [...current.fields.filter((f) => f.name !== 'at'), T.field(created.metadata.lastColumnId + 1, 'country', T.string())],
      1,
    );
    const committed = await catalog.commitTable(
      ident(db, 'rich'),
      [{ type: 'assert-table-uuid', uuid: created.metadata.tableUuid }],
      [
        { action: 'add-schema', schema: nextSchema, lastColumnId: created.metadata.lastColumnId + 1 },
        { action: 'set-current-schema', schemaId: -1 },
      ],
    );
    ({ Table: stored } = await glueApi('GetTable', { DatabaseName: db, Name: 'rich' }));
    expect(stored.Parameters).toMatchObject({
      table_type: 'ICEBERG',
      metadata_location: committed.metadataLocation,
      previous_metadata_location: created.metadataLocation,
    });
    const columns = stored.StorageDescriptor.Columns as Array<{ Name: string; Type: string; Parameters: Record<string, string> }>;
    expect(columns.map((c) => [c.Name, c.Parameters['iceberg.field.current']])).toEqual([
      ['id', 'true'], ['name', 'true'], ['amount', 'true'], ['ts', 'true'], ['u', 'true'], ['f', 'true'],
      ['tags', 'true'], ['attrs', 'true'], ['geo', 'true'], ['country', 'true'], ['at', 'false'],
    ]);
    expect(columns.find((c) => c.Name === 'country')).toMatchObject({ Type: 'string', Parameters: { 'iceberg.field.id': String(created.metadata.lastColumnId + 1) } });
  });

  it('lists only Iceberg tables, reading table_type in any case, and refuses to load a Hive table', async () => {
    const catalog = await open();
    const db = await newDb();
    const ours = await catalog.createTable(ident(db, 'ours'), { schema: new Schema([T.field(1, 'id', T.long())]) });
    // Written by other tools: a Hive table, and an Iceberg table whose writer spelled the type in lower case.
    await glueApi('CreateTable', { DatabaseName: db, TableInput: { Name: 'hive', TableType: 'EXTERNAL_TABLE', Parameters: { EXTERNAL: 'TRUE' } } });
    await glueApi('CreateTable', {
      DatabaseName: db,
      TableInput: { Name: 'lower', TableType: 'EXTERNAL_TABLE', Parameters: { table_type: 'iceberg', metadata_location: ours.metadataLocation } },
    });
    expect((await catalog.listTables([db])).map((t) => t.name)).toEqual(['lower', 'ours']);
    expect((await catalog.loadTable(ident(db, 'lower'))).metadata.tableUuid).toBe(ours.metadata.tableUuid);
    expect(await catalog.tableExists(ident(db, 'hive'))).toBe(false);
    const err = await errorOf(catalog.loadTable(ident(db, 'hive')));
    expect(err.code).toBe('TABLE_NOT_FOUND');
    expect(err.message).toMatch(/not an Iceberg table/);
    // The Hive table counts for emptiness: deleting the database would delete it too.
    await catalog.dropTable(ident(db, 'lower'));
    await catalog.dropTable(ident(db, 'ours'));
    const notEmpty = await errorOf(catalog.dropNamespace([db]));
    expect(notEmpty.code).toBe('NAMESPACE_NOT_EMPTY');
    expect(notEmpty.message).toMatch(/not Iceberg tables \(e\.g\. hive\)/);
  });

  it('renames by copying the Glue entry (parameters, columns) and deleting the old one; the new name takes commits', async () => {
    const catalog = await open();
    const db = await newDb();
    const other = await newDb();
    const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string())]);
    const t = new Table(catalog, await catalog.createTable(ident(db, 'old'), { schema }));
    await t.append([rowsToRecordBatch(schema, [{ id: 1n, name: 'a' }])]);
    const { Table: before } = await glueApi('GetTable', { DatabaseName: db, Name: 'old' });

    await catalog.renameTable(ident(db, 'old'), ident(other, 'new'));

    await expect(glueApi('GetTable', { DatabaseName: db, Name: 'old' })).rejects.toThrow(/EntityNotFoundException/);
    const { Table: after } = await glueApi('GetTable', { DatabaseName: other, Name: 'new' });
    expect(after.Parameters).toEqual(before.Parameters);
    expect(after.StorageDescriptor).toEqual(before.StorageDescriptor);
    expect(after.TableType).toBe('EXTERNAL_TABLE');
    const moved = new Table(catalog, await catalog.loadTable(ident(other, 'new')));
    await moved.append([rowsToRecordBatch(schema, [{ id: 2n, name: 'b' }])]);
    expect((await moved.readRows()).map((r) => r['id']).sort()).toEqual([1n, 2n]);
    const { Table: committed } = await glueApi('GetTable', { DatabaseName: other, Name: 'new' });
    expect(committed.Parameters.previous_metadata_location).toBe(before.Parameters.metadata_location);
  });
});

/**
 * A FileIO that runs a callback once, just before the next metadata file is written: the moment
 * between a commit's GetTable and its UpdateTable, where a concurrent writer must be caught.
 */
class InterleavingIO implements FileIO {
  private pending: (() => Promise<void>) | undefined;
  readonly metadataWrites: string[] = [];
  constructor(private readonly inner: FileIO) {}
  beforeNextMetadataWrite(fn: () => Promise<void>): void {
    this.pending = fn;
  }
  async write(location: string, data: Uint8Array, options?: WriteOptions): Promise<void> {
    if (location.endsWith('.metadata.json')) {
      this.metadataWrites.push(location);
      const fn = this.pending;
      this.pending = undefined;
      if (fn) await fn();
    }
    return this.inner.write(location, data, options);
  }
  read(location: string): Promise<Uint8Array> { return this.inner.read(location); }
  readRange(location: string, offset: number, length: number): Promise<Uint8Array> { return this.inner.readRange(location, offset, length); }
  exists(location: string): Promise<boolean> { return this.inner.exists(location); }
  size(location: string): Promise<number> { return this.inner.size(location); }
  delete(location: string): Promise<void> { return this.inner.delete(location); }
  deleteMany(locations: string[]): Promise<void> { return this.inner.deleteMany(locations); }
  list(prefix: string): AsyncIterable<FileInfo> { return this.inner.list(prefix); }
  close(): Promise<void> { return this.inner.close(); }
}

describe('GlueCatalog on moto: commits', () => {
  const dbs: string[] = [];
  const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string())]);
  const batch = (rows: Array<[number, string]>) => rowsToRecordBatch(schema, rows.map(([id, name]) => ({ id: BigInt(id), name })));
  afterEach(async () => {
    for (const db of dbs.splice(0)) await removeDatabase(db);
  });

  it("uses Glue's VersionId: a writer that commits between our read and UpdateTable makes ours a conflict, and our metadata file goes", async () => {
    const theirs = await open();
    const db = randomDb();
    dbs.push(db);
    await theirs.createNamespace([db]);
    const id = ident(db, 't');
    const created = await theirs.createTable(id, { schema });
    const io = new InterleavingIO(resolveFileIO(warehouse, props));
    const mine = await GlueCatalog.open({ name: 'glue_test', properties: props, io });

    let theirSnapshot: bigint | undefined;
    io.beforeNextMetadataWrite(async () => {
      const s = await new Table(theirs, await theirs.loadTable(id)).append([batch([[1, 'theirs']])]);
      theirSnapshot = s.snapshotId;
    });
    // assert-table-uuid still holds after their append: only the VersionId can tell that the table moved.
    const err = await mine
      .commitTable(id, [{ type: 'assert-table-uuid', uuid: created.metadata.tableUuid }], [{ action: 'set-properties', updates: { mine: 'yes' } }])
      .then(() => undefined, (e: unknown) => e);
    expect(
      err,
      `${ENDPOINT} accepted an UpdateTable with a stale VersionId and so overwrote a concurrent commit: it does not implement ` +
        "Glue's optimistic locking (moto 5.2.5 ignores VersionId). Run moto with the VersionId check described at the top of this file.",
    ).toBeInstanceOf(CommitConflictError);
    expect((err as CommitConflictError).retryable).toBe(true);
    const [ourFile] = io.metadataWrites;
    expect(await io.exists(ourFile!)).toBe(false);
    const now = await theirs.loadTable(id);
    expect(now.metadata.currentSnapshotId).toBe(theirSnapshot);
    expect(now.metadata.properties).not.toHaveProperty('mine');

    // Through Table the conflict is retried on the new head: both appends land once, in order.
    const table = new Table(mine, await mine.loadTable(id));
    io.beforeNextMetadataWrite(async () => {
      await new Table(theirs, await theirs.loadTable(id)).append([batch([[2, 'theirs']])]);
    });
    const s = await table.append([batch([[3, 'mine']])]);
    const final = new Table(theirs, await theirs.loadTable(id));
    expect(final.metadata.snapshots.map((x) => x.sequenceNumber)).toEqual([1, 2, 3]);
    expect(final.currentSnapshot()?.snapshotId).toBe(s.snapshotId);
    expect((await final.readRows()).map((r) => `${String(r['id'])}:${String(r['name'])}`).sort()).toEqual(['1:theirs', '2:theirs', '3:mine']);
    await mine.close();
  });

  describe('read back by PyIceberg', () => {
    beforeAll(ensureVenv, VENV_TIMEOUT_MS);

    it("PyIceberg's GlueCatalog loads our table from moto and scans the exact rows after appends and an overwrite", async () => {
      const catalog = await open();
      const db = randomDb();
      dbs.push(db);
      await catalog.createNamespace([db]);
      const rich = new Schema([
        T.field(1, 'id', T.long(), true),
        T.field(2, 'name', T.string()),
        T.field(3, 'amount', T.decimal(9, 2)),
        T.field(4, 'ts', T.timestamptz()),
      ]);
      const t = new Table(catalog, await catalog.createTable(ident(db, 'events'), { schema: rich }));
      const rows = (xs: Array<[number, string | null, bigint | null, bigint | null]>) =>
        xs.map(([id, name, amount, ts]) => ({ id: BigInt(id), name, amount, ts }));
      const first = rows([[1, 'a', 12345n, 1_700_000_000_000_001n], [2, 'b', -1n, null]]);
      const s1 = await t.append([rowsToRecordBatch(rich, first)]);
      await t.append([rowsToRecordBatch(rich, rows([[3, null, null, 0n]]))]);
      await t.overwrite('id = 2', [rowsToRecordBatch(rich, rows([[2, 'b2', 99n, 1n]]))]);

      const pyProps = Object.fromEntries(Object.entries(props).filter(([k]) => (k.startsWith('glue.') && k !== 'glue.endpoint') || k.startsWith('s3.')));
      const expected = canonicalRows(rich, rows([[1, 'a', 12345n, 1_700_000_000_000_001n], [2, 'b2', 99n, 1n], [3, null, null, 0n]]));
      expect(await readWithPyIcebergGlue({ endpoint: ENDPOINT!, table: `${db}.events`, properties: pyProps })).toEqual(expected);
      expect(await readWithPyIcebergGlue({ endpoint: ENDPOINT!, table: `${db}.events`, properties: pyProps, snapshotId: s1.snapshotId })).toEqual(
        canonicalRows(rich, first),
      );
    });
  });
});

describe('GlueCatalog: failures name the endpoint and keep secrets', () => {
  it('an unreachable endpoint fails with a sentence naming the URL tried, without the credentials', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const catalog = await GlueCatalog.open({ name: 'glue_test', endpoint: url, accessKeyId: 'AKIADONOTPRINT', secretAccessKey: 'do-not-print-this' });
    try {
      const err = await errorOf(catalog.namespaceExists(['lakehouse']));
      expect(err.code).toBe('IO_ERROR');
      expect(err.message).toContain(url);
      expect(err.message).not.toMatch(/AKIADONOTPRINT|do-not-print-this/);
    } finally {
      await catalog.close();
    }
  });
});
