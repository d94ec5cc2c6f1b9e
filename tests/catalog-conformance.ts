import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../catalog/catalog.ts';
import { rowsToRecordBatch, type Namespace, type TableIdentifier, readManifestList, Schema, Table, T, CommitConflictError, planPartitionChange, planSchemaChange } from '../iceberg/index.ts';
import type { FileIO } from '../iceberg/io/index.ts';
import { LakehouseError } from '../core/errors.ts';

/**
 * The behaviour every catalog must show (like iceberg-go's `catalogtest`): SQLite and
 * PostgreSQL through SqlCatalog, the REST catalog, Glue. A catalog's test file calls
 * `catalogConformance(label, open, opts)`; its own quirks stay in its own file.
 *
 * - `open()` returns a catalog over the same shared state every time (same database, same server):
 *   the suite opens a second instance to see another committer's work and to race two of them.
 * - Every test makes its own namespaces with a random suffix, so the suite can run against a shared,
 *   long-lived server and in parallel with other runs; it removes them (tables purged) afterwards.
 * - Table locations come from the catalog (its warehouse or the namespace's location); files are
 *   checked through the table's own FileIO, so the suite works for `file://` and `s3://` warehouses.
 * - Names are lower case letters, digits and `_` only: Glue lower-cases names and rejects the rest.
 */
export interface CatalogConformanceOptions {
  /**
   * Namespaces nest (`['a', 'b']`), a parent counts as existing while it has children, and listing a
   * parent lists its children. Default true; false for Glue, whose databases are a single level.
   */
  nestedNamespaces?: boolean;
  /** `renameTable` can move a table into another namespace. Default true. */
  renameAcrossNamespaces?: boolean;
  /**
   * A namespace level containing a dot is refused with INVALID_ARGUMENT. Default true: catalogs that
   * store namespaces dot-joined (SQL, as JDBC and PyIceberg do) cannot round-trip it, and Glue database
   * names cannot contain one. A REST client that passes levels through unchanged may set false.
   */
  rejectsDotInNamespaceLevel?: boolean;
  /** Appends each of the two racing committers makes. Default 4. */
  racingAppends?: number;
  /** Timeout of each test in ms, for catalogs behind a network. Default 60 000. */
  timeoutMs?: number;
}

const schema = () => new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string())]);
/** Retry settings for tables that racing committers write to: many quick retries instead of 4 slow ones. */
const RACE_PROPERTIES = { 'commit.retry.num-retries': '40', 'commit.retry.min-wait-ms': '5', 'commit.retry.max-wait-ms': '250' };

/** A random lower-case suffix (iceberg-rust `random_ns`, kafkajs `secureRandom`). */
const suffix = () => randomBytes(5).toString('hex');
const randomName = (prefix: string) => `${prefix}_${suffix()}`;
const ident = (namespace: Namespace, name: string): TableIdentifier => ({ namespace, name });
const batchOf = (rows: Array<{ id: number; name: string | null }>) =>
  rowsToRecordBatch(schema(), rows.map((r) => ({ id: BigInt(r.id), name: r.name })));
const rowsOf = (rows: Record<string, unknown>[]) =>
  rows.map((r) => `${String(r['id'])}:${String(r['name'])}`).sort();
const sorted = <X>(xs: X[], key: (x: X) => string) => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
const byName = (ids: TableIdentifier[]) => sorted(ids, (i) => [...i.namespace, i.name].join('\u001f'));

async function errorOf(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw new Error(`expected a LakehouseError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a rejection, but the call succeeded');
}

const codeOf = async (p: Promise<unknown>) => (await errorOf(p)).code;

/** Folder of a file location (`…/metadata/00000-x.metadata.json` -> `…/metadata`). */
const parentOf = (location: string) => location.replace(/\/[^/]+$/, '');

async function metadataFiles(io: FileIO, metadataLocation: string): Promise<string[]> {
  const out: string[] = [];
  for await (const f of io.list(parentOf(metadataLocation))) if (f.location.endsWith('.metadata.json')) out.push(f.location);
  return out;
}

/** Every file a table's metadata reaches: metadata files, manifest lists, manifests, data files. */
async function referencedFiles(table: Table): Promise<string[]> {
  const files = new Set<string>([table.metadataLocation, ...table.metadata.metadataLog.map((m) => m.metadataFile)]);
  for (const s of table.metadata.snapshots) {
    files.add(s.manifestList);
    for (const m of await readManifestList(table.io, s.manifestList)) files.add(m.manifestPath);
    for (const f of (await table.planFiles({ snapshotId: s.snapshotId })).files) files.add(f.filePath);
  }
  return [...files];
}

/** Best effort: tables purged, children first, then the namespace. A leftover only costs space. */
async function removeNamespace(catalog: Catalog, namespace: Namespace, nested: boolean): Promise<void> {
  if (!(await catalog.namespaceExists(namespace).catch(() => false))) return;
  if (nested) {
    for (const child of await catalog.listNamespaces(namespace).catch(() => [])) await removeNamespace(catalog, child, nested);
  }
  for (const t of await catalog.listTables(namespace).catch(() => [])) {
    await catalog.dropTable(t, { purge: true }).catch(() => catalog.dropTable(t).catch(() => undefined));
  }
  await catalog.dropNamespace(namespace).catch(() => undefined);
}

export function catalogConformance(label: string, open: () => Promise<Catalog>, opts: CatalogConformanceOptions = {}): void {
  const nested = opts.nestedNamespaces ?? true;
  const acrossNamespaces = opts.renameAcrossNamespaces ?? true;
  const rejectsDot = opts.rejectsDotInNamespaceLevel ?? true;
  const racing = opts.racingAppends ?? 4;
  const timeout = opts.timeoutMs ?? 60_000;

  describe(`${label} conformance`, () => {
    let catalog: Catalog;
    /** Extra instances a test opened; closed after it. */
    const others: Catalog[] = [];
    /** Top-level namespaces a test may have created; removed after it. */
    let created: Namespace[] = [];

    /** A fresh namespace name, remembered for clean-up; not created. */
    const freshNs = (): Namespace => {
      const ns = [randomName('ns')];
      created.push(ns);
      return ns;
    };
    /** A name that no test creates, for "missing" cases on a shared server. */
    const missingNs = (): Namespace => [randomName('missing')];
    const newNamespace = async (properties?: Record<string, string>): Promise<Namespace> => {
      const ns = freshNs();
      await catalog.createNamespace(ns, properties);
      return ns;
    };
    const openOther = async (): Promise<Catalog> => {
      const c = await open();
      others.push(c);
      return c;
    };
    const createTable = async (ns: Namespace, name: string, properties?: Record<string, string>): Promise<Table> => {
      const loaded = await catalog.createTable(ident(ns, name), { schema: schema(), ...(properties ? { properties } : {}) });
      return new Table(catalog, loaded);
    };

    beforeEach(async () => {
      created = [];
      catalog = await open();
    });
    afterEach(async () => {
      for (const ns of created) await removeNamespace(catalog, ns, nested);
      for (const c of others.splice(0)) await c.close();
      await catalog.close();
    });

    describe('namespaces', () => {
      it('creates a namespace that then exists and is listed', async () => {
        const ns = freshNs();
        await catalog.createNamespace(ns);
        expect(await catalog.namespaceExists(ns)).toBe(true);
        expect(await catalog.listNamespaces()).toContainEqual(ns);
      }, timeout);

      it('refuses to create a namespace twice with ALREADY_EXISTS', async () => {
        const ns = await newNamespace();
        expect(await codeOf(catalog.createNamespace(ns))).toBe('ALREADY_EXISTS');
      }, timeout);

      // Catalogs with one namespace level (Glue) prove their refusal in their own tests instead.
      if (nested) {
        it('lists the children of a parent, and a parent of a child exists', async () => {
          const ns = freshNs();
          await catalog.createNamespace([...ns, 'a']);
          await catalog.createNamespace([...ns, 'b', 'deep']);
          expect(await catalog.namespaceExists(ns)).toBe(true);
          expect(sorted(await catalog.listNamespaces(ns), (n) => n.join('.'))).toEqual([
            [...ns, 'a'],
            [...ns, 'b'],
          ]);
          expect(await catalog.listNamespaces([...ns, 'b'])).toEqual([[...ns, 'b', 'deep']]);
          expect(await catalog.listNamespaces()).toContainEqual(ns);
        }, timeout);
      }

      it('stores the properties given at creation and hides any bookkeeping property', async () => {
        const ns = await newNamespace({ owner: 'data_eng', comment: 'campaign events' });
        const props = await catalog.loadNamespaceProperties(ns);
        // A catalog may add its own keys (Java's JdbcCatalog adds `location`); ours must be there as given.
        expect(props).toMatchObject({ owner: 'data_eng', comment: 'campaign events' });
        expect(props).not.toHaveProperty('exists');
      }, timeout);

      it('updates and removes properties and reports removed, updated and missing keys', async () => {
        const ns = await newNamespace({ a: '1', b: '2' });
        const summary = await catalog.updateNamespaceProperties(ns, ['a', 'zz'], { b: '20', c: '3' });
        expect({ removed: summary.removed.sort(), updated: summary.updated.sort(), missing: summary.missing.sort() }).toEqual({
          removed: ['a'],
          updated: ['b', 'c'],
          missing: ['zz'],
        });
        const props = await catalog.loadNamespaceProperties(ns);
        expect(props).toMatchObject({ b: '20', c: '3' });
        expect(props).not.toHaveProperty('a');
      }, timeout);

      it('keeps a namespace whose every property was removed', async () => {
        const ns = await newNamespace({ a: '1' });
        await catalog.updateNamespaceProperties(ns, ['a'], {});
        expect(await catalog.namespaceExists(ns)).toBe(true);
        expect(await catalog.loadNamespaceProperties(ns)).not.toHaveProperty('a');
      }, timeout);

      it('drops an empty namespace', async () => {
        const ns = await newNamespace();
        await catalog.dropNamespace(ns);
        expect(await catalog.namespaceExists(ns)).toBe(false);
        expect(await catalog.listNamespaces()).not.toContainEqual(ns);
      }, timeout);

      it('refuses to drop a namespace that holds a table with NAMESPACE_NOT_EMPTY', async () => {
        const ns = await newNamespace();
        await createTable(ns, 't');
        expect(await codeOf(catalog.dropNamespace(ns))).toBe('NAMESPACE_NOT_EMPTY');
        expect(await catalog.tableExists(ident(ns, 't'))).toBe(true);
      }, timeout);

      // Catalogs with one namespace level (Glue) prove their refusal in their own tests instead.
      if (nested) {
        it('refuses to drop a namespace that holds a child namespace with NAMESPACE_NOT_EMPTY', async () => {
          const ns = await newNamespace();
          await catalog.createNamespace([...ns, 'child']);
          expect(await codeOf(catalog.dropNamespace(ns))).toBe('NAMESPACE_NOT_EMPTY');
          expect(await catalog.namespaceExists([...ns, 'child'])).toBe(true);
        }, timeout);
      }

      it('answers NAMESPACE_NOT_FOUND, naming the namespace, for every operation on a missing one', async () => {
        const ns = missingNs();
        expect(await catalog.namespaceExists(ns)).toBe(false);
        for (const op of [
          () => catalog.loadNamespaceProperties(ns),
          () => catalog.updateNamespaceProperties(ns, [], { a: '1' }),
          () => catalog.dropNamespace(ns),
          () => catalog.listTables(ns),
          () => catalog.createTable(ident(ns, 't'), { schema: schema() }),
        ]) {
          const err = await errorOf(op());
          expect(err.code).toBe('NAMESPACE_NOT_FOUND');
          expect(err.message).toContain(ns.join('.'));
        }
      }, timeout);

      it.runIf(rejectsDot)('rejects a namespace level containing a dot with INVALID_ARGUMENT', async () => {
        expect(await codeOf(catalog.createNamespace([`${randomName('ns')}.x`]))).toBe('INVALID_ARGUMENT');
      }, timeout);
    });

    describe('tables', () => {
      it('creates a table whose metadata loads back, at a location under the catalog', async () => {
        const ns = await newNamespace();
        const created = await catalog.createTable(ident(ns, 'events'), { schema: schema(), properties: { owner: 'me' } });
        const loaded = await catalog.loadTable(ident(ns, 'events'));
        expect(loaded.metadataLocation).toBe(created.metadataLocation);
        expect(loaded.metadata.tableUuid).toBe(created.metadata.tableUuid);
        expect(loaded.metadata.properties['owner']).toBe('me');
        expect(loaded.metadata.formatVersion).toBe(2);
        expect(loaded.metadata.location).toMatch(/\/events$/);
        expect(loaded.metadataLocation.startsWith(`${loaded.metadata.location}/metadata/00000-`)).toBe(true);
        expect(loaded.metadataLocation).toMatch(/\/metadata\/00000-[0-9a-f-]{36}\.metadata\.json$/);
        expect(await loaded.io.exists(loaded.metadataLocation)).toBe(true);
      }, timeout);

      it('lists the tables of a namespace and answers tableExists', async () => {
        const ns = await newNamespace();
        await createTable(ns, 'b');
        await createTable(ns, 'a');
        expect(byName(await catalog.listTables(ns))).toEqual([ident(ns, 'a'), ident(ns, 'b')]);
        expect(await catalog.tableExists(ident(ns, 'a'))).toBe(true);
        expect(await catalog.tableExists(ident(ns, 'c'))).toBe(false);
        expect(await catalog.tableExists(ident(missingNs(), 'a'))).toBe(false);
      }, timeout);

      it('refuses to create a table twice with ALREADY_EXISTS', async () => {
        const ns = await newNamespace();
        await createTable(ns, 't');
        expect(await codeOf(catalog.createTable(ident(ns, 't'), { schema: schema() }))).toBe('ALREADY_EXISTS');
      }, timeout);

      it('answers TABLE_NOT_FOUND, naming the table, for every operation on a missing one', async () => {
        const ns = await newNamespace();
        const missing = ident(ns, 'ghost');
        for (const op of [
          () => catalog.loadTable(missing),
          () => catalog.loadTable(ident(missingNs(), 'ghost')),
          () => catalog.dropTable(missing),
          () => catalog.renameTable(missing, ident(ns, 'other')),
          () => catalog.commitTable(missing, [], [{ action: 'set-properties', updates: { a: 'b' } }]),
        ]) {
          const err = await errorOf(op());
          expect(err.code).toBe('TABLE_NOT_FOUND');
          expect(err.message).toMatch(/\.ghost\b/);
        }
        const err = await errorOf(catalog.loadTable(missing));
        expect(err.message).toContain(`${ns.join('.')}.ghost`);
      }, timeout);

      it('creates a table at an explicit location', async () => {
        const ns = await newNamespace();
        const first = await createTable(ns, 'first');
        const location = `${first.location}_elsewhere_${suffix()}`;
        // A trailing slash is not part of the location Iceberg records.
        const t = await catalog.createTable(ident(ns, 't'), { schema: schema(), location: `${location}/` });
        expect(t.metadata.location).toBe(location);
        expect(t.metadataLocation.startsWith(`${location}/metadata/`)).toBe(true);
        expect(await t.io.exists(t.metadataLocation)).toBe(true);
      }, timeout);

      it('drops a table without purge: gone from the catalog, every file kept', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        await t.append([batchOf([{ id: 1, name: 'a' }])]);
        const files = await referencedFiles(t);
        await catalog.dropTable(ident(ns, 't'));
        expect(await catalog.tableExists(ident(ns, 't'))).toBe(false);
        expect(await catalog.listTables(ns)).toEqual([]);
        for (const f of files) expect(await t.io.exists(f), f).toBe(true);
        expect(await codeOf(catalog.dropTable(ident(ns, 't')))).toBe('TABLE_NOT_FOUND');
      }, timeout);

      it('drops a table with purge: metadata, manifest lists, manifests and data files go, unreferenced files stay', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 'p');
        await t.append([batchOf([{ id: 1, name: 'a' }])]);
        await t.append([batchOf([{ id: 2, name: 'b' }])]);
        const files = await referencedFiles(t);
        // 2 snapshots: 3 metadata files, 2 manifest lists, 2 manifests, 2 data files.
        expect(files.length).toBeGreaterThanOrEqual(9);
        const orphan = `${t.location}/data/orphan-${suffix()}.parquet`;
        await t.io.write(orphan, new TextEncoder().encode('no metadata references this file'));

        await catalog.dropTable(ident(ns, 'p'), { purge: true });

        expect(await catalog.tableExists(ident(ns, 'p'))).toBe(false);
        for (const f of files) expect(await t.io.exists(f), f).toBe(false);
        expect(await t.io.exists(orphan)).toBe(true);
        await t.io.delete(orphan);
      }, timeout);

      it('renames a table within its namespace; the entry moves, the files do not', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 'old');
        await catalog.renameTable(ident(ns, 'old'), ident(ns, 'new'));
        expect(await catalog.tableExists(ident(ns, 'old'))).toBe(false);
        const moved = await catalog.loadTable(ident(ns, 'new'));
        expect(moved.metadata.tableUuid).toBe(t.metadata.tableUuid);
        expect(moved.metadata.location).toBe(t.location);
        expect(byName(await catalog.listTables(ns))).toEqual([ident(ns, 'new')]);
      }, timeout);

      it.runIf(acrossNamespaces)('renames a table into another namespace', async () => {
        const ns = await newNamespace();
        const other = await newNamespace();
        const t = await createTable(ns, 'old');
        await catalog.renameTable(ident(ns, 'old'), ident(other, 'new'));
        expect(await catalog.tableExists(ident(ns, 'old'))).toBe(false);
        expect((await catalog.loadTable(ident(other, 'new'))).metadata.tableUuid).toBe(t.metadata.tableUuid);
      }, timeout);

      it('refuses a rename onto an existing table (ALREADY_EXISTS) or into a missing namespace (NAMESPACE_NOT_FOUND)', async () => {
        const ns = await newNamespace();
        await createTable(ns, 'a');
        await createTable(ns, 'b');
        expect(await codeOf(catalog.renameTable(ident(ns, 'a'), ident(ns, 'b')))).toBe('ALREADY_EXISTS');
        expect(await codeOf(catalog.renameTable(ident(ns, 'a'), ident(missingNs(), 'a')))).toBe('NAMESPACE_NOT_FOUND');
        expect(await catalog.tableExists(ident(ns, 'a'))).toBe(true);
      }, timeout);

      it('registers the metadata file of a dropped table under a new name with its rows', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 'src');
        await t.append([batchOf([{ id: 1, name: 'a' }, { id: 2, name: null }])]);
        await catalog.dropTable(ident(ns, 'src'));
        const registered = await catalog.registerTable(ident(ns, 'copy'), t.metadataLocation);
        expect(registered.metadata.tableUuid).toBe(t.metadata.tableUuid);
        const loaded = new Table(catalog, await catalog.loadTable(ident(ns, 'copy')));
        expect(loaded.metadataLocation).toBe(t.metadataLocation);
        expect(rowsOf(await loaded.readRows())).toEqual(['1:a', '2:null']);
        expect(await codeOf(catalog.registerTable(ident(ns, 'copy'), t.metadataLocation))).toBe('ALREADY_EXISTS');
      }, timeout);

      it('refuses to register into a missing namespace with NAMESPACE_NOT_FOUND', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 'src');
        expect(await codeOf(catalog.registerTable(ident(missingNs(), 'copy'), t.metadataLocation))).toBe('NAMESPACE_NOT_FOUND');
      }, timeout);
    });

    describe('commits', () => {
      it('commits updates as a new metadata version that records the previous one', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        const next = await catalog.commitTable(
          ident(ns, 't'),
          [{ type: 'assert-table-uuid', uuid: t.metadata.tableUuid }],
          [{ action: 'set-properties', updates: { 'lakehouse.conformance': '7' } }],
        );
        expect(next.metadataLocation).toMatch(/\/metadata\/00001-[0-9a-f-]{36}\.metadata\.json$/);
        expect(next.metadata.metadataLog.map((m) => m.metadataFile)).toEqual([t.metadataLocation]);
        const loaded = await catalog.loadTable(ident(ns, 't'));
        expect(loaded.metadataLocation).toBe(next.metadataLocation);
        expect(loaded.metadata.properties['lakehouse.conformance']).toBe('7');
      }, timeout);

      it('rejects a commit whose requirement fails with CommitConflictError and writes no metadata file', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        const err = await errorOf(
          catalog.commitTable(
            ident(ns, 't'),
            [{ type: 'assert-table-uuid', uuid: '00000000-0000-4000-8000-000000000000' }],
            [{ action: 'set-properties', updates: { a: 'b' } }],
          ),
        );
        expect(err).toBeInstanceOf(CommitConflictError);
        expect(err.retryable).toBe(true);
        expect(await metadataFiles(t.io, t.metadataLocation)).toEqual([t.metadataLocation]);
        expect((await catalog.loadTable(ident(ns, 't'))).metadataLocation).toBe(t.metadataLocation);
      }, timeout);

      it('appends through Table and reads the rows back', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        const s1 = await t.append([batchOf([{ id: 1, name: 'a' }, { id: 2, name: 'b' }])]);
        const s2 = await t.append([batchOf([{ id: 3, name: null }])]);
        expect(s2.parentSnapshotId).toBe(s1.snapshotId);
        expect(s2.summary).toMatchObject({ operation: 'append', 'added-records': '1', 'total-records': '3' });
        expect(rowsOf(await t.readRows())).toEqual(['1:a', '2:b', '3:null']);
        // What a fresh load sees, not only the committing instance's state.
        const reloaded = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
        expect(reloaded.currentSnapshot()?.snapshotId).toBe(s2.snapshotId);
        expect(rowsOf(await reloaded.readRows())).toEqual(['1:a', '2:b', '3:null']);
      }, timeout);

      it('overwrites the rows matching a filter through Table in one snapshot', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        await t.append([batchOf([{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }])]);
        const s = await t.overwrite('id = 2', [batchOf([{ id: 2, name: 'b2' }, { id: 4, name: 'd' }])]);
        expect(s.summary['operation']).toBe('overwrite');
        expect(s.summary['total-records']).toBe('4');
        const reloaded = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
        expect(rowsOf(await reloaded.readRows())).toEqual(['1:a', '2:b2', '3:c', '4:d']);
      }, timeout);

      it('reads each earlier snapshot as it was (time travel by snapshot id)', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        const s1 = await t.append([batchOf([{ id: 1, name: 'a' }])]);
        const s2 = await t.append([batchOf([{ id: 2, name: 'b' }])]);
        const s3 = await t.overwrite('true', [batchOf([{ id: 9, name: 'z' }])]);
        const reloaded = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
        expect(rowsOf(await reloaded.readRows({ snapshotId: s1.snapshotId }))).toEqual(['1:a']);
        expect(rowsOf(await reloaded.readRows({ snapshotId: s2.snapshotId }))).toEqual(['1:a', '2:b']);
        expect(rowsOf(await reloaded.readRows({ snapshotId: s3.snapshotId }))).toEqual(['9:z']);
        expect(rowsOf(await reloaded.readRows())).toEqual(['9:z']);
      }, timeout);

      it('sees a commit made through a second instance', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        const other = await openOther();
        const theirs = new Table(other, await other.loadTable(ident(ns, 't')));
        const s = await theirs.append([batchOf([{ id: 1, name: 'a' }])]);
        expect(await t.refresh()).toMatchObject({ metadataLocation: theirs.metadataLocation });
        expect(t.currentSnapshot()?.snapshotId).toBe(s.snapshotId);
        expect(rowsOf(await t.readRows())).toEqual(['1:a']);
      }, timeout);

      it('evolves schema and partitioning with their requirements; a stale change is planned again; rows read back by field id', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        await t.append([batchOf([{ id: 1, name: 'a' }])]);
        const other = await openOther();
        const stale = new Table(other, await other.loadTable(ident(ns, 't')));
        await t.alter((m) => planSchemaChange(m, { kind: 'rename-column', name: 'name', newName: 'label' }));
        // Planned on schema 0, refused by the catalog (assert-current-schema-id), planned again on schema 1.
        await stale.alter((m) => planSchemaChange(m, { kind: 'add-column', name: 'score', type: T.double() }));
        await t.refresh();
        await t.alter((m) => planPartitionChange(m, { kind: 'add-partition-field', term: 'bucket(4, id)' }));
        await t.append([rowsToRecordBatch(t.schema(), [{ id: 2n, label: 'b', score: 1.5 }])]);

        const reloaded = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
        expect(reloaded.schema().fields.map((f) => `${f.id}:${f.name}:${f.type.kind}`)).toEqual(['1:id:long', '2:label:string', '3:score:double']);
        expect(reloaded.metadata.schemas.map((s) => s.schemaId)).toEqual([0, 1, 2]);
        expect(reloaded.metadata.lastColumnId).toBe(3);
        expect(reloaded.spec()).toEqual({ specId: 1, fields: [{ sourceId: 1, fieldId: 1000, name: 'id_bucket', transform: 'bucket[4]' }] });
        expect(reloaded.metadata.lastPartitionId).toBe(1000);
        const rows = (await reloaded.readRows()).map((r) => `${String(r.id)}:${String(r.label)}:${String(r.score)}`).sort();
        expect(rows).toEqual(['1:a:null', '2:b:1.5']);
      }, timeout);

      it('rejects a commit on a stale base with CommitConflictError; Table rebases and retries it', async () => {
        const ns = await newNamespace();
        const t = await createTable(ns, 't');
        const stale = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
        const other = await openOther();
        const theirs = new Table(other, await other.loadTable(ident(ns, 't')));
        const first = await theirs.append([batchOf([{ id: 1, name: 'theirs' }])]);

        // At the catalog level: main moved since our base, so the requirement fails and nothing lands.
        const err = await errorOf(
          catalog.commitTable(
            ident(ns, 't'),
            [
              { type: 'assert-table-uuid', uuid: t.metadata.tableUuid },
              { type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: stale.currentSnapshot()?.snapshotId ?? null },
            ],
            [{ action: 'set-properties', updates: { 'lakehouse.stale': 'yes' } }],
          ),
        );
        expect(err).toBeInstanceOf(CommitConflictError);
        expect((await catalog.loadTable(ident(ns, 't'))).metadata.properties).not.toHaveProperty('lakehouse.stale');

        // Through Table: the same conflict is retried on the new head and lands on top of it.
        const mine = await stale.append([batchOf([{ id: 2, name: 'mine' }])]);
        expect(mine.parentSnapshotId).toBe(first.snapshotId);
        expect(mine.sequenceNumber).toBe(2);
        const reloaded = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
        expect(rowsOf(await reloaded.readRows())).toEqual(['1:theirs', '2:mine']);
        expect(reloaded.metadata.snapshots).toHaveLength(2);
      }, timeout);

      it(`lands every append of two racing committers exactly once on a linear history (${racing} each)`, async () => {
        const ns = await newNamespace();
        await createTable(ns, 't', RACE_PROPERTIES);
        const committers = [catalog, await openOther()];
        const tables = await Promise.all(committers.map(async (c) => new Table(c, await c.loadTable(ident(ns, 't')))));

        await Promise.all(
          tables.map(async (table, w) => {
            for (let i = 0; i < racing; i++) await table.append([batchOf([{ id: w * 1000 + i, name: `w${w}` }])]);
          }),
        );

        const final = new Table(catalog, await catalog.loadTable(ident(ns, 't')));
        const expected = [0, 1].flatMap((w) => Array.from({ length: racing }, (_, i) => `${w * 1000 + i}:w${w}`)).sort();
        expect(rowsOf(await final.readRows())).toEqual(expected);
        const snaps = sorted(final.metadata.snapshots, (s) => String(s.sequenceNumber).padStart(12, '0'));
        expect(snaps).toHaveLength(2 * racing);
        snaps.forEach((s, i) => {
          expect(s.sequenceNumber).toBe(i + 1);
          expect(s.parentSnapshotId ?? null).toBe(i === 0 ? null : snaps[i - 1]!.snapshotId);
          expect(s.summary['total-records']).toBe(String(i + 1));
        });
        expect(final.currentSnapshot()?.snapshotId).toBe(snaps[snaps.length - 1]!.snapshotId);
      }, timeout);
    });
  });
}
