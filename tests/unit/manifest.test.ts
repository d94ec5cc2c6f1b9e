import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { encodeManifest, partitionType, readManifest, writeManifest, type ManifestWriteOptions, encodeManifestList, readManifestList, writeManifestList, DataFileContent, ManifestContent, ManifestEntryStatus, type DataFile, type ManifestEntry, type ManifestFile, type PartitionSpec, Schema, T, type Value } from '../../iceberg/index.ts';
import { MemoryIO } from '../support/memory-file-io.ts';

// ---- test doubles and an independent Avro reader/writer (plain avsc streams, not iceberg/avro.ts) ----

/** A long type for the independent reader: bigint, so 64-bit ids can be checked exactly. */
const testLong = avsc.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(0),
  toBuffer: (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(n)); return b; },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});
const testLongHook = (s: unknown) =>
  s === 'long' || (typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'long') ? testLong : undefined;

async function independentRead(bytes: Uint8Array): Promise<{ meta: Record<string, string>; schema: unknown; records: any[] }> {
  const meta: Record<string, string> = {};
  const records: any[] = [];
  const decoder = new avsc.streams.BlockDecoder({ parseHook: (schema) => avsc.Type.forSchema(schema, { typeHook: testLongHook as never }) });
  decoder.on('metadata', (_type: unknown, _codec: unknown, header: { meta: Record<string, Buffer> }) => {
    for (const [k, v] of Object.entries(header.meta)) meta[k] = v.toString('utf8');
  });
  decoder.on('data', (r: unknown) => records.push(r));
  await new Promise<void>((resolve, reject) => {
    decoder.on('end', () => resolve());
    decoder.on('error', reject);
    decoder.end(Buffer.from(bytes));
  });
  return { meta, schema: JSON.parse(meta['avro.schema']!), records };
}

/** Writes a container with avsc's own encoder, as a stand-in for files from other writers. */
async function independentWrite(schema: object, records: object[], meta: Record<string, string>): Promise<Uint8Array> {
  const metadata: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = Buffer.from(v);
  const encoder = new avsc.streams.BlockEncoder(schema as avsc.Schema, { codec: 'deflate', metadata, writeHeader: true } as never);
  const chunks: Buffer[] = [];
  encoder.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve) => encoder.on('end', () => resolve()));
  for (const r of records) encoder.write(r);
  encoder.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const SYNC = hex('00112233445566778899aabbccddeeff');
/** Above 2^53: a double would round it. */
const BIG_SNAPSHOT = 2n ** 62n + 3n;

function dataFile(partition: Value[], extra: Partial<DataFile> = {}): DataFile {
  return {
    content: DataFileContent.DATA,
    filePath: `s3://bucket/t/data/${Math.random().toString(36).slice(2)}.parquet`,
    fileFormat: 'PARQUET',
    partition,
    recordCount: 100,
    fileSizeInBytes: 4096,
    specId: 0,
    ...extra,
  };
}

function added(file: DataFile, snapshotId: bigint | null = null, seq: bigint | null = null): ManifestEntry {
  return { status: ManifestEntryStatus.ADDED, snapshotId, sequenceNumber: seq, fileSequenceNumber: null, dataFile: file };
}

/** Writes a manifest and a v2 list naming it at `sequenceNumber`; returns the manifest as the list reads it. */
async function commit(io: MemoryIO, opts: ManifestWriteOptions, sequenceNumber: bigint): Promise<ManifestFile> {
  const m = await writeManifest(io, `mem://m-${io.files.size}.avro`, opts);
  await writeManifestList(io, 'mem://list.avro', {
    formatVersion: 2, snapshotId: opts.snapshotId, parentSnapshotId: null, sequenceNumber, manifests: [m],
  });
  const [read] = await readManifestList(io, 'mem://list.avro');
  return read!;
}

// Every primitive type as an identity partition source; two decimal(9,2) share one Avro named type.
const allTypes = new Schema([
  T.field(1, 'b', T.boolean()), T.field(2, 'i', T.int()), T.field(3, 'l', T.long()), T.field(4, 'f', T.float()),
  T.field(5, 'd', T.double()), T.field(6, 'dec_a', T.decimal(9, 2)), T.field(7, 'dec_b', T.decimal(9, 2)),
  T.field(8, 'dec38', T.decimal(38, 10)), T.field(9, 'day', T.date()), T.field(10, 't', T.time()),
  T.field(11, 'ts', T.timestamp()), T.field(12, 'tstz', T.timestamptz()), T.field(13, 's', T.string()),
  T.field(14, 'u', T.uuid()), T.field(15, 'bin', T.binary()), T.field(16, 'fx', T.fixed(3)), T.field(17, 'event-type', T.string()),
], 3);
const allTypesSpec: PartitionSpec = {
  specId: 4,
  fields: allTypes.fields.map((f, i) => ({ sourceId: f.id, fieldId: 1000 + i, name: f.name, transform: 'identity' })),
};

describe('partitionType', () => {
  it('uses partition field ids and names, transform result types, and makes every field optional', () => {
    const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string(), true)]);
    const spec: PartitionSpec = { specId: 1, fields: [
      { sourceId: 1, fieldId: 1000, name: 'id_bucket', transform: 'bucket[16]' },
      { sourceId: 2, fieldId: 1001, name: 'name', transform: 'identity' },
    ] };
    expect(partitionType(spec, schema)).toEqual(T.struct([T.field(1000, 'id_bucket', T.int(), false), T.field(1001, 'name', T.string(), false)]));
  });

  it('names the missing source column when the schema lacks it', () => {
    const spec: PartitionSpec = { specId: 1, fields: [{ sourceId: 9, fieldId: 1000, name: 'x', transform: 'identity' }] };
    expect(() => partitionType(spec, new Schema([T.field(1, 'id', T.long())]))).toThrow(/source column id 9/);
  });
});

describe('manifest round trip', () => {
  it('keeps partition values of every primitive type and all stats maps', async () => {
    const io = new MemoryIO();
    const values: Value[][] = [
      [true, -7, 2n ** 60n, 1.5, Number.NaN, -12345n, 99n, -(10n ** 37n), 19723, 3_600_000_001n, -1n, 1_700_000_000_000_000n,
        'héllo', 'f79c3e09-677c-4bbd-a479-3f349cb785e7', hex('00ff'), hex('010203'), 'click'],
      [false, 2147483647, -(2n ** 63n), -0, -0.25, 0n, -1n, 10n ** 37n, -1, 0n, 2n ** 62n, -5n, '', '00000000-0000-0000-0000-000000000000', new Uint8Array(0), hex('ffffff'), 'x-y'],
      allTypes.fields.map(() => null),
    ];
    const files = values.map((p, i) => dataFile(p, {
      columnSizes: new Map([[1, 10 + i], [13, 2 ** 40]]),
      valueCounts: new Map([[1, 100]]),
      nullValueCounts: new Map([[1, 0], [2, 3]]),
      nanValueCounts: new Map([[5, 1]]),
      lowerBounds: new Map([[2, hex('f9ffffff')], [13, hex('68')]]),
      upperBounds: new Map([[2, hex('ffffff7f')]]),
      keyMetadata: hex('cafe'),
      splitOffsets: [4, 2 ** 33],
      sortOrderId: 1,
      equalityIds: null,
    }));
    const m = await commit(io, { schema: allTypes, spec: allTypesSpec, formatVersion: 2, snapshotId: 42n, entries: files.map((f) => added(f)) }, 5n);

    const entries = await readManifest(io, m);
    expect(entries).toEqual(files.map((f) => ({
      status: ManifestEntryStatus.ADDED, snapshotId: 42n, sequenceNumber: 5n, fileSequenceNumber: 5n, dataFile: { ...f, specId: 4 },
    })));
    expect(Object.is(entries[1]!.dataFile.partition[3], -0)).toBe(true);
  });

  it('keeps snapshot ids above 2^53 exact in entries, the manifest list and its header', async () => {
    const io = new MemoryIO();
    const existing: ManifestEntry = {
      status: ManifestEntryStatus.EXISTING, snapshotId: 2n ** 63n - 1n, sequenceNumber: 2n ** 53n + 1n, fileSequenceNumber: 2n ** 53n + 1n, dataFile: dataFile([]),
    };
    const manifest = await writeManifest(io, 'mem://m.avro', {
      schema: allTypes, spec: { specId: 0, fields: [] }, formatVersion: 2, snapshotId: BIG_SNAPSHOT, entries: [added(dataFile([]), BIG_SNAPSHOT), existing],
    });
    const bytes = encodeManifestList({ formatVersion: 2, snapshotId: BIG_SNAPSHOT, parentSnapshotId: 2n ** 63n - 2n, sequenceNumber: 2n ** 60n, manifests: [manifest] });
    await io.write('mem://list.avro', bytes);

    const [m] = await readManifestList(io, 'mem://list.avro');
    expect(m!.addedSnapshotId).toBe(BIG_SNAPSHOT);
    expect(m!.sequenceNumber).toBe(2n ** 60n);
    const entries = await readManifest(io, m!);
    expect(entries.map((e) => [e.snapshotId, e.sequenceNumber])).toEqual([[BIG_SNAPSHOT, 2n ** 60n], [2n ** 63n - 1n, 2n ** 53n + 1n]]);

    const { meta, records } = await independentRead(bytes);
    expect(meta['snapshot-id']).toBe('4611686018427387907');
    expect(meta['parent-snapshot-id']).toBe('9223372036854775806');
    expect(meta['sequence-number']).toBe('1152921504606846976');
    expect(records[0].added_snapshot_id).toBe(BIG_SNAPSHOT);
  });

  it('writes byte-identical files for a fixed sync marker', () => {
    const opts: ManifestWriteOptions = {
      schema: allTypes, spec: allTypesSpec, formatVersion: 2, snapshotId: 1n, entries: [added(dataFile(allTypes.fields.map(() => null), { filePath: 'a' }))], syncMarker: SYNC,
    };
    const a = encodeManifest(opts).bytes;
    expect(encodeManifest(opts).bytes).toEqual(a);
    expect(encodeManifest({ ...opts, syncMarker: undefined }).bytes).not.toEqual(a);
    // The header ends with the sync marker, as does every block.
    expect(a.slice(-16)).toEqual(SYNC);
  });

  it('reads a partition written as int as bigint when the table schema has since promoted the column to long', async () => {
    const io = new MemoryIO();
    const v1Schema = new Schema([T.field(1, 'n', T.int())]);
    const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'n', transform: 'identity' }] };
    const m = await commit(io, { schema: v1Schema, spec, formatVersion: 2, snapshotId: 1n, entries: [added(dataFile([7]))] }, 1n);
    expect((await readManifest(io, m))[0]!.dataFile.partition).toEqual([7]);
    expect((await readManifest(io, m, { schema: new Schema([T.field(1, 'n', T.long())]) }))[0]!.dataFile.partition).toEqual([7n]);
  });
});

describe('sequence number and snapshot id inheritance', () => {
  const spec: PartitionSpec = { specId: 0, fields: [] };
  const schema = new Schema([T.field(1, 'id', T.long())]);

  it('fills null ids of ADDED entries from the manifest list and keeps explicit ones', async () => {
    const io = new MemoryIO();
    const entries: ManifestEntry[] = [
      added(dataFile([], { filePath: 'new' }), 77n),
      added(dataFile([], { filePath: 'late' }), null, 3n),
      { status: ManifestEntryStatus.EXISTING, snapshotId: 11n, sequenceNumber: 2n, fileSequenceNumber: 2n, dataFile: dataFile([], { filePath: 'old' }) },
      { status: ManifestEntryStatus.DELETED, snapshotId: 10n, sequenceNumber: 1n, fileSequenceNumber: 1n, dataFile: dataFile([], { filePath: 'gone', recordCount: 5 }) },
    ];
    const { manifest } = encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 77n, entries });
    // DELETED entries do not bound the live data: min is over ADDED and EXISTING.
    expect(manifest.minSequenceNumber).toBe(2n);
    expect(manifest.sequenceNumber).toBe(-1n);
    expect([manifest.addedFilesCount, manifest.existingFilesCount, manifest.deletedFilesCount]).toEqual([2, 1, 1]);
    expect([manifest.addedRowsCount, manifest.existingRowsCount, manifest.deletedRowsCount]).toEqual([200, 100, 5]);

    const m = await commit(io, { schema, spec, formatVersion: 2, snapshotId: 77n, entries }, 9n);
    expect([m.sequenceNumber, m.minSequenceNumber]).toEqual([9n, 2n]);
    const read = await readManifest(io, m);
    expect(read.map((e) => [e.dataFile.filePath, e.status, e.snapshotId, e.sequenceNumber, e.fileSequenceNumber])).toEqual([
      ['new', ManifestEntryStatus.ADDED, 77n, 9n, 9n],
      ['late', ManifestEntryStatus.ADDED, 77n, 3n, 9n],
      ['old', ManifestEntryStatus.EXISTING, 11n, 2n, 2n],
      // A DELETED entry records the snapshot that deleted it.
      ['gone', ManifestEntryStatus.DELETED, 77n, 1n, 1n],
    ]);
  });

  it('inherits only into ADDED entries of a v2 manifest, whatever another writer left null', async () => {
    const io = new MemoryIO();
    const optLong = (name: string, id: number) => ({ name, type: ['null', 'long'], default: null, 'field-id': id });
    const v2Entry = { type: 'record', name: 'manifest_entry', fields: [
      { name: 'status', type: 'int', 'field-id': 0 }, optLong('snapshot_id', 1), optLong('sequence_number', 3), optLong('file_sequence_number', 4),
      { name: 'data_file', 'field-id': 2, type: { type: 'record', name: 'r2', fields: [
        { name: 'content', type: 'int', 'field-id': 134 },
        { name: 'file_path', type: 'string', 'field-id': 100 }, { name: 'file_format', type: 'string', 'field-id': 101 },
        { name: 'partition', 'field-id': 102, type: { type: 'record', name: 'r102', fields: [] } },
        { name: 'record_count', type: 'long', 'field-id': 103 }, { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 }] } }] };
    const file = (path: string) => ({ content: 0, file_path: path, file_format: 'PARQUET', partition: {}, record_count: 1, file_size_in_bytes: 1 });
    io.files.set('mem://v2.avro', await independentWrite(v2Entry, [
      { status: 1, snapshot_id: null, sequence_number: null, file_sequence_number: null, data_file: file('added') },
      { status: 0, snapshot_id: 3, sequence_number: null, file_sequence_number: null, data_file: file('existing') },
    ], { 'format-version': '2', content: 'data' }));
    const m: ManifestFile = {
      manifestPath: 'mem://v2.avro', manifestLength: 1, partitionSpecId: 0, content: ManifestContent.DATA, sequenceNumber: 9n, minSequenceNumber: 9n,
      addedSnapshotId: 4n, addedFilesCount: 1, existingFilesCount: 1, deletedFilesCount: 0, addedRowsCount: 1, existingRowsCount: 1, deletedRowsCount: 0,
    };
    expect((await readManifest(io, m)).map((e) => [e.snapshotId, e.sequenceNumber, e.fileSequenceNumber])).toEqual([[4n, 9n, 9n], [3n, null, null]]);
  });

  it('writes null sequence numbers for ADDED entries so a retry can reuse the manifest', async () => {
    const { bytes } = encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 5n, entries: [added(dataFile([]))] });
    const { records } = await independentRead(bytes);
    expect([records[0].snapshot_id, records[0].sequence_number, records[0].file_sequence_number]).toEqual([5n, null, null]);
  });

  it('assigns the snapshot sequence number to both fields of a manifest with only inherited entries', () => {
    const { manifest } = encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 5n, entries: [added(dataFile([]))] });
    expect(manifest.minSequenceNumber).toBe(-1n);
    return (async () => {
      const bytes = encodeManifestList({ formatVersion: 2, snapshotId: 5n, parentSnapshotId: 4n, sequenceNumber: 12n, manifests: [{ ...manifest, manifestPath: 'p', manifestLength: 1 }] });
      const { records } = await independentRead(bytes);
      expect([records[0].sequence_number, records[0].min_sequence_number]).toEqual([12n, 12n]);
    })();
  });

  it('rejects entries whose numbers cannot be inherited correctly', () => {
    const existingNoSeq: ManifestEntry = { status: ManifestEntryStatus.EXISTING, snapshotId: 1n, sequenceNumber: null, fileSequenceNumber: null, dataFile: dataFile([]) };
    expect(() => encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 2n, entries: [existingNoSeq] })).toThrow(/only ADDED entries may inherit/);
    expect(() => encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 2n, entries: [added(dataFile([]), 1n)] })).toThrow(/carry files of earlier snapshots over as EXISTING/);
    const longSpec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'id', transform: 'identity' }] };
    expect(() => encodeManifest({ schema, spec: longSpec, formatVersion: 2, snapshotId: 2n, entries: [added(dataFile([5]))] })).toThrow(/partition value 0 \(id\) is not a valid long/);
    const foreign = { ...encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 1n, entries: [] }).manifest, manifestPath: 'p', manifestLength: 1 };
    expect(() => encodeManifestList({ formatVersion: 2, snapshotId: 2n, parentSnapshotId: 1n, sequenceNumber: 3n, manifests: [foreign] })).toThrow(/unassigned sequence number/);
  });

  it('reads a v1 manifest and list from another writer: sequence numbers 0, content data, old count names', async () => {
    const io = new MemoryIO();
    // Java V1Metadata's schemas, with the pre-0.12 `*_data_files_count` names for ids 504-506.
    const countMap = (k: number, v: number) => ['null', { type: 'array', logicalType: 'map', items: { type: 'record', name: `k${k}_v${v}`, fields: [
      { name: 'key', type: 'int', 'field-id': k }, { name: 'value', type: 'long', 'field-id': v }] } }];
    const v1Entry = {
      type: 'record', name: 'manifest_entry', fields: [
        { name: 'status', type: 'int', 'field-id': 0 },
        { name: 'snapshot_id', type: 'long', 'field-id': 1 },
        { name: 'data_file', 'field-id': 2, type: { type: 'record', name: 'r2', fields: [
          { name: 'file_path', type: 'string', 'field-id': 100 },
          { name: 'file_format', type: 'string', 'field-id': 101 },
          { name: 'partition', 'field-id': 102, type: { type: 'record', name: 'r102', fields: [
            { name: 'day', type: ['null', { type: 'int', logicalType: 'date' }], default: null, 'field-id': 1000 }] } },
          { name: 'record_count', type: 'long', 'field-id': 103 },
          { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
          { name: 'block_size_in_bytes', type: 'long', 'field-id': 105 },
          { name: 'value_counts', type: countMap(119, 120), default: null, 'field-id': 109 },
        ] } },
      ],
    };
    const v1Schema = new Schema([T.field(1, 'ts', T.timestamptz())]);
    io.files.set('mem://v1-m.avro', await independentWrite(v1Entry, [
      { status: 1, snapshot_id: 900, data_file: { file_path: 'a.parquet', file_format: 'parquet', partition: { day: 19000 }, record_count: 3, file_size_in_bytes: 10, block_size_in_bytes: 67108864, value_counts: [{ key: 1, value: 3 }] } },
      { status: 0, snapshot_id: 800, data_file: { file_path: 'b.parquet', file_format: 'parquet', partition: { day: null }, record_count: 4, file_size_in_bytes: 11, block_size_in_bytes: 67108864, value_counts: null } },
    ], {
      schema: JSON.stringify(v1Schema.toJSON()),
      'partition-spec': '[{"name":"day","transform":"day","source-id":1,"field-id":1000}]',
      'partition-spec-id': '0',
      'format-version': '1',
    }));
    const v1List = {
      type: 'record', name: 'manifest_file', fields: [
        { name: 'manifest_path', type: 'string', 'field-id': 500 },
        { name: 'manifest_length', type: 'long', 'field-id': 501 },
        { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
        { name: 'added_snapshot_id', type: ['null', 'long'], default: null, 'field-id': 503 },
        { name: 'added_data_files_count', type: ['null', 'int'], default: null, 'field-id': 504 },
        { name: 'existing_data_files_count', type: ['null', 'int'], default: null, 'field-id': 505 },
        { name: 'deleted_data_files_count', type: ['null', 'int'], default: null, 'field-id': 506 },
        { name: 'partitions', default: null, 'field-id': 507, type: ['null', { type: 'array', 'element-id': 508, items: { type: 'record', name: 'r508', fields: [
          { name: 'contains_null', type: 'boolean', 'field-id': 509 },
          { name: 'lower_bound', type: ['null', 'bytes'], default: null, 'field-id': 510 },
          { name: 'upper_bound', type: ['null', 'bytes'], default: null, 'field-id': 511 }] } }] },
      ],
    };
    io.files.set('mem://v1-list.avro', await independentWrite(v1List, [{
      manifest_path: 'mem://v1-m.avro', manifest_length: 1234, partition_spec_id: 0, added_snapshot_id: 900,
      added_data_files_count: 1, existing_data_files_count: 1, deleted_data_files_count: null,
      partitions: [{ contains_null: true, lower_bound: Buffer.from(hex('384a0000')), upper_bound: Buffer.from(hex('384a0000')) }],
    }], { 'snapshot-id': '900', 'parent-snapshot-id': '800', 'format-version': '1' }));

    const [m] = await readManifestList(io, 'mem://v1-list.avro');
    expect(m).toEqual({
      manifestPath: 'mem://v1-m.avro', manifestLength: 1234, partitionSpecId: 0, content: ManifestContent.DATA,
      sequenceNumber: 0n, minSequenceNumber: 0n, addedSnapshotId: 900n,
      addedFilesCount: 1, existingFilesCount: 1, deletedFilesCount: 0, addedRowsCount: 0, existingRowsCount: 0, deletedRowsCount: 0,
      partitions: [{ containsNull: true, containsNan: null, lowerBound: hex('384a0000'), upperBound: hex('384a0000') }],
      keyMetadata: null,
    });
    const entries = await readManifest(io, m!);
    expect(entries).toEqual([
      { status: ManifestEntryStatus.ADDED, snapshotId: 900n, sequenceNumber: 0n, fileSequenceNumber: 0n, dataFile: {
        content: DataFileContent.DATA, filePath: 'a.parquet', fileFormat: 'PARQUET', partition: [19000], recordCount: 3, fileSizeInBytes: 10,
        valueCounts: new Map([[1, 3]]), keyMetadata: null, splitOffsets: null, equalityIds: null, sortOrderId: null, specId: 0 } },
      { status: ManifestEntryStatus.EXISTING, snapshotId: 800n, sequenceNumber: 0n, fileSequenceNumber: 0n, dataFile: {
        content: DataFileContent.DATA, filePath: 'b.parquet', fileFormat: 'PARQUET', partition: [null], recordCount: 4, fileSizeInBytes: 11,
        keyMetadata: null, splitOffsets: null, equalityIds: null, sortOrderId: null, specId: 0 } },
    ]);
  });

  it('writes and reads back format v1 files', async () => {
    const io = new MemoryIO();
    const m = await writeManifest(io, 'mem://m1.avro', { schema, spec, formatVersion: 1, snapshotId: 3n, entries: [added(dataFile([], { filePath: 'x' }))] });
    await writeManifestList(io, 'mem://l1.avro', { formatVersion: 1, snapshotId: 3n, parentSnapshotId: null, sequenceNumber: 0n, manifests: [m] });
    const [listed] = await readManifestList(io, 'mem://l1.avro');
    expect([listed!.sequenceNumber, listed!.minSequenceNumber, listed!.content, listed!.addedFilesCount]).toEqual([0n, 0n, ManifestContent.DATA, 1]);
    const [e] = await readManifest(io, listed!);
    expect([e!.snapshotId, e!.sequenceNumber, e!.fileSequenceNumber, e!.dataFile.filePath]).toEqual([3n, 0n, 0n, 'x']);

    const { meta, schema: avroSchema } = await independentRead(io.files.get('mem://m1.avro')!);
    expect(meta['format-version']).toBe('1');
    expect(meta.content).toBeUndefined();
    const dataFileFields = (avroSchema as any).fields[2].type.fields.map((f: any) => [f.name, f['field-id']]);
    expect(dataFileFields.slice(0, 6)).toEqual([['file_path', 100], ['file_format', 101], ['partition', 102], ['record_count', 103], ['file_size_in_bytes', 104], ['block_size_in_bytes', 105]]);
  });
});

describe('partition field summaries', () => {
  const schema = new Schema([T.field(1, 'd', T.double()), T.field(2, 'i', T.int()), T.field(3, 'f', T.float()), T.field(4, 's', T.string())]);
  const spec: PartitionSpec = { specId: 2, fields: schema.fields.map((f, i) => ({ sourceId: f.id, fieldId: 1000 + i, name: f.name, transform: 'identity' })) };

  it('records nulls, NaNs and bounds of the other values (-0.0 below +0.0) and survives the list', async () => {
    const io = new MemoryIO();
    const rows: Value[][] = [[Number.NaN, 5, 0, 'b'], [2.5, null, -0, 'a'], [null, -3, 1.5, 'b'], [-1, 10, 0, null]];
    const m = await commit(io, { schema, spec, formatVersion: 2, snapshotId: 1n, entries: rows.map((r) => added(dataFile(r))) }, 1n);
    expect(m.partitions).toEqual([
      { containsNull: true, containsNan: true, lowerBound: hex('000000000000f0bf'), upperBound: hex('0000000000000440') },
      { containsNull: true, containsNan: false, lowerBound: hex('fdffffff'), upperBound: hex('0a000000') },
      { containsNull: false, containsNan: false, lowerBound: hex('00000080'), upperBound: hex('0000c03f') },
      { containsNull: true, containsNan: false, lowerBound: hex('61'), upperBound: hex('62') },
    ]);
  });

  it('leaves bounds null when every value is null or NaN', () => {
    const { manifest } = encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 1n, entries: [added(dataFile([Number.NaN, null, null, null]))] });
    expect(manifest.partitions![0]).toEqual({ containsNull: false, containsNan: true, lowerBound: null, upperBound: null });
    expect(manifest.partitions![1]).toEqual({ containsNull: true, containsNan: false, lowerBound: null, upperBound: null });
  });
});

describe('manifest list', () => {
  it('writes an empty list as a header-only file that reads back as no manifests', async () => {
    const io = new MemoryIO();
    await writeManifestList(io, 'mem://empty.avro', { formatVersion: 2, snapshotId: 1n, parentSnapshotId: null, sequenceNumber: 1n, manifests: [], syncMarker: SYNC });
    expect(await readManifestList(io, 'mem://empty.avro')).toEqual([]);
    const bytes = io.files.get('mem://empty.avro')!;
    expect(bytes.slice(-16)).toEqual(SYNC);
    const { meta, records } = await independentRead(bytes);
    expect(records).toEqual([]);
    expect({ ...meta, 'avro.schema': undefined }).toEqual({
      'snapshot-id': '1', 'parent-snapshot-id': 'null', 'sequence-number': '1', 'format-version': '2', 'avro.codec': 'deflate', 'avro.schema': undefined,
    });
  });

  it('embeds the spec v2 manifest_file schema with its field ids', async () => {
    const { schema } = await independentRead(encodeManifestList({ formatVersion: 2, snapshotId: 1n, parentSnapshotId: null, sequenceNumber: 1n, manifests: [] }));
    const opt = (name: string, type: unknown, id: number) => ({ name, type: ['null', type], default: null, 'field-id': id });
    const req = (name: string, type: unknown, id: number) => ({ name, type, 'field-id': id });
    expect(schema).toEqual({
      type: 'record', name: 'manifest_file', fields: [
        req('manifest_path', 'string', 500), req('manifest_length', 'long', 501), req('partition_spec_id', 'int', 502),
        req('content', 'int', 517), req('sequence_number', 'long', 515), req('min_sequence_number', 'long', 516),
        req('added_snapshot_id', 'long', 503), req('added_files_count', 'int', 504), req('existing_files_count', 'int', 505),
        req('deleted_files_count', 'int', 506), req('added_rows_count', 'long', 512), req('existing_rows_count', 'long', 513),
        req('deleted_rows_count', 'long', 514),
        opt('partitions', { type: 'array', 'element-id': 508, items: { type: 'record', name: 'r508', fields: [
          req('contains_null', 'boolean', 509), opt('contains_nan', 'boolean', 518), opt('lower_bound', 'bytes', 510), opt('upper_bound', 'bytes', 511),
        ] } }, 507),
        opt('key_metadata', 'bytes', 519),
      ],
    });
  });
});

describe('manifest file header', () => {
  const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'amount', T.decimal(9, 2)), T.field(3, 'amount2', T.decimal(9, 2))], 5);
  const spec: PartitionSpec = { specId: 3, fields: [
    { sourceId: 1, fieldId: 1000, name: 'id_bucket', transform: 'bucket[8]' },
    { sourceId: 2, fieldId: 1001, name: 'amount', transform: 'identity' },
    { sourceId: 3, fieldId: 1002, name: 'amount2', transform: 'identity' },
  ] };

  it('carries the metadata keys the spec requires for v2', async () => {
    const { bytes } = encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 1n, entries: [], content: ManifestContent.DATA });
    const { meta, records } = await independentRead(bytes);
    expect(records).toEqual([]);
    expect(JSON.parse(meta.schema!)).toEqual(schema.toJSON());
    expect(meta['schema-id']).toBe('5');
    expect(JSON.parse(meta['partition-spec']!)).toEqual([
      { name: 'id_bucket', transform: 'bucket[8]', 'source-id': 1, 'field-id': 1000 },
      { name: 'amount', transform: 'identity', 'source-id': 2, 'field-id': 1001 },
      { name: 'amount2', transform: 'identity', 'source-id': 3, 'field-id': 1002 },
    ]);
    expect(meta['partition-spec-id']).toBe('3');
    expect(meta['format-version']).toBe('2');
    expect(meta.content).toBe('data');
  });

  it('embeds the spec v2 manifest_entry schema: names, field ids, r2/r102/k_v records, named types defined once', async () => {
    const { schema: avroSchema } = await independentRead(encodeManifest({ schema, spec, formatVersion: 2, snapshotId: 1n, entries: [] }).bytes);
    const opt = (name: string, type: unknown, id: number) => ({ name, type: ['null', type], default: null, 'field-id': id });
    const req = (name: string, type: unknown, id: number) => ({ name, type, 'field-id': id });
    const map = (id: number, k: number, v: number, value: string) => opt(FIELD_NAMES[id]!, { type: 'array', logicalType: 'map', items: {
      type: 'record', name: `k${k}_v${v}`, fields: [req('key', 'int', k), req('value', value, v)] } }, id);
    const FIELD_NAMES: Record<number, string> = { 108: 'column_sizes', 109: 'value_counts', 110: 'null_value_counts', 137: 'nan_value_counts', 125: 'lower_bounds', 128: 'upper_bounds' };
    expect(avroSchema).toEqual({
      type: 'record', name: 'manifest_entry', fields: [
        req('status', 'int', 0),
        opt('snapshot_id', 'long', 1),
        opt('sequence_number', 'long', 3),
        opt('file_sequence_number', 'long', 4),
        req('data_file', { type: 'record', name: 'r2', fields: [
          req('content', 'int', 134),
          req('file_path', 'string', 100),
          req('file_format', 'string', 101),
          req('partition', { type: 'record', name: 'r102', fields: [
            opt('id_bucket', 'int', 1000),
            opt('amount', { type: 'fixed', name: 'decimal_9_2', size: 4, logicalType: 'decimal', precision: 9, scale: 2 }, 1001),
            opt('amount2', 'decimal_9_2', 1002),
          ] }, 102),
          req('record_count', 'long', 103),
          req('file_size_in_bytes', 'long', 104),
          map(108, 117, 118, 'long'),
          map(109, 119, 120, 'long'),
          map(110, 121, 122, 'long'),
          map(137, 138, 139, 'long'),
          map(125, 126, 127, 'bytes'),
          map(128, 129, 130, 'bytes'),
          opt('key_metadata', 'bytes', 131),
          opt('split_offsets', { type: 'array', items: 'long', 'element-id': 133 }, 132),
          opt('equality_ids', { type: 'array', items: 'int', 'element-id': 136 }, 135),
          opt('sort_order_id', 'int', 140),
          opt('referenced_data_file', 'string', 143),
        ] }, 2),
      ],
    });
  });

  it('writes temporal and uuid partition fields with the Appendix A logical types and sanitizes names', async () => {
    const { schema: avroSchema } = await independentRead(encodeManifest({ schema: allTypes, spec: allTypesSpec, formatVersion: 2, snapshotId: 1n, entries: [] }).bytes);
    const partition = (avroSchema as any).fields[4].type.fields[3].type.fields as any[];
    const byName = Object.fromEntries(partition.map((f) => [f.name, f]));
    expect(byName.day.type[1]).toEqual({ type: 'int', logicalType: 'date' });
    expect(byName.t.type[1]).toEqual({ type: 'long', logicalType: 'time-micros' });
    expect(byName.ts.type[1]).toEqual({ type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false });
    expect(byName.tstz.type[1]).toEqual({ type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true });
    expect(byName.u.type[1]).toEqual({ type: 'fixed', name: 'uuid_fixed', size: 16, logicalType: 'uuid' });
    expect(byName.fx.type[1]).toEqual({ type: 'fixed', name: 'fixed_3', size: 3 });
    expect(byName.dec38.type[1]).toEqual({ type: 'fixed', name: 'decimal_38_10', size: 16, logicalType: 'decimal', precision: 38, scale: 10 });
    expect(byName.bin.type[1]).toBe('bytes');
    expect(byName['event_x2Dtype']).toEqual({ name: 'event_x2Dtype', type: ['null', 'string'], default: null, 'field-id': 1016, 'iceberg-field-name': 'event-type' });
  });
});
