import * as arrow from 'apache-arrow';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { recordBatchToRows, rowsToRecordBatch, writeDataFiles, type DataFileWriterOptions, type DataFile, readParquetBytes, UNPARTITIONED, type PartitionSpec, Schema, T } from '../../iceberg/index.ts';
import type { FileIO } from '../../iceberg/io/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import { MemoryIO } from '../support/memory-file-io.ts';

/** hyparquet only decompresses snappy: tests that read values back write snappy files. */
const SNAPPY = { 'write.parquet.compression-codec': 'snappy' };

function arrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Rows read by hyparquet, an independent Parquet reader: micros as bigint, dates as day numbers, bytes raw. */
async function hyparquetRows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const rows = await parquetReadObjects({
    file: arrayBuffer(bytes),
    utf8: false,
    parsers: { timestampFromMicroseconds: (v: bigint) => v, dateFromDays: (d: number) => d },
  });
  // hyparquet leaves null groups (struct, list, map) undefined.
  const norm = (v: unknown): unknown => {
    if (v === undefined) return null;
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
    return v;
  };
  return rows.map((r) => norm({ ...r }) as Record<string, unknown>);
}

function opts(io: FileIO, schema: Schema, extra: Partial<DataFileWriterOptions> = {}): DataFileWriterOptions {
  return { io, schema, spec: UNPARTITIONED, tableLocation: 'mem://wh/db/t', fileNamePrefix: 'p', ...extra };
}

const le64 = (v: bigint) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigInt64(0, v, true); return b; };
const f64 = (v: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return b; };
const utf8 = (s: string) => new TextEncoder().encode(s);

// ---- every type, read back by an independent reader ----

const allTypes = new Schema([
  T.field(1, 'b', T.boolean()),
  T.field(2, 'i', T.int(), true),
  T.field(3, 'l', T.long()),
  T.field(4, 'f', T.float()),
  T.field(5, 'd', T.double()),
  T.field(6, 'dec9', T.decimal(9, 2)),
  T.field(7, 'dec18', T.decimal(18, 4)),
  T.field(8, 'dec38', T.decimal(38, 10)),
  T.field(9, 'dt', T.date()),
  T.field(10, 'tm', T.time()),
  T.field(11, 'ts', T.timestamp()),
  T.field(12, 'tstz', T.timestamptz()),
  T.field(13, 's', T.string()),
  T.field(14, 'u', T.uuid()),
  T.field(15, 'bin', T.binary()),
  T.field(16, 'fx', T.fixed(3)),
  T.field(17, 'lst', T.list(20, T.int())),
  T.field(18, 'm', T.map(21, T.string(), 22, T.long())),
  T.field(19, 'st', T.struct([T.field(23, 'x', T.double(), true), T.field(24, 'y', T.string())])),
]);

const allRows = [
  {
    b: true, i: -2147483648, l: -(2n ** 63n), f: NaN, d: -0, dec9: -999999999n, dec18: 123456789012345678n, dec38: 10n ** 38n - 1n,
    dt: -719162, tm: 86_399_999_999n, ts: -62135596800000000n, tstz: 1_700_000_000_123_456n, s: 'héllo 🌍 日本',
    u: '123e4567-e89b-12d3-a456-426614174000', bin: Uint8Array.of(0, 255, 128), fx: Uint8Array.of(1, 2, 3),
    lst: [1, null, -3], m: new Map([['k', 1n], ['z', null]]), st: { x: 1.5, y: 'ü' },
  },
  {
    b: null, i: 2147483647, l: 2n ** 63n - 1n, f: -0, d: NaN, dec9: null, dec18: -1n, dec38: -(10n ** 38n - 1n),
    dt: -1, tm: 0n, ts: -1n, tstz: null, s: '', u: null, bin: new Uint8Array(0), fx: null, lst: [], m: new Map(), st: null,
  },
  {
    b: false, i: 0, l: 0n, f: 3.5, d: Infinity, dec9: 1n, dec18: null, dec38: null, dt: null, tm: null, ts: null, tstz: -1n,
    s: null, u: 'ffffffff-ffff-ffff-ffff-ffffffffffff', bin: null, fx: Uint8Array.of(0, 0, 0), lst: null, m: null, st: { x: -1, y: null },
  },
];

describe('writeDataFiles: the Parquet it writes', () => {
  it('reads back with hyparquet to exactly the values written, for every type, nulls and extremes included', async () => {
    const io = new MemoryIO();
    const [file] = await writeDataFiles([rowsToRecordBatch(allTypes, allRows)], opts(io, allTypes, { properties: SNAPPY }));
    const rows = await hyparquetRows(io.files.get(file!.filePath)!);
    // hyparquet turns decimals into floats (Number(unscaled) * 10^-scale) and maps into objects; the
    // 38-digit decimal does not survive a float, so the next test checks it exactly.
    const dec = (v: bigint | null, scale: number) => (v === null ? null : Number(v) * 10 ** -scale);
    const expected = allRows.map(({ dec38: _, ...r }) => ({
      ...r, dec9: dec(r.dec9, 2), dec18: dec(r.dec18, 4), m: r.m === null ? null : Object.fromEntries(r.m),
    }));
    expect(rows.map(({ dec38: _, ...r }) => r)).toEqual(expected);
    expect(rows.map((r) => r.dec38 === null)).toEqual([false, false, true]);
    expect(Object.is(rows[0]!.d, -0) && Object.is(rows[1]!.f, -0)).toBe(true);
  });

  it('keeps 38-digit decimals exact (read back by field id through arrow-rs)', async () => {
    const io = new MemoryIO();
    const [file] = await writeDataFiles([rowsToRecordBatch(allTypes, allRows)], opts(io, allTypes));
    const back = recordBatchToRows(readParquetBytes(io.files.get(file!.filePath)!, allTypes), allTypes);
    expect(back).toEqual(allRows);
  });

  it('stores Iceberg field ids and the spec logical types in the Parquet schema', async () => {
    const io = new MemoryIO();
    const [file] = await writeDataFiles([rowsToRecordBatch(allTypes, allRows)], opts(io, allTypes));
    const md = parquetMetadata(io.files.get(file!.filePath)!);
    const el = Object.fromEntries(md.schema.slice(1).map((e) => [e.name, e]));
    const idOf = (n: string) => el[n]!.field_id;
    expect(md.schema.slice(1).map((e) => [e.name, e.field_id])).toEqual([
      ['b', 1], ['i', 2], ['l', 3], ['f', 4], ['d', 5], ['dec9', 6], ['dec18', 7], ['dec38', 8], ['dt', 9], ['tm', 10], ['ts', 11],
      ['tstz', 12], ['s', 13], ['u', 14], ['bin', 15], ['fx', 16],
      ['lst', 17], ['list', undefined], ['element', 20],
      ['m', 18], ['key_value', undefined], ['key', 21], ['value', 22],
      ['st', 19], ['x', 23], ['y', 24],
    ]);
    expect(idOf('i')).toBe(2);
    expect(el.i!.repetition_type).toBe('REQUIRED');
    expect([el.dec9!.type, el.dec18!.type, el.dec38!.type, el.dec38!.type_length]).toEqual(['INT32', 'INT64', 'FIXED_LEN_BYTE_ARRAY', 16]);
    expect(el.dec38!.logical_type).toEqual({ type: 'DECIMAL', precision: 38, scale: 10 });
    expect(el.dt!.logical_type).toEqual({ type: 'DATE' });
    expect(el.tm!.logical_type).toEqual({ type: 'TIME', isAdjustedToUTC: false, unit: 'MICROS' });
    expect(el.ts!.logical_type).toEqual({ type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' });
    expect(el.tstz!.logical_type).toEqual({ type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });
    expect([el.u!.type, el.u!.type_length, el.u!.logical_type]).toEqual(['FIXED_LEN_BYTE_ARRAY', 16, { type: 'UUID' }]);
    expect([el.fx!.type, el.fx!.type_length, el.fx!.logical_type]).toEqual(['FIXED_LEN_BYTE_ARRAY', 3, undefined]);
    // 3-level list and map (Parquet LogicalTypes.md).
    expect([el.lst!.logical_type, el.list!.repetition_type]).toEqual([{ type: 'LIST' }, 'REPEATED']);
    expect([el.m!.logical_type, el.key_value!.repetition_type, el.key!.repetition_type]).toEqual([{ type: 'MAP' }, 'REPEATED', 'REQUIRED']);
    expect(md.row_groups[0]!.columns[0]!.meta_data!.codec).toBe('ZSTD');
  });

  it('reads columns by field id: renamed, reordered, promoted and newly added columns', async () => {
    const io = new MemoryIO();
    const written = new Schema([T.field(1, 'id', T.int(), true), T.field(2, 'name', T.string()), T.field(3, 'score', T.float())]);
    const [file] = await writeDataFiles([rowsToRecordBatch(written, [{ id: 1, name: 'a', score: 0.5 }, { id: 2, name: null, score: null }])], opts(io, written));
    const evolved = new Schema([
      T.field(3, 'points', T.double()),
      T.field(9, 'added', T.string()),
      T.field(1, 'id', T.long(), true),
      T.field(2, 'label', T.string()),
    ]);
    const rows = recordBatchToRows(readParquetBytes(io.files.get(file!.filePath)!, evolved), evolved);
    expect(rows).toEqual([
      { points: 0.5, added: null, id: 1n, label: 'a' },
      { points: null, added: null, id: 2n, label: null },
    ]);
  });

  it('accepts dictionary-encoded strings and a nullable Arrow field without nulls for a required column', async () => {
    const io = new MemoryIO();
    const schema = new Schema([T.field(1, 'id', T.int(), true), T.field(2, 'cat', T.string())]);
    const dictBatch = (ids: number[], cats: string[]) => {
      const t = new arrow.Table({ id: arrow.makeVector(Int32Array.from(ids)), cat: arrow.vectorFromArray(cats, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())) });
      const s = new arrow.Schema([new arrow.Field('id', new arrow.Int32(), true), t.schema.fields[1]!]);
      return new arrow.RecordBatch(s, t.batches[0]!.data);
    };
    const [file] = await writeDataFiles([dictBatch([1, 2, 3], ['x', 'y', 'x']), dictBatch([4], ['b'])], opts(io, schema, { properties: SNAPPY }));
    expect(await hyparquetRows(io.files.get(file!.filePath)!)).toEqual([
      { id: 1, cat: 'x' }, { id: 2, cat: 'y' }, { id: 3, cat: 'x' }, { id: 4, cat: 'b' },
    ]);
    expect(file!.lowerBounds!.get(2)).toEqual(utf8('b'));
    expect(file!.upperBounds!.get(2)).toEqual(utf8('y'));
  });
});

// ---- metrics ----

const statsSchema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'name', T.string()),
  T.field(3, 'score', T.double()),
  T.field(4, 'loc', T.struct([T.field(5, 'lat', T.double(), true), T.field(6, 'city', T.string())])),
  T.field(7, 'tags', T.list(8, T.string())),
  T.field(9, 'attrs', T.map(10, T.string(), 11, T.int())),
  T.field(12, 'nothing', T.string()),
]);

const LONG_NAME = 'Ωmega-ßtraße-日本語-long-name';
const statsRows = [
  { id: 5n, name: 'zebra', score: 1.5, loc: { lat: 10, city: 'Zürich' }, tags: ['x'], attrs: new Map([['a', 1]]), nothing: null },
  { id: -3n, name: 'apple', score: NaN, loc: null, tags: null, attrs: null, nothing: null },
  { id: 9n, name: null, score: -0, loc: { lat: 2.5, city: 'Aachen' }, tags: ['zz', 'a'], attrs: new Map(), nothing: null },
  { id: 0n, name: LONG_NAME, score: 0, loc: { lat: 0, city: null }, tags: [], attrs: new Map([['b', null]]), nothing: null },
];

async function statsFile(properties: Record<string, string> = {}): Promise<{ file: DataFile; bytes: Uint8Array }> {
  const io = new MemoryIO();
  const [file] = await writeDataFiles([rowsToRecordBatch(statsSchema, statsRows)], opts(io, statsSchema, { properties }));
  return { file: file!, bytes: io.files.get(file!.filePath)! };
}

describe('writeDataFiles: data file metrics', () => {
  it('counts values and nulls per leaf; a struct child is null where its struct is', async () => {
    const { file } = await statsFile();
    expect(file.recordCount).toBe(4);
    expect([...file.valueCounts!].sort((a, b) => a[0] - b[0])).toEqual([[1, 4], [2, 4], [3, 4], [5, 4], [6, 4], [12, 4]]);
    expect([...file.nullValueCounts!].sort((a, b) => a[0] - b[0])).toEqual([[1, 0], [2, 1], [3, 0], [5, 1], [6, 2], [12, 4]]);
  });

  it('counts NaN, keeps it out of the bounds, and orders -0.0 before +0.0', async () => {
    const { file } = await statsFile();
    expect([...file.nanValueCounts!].sort((a, b) => a[0] - b[0])).toEqual([[3, 1], [5, 0]]);
    expect(file.lowerBounds!.get(3)).toEqual(f64(-0));
    expect(file.upperBounds!.get(3)).toEqual(f64(1.5));
    expect(file.lowerBounds!.get(5)).toEqual(f64(0));
    expect(file.upperBounds!.get(5)).toEqual(f64(10));
  });

  it('gives exact bounds for longs and short strings', async () => {
    const { file } = await statsFile();
    expect(file.lowerBounds!.get(1)).toEqual(le64(-3n));
    expect(file.upperBounds!.get(1)).toEqual(le64(9n));
    expect(file.lowerBounds!.get(2)).toEqual(utf8('apple'));
    expect(file.lowerBounds!.get(6)).toEqual(utf8('Aachen'));
    expect(file.upperBounds!.get(6)).toEqual(utf8('Zürich'));
  });

  it('truncates string bounds to 16 code points, rounding the upper bound up (multi-byte characters)', async () => {
    const { file } = await statsFile();
    // UTF-8 byte order puts "Ω…" (0xCE 0xA9) after "zebra"; its first 16 code points end in 語 (U+8A9E),
    // which the upper bound raises to U+8A9F.
    expect(file.upperBounds!.get(2)).toEqual(utf8('Ωmega-ßtraße-日本\u8a9f'));
    const { file: full } = await statsFile({ 'write.metadata.metrics.column.name': 'full' });
    expect(full.upperBounds!.get(2)).toEqual(utf8(LONG_NAME));
  });

  it('gives an all-null column counts but no bounds', async () => {
    const { file } = await statsFile();
    expect(file.valueCounts!.get(12)).toBe(4);
    expect(file.nullValueCounts!.get(12)).toBe(4);
    expect(file.lowerBounds!.has(12)).toBe(false);
    expect(file.upperBounds!.has(12)).toBe(false);
  });

  it('keeps no counts or bounds for list and map fields, as Iceberg Java does, but reports their sizes', async () => {
    const { file } = await statsFile();
    for (const id of [8, 10, 11]) {
      expect([file.valueCounts!.has(id), file.nullValueCounts!.has(id), file.lowerBounds!.has(id)]).toEqual([false, false, false]);
    }
    expect([...file.columnSizes!.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 5, 6, 8, 10, 11, 12]);
  });

  it('reports column sizes that add up to less than the file and split offsets inside it', async () => {
    const { file, bytes } = await statsFile();
    const sizes = [...file.columnSizes!.values()];
    expect(sizes.every((s) => s > 0)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(file.fileSizeInBytes);
    expect(file.fileSizeInBytes).toBe(bytes.length);
    expect(file.splitOffsets).toEqual([4]);
  });

  it('follows the metrics modes: counts by default, one column full, one none', async () => {
    const { file } = await statsFile({
      'write.metadata.metrics.default': 'counts',
      'write.metadata.metrics.column.id': 'full',
      'write.metadata.metrics.column.score': 'none',
    });
    expect([...file.lowerBounds!.keys()]).toEqual([1]);
    expect(file.valueCounts!.has(3) || file.columnSizes!.has(3) || file.nanValueCounts!.has(3)).toBe(false);
    expect(file.nullValueCounts!.get(2)).toBe(1);
  });

  it('rejects a malformed metrics mode by naming the property', async () => {
    await expect(statsFile({ 'write.metadata.metrics.column.name': 'truncate(0)' }))
      .rejects.toThrow('Table property write.metadata.metrics.column.name="truncate(0)" is not a metrics mode');
  });
});

// ---- rolling and fanout ----

describe('writeDataFiles: rolling and fanout', () => {
  const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'ts', T.timestamptz()), T.field(3, 'cat', T.string())]);

  it('rolls to several files when the target size is tiny, keeping every row once and in order', async () => {
    const io = new MemoryIO();
    const rows = Array.from({ length: 100 }, (_, i) => ({ id: BigInt(i), ts: BigInt(i) * 1000n, cat: `c${i % 7}` }));
    const batches = [rowsToRecordBatch(schema, rows.slice(0, 60)), rowsToRecordBatch(schema, rows.slice(60))];
    const files = await writeDataFiles(batches, opts(io, schema, { properties: { ...SNAPPY, 'write.target-file-size-bytes': '1000' } }));
    expect(files.length).toBeGreaterThan(2);
    expect(files.reduce((s, f) => s + f.recordCount, 0)).toBe(100);
    const ids: unknown[] = [];
    for (const f of files) {
      const back = await hyparquetRows(io.files.get(f.filePath)!);
      expect(back.length).toBe(f.recordCount);
      ids.push(...back.map((r) => r.id));
    }
    expect(ids).toEqual(rows.map((r) => r.id));
    expect(files.map((f) => f.filePath)).toEqual(files.map((_, n) => `mem://wh/db/t/data/p-${String(n).padStart(5, '0')}.parquet`));
  });

  it('puts each row in the file of its partition (day(ts), identity(cat)), with Java-style paths', async () => {
    const io = new MemoryIO();
    const spec: PartitionSpec = {
      specId: 3,
      fields: [
        { sourceId: 2, fieldId: 1000, name: 'ts_day', transform: 'day' },
        { sourceId: 3, fieldId: 1001, name: 'cat', transform: 'identity' },
      ],
    };
    const rows = [
      { id: 0n, ts: 1_704_067_200_000_000n, cat: 'a' }, // 2024-01-01T00:00:00Z = day 19723
      { id: 1n, ts: 1_704_153_600_000_000n, cat: 'b' }, // 2024-01-02T00:00:00Z = day 19724
      { id: 2n, ts: 1_704_153_599_999_999n, cat: 'a' }, // 2024-01-01T23:59:59.999999Z = day 19723
      { id: 3n, ts: -1n, cat: 'a' }, // 1969-12-31T23:59:59.999999Z = day -1
      { id: 4n, ts: null, cat: null },
      { id: 5n, ts: 1_704_153_600_000_000n, cat: 'a b/c' },
    ];
    const files = await writeDataFiles([rowsToRecordBatch(schema, rows)], opts(io, schema, { spec, properties: SNAPPY, tableLocation: 'mem://wh/db/t/' }));
    const got = await Promise.all(files.map(async (f) => ({
      path: f.filePath, partition: f.partition, specId: f.specId, ids: (await hyparquetRows(io.files.get(f.filePath)!)).map((r) => r.id),
    })));
    expect(got).toEqual([
      { path: 'mem://wh/db/t/data/ts_day=2024-01-01/cat=a/p-00000.parquet', partition: [19723, 'a'], specId: 3, ids: [0n, 2n] },
      { path: 'mem://wh/db/t/data/ts_day=2024-01-02/cat=b/p-00001.parquet', partition: [19724, 'b'], specId: 3, ids: [1n] },
      { path: 'mem://wh/db/t/data/ts_day=1969-12-31/cat=a/p-00002.parquet', partition: [-1, 'a'], specId: 3, ids: [3n] },
      { path: 'mem://wh/db/t/data/ts_day=null/cat=null/p-00003.parquet', partition: [null, null], specId: 3, ids: [4n] },
      { path: 'mem://wh/db/t/data/ts_day=2024-01-02/cat=a+b%2Fc/p-00004.parquet', partition: [19724, 'a b/c'], specId: 3, ids: [5n] },
    ]);
    for (const f of files) {
      expect(f.content).toBe(0);
      expect(f.fileFormat).toBe('PARQUET');
      expect(f.fileSizeInBytes).toBe(io.files.get(f.filePath)!.length);
    }
  });

  it('fans out rows of a partition that arrive in several batches into one file', async () => {
    const io = new MemoryIO();
    const spec: PartitionSpec = { specId: 1, fields: [{ sourceId: 3, fieldId: 1000, name: 'cat', transform: 'identity' }] };
    const batch = (ids: number[]) => rowsToRecordBatch(schema, ids.map((i) => ({ id: BigInt(i), ts: 0n, cat: i % 2 ? 'odd' : 'even' })));
    const files = await writeDataFiles([batch([0, 1, 2]), batch([3, 4])], opts(io, schema, { spec, properties: SNAPPY }));
    const byPartition = Object.fromEntries(await Promise.all(files.map(async (f) => [f.partition[0], (await hyparquetRows(io.files.get(f.filePath)!)).map((r) => r.id)])));
    expect(byPartition).toEqual({ even: [0n, 2n, 4n], odd: [1n, 3n] });
  });

  it('deletes the files it already wrote when a later batch does not fit the table', async () => {
    const io = new MemoryIO();
    let writes = 0;
    const write = io.write.bind(io);
    io.write = async (l, d) => { writes++; return write(l, d); };
    const good = rowsToRecordBatch(schema, Array.from({ length: 20 }, (_, i) => ({ id: BigInt(i), ts: 0n, cat: 'x' })));
    const bad = arrow.tableFromArrays({ id: Int32Array.of(1) }).batches[0]!;
    const err = await writeDataFiles([good, bad], opts(io, schema, { properties: { 'write.target-file-size-bytes': '100' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect((err as LakehouseError).code).toBe('SCHEMA_MISMATCH');
    expect((err as Error).message).toContain('column "id" is long in the table (Arrow Int64) but the batch has Arrow Int32');
    expect(writes).toBeGreaterThan(0);
    expect(io.files.size).toBe(0);
  });

  it('rejects an unknown compression codec before reading any batch', async () => {
    const io = new MemoryIO();
    async function* never(): AsyncIterable<arrow.RecordBatch> { throw new Error('batches were read'); }
    await expect(writeDataFiles(never(), opts(io, schema, { properties: { 'write.parquet.compression-codec': 'lzo' } })))
      .rejects.toThrow('Table property write.parquet.compression-codec="lzo" is not a codec this writer has');
  });
});
