import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresSettingsFromUri } from '../../catalog/postgres-driver.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch, type TableIdentifier, Schema, Table, T, CommitConflictError, CommitStateUnknownError } from '../../iceberg/index.ts';
import { type FileIO, LocalFileIO } from '../../iceberg/io/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import { catalogConformance } from '../catalog-conformance.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg, warehouseUri, writeWithPyIceberg } from '../interop/readers.ts';

/**
 * SqlCatalog on a real PostgreSQL server (no fake: a fake would not show real locking), the one that writers on several machines
 * share. The server comes from the services setup, which exports its URI; names are random per run
 * and per test, so the suite runs against a long-lived server and beside other runs.
 */
const PG_URI = process.env['LAKEHOUSE_PG_URI'];
if (!PG_URI) {
  throw new Error(
    'LAKEHOUSE_PG_URI is not set. These tests need a running PostgreSQL server: start it with infra/services/postgres.sh ' +
      '(127.0.0.1:15432, database/user/password lakehouse) and export LAKEHOUSE_PG_URI=postgresql://lakehouse:lakehouse@127.0.0.1:15432/lakehouse.',
  );
}
const uri: string = PG_URI;

const suffix = () => randomBytes(5).toString('hex');
const schema = () => new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string())]);
const ident = (namespace: string, name: string): TableIdentifier => ({ namespace: [namespace], name });

const warehouseDir = mkdtempSync(join(tmpdir(), 'lh-pg-catalog-'));
afterAll(() => rmSync(warehouseDir, { recursive: true, force: true }));

/** A catalog_name of its own per run: what this run writes is invisible to other runs on the same server. */
const catalogName = `it_${suffix()}`;
const openCatalog = (extra: Partial<Parameters<typeof SqlCatalog.open>[0]> = {}) =>
  SqlCatalog.open({ name: catalogName, uri, warehouse: join(warehouseDir, 'wh'), env: {}, ...extra });

async function errorOf(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw new Error(`expected a LakehouseError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a rejection, but the call succeeded');
}

/** A direct connection for what the catalog never does: inspect the schema, hold a row lock, end a backend. */
async function adminClient(): Promise<pg.Client> {
  const s = postgresSettingsFromUri(uri, {}, {});
  const client = new pg.Client({
    host: s.host,
    port: s.port,
    database: s.database,
    user: s.user,
    ssl: s.ssl,
    ...(s.password === undefined ? {} : { password: s.password }),
  });
  await client.connect();
  return client;
}

/** `uri` with its user info, host:port or database replaced. */
function variant(change: (u: URL) => void): string {
  const u = new URL(uri.replace(/^[a-z0-9+]+:/i, 'postgresql:'));
  change(u);
  return u.toString();
}

catalogConformance('SqlCatalog (PostgreSQL)', () => openCatalog());

describe('SqlCatalog on PostgreSQL', () => {
  let catalog: SqlCatalog;
  let ns: string;
  beforeAll(async () => {
    catalog = await openCatalog();
    ns = `pg_${suffix()}`;
    await catalog.createNamespace([ns]);
  });
  afterAll(async () => {
    for (const t of await catalog.listTables([ns])) await catalog.dropTable(t, { purge: true });
    await catalog.dropNamespace([ns]);
    await catalog.close();
  });

  it('creates the JDBC catalog tables with the columns, types and keys Java and PyIceberg use', async () => {
    const admin = await adminClient();
    try {
      const { rows } = await admin.query<{ table_name: string; column_name: string; data_type: string; len: number | null }>(
        "SELECT table_name, column_name, data_type, character_maximum_length AS len FROM information_schema.columns " +
          "WHERE table_schema = current_schema() AND table_name IN ('iceberg_tables', 'iceberg_namespace_properties') ORDER BY table_name, ordinal_position",
      );
      expect(rows.map((r) => [r.table_name, r.column_name, r.data_type, r.len])).toEqual([
        ['iceberg_namespace_properties', 'catalog_name', 'character varying', 255],
        ['iceberg_namespace_properties', 'namespace', 'character varying', 255],
        ['iceberg_namespace_properties', 'property_key', 'character varying', 255],
        ['iceberg_namespace_properties', 'property_value', 'character varying', 1000],
        ['iceberg_tables', 'catalog_name', 'character varying', 255],
        ['iceberg_tables', 'table_namespace', 'character varying', 255],
        ['iceberg_tables', 'table_name', 'character varying', 255],
        ['iceberg_tables', 'metadata_location', 'character varying', 1000],
        ['iceberg_tables', 'previous_metadata_location', 'character varying', 1000],
        ['iceberg_tables', 'iceberg_type', 'character varying', 5],
      ]);
      const keys = await admin.query<{ table_name: string; column_name: string }>(
        'SELECT k.table_name, k.column_name FROM information_schema.key_column_usage k JOIN information_schema.table_constraints c ' +
          "ON c.constraint_name = k.constraint_name AND c.table_schema = k.table_schema WHERE c.constraint_type = 'PRIMARY KEY' " +
          "AND k.table_schema = current_schema() AND k.table_name IN ('iceberg_tables', 'iceberg_namespace_properties') ORDER BY k.table_name, k.ordinal_position",
      );
      expect(keys.rows.map((r) => `${r.table_name}.${r.column_name}`)).toEqual([
        'iceberg_namespace_properties.catalog_name',
        'iceberg_namespace_properties.namespace',
        'iceberg_namespace_properties.property_key',
        'iceberg_tables.catalog_name',
        'iceberg_tables.table_namespace',
        'iceberg_tables.table_name',
      ]);
    } finally {
      await admin.end();
    }
  });

  it('writes the rows Java and PyIceberg expect: dotted namespace, TABLE type, previous location', async () => {
    const nested = [ns, 'inner'];
    await catalog.createNamespace(nested);
    const id = { namespace: nested, name: 'rows' };
    const t = await catalog.createTable(id, { schema: schema() });
    const next = await catalog.commitTable(id, [], [{ action: 'set-properties', updates: { x: 'y' } }]);
    const admin = await adminClient();
    try {
      const { rows } = await admin.query(
        'SELECT table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2',
        [catalogName, `${ns}.inner`],
      );
      expect(rows).toEqual([
        { table_namespace: `${ns}.inner`, table_name: 'rows', metadata_location: next.metadataLocation, previous_metadata_location: t.metadataLocation, iceberg_type: 'TABLE' },
      ]);
      const props = await admin.query('SELECT property_key, property_value FROM iceberg_namespace_properties WHERE catalog_name = $1 AND namespace = $2', [
        catalogName,
        `${ns}.inner`,
      ]);
      expect(props.rows).toEqual([{ property_key: 'exists', property_value: 'true' }]);
    } finally {
      await admin.end();
      await catalog.dropTable(id);
      await catalog.dropNamespace(nested);
    }
  });

  it('lets exactly one of two instances win a CAS race on the same base; the loser gets CommitConflictError and its file is deleted', async () => {
    const id = ident(ns, 'race');
    const t = await catalog.createTable(id, { schema: schema() });
    const winner = await openCatalog();
    // The loser stops after reading its base and writing its next metadata file, until the winner has committed.
    let release!: () => void;
    const winnerCommitted = new Promise<void>((r) => (release = r));
    let loserFile = '';
    const loser = await openCatalog({
      io: withWrite(new LocalFileIO(), async (write, location) => {
        await write();
        if (location.endsWith('.metadata.json')) {
          loserFile = location;
          await winnerCommitted;
        }
      }),
    });
    try {
      const req = [{ type: 'assert-table-uuid' as const, uuid: t.metadata.tableUuid }];
      const losing = errorOf(loser.commitTable(id, req, [{ action: 'set-properties', updates: { who: 'loser' } }]));
      while (loserFile === '') await new Promise((r) => setTimeout(r, 5));
      const won = await winner.commitTable(id, req, [{ action: 'set-properties', updates: { who: 'winner' } }]);
      release();

      const err = await losing;
      expect(err).toBeInstanceOf(CommitConflictError);
      expect(err.retryable).toBe(true);
      expect(existsSync(new URL(loserFile))).toBe(false);
      const current = await catalog.loadTable(id);
      expect(current.metadataLocation).toBe(won.metadataLocation);
      expect(current.metadata.properties['who']).toBe('winner');
      expect(current.metadata.metadataLog.map((m) => m.metadataFile)).toEqual([t.metadataLocation]);
    } finally {
      release();
      await winner.close();
      await loser.close();
    }
  });

  it('answers CommitStateUnknownError and keeps the metadata file when the connection dies during the CAS update', async () => {
    const id = ident(ns, 'lost');
    const t = await catalog.createTable(id, { schema: schema() });
    const committer = await openCatalog();
    const admin = await adminClient();
    try {
      // Hold the table's row so the committer's UPDATE waits on it, then end that backend mid-statement.
      await admin.query('BEGIN');
      await admin.query('SELECT 1 FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 FOR UPDATE', [
        catalogName,
        ns,
        'lost',
      ]);
      const committing = errorOf(committer.commitTable(id, [], [{ action: 'set-properties', updates: { k: 'v' } }]));
      let pid: number | undefined;
      while (pid === undefined) {
        const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))');
        pid = rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);

      const err = await committing;
      expect(err).toBeInstanceOf(CommitStateUnknownError);
      expect(err.message).toMatch(/may or may not have landed/);
      await admin.query('ROLLBACK');
      // It did not land here, but the committer could not know: its file must still be there.
      expect((await catalog.loadTable(id)).metadataLocation).toBe(t.metadataLocation);
      const metadataFiles: string[] = [];
      for await (const f of t.io.list(t.metadataLocation.replace(/\/[^/]+$/, ''))) {
        if (f.location.endsWith('.metadata.json')) metadataFiles.push(f.location);
      }
      expect(metadataFiles).toHaveLength(2);
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
      await admin.end();
      await committer.close();
    }
  });

  it('keeps working after the server ends its idle pooled connections', async () => {
    const admin = await adminClient();
    let other: SqlCatalog | undefined;
    try {
      // An application name of its own, so only this catalog's connections are ended on a shared server.
      const app = `lh_test_${suffix()}`;
      other = await openCatalog({ uri: variant((u) => u.searchParams.set('application_name', app)) });
      await other.listNamespaces();
      const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'", [app]);
      expect(ended.rowCount).toBeGreaterThan(0);
      // Lets the pool receive the server's goodbye and drop the connection (a wait, not an assertion).
      await new Promise((r) => setTimeout(r, 200));
      expect(await other.namespaceExists([ns])).toBe(true);
    } finally {
      await admin.end();
      await other?.close();
    }
  });
});

describe('opening a PostgreSQL catalog that cannot connect', () => {
  const password = `pw_${suffix()}`;

  it('names host:port and how to fix it when nothing listens there, without the password', async () => {
    const port = await freePort();
    const err = await errorOf(openCatalog({ uri: `postgresql://lakehouse:${password}@127.0.0.1:${port}/lakehouse` }));
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toMatch(new RegExp(`^Cannot reach the PostgreSQL server at 127\\.0\\.0\\.1:${port} \\(.*\\); start it .* or fix the host and port in the catalog uri\\.$`));
    expect(err.message).not.toContain(password);
  });

  it('says the password was rejected without echoing it', async (ctx) => {
    const wrong = variant((u) => (u.password = password));
    let catalog: SqlCatalog | undefined;
    try {
      catalog = await openCatalog({ uri: wrong });
    } catch (e) {
      const err = e as LakehouseError;
      const s = postgresSettingsFromUri(uri, {}, {});
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toBe(
        `PostgreSQL at ${s.host}:${s.port} rejected the password for user "${s.user}"; check the password in the catalog uri ` +
          '(postgresql://user:password@host:port/database) or the jdbc.password property.',
      );
      expect(JSON.stringify({ message: err.message, context: err.context })).not.toContain(password);
      return;
    }
    await catalog.close();
    // A server that trusts local connections accepts any password; there is nothing to reject.
    ctx.skip();
  });

  it('says which database is missing and how to create it', async () => {
    const db = `missing_${suffix()}`;
    const err = await errorOf(openCatalog({ uri: variant((u) => (u.pathname = `/${db}`)) }));
    const s = postgresSettingsFromUri(uri, {}, {});
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toBe(
      `Database "${db}" does not exist on the PostgreSQL server at ${s.host}:${s.port}; create it ` +
        `(createdb -h ${s.host} -p ${s.port} -U ${s.user} ${db}) or fix the database name in the catalog uri.`,
    );
  });

  it('opens the same catalog through the JDBC form with jdbc.user / jdbc.password properties', async () => {
    const s = postgresSettingsFromUri(uri, {}, {});
    const jdbc = await openCatalog({
      uri: `jdbc:postgresql://${s.host}:${s.port}/${s.database}`,
      properties: { 'jdbc.user': s.user, ...(s.password === undefined ? {} : { 'jdbc.password': s.password }) },
    });
    const sqla = await openCatalog({ uri: uri.replace(/^postgres(ql)?(\+\w+)?:/i, 'postgresql+psycopg2:') });
    try {
      const ns = `jdbc_${suffix()}`;
      await jdbc.createNamespace([ns]);
      expect(await sqla.namespaceExists([ns])).toBe(true);
      await sqla.dropNamespace([ns]);
    } finally {
      await jdbc.close();
      await sqla.close();
    }
  });
});

describe('PyIceberg SqlCatalog on the same PostgreSQL catalog', () => {
  let catalog: SqlCatalog;
  let ns: string;
  beforeAll(async () => {
    await ensureVenv();
    catalog = await openCatalog();
    ns = `py_${suffix()}`;
    await catalog.createNamespace([ns]);
  }, VENV_TIMEOUT_MS);
  afterAll(async () => {
    for (const t of await catalog.listTables([ns])) await catalog.dropTable(t, { purge: true });
    await catalog.dropNamespace([ns]);
    await catalog.close();
  });

  const ref = (table: string) => ({ catalogUri: uri, warehouse: warehouseUri(join(warehouseDir, 'wh')), table: `${ns}.${table}`, catalogName });

  it('reads the rows of a table we created and appended to, through postgresql:// and postgresql+psycopg2://', async () => {
    const rows = [
      { id: 1n, name: 'a' },
      { id: 2n, name: null },
      { id: 3n, name: 'c' },
    ];
    const table = new Table(catalog, await catalog.createTable(ident(ns, 'ours'), { schema: schema() }));
    await table.append([rowsToRecordBatch(schema(), rows.slice(0, 2))]);
    await table.append([rowsToRecordBatch(schema(), rows.slice(2))]);
    expect(await readWithPyIceberg(ref('ours'))).toEqual(canonicalRows(schema(), rows));
    // The SQLAlchemy spelling PyIceberg users write to pick psycopg2 (SQLAlchemy 2.1's default is psycopg 3).
    const psycopg2Uri = uri.replace(/^postgres(ql)?(\+\w+)?:/i, 'postgresql+psycopg2:');
    expect(await readWithPyIceberg({ ...ref('ours'), catalogUri: psycopg2Uri })).toEqual(canonicalRows(schema(), rows));
  });

  it('writes a table that we then load and read', async () => {
    const rows = [
      { id: 10n, name: 'x' },
      { id: 11n, name: 'y' },
    ];
    const written = await writeWithPyIceberg({ ...ref('theirs'), schema: schema(), rows });
    const loaded = await catalog.loadTable(ident(ns, 'theirs'));
    expect(loaded.metadataLocation).toBe(written.metadataLocation);
    const read = await new Table(catalog, loaded).readRows();
    expect(canonicalRows(schema(), read)).toEqual(canonicalRows(schema(), rows));
  });
});

/** `io` whose `write` goes through `around`, which must call `write()` to do the real write. */
function withWrite(io: FileIO, around: (write: () => Promise<void>, location: string) => Promise<void>): FileIO {
  return new Proxy(io, {
    get(target, prop) {
      if (prop === 'write') {
        return (location: string, data: Uint8Array, options?: Parameters<FileIO['write']>[2]) =>
          around(() => target.write(location, data, options), location);
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
