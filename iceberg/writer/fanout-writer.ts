import * as arrow from 'apache-arrow';
import { valueGetter } from '../arrow/arrow-rows.ts';
import { type ValidMask, isValidAt, validMask } from '../arrow/arrow-schema.ts';
import { LakehouseError } from '../../core/errors.ts';
import type { DataFile } from '../spec/manifest/manifest-types.ts';
import { type PartitionKey, partitionKey } from '../spec/partition-key.ts';
import { type PartitionSpec, isUnpartitioned } from '../spec/partition-spec.ts';
import { transformFunction } from '../spec/partition-transforms.ts';
import type { Schema } from '../spec/schema.ts';
import { type NestedField, type PrimitiveType, type Value, isPrimitive } from '../spec/types.ts';
import type { FileWriter } from './file-writer.ts';

/**
 * Routes each row to the writer of its partition (iceberg-rust `FanoutWriter`): the partition tuple of
 * every row is computed from the spec's source columns and transforms, rows are grouped by
 * PartitionKey, and each group goes to its partition's writer as one batch (a copy of those rows; the
 * whole batch when every row is in one partition). Writers are made on first use and stay open until
 * close, so a partition's rows from several batches share its files; the files come back in the order
 * the partitions were first seen.
 */
export class FanoutWriter implements FileWriter {
  private readonly writers = new Map<PartitionKey, FileWriter>();
  private readonly sources: PartitionSource[];

  /**
   * Resolves every partition field's source column now, so a spec that does not fit the schema fails
   * before any batch is read. `newWriter` makes the writer of one partition from its tuple.
   */
  constructor(schema: Schema, private readonly spec: PartitionSpec, private readonly newWriter: (partition: Value[]) => FileWriter) {
    this.sources = isUnpartitioned(spec) ? [] : spec.fields.map((f) => partitionSource(schema, f.sourceId, f.name, f.transform));
  }

  private writerFor(key: PartitionKey, values: Value[]): FileWriter {
    let w = this.writers.get(key);
    if (!w) this.writers.set(key, (w = this.newWriter(values)));
    return w;
  }

  async write(batch: arrow.RecordBatch): Promise<void> {
    if (batch.numRows === 0) return;
    const specId = this.spec.specId;
    if (this.sources.length === 0) {
      const values = this.spec.fields.map(() => null);
      await this.writerFor(partitionKey(specId, values), values).write(batch);
      return;
    }
    const columns = this.sources.map((s) => partitionColumn(batch, s));
    const groups = new Map<PartitionKey, { values: Value[]; rows: number[] }>();
    const tuple: Value[] = new Array(columns.length);
    for (let i = 0; i < batch.numRows; i++) {
      for (let k = 0; k < columns.length; k++) tuple[k] = columns[k]!(i);
      const key = partitionKey(specId, tuple);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { values: [...tuple], rows: [] }));
      g.rows.push(i);
    }
    for (const [key, g] of groups) {
      const part = groups.size === 1 ? batch : takeRows(batch, Int32Array.from(g.rows));
      await this.writerFor(key, g.values).write(part);
    }
  }

  async close(): Promise<DataFile[]> {
    const out: DataFile[] = [];
    for (const w of this.writers.values()) out.push(...(await w.close()));
    return out;
  }
}

// ---- partition values of the rows of a batch ----

interface PartitionSource {
  /** Child indexes from the batch root to the source column, through structs only. */
  path: number[];
  type: PrimitiveType;
  fn: (v: Value) => Value;
}

function partitionSource(schema: Schema, sourceId: number, name: string, transform: string): PartitionSource {
  const search = (fields: NestedField[], path: number[]): PartitionSource | undefined => {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.id === sourceId && isPrimitive(f.type)) return { path: [...path, i], type: f.type, fn: transformFunction(transform, f.type) };
      if (f.type.kind === 'struct') {
        const found = search(f.type.fields, [...path, i]);
        if (found) return found;
      }
    }
    return undefined;
  };
  const found = search(schema.fields, []);
  if (!found) {
    throw new LakehouseError('INVALID_ARGUMENT', `Partition field "${name}" reads source column id ${sourceId}, which is not a primitive column outside lists and maps in schema ${schema.schemaId}.`);
  }
  return found;
}

/** Per-row partition value of one spec field: the source column (null under a null struct), transformed. */
function partitionColumn(batch: arrow.RecordBatch, s: PartitionSource): (i: number) => Value {
  let data: arrow.Data = batch.data;
  let mask: ValidMask;
  for (let k = 0; k < s.path.length; k++) {
    if (k > 0) mask = validMask(data, mask);
    data = data.children[s.path[k]!]!;
  }
  const get = valueGetter(data, s.type) as (i: number) => Value;
  const m = mask;
  return m === undefined ? (i) => s.fn(get(i)) : (i) => s.fn((m[i >> 3]! & (1 << (i & 7))) !== 0 ? get(i) : null);
}

// ---- take: rows of a batch by index ----

function takeValidity(data: arrow.Data, idx: Int32Array): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  if (data.nullCount === 0) return { nullBitmap: undefined, nullCount: 0 };
  const bm = new Uint8Array((idx.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < idx.length; i++) {
    if (isValidAt(data, idx[i]!)) bm[i >> 3]! |= 1 << (i & 7);
    else nulls++;
  }
  return { nullBitmap: bm, nullCount: nulls };
}

type Typed = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** Offsets of rows `idx` laid end to end (as Int32, whatever the source's width), and the child positions they cover. */
function takeOffsets(o: Int32Array | BigInt64Array, idx: Int32Array): { offsets: Int32Array; starts: Int32Array } {
  const n = idx.length;
  const offsets = new Int32Array(n + 1);
  const starts = new Int32Array(n);
  let total = 0;
  if (o instanceof Int32Array) {
    for (let i = 0; i < n; i++) {
      const j = idx[i]!;
      const from = o[j]!;
      starts[i] = from;
      total += o[j + 1]! - from;
      offsets[i + 1] = total;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const j = idx[i]!;
      const from = Number(o[j]!);
      starts[i] = from;
      total += Number(o[j + 1]!) - from;
      offsets[i + 1] = total;
    }
  }
  return { offsets, starts };
}

/** Values shorter than this are copied byte by byte: for ids and names that beats a subarray + set per value. */
const SHORT_VALUE_BYTES = 32;

/** Rows `idx` of an Arrow column, every type the writer accepts (nested included), into fresh buffers. */
export function takeData(data: arrow.Data, idx: Int32Array): arrow.Data {
  const t = data.type;
  const n = idx.length;
  const v = takeValidity(data, idx);
  const base = { type: t, length: n, ...v };
  if (arrow.DataType.isStruct(t)) {
    return arrow.makeData({ ...base, type: t, children: data.children.map((c) => takeData(c, idx)) });
  }
  const listLike = arrow.DataType.isList(t) || arrow.DataType.isMap(t) || t.typeId === arrow.Type.LargeList;
  if (listLike || data.valueOffsets) {
    const o = data.valueOffsets as Int32Array | BigInt64Array;
    const { offsets, starts } = takeOffsets(o, idx);
    const total = offsets[n]!;
    const valueOffsets = (o instanceof BigInt64Array ? BigInt64Array.from(offsets, (x) => BigInt(x)) : offsets) as Int32Array;
    if (listLike) {
      const childIdx = new Int32Array(total);
      for (let i = 0; i < n; i++) {
        const at = offsets[i]!;
        for (let k = 0, len = offsets[i + 1]! - at; k < len; k++) childIdx[at + k] = starts[i]! + k;
      }
      return arrow.makeData({ ...base, type: t as arrow.List, valueOffsets, child: takeData(data.children[0]!, childIdx) });
    }
    const src = data.values as Uint8Array;
    const out = new Uint8Array(total);
    for (let i = 0; i < n; i++) {
      const at = offsets[i]!;
      const from = starts[i]!;
      const len = offsets[i + 1]! - at;
      if (len < SHORT_VALUE_BYTES) for (let k = 0; k < len; k++) out[at + k] = src[from + k]!;
      else out.set(src.subarray(from, from + len), at);
    }
    return arrow.makeData({ ...base, type: t as arrow.Utf8, valueOffsets, data: out });
  }
  if (arrow.DataType.isBool(t)) {
    const src = data.values as Uint8Array;
    const out = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++) {
      const j = data.offset + idx[i]!;
      if ((src[j >> 3]! & (1 << (j & 7))) !== 0) out[i >> 3]! |= 1 << (i & 7);
    }
    return arrow.makeData({ ...base, type: t, data: out });
  }
  const src = data.values as Typed;
  const stride = arrow.DataType.isFixedSizeBinary(t) ? t.byteWidth : arrow.DataType.isDecimal(t) ? 4 : 1;
  const out = new (src.constructor as new (len: number) => Typed)(n * stride);
  if (stride === 1) for (let i = 0; i < n; i++) out[i] = src[idx[i]!]!;
  else for (let i = 0; i < n; i++) out.set(src.subarray(idx[i]! * stride, idx[i]! * stride + stride) as never, i * stride);
  if (arrow.DataType.isDictionary(t)) {
    return arrow.makeData({ ...base, type: t, data: out as Int32Array, dictionary: data.dictionary });
  }
  return arrow.makeData({ ...base, type: t as arrow.Int32, data: out as Int32Array });
}

function takeRows(batch: arrow.RecordBatch, idx: Int32Array): arrow.RecordBatch {
  const children = batch.data.children.map((c) => takeData(c, idx));
  return new arrow.RecordBatch(batch.schema, arrow.makeData({ type: batch.data.type, length: idx.length, nullCount: 0, children }));
}
