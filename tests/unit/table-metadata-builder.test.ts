import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { Schema, parseTableMetadata, serializeTableMetadata, snapshotById, type Snapshot, type TableMetadata, applyUpdates, checkRequirements, createTableUpdates, emptyTableMetadata, generateSnapshotId, newTableMetadata, describeRequirement, requirementFromJson, requirementToJson, updateFromJson, updateToJson, type TableRequirement, type TableUpdate, T, CommitConflictError } from '../../iceberg/index.ts';

const FIXTURES = new URL('../fixtures/metadata/', import.meta.url);
const load = (name: string) => parseTableMetadata(readFileSync(new URL(name, FIXTURES), 'utf8'), name);

const S1 = 3051729675574597004n;
const S2 = 3055729675574597004n;
const S3 = 8744736658442914487n;
const NOW = 1717000900000;

function thrown(f: () => unknown): LakehouseError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LakehouseError);
    return e as LakehouseError;
  }
  throw new Error('expected an error');
}

/** A user's schema with arbitrary ids, nested struct/list/map, to be renumbered on create. */
function userSchema(): Schema {
  return new Schema([
    T.field(10, 'id', T.long(), true),
    T.field(20, 'location', T.struct([T.field(21, 'lat', T.double()), T.field(22, 'lon', T.double())])),
    T.field(30, 'tags', T.list(31, T.string())),
    T.field(40, 'props', T.map(41, T.string(), 42, T.struct([T.field(43, 'v', T.int())]))),
    T.field(50, 'ts', T.timestamptz(), true),
  ], 7, [10]);
}

function newTable(overrides: Partial<Parameters<typeof newTableMetadata>[0]> = {}): TableMetadata {
  return newTableMetadata({ schema: userSchema(), location: 's3://b/db/t', tableUuid: '00000000-0000-4000-8000-000000000001', nowMs: 1000, ...overrides });
}

function snapshot(id: bigint, sequenceNumber: number, parent: bigint | null, timestampMs: number): Snapshot {
  return {
    snapshotId: id, parentSnapshotId: parent, sequenceNumber, timestampMs,
    manifestList: `s3://b/db/t/metadata/snap-${id}.avro`, summary: { operation: 'append' }, schemaId: 0,
  };
}

describe('newTableMetadata', () => {
  it('renumbers nested fields breadth-first per struct, like Java assignFreshIds', () => {
    const m = newTable();
    const s = m.schemas[0]!;
    // Top-level fields take 1..5, then location's children 6,7, the list element 8, map key 9 and
    // value 10, and the value struct's field 11.
    expect(s.fields.map((f) => [f.name, f.id])).toEqual([['id', 1], ['location', 2], ['tags', 3], ['props', 4], ['ts', 5]]);
    expect(s.findFieldByName('location.lat')!.id).toBe(6);
    expect(s.findFieldByName('location.lon')!.id).toBe(7);
    expect(s.fields[2]!.type).toEqual({ kind: 'list', elementId: 8, element: { kind: 'string' }, elementRequired: false });
    expect(s.fields[3]!.type).toMatchObject({ kind: 'map', keyId: 9, valueId: 10 });
    expect(s.findFieldByName('props.value.v')!.id).toBe(11);
    expect(m.lastColumnId).toBe(11);
    expect(s.schemaId).toBe(0);
    expect(s.identifierFieldIds).toEqual([1]);
  });

  it('remaps partition source ids by name, nested ones included, with field ids from 1000', () => {
    const m = newTable({
      spec: {
        specId: 9,
        fields: [
          { sourceId: 50, fieldId: 5000, name: 'ts_day', transform: 'day' },
          { sourceId: 10, fieldId: 5001, name: 'id_bucket', transform: 'bucket[16]' },
          { sourceId: 21, fieldId: 5002, name: 'lat', transform: 'truncate[2]' },
        ],
      },
    });
    expect(m.partitionSpecs).toEqual([{
      specId: 0,
      fields: [
        { sourceId: 5, fieldId: 1000, name: 'ts_day', transform: 'day' },
        { sourceId: 1, fieldId: 1001, name: 'id_bucket', transform: 'bucket[16]' },
        { sourceId: 6, fieldId: 1002, name: 'lat', transform: 'truncate[2]' },
      ],
    }]);
    expect(m.defaultSpecId).toBe(0);
    expect(m.lastPartitionId).toBe(1002);
  });

  it('gives a sorted table sort order id 1 with remapped source ids', () => {
    const m = newTable({ sortOrder: { orderId: 5, fields: [{ transform: 'identity', sourceId: 50, direction: 'desc', nullOrder: 'nulls-last' }] } });
    expect(m.sortOrders).toEqual([{ orderId: 1, fields: [{ transform: 'identity', sourceId: 5, direction: 'desc', nullOrder: 'nulls-last' }] }]);
    expect(m.defaultSortOrderId).toBe(1);
  });

  it('starts an unpartitioned, unsorted table with last-partition-id 999 and order id 0', () => {
    const m = newTable();
    expect(m.partitionSpecs).toEqual([{ specId: 0, fields: [] }]);
    expect(m.lastPartitionId).toBe(999);
    expect(m.sortOrders).toEqual([{ orderId: 0, fields: [] }]);
    expect(m.defaultSortOrderId).toBe(0);
  });

  it('has no snapshots, sequence number 0 and the given time, location and uuid', () => {
    const m = newTable({ location: 's3://b/db/t/' });
    expect(m).toMatchObject({
      formatVersion: 2, tableUuid: '00000000-0000-4000-8000-000000000001', location: 's3://b/db/t', lastSequenceNumber: 0,
      lastUpdatedMs: 1000, currentSnapshotId: null, snapshots: [], snapshotLog: [], metadataLog: [], refs: {},
    });
  });

  it('consumes the format-version property instead of storing it', () => {
    const m = newTable({ properties: { 'format-version': '1', owner: 'ads' } });
    expect(m.formatVersion).toBe(1);
    expect(m.properties).toEqual({ owner: 'ads' });
    expect(newTable({ formatVersion: 2, properties: { 'format-version': '1' } }).formatVersion).toBe(2);
  });

  it('rejects an unsupported format version naming the property', () => {
    const e = thrown(() => newTable({ properties: { 'format-version': '3' } }));
    expect(e.message).toContain('"format-version" is "3"');
  });

  it('rejects a partition field whose source column is not in the schema', () => {
    const e = thrown(() => newTable({ spec: { specId: 0, fields: [{ sourceId: 99, fieldId: 1000, name: 'x', transform: 'identity' }] } }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('Partition field "x" refers to column id 99, which is not in the table schema.');
  });

  it('generates a v4 uuid when none is given', () => {
    const m = newTableMetadata({ schema: userSchema(), location: '/tmp/t' });
    expect(m.tableUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('produces metadata that survives a write and read', () => {
    const m = newTable({ spec: { specId: 0, fields: [{ sourceId: 50, fieldId: 1000, name: 'ts_day', transform: 'day' }] } });
    const text = serializeTableMetadata(m);
    expect(serializeTableMetadata(parseTableMetadata(text))).toBe(text);
  });
});

describe('update and requirement JSON (REST wire shapes)', () => {
  const schema = new Schema([T.field(1, 'x', T.long(), true)], 3);
  const cases: [TableUpdate, Record<string, unknown>][] = [
    [{ action: 'assign-uuid', uuid: 'u-1' }, { action: 'assign-uuid', uuid: 'u-1' }],
    [{ action: 'upgrade-format-version', formatVersion: 2 }, { action: 'upgrade-format-version', 'format-version': 2 }],
    [{ action: 'add-schema', schema, lastColumnId: 1 }, {
      action: 'add-schema', schema: { type: 'struct', 'schema-id': 3, fields: [{ id: 1, name: 'x', required: true, type: 'long' }] }, 'last-column-id': 1,
    }],
    [{ action: 'set-current-schema', schemaId: -1 }, { action: 'set-current-schema', 'schema-id': -1 }],
    [{ action: 'add-spec', spec: { specId: 1, fields: [{ sourceId: 1, fieldId: 1000, name: 'x', transform: 'identity' }] } },
      { action: 'add-spec', spec: { 'spec-id': 1, fields: [{ name: 'x', transform: 'identity', 'source-id': 1, 'field-id': 1000 }] } }],
    [{ action: 'set-default-spec', specId: 1 }, { action: 'set-default-spec', 'spec-id': 1 }],
    [{ action: 'add-sort-order', sortOrder: { orderId: 1, fields: [{ transform: 'identity', sourceId: 1, direction: 'asc', nullOrder: 'nulls-first' }] } },
      { action: 'add-sort-order', 'sort-order': { 'order-id': 1, fields: [{ transform: 'identity', 'source-id': 1, direction: 'asc', 'null-order': 'nulls-first' }] } }],
    [{ action: 'set-default-sort-order', sortOrderId: 0 }, { action: 'set-default-sort-order', 'sort-order-id': 0 }],
    [{ action: 'add-snapshot', snapshot: snapshot(S2, 2, S1, 5) }, {
      action: 'add-snapshot',
      snapshot: {
        'sequence-number': 2, 'snapshot-id': S2, 'parent-snapshot-id': S1, 'timestamp-ms': 5, summary: { operation: 'append' },
        'manifest-list': `s3://b/db/t/metadata/snap-${S2}.avro`, 'schema-id': 0,
      },
    }],
    [{ action: 'set-snapshot-ref', refName: 'audit', ref: { snapshotId: S2, type: 'branch', maxRefAgeMs: 10 } },
      { action: 'set-snapshot-ref', 'ref-name': 'audit', 'snapshot-id': S2, type: 'branch', 'max-ref-age-ms': 10 }],
    [{ action: 'remove-snapshots', snapshotIds: [S1, 7n] }, { action: 'remove-snapshots', 'snapshot-ids': [S1, 7n] }],
    [{ action: 'remove-snapshot-ref', refName: 'audit' }, { action: 'remove-snapshot-ref', 'ref-name': 'audit' }],
    [{ action: 'set-location', location: 's3://b/t2' }, { action: 'set-location', location: 's3://b/t2' }],
    [{ action: 'set-properties', updates: { a: '1' } }, { action: 'set-properties', updates: { a: '1' } }],
    [{ action: 'remove-properties', removals: ['a'] }, { action: 'remove-properties', removals: ['a'] }],
  ];

  it.each(cases)('%o has the OpenAPI shape and reads back', (update, json) => {
    expect(updateToJson(update)).toEqual(json);
    const back = updateFromJson(json);
    expect(updateToJson(back)).toEqual(json);
  });

  it('reads a set-snapshot-ref with a 64-bit id exactly', () => {
    const u = updateFromJson({ action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': S3, type: 'branch' });
    expect(u).toEqual({ action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: S3, type: 'branch' } });
  });

  it('refuses update actions it cannot apply, and missing fields, in sentences', () => {
    expect(thrown(() => updateFromJson({ action: 'set-statistics' })).code).toBe('UNSUPPORTED');
    expect(thrown(() => updateFromJson({ action: 'set-location' })).message).toBe('Table update "set-location" is missing required field "location".');
  });

  const reqs: [TableRequirement, Record<string, unknown>][] = [
    [{ type: 'assert-create' }, { type: 'assert-create' }],
    [{ type: 'assert-table-uuid', uuid: 'u' }, { type: 'assert-table-uuid', uuid: 'u' }],
    [{ type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: S3 }, { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': S3 }],
    [{ type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: null }, { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null }],
    [{ type: 'assert-last-assigned-field-id', lastAssignedFieldId: 4 }, { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': 4 }],
    [{ type: 'assert-current-schema-id', currentSchemaId: 0 }, { type: 'assert-current-schema-id', 'current-schema-id': 0 }],
    [{ type: 'assert-last-assigned-partition-id', lastAssignedPartitionId: 1000 }, { type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': 1000 }],
    [{ type: 'assert-default-spec-id', defaultSpecId: 0 }, { type: 'assert-default-spec-id', 'default-spec-id': 0 }],
    [{ type: 'assert-default-sort-order-id', defaultSortOrderId: 0 }, { type: 'assert-default-sort-order-id', 'default-sort-order-id': 0 }],
  ];

  it.each(reqs)('%o has the OpenAPI shape and reads back', (r, json) => {
    expect(requirementToJson(r)).toEqual(json);
    expect(requirementFromJson(json)).toEqual(r);
  });

  it('reads a requirement without snapshot-id as "must not exist", like PyIceberg', () => {
    expect(requirementFromJson({ type: 'assert-ref-snapshot-id', ref: 'b' })).toEqual({ type: 'assert-ref-snapshot-id', ref: 'b', snapshotId: null });
  });
});

describe('checkRequirements', () => {
  const base = load('v2-refs-stats.metadata.json');
  const passing: TableRequirement[] = [
    { type: 'assert-table-uuid', uuid: '5f8b6e3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b' },
    { type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: S3 },
    { type: 'assert-ref-snapshot-id', ref: 'new-branch', snapshotId: null },
    { type: 'assert-last-assigned-field-id', lastAssignedFieldId: 4 },
    { type: 'assert-current-schema-id', currentSchemaId: 0 },
    { type: 'assert-last-assigned-partition-id', lastAssignedPartitionId: 1000 },
    { type: 'assert-default-spec-id', defaultSpecId: 0 },
    { type: 'assert-default-sort-order-id', defaultSortOrderId: 0 },
  ];

  it('passes when every requirement holds', () => {
    expect(() => checkRequirements(base, passing)).not.toThrow();
    expect(() => checkRequirements(null, [{ type: 'assert-create' }])).not.toThrow();
  });

  it.each([
    [{ type: 'assert-create' }, 'Commit conflict: the table must not exist yet, but it already exists.'],
    [{ type: 'assert-table-uuid', uuid: 'other' }, 'Commit conflict: the table uuid must be other, but it is 5f8b6e3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b (the table was dropped and re-created).'],
    [{ type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: S2 }, `Commit conflict: branch or tag "main" must point at snapshot ${S2}, but it points at snapshot ${S3}.`],
    [{ type: 'assert-ref-snapshot-id', ref: 'audit', snapshotId: null }, `Commit conflict: branch or tag "audit" must not exist yet, but it was created concurrently and points at snapshot ${S2}.`],
    [{ type: 'assert-ref-snapshot-id', ref: 'gone', snapshotId: S1 }, `Commit conflict: branch or tag "gone" must point at snapshot ${S1}, but it does not exist.`],
    [{ type: 'assert-last-assigned-field-id', lastAssignedFieldId: 3 }, 'Commit conflict: the last assigned column id must be 3, but it is 4.'],
    [{ type: 'assert-current-schema-id', currentSchemaId: 1 }, 'Commit conflict: the current schema id must be 1, but it is 0.'],
    [{ type: 'assert-last-assigned-partition-id', lastAssignedPartitionId: 999 }, 'Commit conflict: the last assigned partition field id must be 999, but it is 1000.'],
    [{ type: 'assert-default-spec-id', defaultSpecId: 2 }, 'Commit conflict: the default partition spec id must be 2, but it is 0.'],
    [{ type: 'assert-default-sort-order-id', defaultSortOrderId: 1 }, 'Commit conflict: the default sort order id must be 1, but it is 0.'],
  ] as [TableRequirement, string][])('%o fails with a retryable CommitConflictError', (r, sentence) => {
    const e = thrown(() => checkRequirements(base, [...passing, r]));
    expect(e).toBeInstanceOf(CommitConflictError);
    expect(e.retryable).toBe(true);
    expect(e.message).toBe(`${sentence} Another writer changed the table; reload it and retry.`);
    expect(e.message).toContain(describeRequirement(r));
  });

  it('fails every requirement but assert-create when the table is gone', () => {
    const e = thrown(() => checkRequirements(null, [{ type: 'assert-table-uuid', uuid: 'u' }]));
    expect(e).toBeInstanceOf(CommitConflictError);
    expect(e.message).toContain('but the table does not exist');
  });
});

describe('applyUpdates: identity, version, location, properties', () => {
  const base = newTable();

  it('returns a new object and leaves the base untouched', () => {
    const before = serializeTableMetadata(base);
    const next = applyUpdates(base, [{ action: 'set-properties', updates: { a: '1' } }], { nowMs: NOW });
    expect(next).not.toBe(base);
    expect(serializeTableMetadata(base)).toBe(before);
  });

  it('sets last-updated-ms to the commit time', () => {
    expect(applyUpdates(base, [], { nowMs: NOW }).lastUpdatedMs).toBe(NOW);
  });

  it('assigns a uuid', () => {
    expect(applyUpdates(base, [{ action: 'assign-uuid', uuid: 'abc' }], { nowMs: NOW }).tableUuid).toBe('abc');
  });

  it('gives a v1 table read without a uuid one on its first commit', () => {
    const legacy = load('v1-legacy-snapshots.metadata.json');
    expect(applyUpdates(legacy, [], { nowMs: NOW }).tableUuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('upgrades v1 to v2 and refuses to downgrade or go past v2', () => {
    const v1 = newTable({ formatVersion: 1 });
    expect(applyUpdates(v1, [{ action: 'upgrade-format-version', formatVersion: 2 }], { nowMs: NOW }).formatVersion).toBe(2);
    const down = thrown(() => applyUpdates(base, [{ action: 'upgrade-format-version', formatVersion: 1 }], { nowMs: NOW }));
    expect(down.code).toBe('VALIDATION_FAILED');
    expect(down.message).toBe('Cannot apply table update: cannot downgrade a v2 table to v1.');
    expect(thrown(() => applyUpdates(base, [{ action: 'upgrade-format-version', formatVersion: 3 }])).code).toBe('UNSUPPORTED');
  });

  it('sets the location without a trailing slash', () => {
    expect(applyUpdates(base, [{ action: 'set-location', location: 's3://b/moved/' }], { nowMs: NOW }).location).toBe('s3://b/moved');
  });

  it('sets and removes properties, ignoring removals of absent keys', () => {
    const next = applyUpdates(base, [
      { action: 'set-properties', updates: { a: '1', b: '2' } },
      { action: 'set-properties', updates: { b: '3' } },
      { action: 'remove-properties', removals: ['a', 'never-set'] },
    ], { nowMs: NOW });
    expect(next.properties).toEqual({ b: '3' });
  });
});

describe('applyUpdates: schemas, specs, sort orders', () => {
  const base = newTable();
  const evolved = new Schema([...base.schemas[0]!.fields, T.field(12, 'country', T.string())], 0, [1]);

  it('adds a schema with the next id and raises last-column-id; -1 makes it current', () => {
    const next = applyUpdates(base, [{ action: 'add-schema', schema: evolved }, { action: 'set-current-schema', schemaId: -1 }], { nowMs: NOW });
    expect(next.schemas.map((s) => s.schemaId)).toEqual([0, 1]);
    expect(next.currentSchemaId).toBe(1);
    expect(next.lastColumnId).toBe(12);
  });

  it('reuses the id of an identical existing schema instead of adding it again', () => {
    const same = new Schema(base.schemas[0]!.fields, 42, [1]);
    const next = applyUpdates(base, [{ action: 'add-schema', schema: same }, { action: 'set-current-schema', schemaId: -1 }], { nowMs: NOW });
    expect(next.schemas.map((s) => s.schemaId)).toEqual([0]);
    expect(next.currentSchemaId).toBe(0);
    expect(next.lastColumnId).toBe(11);
  });

  it('treats a schema with different identifier fields as new', () => {
    const other = new Schema(base.schemas[0]!.fields, 0, []);
    expect(applyUpdates(base, [{ action: 'add-schema', schema: other }], { nowMs: NOW }).schemas).toHaveLength(2);
  });

  it('refuses a last-column-id lower than the table\'s', () => {
    const e = thrown(() => applyUpdates(base, [{ action: 'add-schema', schema: evolved, lastColumnId: 10 }]));
    expect(e.message).toContain('last-column-id 10 is lower than the table\'s 11');
  });

  it('refuses set-current-schema -1 without an added schema, and unknown ids', () => {
    expect(thrown(() => applyUpdates(base, [{ action: 'set-current-schema', schemaId: -1 }])).message).toContain('no schema was added');
    expect(thrown(() => applyUpdates(base, [{ action: 'set-current-schema', schemaId: 5 }])).message).toContain('schema 5, which does not exist');
  });

  it('adds a spec with the next id and raises last-partition-id; -1 makes it default', () => {
    const spec = { specId: 0, fields: [{ sourceId: 5, fieldId: 1000, name: 'ts_day', transform: 'day' }] };
    const next = applyUpdates(base, [{ action: 'add-spec', spec }, { action: 'set-default-spec', specId: -1 }], { nowMs: NOW });
    expect(next.partitionSpecs).toEqual([{ specId: 0, fields: [] }, { specId: 1, fields: spec.fields }]);
    expect(next.defaultSpecId).toBe(1);
    expect(next.lastPartitionId).toBe(1000);
  });

  it('reuses a compatible spec and never lowers last-partition-id', () => {
    const partitioned = newTable({ spec: { specId: 0, fields: [
      { sourceId: 50, fieldId: 0, name: 'ts_day', transform: 'day' },
      { sourceId: 10, fieldId: 0, name: 'id_bucket', transform: 'bucket[4]' },
    ] } });
    expect(partitioned.lastPartitionId).toBe(1001);
    const same = { specId: 3, fields: partitioned.partitionSpecs[0]!.fields.map((f) => ({ ...f })) };
    const reused = applyUpdates(partitioned, [{ action: 'add-spec', spec: same }, { action: 'set-default-spec', specId: -1 }], { nowMs: NOW });
    expect(reused.partitionSpecs).toHaveLength(1);
    expect(reused.defaultSpecId).toBe(0);
    const unpartitioned = applyUpdates(partitioned, [{ action: 'add-spec', spec: { specId: 0, fields: [] } }], { nowMs: NOW });
    expect(unpartitioned.partitionSpecs.map((s) => s.specId)).toEqual([0, 1]);
    expect(unpartitioned.lastPartitionId).toBe(1001);
  });

  it('refuses a spec on a column the current schema lacks, and unknown default spec ids', () => {
    const bad = { specId: 1, fields: [{ sourceId: 99, fieldId: 1000, name: 'x', transform: 'identity' }] };
    expect(thrown(() => applyUpdates(base, [{ action: 'add-spec', spec: bad }])).message).toContain('column id 99, which is not in the current schema');
    expect(thrown(() => applyUpdates(base, [{ action: 'set-default-spec', specId: 4 }])).message).toContain('partition spec 4, which does not exist');
    expect(thrown(() => applyUpdates(base, [{ action: 'set-default-spec', specId: -1 }])).message).toContain('no spec was added');
  });

  it('adds a sort order as id 1 after unsorted, reuses an equal one, and keeps 0 for unsorted', () => {
    const order = { orderId: 9, fields: [{ transform: 'identity', sourceId: 1, direction: 'asc' as const, nullOrder: 'nulls-first' as const }] };
    const sorted = applyUpdates(base, [{ action: 'add-sort-order', sortOrder: order }, { action: 'set-default-sort-order', sortOrderId: -1 }], { nowMs: NOW });
    expect(sorted.sortOrders).toEqual([{ orderId: 0, fields: [] }, { orderId: 1, fields: order.fields }]);
    expect(sorted.defaultSortOrderId).toBe(1);
    const again = applyUpdates(sorted, [{ action: 'add-sort-order', sortOrder: order }], { nowMs: NOW });
    expect(again.sortOrders).toHaveLength(2);
    const back = applyUpdates(sorted, [{ action: 'add-sort-order', sortOrder: { orderId: 3, fields: [] } }, { action: 'set-default-sort-order', sortOrderId: -1 }], { nowMs: NOW });
    expect(back.defaultSortOrderId).toBe(0);
    expect(thrown(() => applyUpdates(base, [{ action: 'set-default-sort-order', sortOrderId: 2 }])).message).toContain('sort order 2, which does not exist');
  });
});

describe('applyUpdates: snapshots and refs', () => {
  const base = newTable();
  const first = snapshot(11n, 1, null, 2000);
  const second = snapshot(12n, 2, 11n, 3000);

  it('adds a snapshot, raises last-sequence-number, and main makes it current with a log entry at its timestamp', () => {
    const next = applyUpdates(base, [
      { action: 'add-snapshot', snapshot: first },
      { action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: 11n, type: 'branch' } },
    ], { nowMs: NOW });
    expect(next.lastSequenceNumber).toBe(1);
    expect(next.currentSnapshotId).toBe(11n);
    expect(next.refs).toEqual({ main: { snapshotId: 11n, type: 'branch' } });
    expect(next.snapshotLog).toEqual([{ snapshotId: 11n, timestampMs: 2000 }]);
  });

  it('keeps only the final main snapshot in the log when one commit moves main twice', () => {
    const next = applyUpdates(base, [
      { action: 'add-snapshot', snapshot: first },
      { action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: 11n, type: 'branch' } },
      { action: 'add-snapshot', snapshot: second },
      { action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: 12n, type: 'branch' } },
    ], { nowMs: NOW });
    expect(next.snapshotLog).toEqual([{ snapshotId: 12n, timestampMs: 3000 }]);
    expect(next.lastSequenceNumber).toBe(2);
  });

  it('logs a rollback to an existing snapshot at the commit time', () => {
    const m = load('v2-refs-stats.metadata.json');
    const next = applyUpdates(m, [{ action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: S1, type: 'branch' } }], { nowMs: NOW });
    expect(next.currentSnapshotId).toBe(S1);
    expect(next.snapshotLog.at(-1)).toEqual({ snapshotId: S1, timestampMs: NOW });
    expect(next.snapshotLog).toHaveLength(4);
  });

  it('does nothing for a ref that is set to what it already is', () => {
    const m = load('v2-refs-stats.metadata.json');
    const next = applyUpdates(m, [{ action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: S3, type: 'branch' } }], { nowMs: NOW });
    expect(next.snapshotLog).toEqual(m.snapshotLog);
  });

  it('sets a tag without touching the current snapshot or the log', () => {
    const m = load('v2-refs-stats.metadata.json');
    const next = applyUpdates(m, [{ action: 'set-snapshot-ref', refName: 'nightly', ref: { snapshotId: S2, type: 'tag' } }], { nowMs: NOW });
    expect(next.refs.nightly).toEqual({ snapshotId: S2, type: 'tag' });
    expect(next.currentSnapshotId).toBe(S3);
    expect(next.snapshotLog).toEqual(m.snapshotLog);
  });

  it('refuses a ref to an unknown snapshot and a main that is a tag', () => {
    expect(thrown(() => applyUpdates(base, [{ action: 'set-snapshot-ref', refName: 'b', ref: { snapshotId: 5n, type: 'branch' } }])).message)
      .toBe('Cannot apply table update: cannot point "b" at snapshot 5, which does not exist.');
    const m = load('v2-refs-stats.metadata.json');
    expect(thrown(() => applyUpdates(m, [{ action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: S1, type: 'tag' } }])).message)
      .toContain('"main" must be a branch');
  });

  it('treats a sequence number that is not newer than the table\'s as a commit conflict', () => {
    const m = load('v2-refs-stats.metadata.json');
    const stale = snapshot(99n, 3, S3, NOW);
    const e = thrown(() => applyUpdates(m, [{ action: 'add-snapshot', snapshot: stale }]));
    expect(e).toBeInstanceOf(CommitConflictError);
    expect(e.message).toContain('sequence number 3, but the table\'s last sequence number is already 3');
    const next = applyUpdates(m, [{ action: 'add-snapshot', snapshot: snapshot(99n, 4, S3, NOW) }], { nowMs: NOW });
    expect(next.lastSequenceNumber).toBe(4);
  });

  it('refuses a snapshot id that already exists and sequence numbers in v1', () => {
    const m = load('v2-refs-stats.metadata.json');
    expect(thrown(() => applyUpdates(m, [{ action: 'add-snapshot', snapshot: snapshot(S1, 9, S3, NOW) }])).message)
      .toBe(`Cannot apply table update: snapshot ${S1} already exists.`);
    const v1 = newTable({ formatVersion: 1 });
    expect(thrown(() => applyUpdates(v1, [{ action: 'add-snapshot', snapshot: first }])).message).toContain('format v1 tables have no sequence numbers');
    expect(applyUpdates(v1, [{ action: 'add-snapshot', snapshot: { ...first, sequenceNumber: 0 } }], { nowMs: NOW }).lastSequenceNumber).toBe(0);
  });

  it('removes snapshots, the refs that pointed at them, their statistics and the log before them', () => {
    const m = load('v2-refs-stats.metadata.json');
    const next = applyUpdates(m, [{ action: 'remove-snapshots', snapshotIds: [S2] }], { nowMs: NOW });
    expect(next.snapshots.map((s) => s.snapshotId)).toEqual([S1, S3]);
    expect(Object.keys(next.refs)).toEqual(['main', 'v1-release']);
    // S1's entry precedes the removed S2, so it goes too (spec "snapshot-log").
    expect(next.snapshotLog).toEqual([{ snapshotId: S3, timestampMs: 1717000300000 }]);
    expect(next.statistics).toEqual([]);
    expect(next.partitionStatistics).toHaveLength(1);
    // Lineage is kept as written: S3's parent is now dangling, as in Java.
    expect(snapshotById(next, S3)!.parentSnapshotId).toBe(S2);
  });

  it('clears the current snapshot when the snapshot main points at is removed', () => {
    const m = load('v2-refs-stats.metadata.json');
    const next = applyUpdates(m, [{ action: 'remove-snapshots', snapshotIds: [S3] }], { nowMs: NOW });
    expect(next.currentSnapshotId).toBeNull();
    expect(next.refs.main).toBeUndefined();
    // Every entry precedes the removed S3, so the whole log goes (spec "snapshot-log", Java alike).
    expect(next.snapshotLog).toEqual([]);
    expect(next.partitionStatistics).toEqual([]);
  });

  it('ignores snapshot ids that are already gone, so a retried expiry is harmless', () => {
    const m = load('v2-refs-stats.metadata.json');
    expect(applyUpdates(m, [{ action: 'remove-snapshots', snapshotIds: [123n] }], { nowMs: NOW }).snapshots).toHaveLength(3);
  });

  it('removes a tag, clears the current snapshot when main is removed, and ignores unknown refs', () => {
    const m = load('v2-refs-stats.metadata.json');
    const next = applyUpdates(m, [
      { action: 'remove-snapshot-ref', refName: 'v1-release' },
      { action: 'remove-snapshot-ref', refName: 'never' },
    ], { nowMs: NOW });
    expect(Object.keys(next.refs)).toEqual(['main', 'audit']);
    const noMain = applyUpdates(m, [{ action: 'remove-snapshot-ref', refName: 'main' }], { nowMs: NOW });
    expect(noMain.currentSnapshotId).toBeNull();
    expect(noMain.snapshots).toHaveLength(3);
  });
});

describe('applyUpdates: metadata-log', () => {
  it('records the previous file at the base\'s last-updated-ms', () => {
    const base = newTable();
    const next = applyUpdates(base, [], { previousMetadataLocation: 's3://b/db/t/metadata/00000-a.metadata.json', nowMs: NOW });
    expect(next.metadataLog).toEqual([{ metadataFile: 's3://b/db/t/metadata/00000-a.metadata.json', timestampMs: 1000 }]);
  });

  it('keeps at most write.metadata.previous-versions-max entries, dropping the oldest', () => {
    const m = load('v2-refs-stats.metadata.json'); // max 3, already 3 entries
    const next = applyUpdates(m, [], { previousMetadataLocation: 's3://x/metadata/00003-3e6f.metadata.json', nowMs: NOW });
    expect(next.metadataLog).toEqual([
      { metadataFile: 's3://warehouse/lakehouse/campaign_events/metadata/00001-1c4d.metadata.json', timestampMs: 1717000100000 },
      { metadataFile: 's3://warehouse/lakehouse/campaign_events/metadata/00002-2d5e.metadata.json', timestampMs: 1717000200000 },
      { metadataFile: 's3://x/metadata/00003-3e6f.metadata.json', timestampMs: 1717000300000 },
    ]);
  });

  it('uses the limit as set by this commit and keeps at least one entry', () => {
    const m = load('v2-refs-stats.metadata.json');
    const next = applyUpdates(m, [{ action: 'set-properties', updates: { 'write.metadata.previous-versions-max': '0' } }],
      { previousMetadataLocation: 's3://x/metadata/00003-3e6f.metadata.json', nowMs: NOW });
    expect(next.metadataLog).toEqual([{ metadataFile: 's3://x/metadata/00003-3e6f.metadata.json', timestampMs: 1717000300000 }]);
  });

  it('leaves the log alone without a previous location', () => {
    const m = load('v2-refs-stats.metadata.json');
    expect(applyUpdates(m, [], { nowMs: NOW }).metadataLog).toEqual(m.metadataLog);
  });
});

describe('createTableUpdates', () => {
  const m = newTable({
    spec: { specId: 0, fields: [{ sourceId: 50, fieldId: 0, name: 'ts_day', transform: 'day' }] },
    sortOrder: { orderId: 0, fields: [{ transform: 'identity', sourceId: 10, direction: 'asc', nullOrder: 'nulls-first' }] },
    properties: { owner: 'ads' },
  });

  it('lists the updates Java\'s REST client sends for a create', () => {
    expect(createTableUpdates(m).map((u) => u.action)).toEqual([
      'assign-uuid', 'upgrade-format-version', 'add-schema', 'set-current-schema', 'add-spec', 'set-default-spec',
      'add-sort-order', 'set-default-sort-order', 'set-location', 'set-properties',
    ]);
  });

  it('rebuilds the same metadata from empty', () => {
    const rebuilt = applyUpdates(emptyTableMetadata(), createTableUpdates(m), { nowMs: m.lastUpdatedMs });
    expect(serializeTableMetadata(rebuilt)).toBe(serializeTableMetadata(m));
  });

  it('rebuilds a v1 table and one with snapshots and refs', () => {
    const v1 = newTable({ formatVersion: 1 });
    expect(serializeTableMetadata(applyUpdates(emptyTableMetadata(), createTableUpdates(v1), { nowMs: 1000 }))).toBe(serializeTableMetadata(v1));
    const withSnapshots = load('v2-refs-stats.metadata.json');
    const rebuilt = applyUpdates(emptyTableMetadata(), createTableUpdates(withSnapshots), { nowMs: withSnapshots.lastUpdatedMs });
    expect(rebuilt.snapshots).toEqual(withSnapshots.snapshots);
    expect(rebuilt.refs).toEqual(withSnapshots.refs);
    expect(rebuilt.lastSequenceNumber).toBe(3);
  });
});

describe('generateSnapshotId', () => {
  it('returns distinct positive ids that fit a signed 64-bit long', () => {
    const ids = new Set<bigint>();
    for (let i = 0; i < 1000; i++) {
      const id = generateSnapshotId();
      expect(id > 0n && id <= 0x7fffffffffffffffn).toBe(true);
      ids.add(id);
    }
    expect(ids.size).toBe(1000);
  });
});
