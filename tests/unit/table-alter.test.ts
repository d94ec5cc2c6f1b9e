import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { LakehouseError } from '../../core/errors.ts';
import {
  planPartitionChange, planPropertyChange, planSchemaChange, resolveColumn, rowsToRecordBatch, Schema, T, Table,
  type PartitionChange, type PropertyChange, type SchemaChange, type CatalogPort, type TableIdentifier, type TableRequirement,
  type TableUpdate, CommitStateUnknownError, currentSchema,
} from '../../iceberg/index.ts';

/**
 * `tables alter` below the CLI: ids assigned as the spec asks, requirements sent with every change, a
 * concurrent change planned again, and every refused change leaving the table exactly as it was.
 */
let dir: string;
let catalog: SqlCatalog;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-alter-'));
  catalog = await SqlCatalog.open({ name: 'local', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(['alter']);
});
afterAll(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'ts', T.timestamptz(), true),
  T.field(3, 'kind', T.string()),
  T.field(4, 'qty', T.int()),
  T.field(5, 'loc', T.struct([T.field(6, 'lat', T.double())])),
], 0, [1]);

async function newTable(withRows = true): Promise<Table> {
  const t = new Table(catalog, await catalog.createTable({ namespace: ['alter'], name: `t${n++}` }, {
    schema, partitionSpec: { specId: 0, fields: [{ sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' }] },
  }));
  if (withRows) await t.append([rowsToRecordBatch(schema, [{ id: 1n, ts: 1_793_491_200_000_000n, kind: 'a', qty: 1, loc: { lat: 1 } }])]);
  return t;
}

const schemaChange = (c: SchemaChange) => (m: Table['metadata']) => planSchemaChange(m, c);
const specChange = (c: PartitionChange) => (m: Table['metadata']) => planPartitionChange(m, c);
const propChange = (c: PropertyChange) => (m: Table['metadata']) => planPropertyChange(m, c);

describe('schema changes', () => {
  it('a new column gets last-column-id + 1, the new schema the next schema id, nested fields included', async () => {
    const t = await newTable();
    await t.alter(schemaChange({ kind: 'add-column', name: 'note', type: T.string(), after: 'id', doc: 'free text' }));
    expect(t.metadata.lastColumnId).toBe(7);
    expect(t.metadata.currentSchemaId).toBe(1);
    expect(t.schema().fields.slice(0, 2)).toEqual([T.field(1, 'id', T.long(), true), T.field(7, 'note', T.string(), false, 'free text')]);
    await t.alter(schemaChange({ kind: 'add-column', name: 'loc.lon', type: T.double(), first: true }));
    expect(t.schema().findFieldByName('loc')!.type).toEqual(T.struct([T.field(8, 'lon', T.double()), T.field(6, 'lat', T.double())]));
    expect(t.metadata.schemas.map((s) => s.schemaId)).toEqual([0, 1, 2]);
    expect(t.schema().identifierFieldIds).toEqual([1]);
  });

  it('a dropped column\'s id is never reused, and a rename keeps the id', async () => {
    const t = await newTable();
    await t.alter(schemaChange({ kind: 'drop-column', name: 'qty' }));
    await t.alter(schemaChange({ kind: 'add-column', name: 'qty', type: T.long() }));
    expect(t.schema().findFieldByName('qty')!.id).toBe(7);
    await t.alter(schemaChange({ kind: 'rename-column', name: 'kind', newName: 'category' }));
    expect(t.schema().findFieldByName('category')!.id).toBe(3);
  });

  it('widening follows the spec\'s promotions: int -> long, float -> double, decimal precision up', async () => {
    const t = await newTable();
    await t.alter(schemaChange({ kind: 'widen-column', name: 'qty', type: T.long() }));
    expect(t.schema().findFieldByName('qty')!.type).toEqual(T.long());
    const r = await t.alter(schemaChange({ kind: 'widen-column', name: 'qty', type: T.long() }));
    expect(r).toMatchObject({ committed: false, unchanged: 'Column "qty" is already long.' });
  });

  it('the commit asserts the table uuid, the current schema id and the last column id', () => {
    return newTable(false).then((t) => {
      const plan = planSchemaChange(t.metadata, { kind: 'make-optional', name: 'ts' });
      expect(plan.requirements).toEqual([
        { type: 'assert-table-uuid', uuid: t.metadata.tableUuid },
        { type: 'assert-current-schema-id', currentSchemaId: 0 },
        { type: 'assert-last-assigned-field-id', lastAssignedFieldId: 6 },
      ]);
      expect(plan.updates.map((u) => u.action)).toEqual(['add-schema', 'set-current-schema']);
    });
  });

  it('a change planned on a stale table conflicts, is planned again on the new schema and gets fresh ids', async () => {
    const t = await newTable();
    const stale = new Table(catalog, await catalog.loadTable(t.identifier));
    await t.alter(schemaChange({ kind: 'add-column', name: 'a', type: T.string() }));
    await stale.alter(schemaChange({ kind: 'add-column', name: 'b', type: T.string() }));
    const now = await catalog.loadTable(t.identifier);
    expect(now.metadata.schemas.find((s) => s.schemaId === now.metadata.currentSchemaId)!.fields.slice(-2).map((f) => `${f.id}:${f.name}`)).toEqual(['7:a', '8:b']);
    // The same column from a stale plan is refused once it is planned against the new schema.
    const stale2 = new Table(catalog, await catalog.loadTable(t.identifier));
    await t.alter(schemaChange({ kind: 'add-column', name: 'c', type: T.string() }));
    await expect(stale2.alter(schemaChange({ kind: 'add-column', name: 'c', type: T.string() }))).rejects.toThrow(/Column "c" already exists/);
  });

  it('--dry-run shows the result and commits nothing', async () => {
    const t = await newTable();
    const before = t.metadataLocation;
    const r = await t.alter(schemaChange({ kind: 'add-column', name: 'z', type: T.boolean() }), { dryRun: true });
    expect(r.committed).toBe(false);
    expect(r.metadata.schemas.find((s) => s.schemaId === r.metadata.currentSchemaId)!.findFieldByName('z')!.id).toBe(7);
    expect((await catalog.loadTable(t.identifier)).metadataLocation).toBe(before);
  });
});

describe('refused changes leave the table unchanged', () => {
  const refused: [string, (m: Table['metadata']) => ReturnType<typeof planSchemaChange>, RegExp][] = [
    ['narrowing a type', schemaChange({ kind: 'widen-column', name: 'id', type: T.int() }), /Cannot change column "id" from long to int: Iceberg allows only int -> long/],
    ['a type change that is no promotion', schemaChange({ kind: 'widen-column', name: 'kind', type: T.long() }), /from string to long/],
    ['an unknown column', schemaChange({ kind: 'rename-column', name: 'nope', newName: 'x' }), /Column "nope" is not in the table schema; its columns are: id, ts, kind, qty, loc\./],
    ['a duplicate name', schemaChange({ kind: 'add-column', name: 'kind', type: T.string() }), /Column "kind" already exists/],
    ['a name differing only in case', schemaChange({ kind: 'rename-column', name: 'qty', newName: 'KIND' }), /differs only in case/],
    ['dropping a partition source', schemaChange({ kind: 'drop-column', name: 'ts' }), /source of partition field "ts_day"/],
    ['dropping an identifier column', schemaChange({ kind: 'drop-column', name: 'id' }), /identifier field/],
    ['making an identifier column optional', schemaChange({ kind: 'make-optional', name: 'id' }), /identifier fields must be required/],
    ['a required column added to a table with data', schemaChange({ kind: 'add-column', name: 'must', type: T.string(), required: true }), /already holds rows/],
    ['widening a partition source', schemaChange({ kind: 'widen-column', name: 'qty', type: T.long() }), /Cannot widen column "qty": it is the source of partition field "qty_bucket"/],
    ['a redundant time partition', specChange({ kind: 'add-partition-field', term: 'hour(ts)' }), /already partitions column "ts" by day/],
    ['dropping a partition field that is not there', specChange({ kind: 'drop-partition-field', field: 'kind' }), /not partitioned by "kind"; its partition fields are: ts_day/],
    ['a partition on an unknown column', specChange({ kind: 'add-partition-field', term: 'bucket(4, nope)' }), /names column "nope"/],
    ['a non-integer size property', propChange({ kind: 'set-property', key: 'write.target-file-size-bytes', value: 'big' }), /must be an integer/],
  ];
  for (const [what, plan, message] of refused) {
    it(`refuses ${what} with a sentence; the metadata location stays the same`, async () => {
      const t = await newTable();
      if (what === 'widening a partition source') {
        await t.alter(specChange({ kind: 'add-partition-field', term: 'bucket(4, qty)' }));
      }
      const before = (await catalog.loadTable(t.identifier)).metadataLocation;
      const e = await t.alter(plan).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(LakehouseError);
      expect((e as LakehouseError).message).toMatch(message);
      expect((e as LakehouseError).message).toMatch(/[.?)]$/);
      expect((await catalog.loadTable(t.identifier)).metadataLocation).toBe(before);
    });
  }

  it('a required column is allowed while the table holds no rows', async () => {
    const t = await newTable(false);
    await t.alter(schemaChange({ kind: 'add-column', name: 'must', type: T.string(), required: true }));
    expect(t.schema().findFieldByName('must')!.required).toBe(true);
  });
});

describe('partition changes', () => {
  it('day -> hour: a new spec id, the new field id last-partition-id + 1, and its requirements', async () => {
    const t = await newTable();
    const plan = planPartitionChange(t.metadata, { kind: 'replace-partition-field', field: 'day(ts)', term: 'hour(ts)' });
    expect(plan.requirements).toEqual([
      { type: 'assert-table-uuid', uuid: t.metadata.tableUuid },
      { type: 'assert-current-schema-id', currentSchemaId: 0 },
      { type: 'assert-default-spec-id', defaultSpecId: 0 },
      { type: 'assert-last-assigned-partition-id', lastAssignedPartitionId: 1000 },
    ]);
    await t.alter(specChange({ kind: 'replace-partition-field', field: 'day(ts)', term: 'hour(ts)' }));
    expect(t.spec()).toEqual({ specId: 1, fields: [{ sourceId: 2, fieldId: 1001, name: 'ts_hour', transform: 'hour' }] });
    expect(t.metadata.lastPartitionId).toBe(1001);
  });

  it('a field an earlier spec had gets its old id and name back; dropping the last field leaves the table unpartitioned', async () => {
    const t = await newTable();
    await t.alter(specChange({ kind: 'add-partition-field', term: 'kind' }));
    await t.alter(specChange({ kind: 'drop-partition-field', field: 'kind' }));
    expect(t.spec().specId).toBe(0); // the same fields as spec 0: reused
    await t.alter(specChange({ kind: 'add-partition-field', term: 'kind' }));
    expect(t.spec()).toEqual({ specId: 1, fields: [{ sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' }, { sourceId: 3, fieldId: 1001, name: 'kind', transform: 'identity' }] });
    await t.alter(specChange({ kind: 'drop-partition-field', field: 'ts_day' }));
    await t.alter(specChange({ kind: 'drop-partition-field', field: 'kind' }));
    expect(t.spec()).toEqual({ specId: 3, fields: [] });
    expect(t.metadata.lastPartitionId).toBe(1001);
  });
});

describe('resolveColumn: the column a job that knows it by an older name means', () => {
  it('finds a column by its current name, else by the id it had under that name; a dropped one is gone', async () => {
    const t = await newTable();
    await t.alter(schemaChange({ kind: 'rename-column', name: 'kind', newName: 'category' }));
    expect(resolveColumn(t.metadata, 'kind')).toMatchObject({ id: 3, name: 'category' });
    expect(resolveColumn(t.metadata, 'category')).toMatchObject({ id: 3, name: 'category' });
    // A new column that takes the old name is what the name means from then on.
    await t.alter(schemaChange({ kind: 'add-column', name: 'kind', type: T.string() }));
    expect(resolveColumn(t.metadata, 'kind')).toMatchObject({ id: 7, name: 'kind' });
    await t.alter(schemaChange({ kind: 'drop-column', name: 'qty' }));
    expect(resolveColumn(t.metadata, 'qty')).toBeUndefined();
  });
});

describe('property changes', () => {
  it('set and unset go through the catalog; the same value again changes nothing', async () => {
    const t = await newTable(false);
    await t.alter(propChange({ kind: 'set-property', key: 'owner', value: 'ads' }));
    expect(t.metadata.properties.owner).toBe('ads');
    const before = t.metadataLocation;
    expect(await t.alter(propChange({ kind: 'set-property', key: 'owner', value: 'ads' }))).toMatchObject({ committed: false });
    expect(t.metadataLocation).toBe(before);
    await t.alter(propChange({ kind: 'unset-property', key: 'owner' }));
    expect(t.metadata.properties.owner).toBeUndefined();
    await expect(t.alter(propChange({ kind: 'set-property', key: 'format-version', value: '3' }))).rejects.toThrow(/format version/);
  });
});

describe('an unknown commit outcome', () => {
  /** The SQL catalog, except that the next commit reports an unknown outcome, after landing or before. */
  function unknownOnce(landed: boolean): CatalogPort & { commits: number } {
    let armed = true;
    const port = {
      name: catalog.name,
      commits: 0,
      loadTable: (id: TableIdentifier) => catalog.loadTable(id),
      async commitTable(id: TableIdentifier, requirements: TableRequirement[], updates: TableUpdate[]) {
        const fail = armed;
        armed = false;
        if (fail && !landed) throw new CommitStateUnknownError('timeout before the catalog got the request');
        const r = await catalog.commitTable(id, requirements, updates);
        port.commits++;
        if (fail) throw new CommitStateUnknownError('timeout after the catalog applied the commit');
        return r;
      },
    };
    return port;
  }

  it('a change that landed counts as committed, and is not applied twice', async () => {
    const made = await newTable(false);
    const port = unknownOnce(true);
    const t = new Table(port, await catalog.loadTable(made.identifier));
    const r = await t.alter(schemaChange({ kind: 'add-column', name: 'note', type: T.string() }));
    expect(r.committed).toBe(true);
    expect(port.commits).toBe(1);
    const reloaded = await catalog.loadTable(made.identifier);
    expect(reloaded.metadata.schemas.map((s) => s.schemaId)).toEqual([0, 1]);
    expect(reloaded.metadata.metadataLog).toHaveLength(1);
    expect(currentSchema(reloaded.metadata).fields.filter((f) => f.name === 'note')).toHaveLength(1);
    // A rename that landed: without the check the second attempt would fail on the missing old name.
    const p2 = unknownOnce(true);
    const t2 = new Table(p2, reloaded);
    expect((await t2.alter(schemaChange({ kind: 'rename-column', name: 'note', newName: 'remark' })))).toMatchObject({ committed: true });
    expect(p2.commits).toBe(1);
    expect(currentSchema((await catalog.loadTable(made.identifier)).metadata).findFieldByName('remark')?.id).toBe(7);
  });

  it('a change that did not land is sent again, once', async () => {
    const made = await newTable(false);
    const port = unknownOnce(false);
    const t = new Table(port, await catalog.loadTable(made.identifier));
    expect(await t.alter(propChange({ kind: 'set-property', key: 'owner', value: 'ads' }))).toMatchObject({ committed: true });
    expect(port.commits).toBe(1);
    expect((await catalog.loadTable(made.identifier)).metadata.properties.owner).toBe('ads');
  });

  it('another writer\'s change meanwhile: reported as unknown, nothing sent again', async () => {
    const made = await newTable(false);
    let armed = true;
    const port: CatalogPort = {
      name: catalog.name,
      loadTable: (id) => catalog.loadTable(id),
      async commitTable(id, requirements, updates) {
        if (!armed) throw new Error('sent again');
        armed = false;
        await catalog.commitTable(id, [], [{ action: 'set-properties', updates: { other: 'writer' } }]);
        throw new CommitStateUnknownError('timeout');
      },
    };
    const t = new Table(port, await catalog.loadTable(made.identifier));
    await expect(t.alter(schemaChange({ kind: 'add-column', name: 'note', type: T.string() }))).rejects.toThrow(/neither the change nor the state it was planned on/);
    expect(currentSchema((await catalog.loadTable(made.identifier)).metadata).findFieldByName('note')).toBeUndefined();
  });
});
