import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../catalog/catalog.ts';
import { SqlCatalog, normalizeWarehouse, sqlitePathFromUri } from '../../catalog/sql-catalog.ts';
import type { TableIdentifier } from '../../iceberg/catalog-port.ts';
import { CommitConflictError, LakehouseError } from '../../iceberg/errors.ts';
import type { FileIO } from '../../iceberg/file-io.ts';
import { LocalFileIO } from '../../iceberg/io/local-file-io.ts';
import { writeManifest } from '../../iceberg/manifest.ts';
import { writeManifestList } from '../../iceberg/manifest-list.ts';
import { DataFileContent, ManifestEntryStatus } from '../../iceberg/manifest-types.ts';
import { Schema } from '../../iceberg/schema.ts';
import { generateSnapshotId } from '../../iceberg/table-metadata-builder.ts';
import { T } from '../../iceberg/types.ts';

const schema = () => new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string())]);
const id = (ns: string, name: string): TableIdentifier => ({ namespace: ns.split('.'), name });
/** A namespace per test, like iceberg-rust's `random_ns`, so no test depends on another's leftovers. */
const randomNs = () => `ns_${randomUUID().slice(0, 8)}`;

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

const toPath = (location: string) => location.replace(/^file:\/\//, '');

/**
 * The behaviour every catalog must show (STYLE habit 10, iceberg-go `catalogtest`). `open` gives a
 * fresh catalog over `dir`; a second call over the same `dir` must see the same state.
 */
function catalogConformance(label: string, open: (dir: string) => Promise<Catalog>): void {
  describe(`${label} conformance`, () => {
    let dir: string;
    let catalog: Catalog;
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lh-catalog-'));
      catalog = await open(dir);
    });
    afterEach(async () => {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    });

    describe('namespaces', () => {
      it('creates a namespace that then exists and is listed', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns]);
        expect(await catalog.namespaceExists([ns])).toBe(true);
        expect(await catalog.listNamespaces()).toContainEqual([ns]);
      });

      it('refuses to create a namespace twice', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns]);
        expect(await codeOf(catalog.createNamespace([ns]))).toBe('ALREADY_EXISTS');
      });

      it('lists children of a parent and counts a parent of a child as existing', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns, 'a']);
        await catalog.createNamespace([ns, 'b', 'deep']);
        expect(await catalog.namespaceExists([ns])).toBe(true);
        expect(await catalog.listNamespaces([ns])).toEqual([
          [ns, 'a'],
          [ns, 'b'],
        ]);
        expect(await catalog.listNamespaces()).toContainEqual([ns]);
      });

      it('stores properties and hides the reserved exists marker', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns], { owner: 'data-eng', comment: 'events' });
        expect(await catalog.loadNamespaceProperties([ns])).toEqual({ owner: 'data-eng', comment: 'events' });
      });

      it('updates and removes properties and reports what it did', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns], { a: '1', b: '2' });
        const summary = await catalog.updateNamespaceProperties([ns], ['a', 'zz'], { b: '20', c: '3' });
        expect(summary).toEqual({ removed: ['a'], updated: ['b', 'c'], missing: ['zz'] });
        expect(await catalog.loadNamespaceProperties([ns])).toEqual({ b: '20', c: '3' });
      });

      it('keeps a namespace whose every property was removed', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns], { a: '1' });
        await catalog.updateNamespaceProperties([ns], ['a'], {});
        expect(await catalog.namespaceExists([ns])).toBe(true);
      });

      it('drops an empty namespace', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns]);
        await catalog.dropNamespace([ns]);
        expect(await catalog.namespaceExists([ns])).toBe(false);
      });

      it('refuses to drop a namespace with a table or a child namespace', async () => {
        const ns = randomNs();
        await catalog.createNamespace([ns]);
        await catalog.createTable(id(ns, 't'), { schema: schema() });
        expect(await codeOf(catalog.dropNamespace([ns]))).toBe('NAMESPACE_NOT_EMPTY');
        const parent = randomNs();
        await catalog.createNamespace([parent]);
        await catalog.createNamespace([parent, 'child']);
        expect(await codeOf(catalog.dropNamespace([parent]))).toBe('NAMESPACE_NOT_EMPTY');
      });

      it('answers NAMESPACE_NOT_FOUND for a missing namespace', async () => {
        expect(await codeOf(catalog.loadNamespaceProperties(['nope']))).toBe('NAMESPACE_NOT_FOUND');
        expect(await codeOf(catalog.dropNamespace(['nope']))).toBe('NAMESPACE_NOT_FOUND');
        expect(await codeOf(catalog.listTables(['nope']))).toBe('NAMESPACE_NOT_FOUND');
      });

      it('rejects a namespace level containing a dot', async () => {
        expect(await codeOf(catalog.createNamespace(['a.b']))).toBe('INVALID_ARGUMENT');
      });
    });

    describe('tables', () => {
      let ns: string;
      beforeEach(async () => {
        ns = randomNs();
        await catalog.createNamespace([ns]);
      });

      it('creates a table whose metadata loads back', async () => {
        const created = await catalog.createTable(id(ns, 'events'), { schema: schema(), properties: { owner: 'me' } });
        const loaded = await catalog.loadTable(id(ns, 'events'));
        expect(loaded.metadataLocation).toBe(created.metadataLocation);
        expect(loaded.metadata.tableUuid).toBe(created.metadata.tableUuid);
        expect(loaded.metadata.properties['owner']).toBe('me');
        expect(loaded.metadataLocation).toMatch(/\/metadata\/00000-[0-9a-f-]{36}\.metadata\.json$/);
      });

      it('lists and finds tables of a namespace', async () => {
        await catalog.createTable(id(ns, 'b'), { schema: schema() });
        await catalog.createTable(id(ns, 'a'), { schema: schema() });
        expect(await catalog.listTables([ns])).toEqual([id(ns, 'a'), id(ns, 'b')]);
        expect(await catalog.tableExists(id(ns, 'a'))).toBe(true);
        expect(await catalog.tableExists(id(ns, 'c'))).toBe(false);
      });

      it('refuses to create a table twice or in a missing namespace', async () => {
        await catalog.createTable(id(ns, 't'), { schema: schema() });
        expect(await codeOf(catalog.createTable(id(ns, 't'), { schema: schema() }))).toBe('ALREADY_EXISTS');
        expect(await codeOf(catalog.createTable(id('missing', 't'), { schema: schema() }))).toBe('NAMESPACE_NOT_FOUND');
      });

      it('says how to fix loading a missing table', async () => {
        const err = await errorOf(catalog.loadTable(id(ns, 'ghost')));
        expect(err.code).toBe('TABLE_NOT_FOUND');
        expect(err.message).toBe(
          `Table ${ns}.ghost does not exist in catalog '${catalog.name}'; create it with \`lakehouse tables create\` or check the name.`,
        );
      });

      it('uses an explicit location', async () => {
        const t = await catalog.createTable(id(ns, 't'), { schema: schema(), location: `${dir}/elsewhere/t/` });
        expect(t.metadata.location).toBe(`file://${dir}/elsewhere/t`);
        expect(existsSync(toPath(t.metadataLocation))).toBe(true);
      });

      it('drops a table but keeps its files without purge', async () => {
        const t = await catalog.createTable(id(ns, 't'), { schema: schema() });
        await catalog.dropTable(id(ns, 't'));
        expect(await catalog.tableExists(id(ns, 't'))).toBe(false);
        expect(existsSync(toPath(t.metadataLocation))).toBe(true);
        expect(await codeOf(catalog.dropTable(id(ns, 't')))).toBe('TABLE_NOT_FOUND');
      });

      it('renames a table, also into another namespace', async () => {
        const t = await catalog.createTable(id(ns, 'old'), { schema: schema() });
        const other = randomNs();
        await catalog.createNamespace([other]);
        await catalog.renameTable(id(ns, 'old'), id(other, 'new'));
        expect(await catalog.tableExists(id(ns, 'old'))).toBe(false);
        expect((await catalog.loadTable(id(other, 'new'))).metadataLocation).toBe(t.metadataLocation);
      });

      it('refuses a rename onto an existing table or into a missing namespace', async () => {
        await catalog.createTable(id(ns, 'a'), { schema: schema() });
        await catalog.createTable(id(ns, 'b'), { schema: schema() });
        expect(await codeOf(catalog.renameTable(id(ns, 'a'), id(ns, 'b')))).toBe('ALREADY_EXISTS');
        expect(await codeOf(catalog.renameTable(id(ns, 'a'), id('missing', 'a')))).toBe('NAMESPACE_NOT_FOUND');
        expect(await codeOf(catalog.renameTable(id(ns, 'ghost'), id(ns, 'c')))).toBe('TABLE_NOT_FOUND');
      });

      it('registers an existing metadata file under a new name', async () => {
        const t = await catalog.createTable(id(ns, 'src'), { schema: schema() });
        await catalog.dropTable(id(ns, 'src'));
        const registered = await catalog.registerTable(id(ns, 'copy'), t.metadataLocation);
        expect(registered.metadata.tableUuid).toBe(t.metadata.tableUuid);
        expect((await catalog.loadTable(id(ns, 'copy'))).metadataLocation).toBe(t.metadataLocation);
        expect(await codeOf(catalog.registerTable(id(ns, 'copy'), t.metadataLocation))).toBe('ALREADY_EXISTS');
      });

      it('commits updates as a new metadata version that records the previous one', async () => {
        const t = await catalog.createTable(id(ns, 't'), { schema: schema() });
        const next = await catalog.commitTable(
          id(ns, 't'),
          [{ type: 'assert-table-uuid', uuid: t.metadata.tableUuid }],
          [{ action: 'set-properties', updates: { 'commit.retry.num-retries': '7' } }],
        );
        expect(next.metadataLocation).toMatch(/\/metadata\/00001-[0-9a-f-]{36}\.metadata\.json$/);
        expect(next.metadata.metadataLog.map((m) => m.metadataFile)).toEqual([t.metadataLocation]);
        const loaded = await catalog.loadTable(id(ns, 't'));
        expect(loaded.metadataLocation).toBe(next.metadataLocation);
        expect(loaded.metadata.properties['commit.retry.num-retries']).toBe('7');
      });

      it('rejects a commit whose requirement fails and writes no metadata file', async () => {
        const t = await catalog.createTable(id(ns, 't'), { schema: schema() });
        const metadataDir = toPath(t.metadataLocation).replace(/\/[^/]+$/, '');
        const err = await errorOf(
          catalog.commitTable(id(ns, 't'), [{ type: 'assert-table-uuid', uuid: randomUUID() }], [{ action: 'set-properties', updates: { a: 'b' } }]),
        );
        expect(err).toBeInstanceOf(CommitConflictError);
        expect(readdirSync(metadataDir)).toHaveLength(1);
      });

      it('sees a commit made through a second instance', async () => {
        const t = await catalog.createTable(id(ns, 't'), { schema: schema() });
        const other = await open(dir);
        try {
          const next = await other.commitTable(id(ns, 't'), [{ type: 'assert-table-uuid', uuid: t.metadata.tableUuid }], [
            { action: 'set-properties', updates: { k: 'v' } },
          ]);
          expect((await catalog.loadTable(id(ns, 't'))).metadataLocation).toBe(next.metadataLocation);
        } finally {
          await other.close();
        }
      });

      it('purges metadata, manifest lists, manifests and data files but not unreferenced files', async () => {
        const t = await catalog.createTable(id(ns, 'p'), { schema: schema() });
        const io = t.io;
        const loc = t.metadata.location;
        const dataFile = `${loc}/data/00000-0.parquet`;
        await io.write(dataFile, new Uint8Array([1, 2, 3]));
        const snapshotId = generateSnapshotId();
        const manifest = await writeManifest(io, `${loc}/metadata/m0.avro`, {
          schema: t.metadata.schemas[0]!,
          spec: t.metadata.partitionSpecs[0]!,
          formatVersion: 2,
          snapshotId,
          entries: [
            {
              status: ManifestEntryStatus.ADDED,
              snapshotId,
              sequenceNumber: null,
              fileSequenceNumber: null,
              dataFile: {
                content: DataFileContent.DATA,
                filePath: dataFile,
                fileFormat: 'PARQUET',
                partition: [],
                recordCount: 1,
                fileSizeInBytes: 3,
                specId: 0,
              },
            },
          ],
        });
        const manifestList = `${loc}/metadata/snap-${snapshotId}.avro`;
        await writeManifestList(io, manifestList, { formatVersion: 2, snapshotId, parentSnapshotId: null, sequenceNumber: 1n, manifests: [manifest] });
        const committed = await catalog.commitTable(id(ns, 'p'), [{ type: 'assert-table-uuid', uuid: t.metadata.tableUuid }], [
          {
            action: 'add-snapshot',
            snapshot: { snapshotId, parentSnapshotId: null, sequenceNumber: 1, timestampMs: Date.now(), manifestList, summary: { operation: 'append' }, schemaId: 0 },
          },
          { action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId, type: 'branch' } },
        ]);
        const orphan = `${toPath(loc)}/data/orphan.parquet`;
        writeFileSync(orphan, 'not referenced');

        await catalog.dropTable(id(ns, 'p'), { purge: true });

        for (const f of [t.metadataLocation, committed.metadataLocation, manifestList, manifest.manifestPath, dataFile]) {
          expect(existsSync(toPath(f)), f).toBe(false);
        }
        expect(existsSync(orphan)).toBe(true);
        expect(await catalog.tableExists(id(ns, 'p'))).toBe(false);
      });
    });
  });
}

const openSql = (dir: string, extra: Partial<Parameters<typeof SqlCatalog.open>[0]> = {}) =>
  SqlCatalog.open({ name: 'default', uri: `sqlite:///${dir}/catalog.db`, warehouse: `${dir}/warehouse`, env: {}, ...extra });

catalogConformance('SqlCatalog (SQLite)', (dir) => openSql(dir));

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

describe('normalizeWarehouse', () => {
  it('turns paths into absolute file URIs and leaves s3 alone', () => {
    expect(normalizeWarehouse('./wh/', '/work')).toBe('file:///work/wh');
    expect(normalizeWarehouse('/data/wh', '/work')).toBe('file:///data/wh');
    expect(normalizeWarehouse('file:/data/wh', '/work')).toBe('file:///data/wh');
    expect(normalizeWarehouse('s3://bucket/wh/', '/work')).toBe('s3://bucket/wh');
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
  };
}
