import { readFileSync } from 'node:fs';
import { gzipSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { parseJson, stringifyJson } from '../../core/json.ts';
import { metadataFileLocation, nextMetadataLocation, parseMetadataVersion, readTableMetadata, writeTableMetadata, ancestorsOf, currentSchema, currentSnapshot, defaultSpec, parseTableMetadata, schemaById, serializeTableMetadata, snapshotAsOf, snapshotById, sortOrderById, specById, tableMetadataFromJson, tableMetadataToJson, type TableMetadata } from '../../iceberg/index.ts';
import { MemoryIO } from '../support/memory-file-io.ts';

const FIXTURES = new URL('../fixtures/metadata/', import.meta.url);
const text = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const load = (name: string) => parseTableMetadata(text(name), name);

const S1 = 3051729675574597004n;
const S2 = 3055729675574597004n;
const S3 = 8744736658442914487n;

/** The error a function throws, for asserting its code and sentence. */
function thrown(f: () => unknown): LakehouseError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LakehouseError);
    return e as LakehouseError;
  }
  throw new Error('expected an error');
}

async function rejection(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LakehouseError);
    return e as LakehouseError;
  }
  throw new Error('expected a rejection');
}

function v2Json(): Record<string, unknown> {
  return parseJson(text('TableMetadataV2Valid.json')) as Record<string, unknown>;
}

describe('reading v2 metadata', () => {
  it('reads every field of the Java TableMetadataV2Valid sample', () => {
    const m = load('TableMetadataV2Valid.json');
    expect(m.formatVersion).toBe(2);
    expect(m.tableUuid).toBe('9c12d441-03fe-4693-9a96-a0705ddf69c1');
    expect(m.location).toBe('s3://bucket/test/location');
    expect(m.lastSequenceNumber).toBe(34);
    expect(m.lastUpdatedMs).toBe(1602638573590);
    expect(m.lastColumnId).toBe(3);
    expect(m.schemas.map((s) => s.schemaId)).toEqual([0, 1]);
    expect(m.currentSchemaId).toBe(1);
    expect(currentSchema(m).identifierFieldIds).toEqual([1, 2]);
    expect(currentSchema(m).fields.map((f) => f.name)).toEqual(['x', 'y', 'z']);
    expect(m.partitionSpecs).toEqual([{ specId: 0, fields: [{ name: 'x', transform: 'identity', sourceId: 1, fieldId: 1000 }] }]);
    expect(m.lastPartitionId).toBe(1000);
    expect(m.defaultSortOrderId).toBe(3);
    expect(sortOrderById(m, 3).fields).toEqual([
      { transform: 'identity', sourceId: 2, direction: 'asc', nullOrder: 'nulls-first' },
      { transform: 'bucket[4]', sourceId: 3, direction: 'desc', nullOrder: 'nulls-last' },
    ]);
    expect(m.properties).toEqual({});
    expect(m.currentSnapshotId).toBe(S2);
    expect(m.snapshots).toEqual([
      { snapshotId: S1, sequenceNumber: 0, timestampMs: 1515100955770, manifestList: 's3://a/b/1.avro', summary: { operation: 'append' } },
      {
        snapshotId: S2, parentSnapshotId: S1, sequenceNumber: 1, timestampMs: 1555100955770, manifestList: 's3://a/b/2.avro',
        summary: { operation: 'append' }, schemaId: 1,
      },
    ]);
    expect(m.snapshotLog).toEqual([{ snapshotId: S1, timestampMs: 1515100955770 }, { snapshotId: S2, timestampMs: 1555100955770 }]);
    expect(m.metadataLog).toEqual([]);
  });

  it('derives the main branch from current-snapshot-id when refs is absent', () => {
    expect(load('TableMetadataV2Valid.json').refs).toEqual({ main: { snapshotId: S2, type: 'branch' } });
  });

  it('round-trips the Java v2 sample, adding only the fields Java always writes', () => {
    const out = parseJson(serializeTableMetadata(load('TableMetadataV2Valid.json')));
    const expected = {
      ...v2Json(),
      refs: { main: { 'snapshot-id': S2, type: 'branch' } },
      statistics: [],
      'partition-statistics': [],
    };
    expect(out).toEqual(expected);
  });

  it('writes the top-level keys in Java TableMetadataParser order', () => {
    const keys = Object.keys(tableMetadataToJson(load('TableMetadataV2Valid.json')));
    expect(keys).toEqual([
      'format-version', 'table-uuid', 'location', 'last-sequence-number', 'last-updated-ms', 'last-column-id',
      'current-schema-id', 'schemas', 'default-spec-id', 'partition-specs', 'last-partition-id', 'default-sort-order-id',
      'sort-orders', 'properties', 'current-snapshot-id', 'refs', 'snapshots', 'statistics', 'partition-statistics',
      'snapshot-log', 'metadata-log',
    ]);
  });

  it('keeps snapshot ids above 2^53 exact, written as bare digits', () => {
    const written = serializeTableMetadata(load('TableMetadataV2Valid.json'));
    expect(written).toContain('"current-snapshot-id":3055729675574597004,');
    expect(written).toContain('"parent-snapshot-id":3051729675574597004,');
    // The same digits through a double would have changed.
    expect(BigInt(Number('3055729675574597004'))).not.toBe(S2);
  });

  it('re-serializes a sample with refs, statistics and both logs byte for byte', () => {
    const source = text('v2-refs-stats.metadata.json');
    expect(serializeTableMetadata(parseTableMetadata(source))).toBe(stringifyJson(parseJson(source)));
  });

  it('reads branch and tag retention settings', () => {
    const m = load('v2-refs-stats.metadata.json');
    expect(m.refs.audit).toEqual({ snapshotId: S2, type: 'branch', minSnapshotsToKeep: 2, maxSnapshotAgeMs: 86400000, maxRefAgeMs: 604800000 });
    expect(m.refs['v1-release']).toEqual({ snapshotId: S1, type: 'tag', maxRefAgeMs: 604800000 });
  });

  it('reads null and absent current-snapshot-id as no snapshot and writes -1 for both', () => {
    for (const value of [null, undefined, -1]) {
      const j = { ...v2Json(), snapshots: [], 'snapshot-log': [], 'current-snapshot-id': value };
      const m = tableMetadataFromJson(j);
      expect(m.currentSnapshotId).toBeNull();
      expect(m.refs).toEqual({});
      expect(tableMetadataToJson(m)['current-snapshot-id']).toBe(-1);
    }
  });

  it('strips a trailing slash from the table location, as Java does', () => {
    const m = tableMetadataFromJson({ ...v2Json(), location: 's3://bucket/test/location/' });
    expect(m.location).toBe('s3://bucket/test/location');
  });
});

describe('reading v1 metadata', () => {
  it('maps schema and partition-spec to lists and defaults what v1 lacks', () => {
    const m = load('TableMetadataV1Valid.json');
    expect(m.formatVersion).toBe(1);
    expect(m.schemas.map((s) => s.schemaId)).toEqual([0]);
    expect(m.currentSchemaId).toBe(0);
    expect(currentSchema(m).fields.map((f) => [f.id, f.name, f.doc])).toEqual([[1, 'x', undefined], [2, 'y', 'comment'], [3, 'z', undefined]]);
    expect(m.partitionSpecs).toEqual([{ specId: 0, fields: [{ name: 'x', transform: 'identity', sourceId: 1, fieldId: 1000 }] }]);
    expect(m.defaultSpecId).toBe(0);
    expect(m.lastPartitionId).toBe(1000);
    expect(m.sortOrders).toEqual([{ orderId: 0, fields: [] }]);
    expect(m.defaultSortOrderId).toBe(0);
    expect(m.lastSequenceNumber).toBe(0);
    expect(m.currentSnapshotId).toBeNull();
    expect(m.refs).toEqual({});
  });

  it('writes v1 back with the deprecated schema and partition-spec and without sequence numbers', () => {
    const out = tableMetadataToJson(load('TableMetadataV1Valid.json'));
    expect(Object.keys(out)).toEqual([
      'format-version', 'table-uuid', 'location', 'last-updated-ms', 'last-column-id', 'schema', 'current-schema-id', 'schemas',
      'partition-spec', 'default-spec-id', 'partition-specs', 'last-partition-id', 'default-sort-order-id', 'sort-orders',
      'properties', 'current-snapshot-id', 'refs', 'snapshots', 'statistics', 'partition-statistics', 'snapshot-log', 'metadata-log',
    ]);
    expect(out['partition-spec']).toEqual([{ name: 'x', transform: 'identity', 'source-id': 1, 'field-id': 1000 }]);
    expect(out.schema).toEqual((out.schemas as unknown[])[0]);
    expect(out['current-snapshot-id']).toBe(-1);
  });

  it('reads a legacy v1 table: no uuid, field ids from 1000, sequence numbers 0, main from current-snapshot-id', () => {
    const m = load('v1-legacy-snapshots.metadata.json');
    expect(m.tableUuid).toBe('');
    expect(m.location).toBe('file:///tmp/warehouse/legacy');
    expect(m.partitionSpecs[0]!.fields).toEqual([{ name: 'category', transform: 'identity', sourceId: 2, fieldId: 1000 }]);
    expect(m.lastPartitionId).toBe(1000);
    expect(m.snapshots.map((s) => s.sequenceNumber)).toEqual([0, 0]);
    expect(m.refs).toEqual({ main: { snapshotId: 6180943347285466368n, type: 'branch' } });
    expect(m.properties).toEqual({ owner: 'etl' });
  });

  it('gives a snapshot without a summary the operation "overwrite", like Java', () => {
    const m = load('v1-legacy-snapshots.metadata.json');
    expect(snapshotById(m, 6180943347285466368n)!.summary).toEqual({ operation: 'overwrite' });
  });

  it('does not write sequence numbers or an empty uuid for v1', () => {
    const out = tableMetadataToJson(load('v1-legacy-snapshots.metadata.json'));
    expect(out['table-uuid']).toBeUndefined();
    expect((out.snapshots as Record<string, unknown>[]).map((s) => 'sequence-number' in s)).toEqual([false, false]);
  });

  it('refuses v1 snapshots that list manifests inline, saying how to fix it', () => {
    const e = thrown(() => load('v1-inline-manifests.metadata.json'));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain('Snapshot 42 lists its manifests inline');
    expect(e.message).toContain('rewrite_manifests');
  });
});

describe('invalid metadata', () => {
  it('names the file in a JSON syntax error', () => {
    const e = thrown(() => parseTableMetadata('{"format-version": 2,', 's3://b/t/metadata/00001-x.metadata.json'));
    expect(e.code).toBe('INVALID_METADATA');
    expect(e.message).toContain('s3://b/t/metadata/00001-x.metadata.json');
  });

  it('names the file in a missing-field error', () => {
    const { location: _, ...rest } = v2Json();
    const e = thrown(() => parseTableMetadata(stringifyJson(rest), 's3://b/t/metadata/00001-x.metadata.json'));
    expect(e.message).toBe('Cannot read table metadata file s3://b/t/metadata/00001-x.metadata.json: Table metadata is missing required field "location".');
  });

  it.each([
    'format-version', 'table-uuid', 'location', 'last-sequence-number', 'last-updated-ms', 'last-column-id', 'schemas',
    'current-schema-id', 'partition-specs', 'default-spec-id', 'last-partition-id', 'sort-orders', 'default-sort-order-id',
  ])('v2 without "%s" is INVALID_METADATA naming the field', (key) => {
    const j = v2Json();
    delete j[key];
    const e = thrown(() => tableMetadataFromJson(j));
    expect(e.code).toBe('INVALID_METADATA');
    expect(e.message).toBe(`Table metadata is missing required field "${key}".`);
  });

  it('v1 without schema or schemas names "schema"', () => {
    const j = parseJson(text('TableMetadataV1Valid.json')) as Record<string, unknown>;
    delete j.schema;
    expect(thrown(() => tableMetadataFromJson(j)).message).toContain('"schema"');
  });

  it('names a field of the wrong type and the value found', () => {
    const e = thrown(() => tableMetadataFromJson({ ...v2Json(), 'last-column-id': '3' }));
    expect(e.message).toBe('Table metadata field "last-column-id" must be an integer, got "3".');
  });

  it('names the snapshot that lacks a required field', () => {
    const j = v2Json();
    const snaps = j.snapshots as Record<string, unknown>[];
    delete snaps[1]!['timestamp-ms'];
    expect(thrown(() => tableMetadataFromJson(j)).message).toBe('Snapshot 3055729675574597004 is missing required field "timestamp-ms".');
  });

  it('rejects format version 3 as UNSUPPORTED', () => {
    const e = thrown(() => tableMetadataFromJson({ ...v2Json(), 'format-version': 3 }));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain('format version 3');
  });

  it('rejects a current-schema-id that is not in schemas', () => {
    const e = thrown(() => tableMetadataFromJson({ ...v2Json(), 'current-schema-id': 7 }));
    expect(e.message).toBe('Table metadata is not valid: current-schema-id 7 is not one of the schema ids (0, 1).');
  });

  it('rejects a current-snapshot-id that is not a snapshot', () => {
    const e = thrown(() => tableMetadataFromJson({ ...v2Json(), 'current-snapshot-id': 5 }));
    expect(e.message).toContain('current-snapshot-id 5 is not in the snapshot list');
  });

  it('rejects a main branch that disagrees with current-snapshot-id', () => {
    const j = { ...v2Json(), refs: { main: { 'snapshot-id': S1, type: 'branch' } } };
    expect(thrown(() => tableMetadataFromJson(j)).message).toContain('does not match the "main" branch');
  });

  it('rejects a snapshot sequence number above last-sequence-number', () => {
    const e = thrown(() => tableMetadataFromJson({ ...v2Json(), 'last-sequence-number': 0 }));
    expect(e.message).toContain('sequence number 1, greater than last-sequence-number 0');
  });

  it('rejects a non-string property value naming the key', () => {
    const e = thrown(() => tableMetadataFromJson({ ...v2Json(), properties: { 'commit.retry.num-retries': 4 } }));
    expect(e.message).toBe('Table metadata field "properties" "commit.retry.num-retries" must be a string, got 4.');
  });
});

describe('lookups', () => {
  const m = load('v2-refs-stats.metadata.json');

  it('finds schemas, specs and sort orders by id and says which ids exist when one is missing', () => {
    expect(schemaById(m, 0).fields.map((f) => f.name)).toEqual(['event_id', 'ts', 'tags']);
    expect(specById(m, 0)).toBe(defaultSpec(m));
    expect(sortOrderById(m, 0).fields).toEqual([]);
    expect(thrown(() => schemaById(m, 4)).message).toBe('Table s3://warehouse/lakehouse/campaign_events has no schema with id 4; its schema ids are 0.');
    expect(thrown(() => specById(m, 1)).code).toBe('INVALID_METADATA');
  });

  it('resolves the current snapshot of main, a branch and a tag, and null for an unknown ref', () => {
    expect(currentSnapshot(m)!.snapshotId).toBe(S3);
    expect(currentSnapshot(m, 'audit')!.snapshotId).toBe(S2);
    expect(currentSnapshot(m, 'v1-release')!.snapshotId).toBe(S1);
    expect(currentSnapshot(m, 'nope')).toBeNull();
    expect(currentSnapshot(load('TableMetadataV1Valid.json'))).toBeNull();
  });

  it('answers snapshotAsOf from the snapshot-log, inclusive of the entry time', () => {
    expect(snapshotAsOf(m, 1717000099999)).toBeNull();
    expect(snapshotAsOf(m, 1717000100000)!.snapshotId).toBe(S1);
    expect(snapshotAsOf(m, 1717000199999)!.snapshotId).toBe(S1);
    expect(snapshotAsOf(m, 1717000250000)!.snapshotId).toBe(S2);
    expect(snapshotAsOf(m, 1800000000000)!.snapshotId).toBe(S3);
  });

  it('follows the snapshot-log rather than lineage after a rollback', () => {
    // main was rolled back from S3 to S1 at t=400000: lineage of S1 has no S3, the log does.
    const rolledBack: TableMetadata = {
      ...m,
      currentSnapshotId: S1,
      refs: { ...m.refs, main: { snapshotId: S1, type: 'branch' } },
      snapshotLog: [...m.snapshotLog, { snapshotId: S1, timestampMs: 1717000400000 }],
    };
    expect(snapshotAsOf(rolledBack, 1717000350000)!.snapshotId).toBe(S3);
    expect(snapshotAsOf(rolledBack, 1717000400000)!.snapshotId).toBe(S1);
  });

  it('lists ancestors newest first and stops at an expired parent', () => {
    expect(ancestorsOf(m, S3).map((s) => s.snapshotId)).toEqual([S3, S2, S1]);
    expect(ancestorsOf(m, S2).map((s) => s.snapshotId)).toEqual([S2, S1]);
    expect(ancestorsOf(m, null)).toEqual([]);
    const expired = { ...m, snapshots: m.snapshots.filter((s) => s.snapshotId !== S2) };
    expect(ancestorsOf(expired, S3).map((s) => s.snapshotId)).toEqual([S3]);
  });
});

describe('metadata file names', () => {
  it('builds <location>/metadata/<5-digit version>-<uuid>.metadata.json', () => {
    expect(metadataFileLocation('s3://b/db/t/', 7, 'abc')).toBe('s3://b/db/t/metadata/00007-abc.metadata.json');
    expect(metadataFileLocation('/tmp/t', 123456, 'u')).toBe('/tmp/t/metadata/123456-u.metadata.json');
  });

  it('generates a random uuid when none is given', () => {
    expect(metadataFileLocation('s3://b/t', 0)).toMatch(/^s3:\/\/b\/t\/metadata\/00000-[0-9a-f-]{36}\.metadata\.json$/);
  });

  it('parses versions from metastore and file-system names, -1 otherwise', () => {
    expect(parseMetadataVersion('s3://b/t/metadata/00012-5f8b6e3a.metadata.json')).toBe(12);
    expect(parseMetadataVersion('s3://b/t/metadata/00003-x.gz.metadata.json')).toBe(3);
    expect(parseMetadataVersion('/t/metadata/v4.metadata.json')).toBe(4);
    expect(parseMetadataVersion('/t/metadata/5f8b6e3a.metadata.json')).toBe(-1);
    expect(parseMetadataVersion('/t/metadata/abc-1.metadata.json')).toBe(-1);
  });

  it('numbers the next file after the current one, 0 for a new table', () => {
    const m = load('v2-refs-stats.metadata.json');
    expect(nextMetadataLocation(m, null)).toMatch(/^s3:\/\/warehouse\/lakehouse\/campaign_events\/metadata\/00000-[0-9a-f-]{36}\.metadata\.json$/);
    expect(nextMetadataLocation(m, 's3://x/metadata/00041-a.metadata.json')).toMatch(/\/metadata\/00042-[0-9a-f-]{36}\.metadata\.json$/);
    expect(nextMetadataLocation(m, 's3://x/metadata/no-version.metadata.json')).toMatch(/\/metadata\/00000-/);
  });

  it('honours write.metadata.path, absolute or relative to the table', () => {
    const m = load('v2-refs-stats.metadata.json');
    const absolute = { ...m, properties: { 'write.metadata.path': 's3://other/meta/' } };
    expect(nextMetadataLocation(absolute, null)).toMatch(/^s3:\/\/other\/meta\/00000-[0-9a-f-]{36}\.metadata\.json$/);
    const relative = { ...m, properties: { 'write.metadata.path': 'meta2' } };
    expect(nextMetadataLocation(relative, null)).toMatch(/^s3:\/\/warehouse\/lakehouse\/campaign_events\/meta2\/00000-/);
  });

  it('names gzip metadata .gz.metadata.json when write.metadata.compression-codec is gzip', () => {
    const m = { ...load('v2-refs-stats.metadata.json'), properties: { 'write.metadata.compression-codec': 'gzip' } };
    expect(nextMetadataLocation(m, null)).toMatch(/\/00000-[0-9a-f-]{36}\.gz\.metadata\.json$/);
    const bad = { ...m, properties: { 'write.metadata.compression-codec': 'zstd' } };
    expect(thrown(() => nextMetadataLocation(bad, null)).message).toContain('write.metadata.compression-codec');
  });
});

describe('reading and writing metadata files', () => {
  const m = load('v2-refs-stats.metadata.json');

  it('writes compact JSON that reads back to the same metadata', async () => {
    const io = new MemoryIO();
    await writeTableMetadata(io, 'mem://t/metadata/00000-a.metadata.json', m);
    expect(new TextDecoder().decode(io.files.get('mem://t/metadata/00000-a.metadata.json'))).toBe(serializeTableMetadata(m));
    expect(await readTableMetadata(io, 'mem://t/metadata/00000-a.metadata.json')).toEqual(m);
  });

  it('gzips files named .gz.metadata.json and reads them back', async () => {
    const io = new MemoryIO();
    await writeTableMetadata(io, 'mem://t/metadata/00001-a.gz.metadata.json', m);
    const bytes = io.files.get('mem://t/metadata/00001-a.gz.metadata.json')!;
    expect(new TextDecoder().decode(gunzipSync(bytes))).toBe(serializeTableMetadata(m));
    expect(await readTableMetadata(io, 'mem://t/metadata/00001-a.gz.metadata.json')).toEqual(m);
  });

  it('reads the older .metadata.json.gz naming', async () => {
    const io = new MemoryIO();
    io.files.set('mem://t/metadata/v2.metadata.json.gz', gzipSync(text('TableMetadataV2Valid.json')));
    expect((await readTableMetadata(io, 'mem://t/metadata/v2.metadata.json.gz')).currentSnapshotId).toBe(S2);
  });

  it('refuses to replace an existing metadata file and says which', async () => {
    const io = new MemoryIO();
    await writeTableMetadata(io, 'mem://t/metadata/00000-a.metadata.json', m);
    const e = await rejection(writeTableMetadata(io, 'mem://t/metadata/00000-a.metadata.json', m));
    expect(e.code).toBe('ALREADY_EXISTS');
    expect(e.message).toContain('Cannot write table metadata file mem://t/metadata/00000-a.metadata.json');
  });

  it('wraps a missing file in a sentence with the location, keeping NOT_FOUND', async () => {
    const e = await rejection(readTableMetadata(new MemoryIO(), 'mem://t/metadata/00009-z.metadata.json'));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toBe('Cannot read table metadata file mem://t/metadata/00009-z.metadata.json: File mem://t/metadata/00009-z.metadata.json does not exist.');
  });

  it('names the file when its content is not table metadata', async () => {
    const io = new MemoryIO();
    io.files.set('mem://t/metadata/00000-a.metadata.json', new TextEncoder().encode('{"format-version": 2}'));
    const e = await rejection(readTableMetadata(io, 'mem://t/metadata/00000-a.metadata.json'));
    expect(e.code).toBe('INVALID_METADATA');
    expect(e.message).toBe('Cannot read table metadata file mem://t/metadata/00000-a.metadata.json: Table metadata is missing required field "table-uuid".');
  });
});
