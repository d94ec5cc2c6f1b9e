import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog, sqlitePathFromUri } from '../../catalog/sql-catalog.ts';
import { normalizeLocation } from '../../catalog/pointer-catalog.ts';
import { type TableIdentifier, Schema, T, CommitConflictError } from '../../iceberg/index.ts';
import { type FileIO, LocalFileIO } from '../../iceberg/io/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import { catalogConformance } from '../catalog-conformance.ts';

/** SQLite specifics: the JDBC table layout, file locations, V0 databases, Java's view rows. */
const schema = () => new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string())]);
const id = (ns: string, name: string): TableIdentifier => ({ namespace: ns.split('.'), name });
const toPath = (location: string) => location.replace(/^file:\/\//, '');

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof LakehouseError ? e.code : `non-lakehouse: ${String(e)}`;
  }
  return 'resolved';
}

async function errorOf(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

const openSql = (dir: string, extra: Partial<Parameters<typeof SqlCatalog.open>[0]> = {}) =>
  SqlCatalog.open({ name: 'default', uri: `sqlite:///${dir}/catalog.db`, warehouse: `${dir}/warehouse`, env: {}, ...extra });

/** One database file and warehouse for the whole conformance run: every test there uses its own random names. */
let sharedDir: string;
beforeAll(() => {
  sharedDir = mkdtempSync(join(tmpdir(), 'lh-catalog-'));
});
afterAll(() => rmSync(sharedDir, { recursive: true, force: true }));

catalogConformance('SqlCatalog (SQLite)', () => openSql(sharedDir));

describe('SqlCatalog on SQLite', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lh-sqlcat-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates exactly the JDBC catalog V1 tables', async () => {
    const catalog = await openSql(dir);
    await catalog.close();
    const db = new Database(`${dir}/catalog.db`, { readonly: true });
    const cols = (t: string) =>
      (db.prepare(`PRAGMA table_info(${t})`).all() as Array<{ name: string; type: string; notnull: number; pk: number }>).map(
        (c) => [c.name, c.type, c.notnull, c.pk],
      );
    expect(cols('iceberg_tables')).toEqual([
      ['catalog_name', 'VARCHAR(255)', 1, 1],
      ['table_namespace', 'VARCHAR(255)', 1, 2],
      ['table_name', 'VARCHAR(255)', 1, 3],
      ['metadata_location', 'VARCHAR(1000)', 0, 0],
      ['previous_metadata_location', 'VARCHAR(1000)', 0, 0],
      ['iceberg_type', 'VARCHAR(5)', 0, 0],
    ]);
    expect(cols('iceberg_namespace_properties')).toEqual([
      ['catalog_name', 'VARCHAR(255)', 1, 1],
      ['namespace', 'VARCHAR(255)', 1, 2],
      ['property_key', 'VARCHAR(255)', 0, 3],
      ['property_value', 'VARCHAR(1000)', 0, 0],
    ]);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('writes rows the way Java and PyIceberg do', async () => {
    const catalog = await openSql(dir);
    await catalog.createNamespace(['a', 'b']);
    const t = await catalog.createTable(id('a.b', 't'), { schema: schema() });
    const next = await catalog.commitTable(id('a.b', 't'), [], [{ action: 'set-properties', updates: { x: 'y' } }]);
    await catalog.close();
    const db = new Database(`${dir}/catalog.db`, { readonly: true });
    expect(db.prepare('SELECT * FROM iceberg_namespace_properties').all()).toEqual([
      { catalog_name: 'default', namespace: 'a.b', property_key: 'exists', property_value: 'true' },
    ]);
    expect(db.prepare('SELECT * FROM iceberg_tables').all()).toEqual([
      {
        catalog_name: 'default',
        table_namespace: 'a.b',
        table_name: 't',
        metadata_location: next.metadataLocation,
        previous_metadata_location: t.metadataLocation,
        iceberg_type: 'TABLE',
      },
    ]);
    db.close();
  });

  it("places a table at <warehouse>/<namespace joined by '.'>/<table> as a file:// URI, like PyIceberg", async () => {
    const catalog = await openSql(dir);
    await catalog.createNamespace(['a', 'b']);
    const t = await catalog.createTable(id('a.b', 't'), { schema: schema() });
    expect(t.metadata.location).toBe(`file://${dir}/warehouse/a.b/t`);
    expect(t.metadataLocation.startsWith(`file://${dir}/warehouse/a.b/t/metadata/00000-`)).toBe(true);
    await catalog.close();
  });

  it("prefers the namespace's location property for new tables", async () => {
    const catalog = await openSql(dir);
    await catalog.createNamespace(['n'], { location: `file://${dir}/custom/` });
    const t = await catalog.createTable(id('n', 't'), { schema: schema() });
    expect(t.metadata.location).toBe(`file://${dir}/custom/t`);
    await catalog.close();
  });

  it('keeps catalogs of different names in one file apart', async () => {
    const a = await openSql(dir, { name: 'a' });
    const b = await openSql(dir, { name: 'b' });
    await a.createNamespace(['shared']);
    expect(await b.namespaceExists(['shared'])).toBe(false);
    await a.close();
    await b.close();
  });

  it('lets only one of two instances win a race on the same base, and deletes the losing metadata file', async () => {
    const setup = await openSql(dir);
    await setup.createNamespace(['ns']);
    const t = await setup.createTable(id('ns', 't'), { schema: schema() });
    await setup.close();

    const winner = await openSql(dir);
    // The loser stops after reading its base and writing its metadata file, until the winner has committed.
    let releaseLoser!: () => void;
    const winnerDone = new Promise<void>((r) => (releaseLoser = r));
    let loserFile = '';
    const local = new LocalFileIO();
    const pausingIo: FileIO = {
      ...bind(local),
      write: async (loc, data, opts) => {
        await local.write(loc, data, opts);
        if (loc.endsWith('.metadata.json')) {
          loserFile = loc;
          await winnerDone;
        }
      },
    };
    const loser = await openSql(dir, { io: pausingIo });

    const req = [{ type: 'assert-table-uuid' as const, uuid: t.metadata.tableUuid }];
    const losing = loser.commitTable(id('ns', 't'), req, [{ action: 'set-properties', updates: { who: 'loser' } }]);
    while (loserFile === '') await new Promise((r) => setTimeout(r, 5));
    const won = await winner.commitTable(id('ns', 't'), req, [{ action: 'set-properties', updates: { who: 'winner' } }]);
    releaseLoser();

    const err = await errorOf(losing);
    expect(err).toBeInstanceOf(CommitConflictError);
    expect(err.retryable).toBe(true);
    expect(existsSync(toPath(loserFile))).toBe(false);
    const current = await winner.loadTable(id('ns', 't'));
    expect(current.metadataLocation).toBe(won.metadataLocation);
    expect(current.metadata.properties['who']).toBe('winner');
    await winner.close();
    await loser.close();
  });

  it('reads a V0 catalog (no iceberg_type column) without changing its schema', async () => {
    const db = new Database(`${dir}/catalog.db`);
    db.exec(
      'CREATE TABLE iceberg_tables(catalog_name VARCHAR(255) NOT NULL,table_namespace VARCHAR(255) NOT NULL,table_name VARCHAR(255) NOT NULL,' +
        'metadata_location VARCHAR(1000),previous_metadata_location VARCHAR(1000),PRIMARY KEY (catalog_name, table_namespace, table_name))',
    );
    db.close();
    const catalog = await openSql(dir);
    await catalog.createNamespace(['v0']);
    await catalog.createTable(id('v0', 't'), { schema: schema() });
    expect(await catalog.listTables(['v0'])).toEqual([id('v0', 't')]);
    await catalog.close();
    const check = new Database(`${dir}/catalog.db`, { readonly: true });
    const cols = (check.prepare('PRAGMA table_info(iceberg_tables)').all() as Array<{ name: string }>).map((c) => c.name);
    expect(cols).not.toContain('iceberg_type');
    check.close();
  });

  it('does not list or load view rows written by Java', async () => {
    const catalog = await openSql(dir);
    await catalog.createNamespace(['v']);
    await catalog.close();
    const db = new Database(`${dir}/catalog.db`);
    db.prepare("INSERT INTO iceberg_tables VALUES ('default', 'v', 'a_view', 'file:///x/v.metadata.json', NULL, 'VIEW')").run();
    db.close();
    const again = await openSql(dir);
    expect(await again.listTables(['v'])).toEqual([]);
    expect(await codeOf(again.loadTable(id('v', 'a_view')))).toBe('TABLE_NOT_FOUND');
    expect(await codeOf(again.dropNamespace(['v']))).toBe('NAMESPACE_NOT_EMPTY');
    await again.close();
  });

  it('creates the folder of the database file', async () => {
    const catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${dir}/new/dir/c.db`, warehouse: dir, env: {} });
    await catalog.close();
    expect(existsSync(`${dir}/new/dir/c.db`)).toBe(true);
  });
});

describe('sqlitePathFromUri', () => {
  it('follows SQLAlchemy: four slashes absolute, three relative', () => {
    expect(sqlitePathFromUri('sqlite:////var/lh/catalog.db', '/work')).toBe('/var/lh/catalog.db');
    expect(sqlitePathFromUri('sqlite:///warehouse/catalog.db', '/work')).toBe('/work/warehouse/catalog.db');
  });

  it('accepts JDBC URIs, plain paths and memory', () => {
    expect(sqlitePathFromUri('jdbc:sqlite:/var/c.db', '/work')).toBe('/var/c.db');
    expect(sqlitePathFromUri('jdbc:sqlite:file:/var/c.db', '/work')).toBe('/var/c.db');
    expect(sqlitePathFromUri('c.db', '/work')).toBe('/work/c.db');
    expect(sqlitePathFromUri('sqlite://', '/work')).toBe(':memory:');
    expect(sqlitePathFromUri('sqlite:///:memory:', '/work')).toBe(':memory:');
  });

  it('names SQLite as the only supported database for other URIs', () => {
    expect(() => sqlitePathFromUri('postgresql://u:p@h/db')).toThrow(/SQLite only/);
  });
});

describe('normalizeLocation', () => {
  it('turns paths into absolute file URIs and leaves s3 alone', () => {
    expect(normalizeLocation('./wh/', '/work')).toBe('file:///work/wh');
    expect(normalizeLocation('/data/wh', '/work')).toBe('file:///data/wh');
    expect(normalizeLocation('file:/data/wh', '/work')).toBe('file:///data/wh');
    expect(normalizeLocation('s3://bucket/wh/', '/work')).toBe('s3://bucket/wh');
  });
});

/** The methods of a class instance as an object, so a test can replace one of them. */
function bind(io: LocalFileIO): FileIO {
  return {
    read: io.read.bind(io),
    readRange: io.readRange.bind(io),
    write: io.write.bind(io),
    exists: io.exists.bind(io),
    size: io.size.bind(io),
    delete: io.delete.bind(io),
    deleteMany: io.deleteMany.bind(io),
    list: io.list.bind(io),
    close: io.close.bind(io),
  };
}
