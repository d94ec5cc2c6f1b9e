import * as arrow from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { decimalAt } from '../arrow/arrow-rows.ts';
import { type ValidMask, isValidAt, validMask } from '../arrow/arrow-schema.ts';
import { truncateLowerBound, truncateUpperBound } from '../spec/values/bounds.ts';
import { fromBinary, toBinary } from '../spec/values/single-value-binary.ts';
import { LakehouseError } from '../../core/errors.ts';
import type { Schema } from '../spec/schema.ts';
import { METRICS_MODE_DEFAULT, METRICS_MODE_DEFAULT_DEFAULT, intProperty } from '../spec/table-properties.ts';
import { type IcebergType, type NestedField, type PrimitiveType, type Value, isPrimitive } from '../spec/types.ts';

/**
 * Data-file metrics (spec "Manifests": value_counts, null_value_counts, nan_value_counts,
 * lower/upper_bounds, column_sizes), collected from the Arrow columns as they are written rather than
 * by re-reading the file; only column sizes and split offsets come from the footer of the bytes just
 * encoded, because only the encoder knows them.
 *
 * Which fields get what follows Iceberg Java (`ParquetMetrics`, `MetricsConfig`):
 *  - leaves reachable through structs only get counts and bounds; fields inside a list or a map get
 *    none at all (Java drops them: "repeated fields are not currently supported"), only column sizes;
 *  - modes none / counts / truncate(N) / full from `write.metadata.metrics.default` and
 *    `write.metadata.metrics.column.<name>`; truncate applies to string and binary only, other types
 *    keep full bounds; without an explicit default, only the first 100 columns get metrics;
 *  - NaN is counted and never a bound; -0.0 orders before +0.0 (spec note 2).
 * pyiceberg differs (counts only for every nested field, bounds from Parquet statistics).
 */

export interface ColumnStats {
  valueCounts: Map<number, number>;
  nullValueCounts: Map<number, number>;
  nanValueCounts: Map<number, number>;
  lowerBounds: Map<number, Uint8Array>;
  upperBounds: Map<number, Uint8Array>;
  columnSizes: Map<number, number>;
}

export const METRICS_MODE_COLUMN_PREFIX = 'write.metadata.metrics.column.';
export const METRICS_MAX_INFERRED_COLUMNS = 'write.metadata.metrics.max-inferred-column-defaults';
export const METRICS_MAX_INFERRED_COLUMNS_DEFAULT = 100;

export type ColumnMetricsMode = { kind: 'none' } | { kind: 'counts' } | { kind: 'truncate'; length: number } | { kind: 'full' };

export function parseColumnMetricsMode(text: string, setting: string): ColumnMetricsMode {
  const s = text.trim().toLowerCase();
  if (s === 'none' || s === 'counts' || s === 'full') return { kind: s };
  const m = /^truncate\((\d+)\)$/.exec(s);
  if (m && Number(m[1]) > 0) return { kind: 'truncate', length: Number(m[1]) };
  throw new LakehouseError('INVALID_CONFIG', `Table property ${setting}="${text}" is not a metrics mode; use none, counts, truncate(N) with N > 0, or full.`);
}

/** The metrics mode of every primitive field id, as Java `MetricsConfig.from` decides it (sort order aside). */
export function columnMetricsModes(schema: Schema, properties: Record<string, string> = {}): Map<number, ColumnMetricsMode> {
  const explicit = properties[METRICS_MODE_DEFAULT];
  const fallback = parseColumnMetricsMode(explicit ?? METRICS_MODE_DEFAULT_DEFAULT, METRICS_MODE_DEFAULT);
  const primitives = schema.allFields().filter((f) => isPrimitive(f.type));
  const modes = new Map<number, ColumnMetricsMode>();
  const limit = intProperty(properties, METRICS_MAX_INFERRED_COLUMNS, METRICS_MAX_INFERRED_COLUMNS_DEFAULT);
  if (explicit !== undefined || primitives.length <= limit) {
    for (const f of primitives) modes.set(f.id, fallback);
  } else {
    // Wide tables: only the first `limit` columns (a struct's own fields before its children's) get the default.
    const chosen = limitFieldIds(schema.fields, limit);
    for (const f of primitives) modes.set(f.id, chosen.has(f.id) ? fallback : { kind: 'none' });
  }
  for (const [key, value] of Object.entries(properties)) {
    if (!key.startsWith(METRICS_MODE_COLUMN_PREFIX)) continue;
    const name = key.slice(METRICS_MODE_COLUMN_PREFIX.length);
    const f = schema.findFieldByName(name);
    if (!f) throw new LakehouseError('INVALID_CONFIG', `Table property ${key} names column "${name}", which is not in the table schema.`);
    if (isPrimitive(f.type)) modes.set(f.id, parseColumnMetricsMode(value, key));
  }
  return modes;
}

function limitFieldIds(fields: NestedField[], limit: number): Set<number> {
  const ids = new Set<number>();
  const visit = (children: { id: number; type: IcebergType }[]): void => {
    for (const c of children) if (ids.size < limit && isPrimitive(c.type)) ids.add(c.id);
    for (const c of children) {
      if (ids.size >= limit) return;
      const t = c.type;
      if (t.kind === 'struct') visit(t.fields);
      else if (t.kind === 'list') visit([{ id: t.elementId, type: t.element }]);
      else if (t.kind === 'map') visit([{ id: t.keyId, type: t.key }, { id: t.valueId, type: t.value }]);
    }
  };
  visit(fields);
  return ids;
}

// ---- per-leaf accumulation ----

interface Leaf {
  id: number;
  type: PrimitiveType;
  mode: ColumnMetricsMode;
  /** Child indexes from the batch root down to this leaf, through structs only. */
  path: number[];
  values: number;
  nulls: number;
  nans: number;
  min: unknown;
  max: unknown;
}

/** Leaves in table order; the batches given to `add` must be in the table's column order (conformBatch). */
function statLeaves(schema: Schema, modes: Map<number, ColumnMetricsMode>): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (fields: NestedField[], path: number[]) => fields.forEach((f, i) => {
    if (f.type.kind === 'struct') walk(f.type.fields, [...path, i]);
    else if (isPrimitive(f.type)) {
      const mode = modes.get(f.id) ?? { kind: 'none' };
      if (mode.kind !== 'none') leaves.push({ id: f.id, type: f.type, mode, path: [...path, i], values: 0, nulls: 0, nans: 0, min: null, max: null });
    }
  });
  walk(schema.fields, []);
  return leaves;
}

function compareBytes(a: Uint8Array, ao: number, ae: number, b: Uint8Array, bo: number, be: number): number {
  const n = Math.min(ae - ao, be - bo);
  for (let i = 0; i < n; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return (ae - ao) - (be - bo);
}

/** Bytes [from + at, from + at + 4) of a value as a big-endian unsigned word, zero past its end. */
function prefixWord(b: Uint8Array, from: number, to: number, at: number): number {
  let w = 0;
  for (let k = 0; k < 4; k++) {
    const j = from + at + k;
    w = w * 256 + (j < to ? b[j]! : 0);
  }
  return w;
}

const PREFIX_WORDS = 4;
const PREFIX_BYTES = 4 * PREFIX_WORDS;

/** Order of the zero-padded first PREFIX_BYTES of value [from, to) against a bound's words; 0 = equal so far. */
function comparePrefix(view: DataView, b: Uint8Array, from: number, to: number, bound: Float64Array): number {
  for (let k = 0; k < PREFIX_WORDS; k++) {
    const j = from + 4 * k;
    const w = j + 4 <= to ? view.getUint32(j) : prefixWord(b, from, to, 4 * k);
    const x = bound[k]!;
    if (w !== x) return w < x ? -1 : 1;
  }
  return 0;
}

/**
 * Byte-ordered min/max over variable or fixed width byte values (UTF-8 byte order is code point
 * order). Candidates point into the batch's buffers; `settle` copies them out at the end of a batch.
 * Plain fields, no tuple per candidate: this runs once per value of every string column.
 */
class BytesMinMax {
  private loBuf: Uint8Array | null = null;
  private loStart = 0;
  private loEnd = 0;
  private hiBuf: Uint8Array | null = null;
  private hiStart = 0;
  private hiEnd = 0;
  /** Counts changes of min or max. */
  private version = 0;

  offer(buf: Uint8Array, start: number, end: number): void {
    if (this.loBuf === null) {
      this.loBuf = this.hiBuf = buf;
      this.loStart = this.hiStart = start;
      this.loEnd = this.hiEnd = end;
      this.version++;
      return;
    }
    // Below the min means not above the max (min <= max), so one comparison for most values.
    if (compareBytes(buf, start, end, this.loBuf, this.loStart, this.loEnd) < 0) {
      this.loBuf = buf; this.loStart = start; this.loEnd = end; this.version++;
    } else if (compareBytes(buf, start, end, this.hiBuf!, this.hiStart, this.hiEnd) > 0) {
      this.hiBuf = buf; this.hiStart = start; this.hiEnd = end; this.version++;
    }
  }

  /**
   * offer() for every valid row of a Utf8/Binary column with 32-bit offsets, rows [0, n). Most values
   * are neither a new min nor a new max, and their first 16 bytes (zero-padded, read as big-endian
   * words) already say so: strictly between those of min and max means strictly between min and max
   * (padding only ever orders a prefix first, as byte order does), and equal to those of a bound with
   * the bound's length (at most 16) means equal to it. The rest are compared in full.
   */
  offerAll(buf: Uint8Array, o: Int32Array, n: number, valid: Uint8Array | null, validOffset: number): void {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const lo = new Float64Array(PREFIX_WORDS);
    const hi = new Float64Array(PREFIX_WORDS);
    let loLen = 0;
    let hiLen = 0;
    let have = false;
    for (let i = 0; i < n; i++) {
      if (valid !== null && (valid[(validOffset + i) >> 3]! & (1 << ((validOffset + i) & 7))) === 0) continue;
      const start = o[i]!;
      const end = o[i + 1]!;
      if (have) {
        const len = end - start;
        const c = comparePrefix(view, buf, start, end, lo);
        if (c > 0) {
          const d = comparePrefix(view, buf, start, end, hi);
          if (d < 0 || (d === 0 && len === hiLen && len <= PREFIX_BYTES)) continue;
        } else if (c === 0 && len === loLen && len <= PREFIX_BYTES) continue;
      }
      const version = this.version;
      this.offer(buf, start, end);
      if (have && version === this.version) continue;
      for (let k = 0; k < PREFIX_WORDS; k++) {
        lo[k] = prefixWord(this.loBuf!, this.loStart, this.loEnd, 4 * k);
        hi[k] = prefixWord(this.hiBuf!, this.hiStart, this.hiEnd, 4 * k);
      }
      loLen = this.loEnd - this.loStart;
      hiLen = this.hiEnd - this.hiStart;
      have = true;
    }
  }

  settle(): void {
    if (this.loBuf) { this.loBuf = this.loBuf.slice(this.loStart, this.loEnd); this.loStart = 0; this.loEnd = this.loBuf.length; }
    if (this.hiBuf) { this.hiBuf = this.hiBuf.slice(this.hiStart, this.hiEnd); this.hiStart = 0; this.hiEnd = this.hiBuf.length; }
  }

  get min(): Uint8Array | null { return this.loBuf ? this.loBuf.subarray(this.loStart, this.loEnd) : null; }
  get max(): Uint8Array | null { return this.hiBuf ? this.hiBuf.subarray(this.hiStart, this.hiEnd) : null; }
}

const decoder = new TextDecoder();
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Accumulates metrics for one data file over the (conformed) batches written into it; `finish` adds the
 * footer-derived column sizes and split offsets.
 */
export class ColumnStatsCollector {
  private readonly leaves: Leaf[];
  private readonly modes: Map<number, ColumnMetricsMode>;

  constructor(schema: Schema, modes: Map<number, ColumnMetricsMode>) {
    this.modes = modes;
    this.leaves = statLeaves(schema, modes);
  }

  add(batch: arrow.RecordBatch): void {
    for (const leaf of this.leaves) {
      let data: arrow.Data = batch.data;
      let mask: ValidMask;
      for (let k = 0; k < leaf.path.length; k++) {
        if (k > 0) mask = validMask(data, mask);
        data = data.children[leaf.path[k]!]!;
      }
      accumulate(leaf, data, mask);
    }
  }

  /** Final metrics; `parquet` is the encoded file (its footer gives compressed column sizes and row group offsets). */
  finish(parquet: Uint8Array): ColumnStats & { splitOffsets: number[] } {
    const stats: ColumnStats = {
      valueCounts: new Map(), nullValueCounts: new Map(), nanValueCounts: new Map(),
      lowerBounds: new Map(), upperBounds: new Map(), columnSizes: new Map(),
    };
    for (const leaf of this.leaves) {
      stats.valueCounts.set(leaf.id, leaf.values);
      stats.nullValueCounts.set(leaf.id, leaf.nulls);
      if (leaf.type.kind === 'float' || leaf.type.kind === 'double') stats.nanValueCounts.set(leaf.id, leaf.nans);
      if (leaf.mode.kind === 'counts') continue;
      const [lower, upper] = bounds(leaf);
      if (lower !== null) stats.lowerBounds.set(leaf.id, toBinary(leaf.type, lower));
      if (upper !== null) stats.upperBounds.set(leaf.id, toBinary(leaf.type, upper));
    }
    const footer = footerFacts(parquet);
    for (const [id, size] of footer.columnSizes) {
      if ((this.modes.get(id) ?? { kind: 'none' }).kind !== 'none') stats.columnSizes.set(id, size);
    }
    return { ...stats, splitOffsets: footer.splitOffsets };
  }
}

function bounds(leaf: Leaf): [Value, Value] {
  let min = leaf.min;
  let max = leaf.max;
  if (min instanceof BytesMinMax) { max = min.max; min = min.min; }
  if (min === null || max === null) return [null, null];
  const t = leaf.type;
  if (t.kind === 'string') { min = decoder.decode(min as Uint8Array); max = decoder.decode(max as Uint8Array); }
  if (t.kind === 'uuid') { min = fromBinary(t, min as Uint8Array); max = fromBinary(t, max as Uint8Array); }
  if (leaf.mode.kind === 'truncate' && (t.kind === 'string' || t.kind === 'binary')) {
    return [truncateLowerBound(t, min as Value, leaf.mode.length), truncateUpperBound(t, max as Value, leaf.mode.length)];
  }
  return [min as Value, max as Value];
}

/** Whether row i counts as a value (leaf valid and every enclosing struct valid). */
function rowValid(data: arrow.Data, mask: ValidMask, i: number): boolean {
  return (mask === undefined || (mask[i >> 3]! & (1 << (i & 7))) !== 0) && isValidAt(data, i);
}

function accumulate(leaf: Leaf, data: arrow.Data, mask: ValidMask): void {
  const n = data.length;
  leaf.values += n;
  const allValid = mask === undefined && data.nullCount === 0;
  let nulls = 0;
  const t = leaf.type;
  const wantBounds = leaf.mode.kind !== 'counts';

  if (arrow.DataType.isDictionary(data.type)) {
    // Dictionary strings/binaries: compare each distinct entry once.
    // A dictionary may arrive in several chunks (IPC deltas); index k runs across all of them.
    const chunks = data.dictionary!.data;
    const size = chunks.reduce((s, c) => s + c.length, 0);
    const indices = data.values as ArrayLike<number | bigint>;
    const seen = new Uint8Array(size);
    const mm = leaf.min instanceof BytesMinMax ? leaf.min : new BytesMinMax();
    for (let i = 0; i < n; i++) {
      if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
      let k = Number(indices[i]!);
      if (!wantBounds || seen[k]) continue;
      seen[k] = 1;
      let c = 0;
      while (k >= chunks[c]!.length) k -= chunks[c++]!.length;
      const dict = chunks[c]!;
      const o = dict.valueOffsets as Int32Array | BigInt64Array;
      mm.offer(dict.values as Uint8Array, Number(o[k]!), Number(o[k + 1]!));
    }
    mm.settle();
    leaf.min = mm;
    leaf.nulls += nulls;
    return;
  }

  switch (t.kind) {
    case 'boolean': {
      const v = data.values as Uint8Array;
      let sawTrue = leaf.max === true;
      let sawFalse = leaf.min === false;
      for (let i = 0; i < n; i++) {
        if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
        const j = data.offset + i;
        if ((v[j >> 3]! & (1 << (j & 7))) !== 0) sawTrue = true; else sawFalse = true;
      }
      if (sawTrue || sawFalse) { leaf.min = !sawFalse; leaf.max = sawTrue; }
      break;
    }
    case 'int':
    case 'date': {
      const v = data.values as Int32Array;
      let min = leaf.min as number | null;
      let max = leaf.max as number | null;
      for (let i = 0; i < n; i++) {
        if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
        const x = v[i]!;
        if (min === null || x < min) min = x;
        if (max === null || x > max) max = x;
      }
      leaf.min = min; leaf.max = max;
      break;
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const v = data.values as BigInt64Array;
      let min = leaf.min as bigint | null;
      let max = leaf.max as bigint | null;
      if (LITTLE_ENDIAN && (v.byteOffset & 3) === 0) {
        // Compared as 32-bit halves (high signed, low unsigned): reading a BigInt64Array element makes a
        // BigInt, one per row; only the two winners are read that way.
        const w = new Int32Array(v.buffer, v.byteOffset, n * 2);
        let lo = -1;
        let hi = -1;
        for (let i = 0; i < n; i++) {
          if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
          if (lo < 0) { lo = hi = i; continue; }
          const xh = w[2 * i + 1]!;
          const xl = w[2 * i]! >>> 0;
          const lh = w[2 * lo + 1]!;
          if (xh < lh || (xh === lh && xl < w[2 * lo]! >>> 0)) { lo = i; continue; }
          const hh = w[2 * hi + 1]!;
          if (xh > hh || (xh === hh && xl > w[2 * hi]! >>> 0)) hi = i;
        }
        if (lo >= 0) {
          const a = v[lo]!;
          const b = v[hi]!;
          if (min === null || a < min) min = a;
          if (max === null || b > max) max = b;
        }
        leaf.min = min; leaf.max = max;
        break;
      }
      for (let i = 0; i < n; i++) {
        if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
        const x = v[i]!;
        if (min === null || x < min) min = x;
        if (max === null || x > max) max = x;
      }
      leaf.min = min; leaf.max = max;
      break;
    }
    case 'float':
    case 'double': {
      const v = data.values as Float32Array | Float64Array;
      let min = leaf.min as number | null;
      let max = leaf.max as number | null;
      let nans = 0;
      for (let i = 0; i < n; i++) {
        if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
        const x = v[i]!;
        if (x !== x) { nans++; continue; }
        // IEEE totalOrder for zeros: -0.0 is the smaller (spec "Manifests", note 2).
        if (min === null || x < min || (x === 0 && min === 0 && Object.is(x, -0))) min = x;
        if (max === null || x > max || (x === 0 && max === 0 && Object.is(max, -0))) max = x;
      }
      leaf.nans += nans;
      leaf.min = min; leaf.max = max;
      break;
    }
    case 'decimal': {
      const v = data.values as Uint32Array;
      let min = leaf.min as bigint | null;
      let max = leaf.max as bigint | null;
      for (let i = 0; i < n; i++) {
        if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
        if (!wantBounds) continue;
        const x = decimalAt(v, i);
        if (min === null || x < min) min = x;
        if (max === null || x > max) max = x;
      }
      leaf.min = min; leaf.max = max;
      break;
    }
    case 'string':
    case 'binary': {
      const v = data.values as Uint8Array;
      const o = data.valueOffsets as Int32Array | BigInt64Array;
      const big = o instanceof BigInt64Array;
      const mm = leaf.min instanceof BytesMinMax ? leaf.min : new BytesMinMax();
      if (!big && mask === undefined) {
        // Top level: the column's own validity bitmap says which rows hold values.
        const bitmap = data.nullCount > 0 ? data.nullBitmap! : null;
        nulls += data.nullCount;
        if (wantBounds) mm.offerAll(v, o as Int32Array, n, bitmap, data.offset);
      } else {
        for (let i = 0; i < n; i++) {
          if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
          if (wantBounds) mm.offer(v, Number(o[i]!), Number(o[i + 1]!));
        }
      }
      mm.settle();
      leaf.min = mm;
      break;
    }
    case 'uuid':
    case 'fixed': {
      const v = data.values as Uint8Array;
      const w = t.kind === 'uuid' ? 16 : t.length;
      const mm = leaf.min instanceof BytesMinMax ? leaf.min : new BytesMinMax();
      for (let i = 0; i < n; i++) {
        if (!allValid && !rowValid(data, mask, i)) { nulls++; continue; }
        // Unsigned byte order; for uuid that is also the order of the canonical hex strings.
        if (wantBounds) mm.offer(v, i * w, i * w + w);
      }
      mm.settle();
      leaf.min = mm;
      break;
    }
  }
  leaf.nulls += nulls;
}

/** Compressed bytes per leaf field id and row-group start offsets, from the footer of an encoded file. */
export function footerFacts(parquet: Uint8Array): { columnSizes: Map<number, number>; splitOffsets: number[] } {
  const md = parquetMetadata(parquet);
  const leafIds = md.schema.filter((e) => e.type !== undefined).map((e) => e.field_id);
  const columnSizes = new Map<number, number>();
  const splitOffsets: number[] = [];
  for (const rg of md.row_groups) {
    rg.columns.forEach((c, i) => {
      const id = leafIds[i];
      const meta = c.meta_data;
      if (id === undefined || !meta) return;
      columnSizes.set(id, (columnSizes.get(id) ?? 0) + Number(meta.total_compressed_size));
    });
    // A row group starts at its first column's dictionary page when there is one (Java BlockMetaData.getStartingPos).
    const first = rg.columns[0]?.meta_data;
    if (first) {
      const dict = first.dictionary_page_offset;
      splitOffsets.push(Number(dict !== undefined && dict > 0n && dict < first.data_page_offset ? dict : first.data_page_offset));
    }
  }
  splitOffsets.sort((a, b) => a - b);
  return { columnSizes, splitOffsets };
}
