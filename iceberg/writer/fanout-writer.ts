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
import { mapLimit } from '../scan/table-scan.ts';
import type { FileWriter } from './file-writer.ts';

/** Partition files encoded and written at once when a fan-out closes. */
const CLOSE_CONCURRENCY = 4;

/**
 * Routes each row to the writer of its partition (iceberg-rust `FanoutWriter`): the partition tuple of
 * every row is computed from the spec's source columns and transforms (only where a row's source values
 * differ from the row before it), rows are grouped by PartitionKey in runs of consecutive rows, and
 * each group goes to its partition's writer: the whole batch when every row is in one partition, slices
 * of it when the partition's rows come in long runs (as the event buffer hands them over), else one
 * batch copied from its rows. Writers are made on first use and stay open until
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
    const n = batch.numRows;
    if (n === 0) return;
    const specId = this.spec.specId;
    if (this.sources.length === 0) {
      const values = this.spec.fields.map(() => null);
      await this.writerFor(partitionKey(specId, values), values).write(batch);
      return;
    }
    const columns = this.sources.map((s) => partitionColumn(batch, s));
    const changes = this.sources.map((s) => changeDetector(batch, s));
    const groups = new Map<PartitionKey, { values: Value[]; runs: number[]; rows: number }>();
    const tuple: Value[] = new Array(columns.length);
    const keyAt = (i: number): PartitionKey => {
      for (let k = 0; k < columns.length; k++) tuple[k] = columns[k]!(i);
      return partitionKey(specId, tuple);
    };
    // Rows come in runs of one partition (the event buffer groups them); a row whose source values
    // cannot have moved it to another partition skips computing its tuple.
    let runKey = keyAt(0);
    let runValues = [...tuple];
    let runStart = 0;
    const closeRun = (to: number) => {
      let g = groups.get(runKey);
      if (!g) groups.set(runKey, (g = { values: runValues, runs: [], rows: 0 }));
      g.runs.push(runStart, to);
      g.rows += to - runStart;
    };
    for (let i = 1; i < n; i++) {
      let changed = false;
      for (let k = 0; k < changes.length; k++) if (changes[k]!(i)) { changed = true; break; }
      if (!changed) continue;
      const key = keyAt(i);
      if (key === runKey) continue;
      closeRun(i);
      runKey = key;
      runValues = [...tuple];
      runStart = i;
    }
    closeRun(n);
    for (const [key, g] of groups) {
      const w = this.writerFor(key, g.values);
      if (g.rows === n) await w.write(batch);
      else if (g.rows >= (g.runs.length / 2) * MIN_RUN_ROWS) {
        // Long runs are written as slices of the batch: no row is copied.
        for (let r = 0; r < g.runs.length; r += 2) await w.write(batch.slice(g.runs[r]!, g.runs[r + 1]!));
      } else {
        const idx = new Int32Array(g.rows);
        let at = 0;
        for (let r = 0; r < g.runs.length; r += 2) for (let i = g.runs[r]!; i < g.runs[r + 1]!; i++) idx[at++] = i;
        await w.write(takeRows(batch, idx));
      }
    }
  }

  /**
   * Closes the partitions' writers CLOSE_CONCURRENCY at a time, so that the encoding thread always has the
   * next file queued instead of waiting for the main thread to hand it over (one at a time, each hand-over
   * waited behind whatever the main thread was decoding: a flush took as long as filling the next buffer).
   * Every close settles before an error is thrown, so the caller's clean-up never races a write.
   */
  async close(): Promise<DataFile[]> {
    let failure: { error: unknown } | null = null;
    const results = await mapLimit([...this.writers.values()], CLOSE_CONCURRENCY, (w) => w.close().catch((e: unknown) => {
      failure ??= { error: e };
      return [];
    }));
    if (failure) throw (failure as { error: unknown }).error;
    return results.flat();
  }
}

// ---- partition values of the rows of a batch ----

interface PartitionSource {
  /** Child indexes from the batch root to the source column, through structs only. */
  path: number[];
  type: PrimitiveType;
  transform: string;
  fn: (v: Value) => Value;
}

function partitionSource(schema: Schema, sourceId: number, name: string, transform: string): PartitionSource {
  const search = (fields: NestedField[], path: number[]): PartitionSource | undefined => {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.id === sourceId && isPrimitive(f.type)) return { path: [...path, i], type: f.type, transform, fn: transformFunction(transform, f.type) };
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

/** Average rows per run at which a partition's runs are written as slices rather than copied together. */
const MIN_RUN_ROWS = 32;

const TWO_32 = 4294967296;
const DAY_US = 86_400_000_000;
const HOUR_US = 3_600_000_000;

/**
 * For row i > 0: false when its partition value under this source is surely the same as row i-1's,
 * read straight from the column's buffers (no value object, no BigInt); true when it may differ, and
 * then the caller computes the tuple. Only flat columns without nulls get a fast check.
 */
function changeDetector(batch: arrow.RecordBatch, s: PartitionSource): (i: number) => boolean {
  const always = () => true;
  if (s.path.length !== 1) return always;
  const data = batch.data.children[s.path[0]!]!;
  if (data.nullCount > 0) return always;
  const kind = s.type.kind;
  if ((kind === 'string' || kind === 'binary') && data.valueOffsets instanceof Int32Array) {
    // Equal bytes, equal value, whatever the transform.
    const o = data.valueOffsets;
    const v = data.values as Uint8Array;
    return (i) => {
      const a = o[i - 1]!;
      const b = o[i]!;
      const len = o[i + 1]! - b;
      if (b - a !== len) return true;
      for (let k = 0; k < len; k++) if (v[a + k] !== v[b + k]) return true;
      return false;
    };
  }
  const values = data.values as unknown;
  if (values instanceof BigInt64Array && (values.byteOffset & 3) === 0 && LITTLE_ENDIAN) {
    const w = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
    const micros = kind === 'timestamp' || kind === 'timestamptz';
    const transform = s.transform;
    // day/month/year of a micros timestamp follow its day, hour its hour: compare those, exactly (below 2^53 µs).
    const unit = micros && (transform === 'day' || transform === 'month' || transform === 'year') ? DAY_US : micros && transform === 'hour' ? HOUR_US : 0;
    if (unit > 0) {
      return (i) => {
        const hiA = w[2 * i - 1]!;
        const hiB = w[2 * i + 1]!;
        if (hiA === hiB && w[2 * i - 2] === w[2 * i]) return false;
        const a = hiA * TWO_32 + (w[2 * i - 2]! >>> 0);
        const b = hiB * TWO_32 + (w[2 * i]! >>> 0);
        if (Math.abs(a) > Number.MAX_SAFE_INTEGER || Math.abs(b) > Number.MAX_SAFE_INTEGER) return true;
        return Math.floor(a / unit) !== Math.floor(b / unit);
      };
    }
    return (i) => w[2 * i - 1] !== w[2 * i + 1] || w[2 * i - 2] !== w[2 * i];
  }
  if (values instanceof Int32Array) return (i) => values[i - 1] !== values[i];
  return always;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
