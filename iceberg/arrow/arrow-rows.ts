import * as arrow from 'apache-arrow';
import { icebergToArrowSchema, isValidAt } from './arrow-schema.ts';
import { fromBinary } from '../spec/values/single-value-binary.ts';
import { uuidToBytesInto } from '../spec/values/uuid-hex.ts';
import { LakehouseError } from '../../core/errors.ts';
import type { Schema } from '../spec/schema.ts';
import type { IcebergType, NestedField, PrimitiveType } from '../spec/types.ts';

/**
 * Rows (objects in the in-memory value representation of types.ts: structs as objects, lists as
 * arrays, maps as Map or [key, value][]) to and from Arrow. For tests, the demo and the CLI; the ingest
 * path builds columns itself. Columns are filled as typed arrays and assembled with makeData: Arrow's
 * builders are about 5x slower (measured on 2 cores).
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function badValue(path: string, row: number, t: IcebergType, v: unknown, expected: string): LakehouseError {
  const shown = typeof v === 'bigint' ? `${v}n` : typeof v === 'number' ? String(v) : v instanceof Uint8Array ? `Uint8Array(${v.length})` : JSON.stringify(v) ?? String(v);
  return new LakehouseError('INVALID_ARGUMENT', `Row ${row}, column "${path}" (${t.kind}): ${shown} is not a valid value; expected ${expected}.`);
}

function toBigInt(v: unknown, path: string, row: number, t: IcebergType): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw badValue(path, row, t, v, 'a bigint (or a safe integer number)');
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function toInt64(v: unknown, path: string, row: number, t: IcebergType): bigint {
  // Date objects are a convenience for hand-written rows: micros from the millisecond clock.
  const b = (t.kind === 'timestamp' || t.kind === 'timestamptz') && v instanceof Date ? BigInt(v.getTime()) * 1000n : toBigInt(v, path, row, t);
  if (b < INT64_MIN || b > INT64_MAX) throw badValue(path, row, t, v, 'a value that fits in 64 bits');
  if (t.kind === 'time' && (b < 0n || b >= 86_400_000_000n)) throw badValue(path, row, t, v, 'microseconds since midnight, 0 <= v < 86400000000');
  return b;
}

/** Unscaled decimal value from a bigint (unscaled) or a plain decimal string such as "-12.30". */
function toUnscaled(v: unknown, path: string, row: number, t: Extract<PrimitiveType, { kind: 'decimal' }>): bigint {
  let u: bigint;
  if (typeof v === 'bigint') u = v;
  else if (typeof v === 'string' && /^[+-]?\d+(\.\d+)?$/.test(v.trim())) {
    const [whole, frac = ''] = v.trim().split('.');
    if (frac.length > t.scale) throw badValue(path, row, t, v, `at most ${t.scale} digits after the point`);
    u = BigInt(whole! + frac.padEnd(t.scale, '0'));
  } else {
    throw badValue(path, row, t, v, 'the unscaled value as a bigint, or a decimal string like "12.34"');
  }
  const limit = 10n ** BigInt(t.precision);
  if (u >= limit || u <= -limit) throw badValue(path, row, t, v, `at most ${t.precision} digits`);
  return u;
}

const UUID: PrimitiveType = { kind: 'uuid' };

// ---- rows -> Arrow ----

function validity(values: unknown[]): { bitmap: Uint8Array | undefined; nulls: number } {
  let nulls = 0;
  for (const v of values) if (v === null || v === undefined) nulls++;
  if (nulls === 0) return { bitmap: undefined, nulls };
  const bitmap = new Uint8Array((values.length + 7) >> 3);
  values.forEach((v, i) => {
    if (v !== null && v !== undefined) bitmap[i >> 3]! |= 1 << (i & 7);
  });
  return { bitmap, nulls };
}

function buildColumn(t: IcebergType, type: arrow.DataType, values: unknown[], required: boolean, path: string, rowIndex: number[] | undefined): arrow.Data {
  const n = values.length;
  const row = (i: number) => (rowIndex ? rowIndex[i]! : i);
  const { bitmap, nulls } = validity(values);
  if (required && nulls > 0) {
    const i = values.findIndex((v) => v === null || v === undefined);
    throw new LakehouseError('INVALID_ARGUMENT', `Row ${row(i)}: column "${path}" is required but has no value.`);
  }
  const base = { type, length: n, nullCount: nulls, nullBitmap: bitmap } as const;
  const each = <A>(arr: A, set: (a: A, i: number, v: unknown) => void): A => {
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v !== null && v !== undefined) set(arr, i, v);
    }
    return arr;
  };
  switch (t.kind) {
    case 'boolean':
      return arrow.makeData({ ...base, type: type as arrow.Bool, data: each(new Uint8Array((n + 7) >> 3), (a, i, v) => {
        if (typeof v !== 'boolean') throw badValue(path, row(i), t, v, 'true or false');
        if (v) a[i >> 3]! |= 1 << (i & 7);
      }) });
    case 'int':
    case 'date':
      return arrow.makeData({ ...base, type: type as arrow.Int32, data: each(new Int32Array(n), (a, i, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw badValue(path, row(i), t, v, 'a 32-bit integer number');
        a[i] = v;
      }) });
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return arrow.makeData({ ...base, type: type as arrow.Int64, data: each(new BigInt64Array(n), (a, i, v) => { a[i] = toInt64(v, path, row(i), t); }) });
    case 'float':
    case 'double': {
      const arr = t.kind === 'float' ? new Float32Array(n) : new Float64Array(n);
      return arrow.makeData({ ...base, type: type as arrow.Float64, data: each(arr, (a, i, v) => {
        if (typeof v !== 'number') throw badValue(path, row(i), t, v, 'a number');
        a[i] = v;
      }) });
    }
    case 'decimal':
      return arrow.makeData({ ...base, type: type as arrow.Decimal, data: each(new Uint32Array(n * 4), (a, i, v) => {
        // Decimal128 is 128-bit little-endian two's complement, stored as four 32-bit words.
        let u = BigInt.asUintN(128, toUnscaled(v, path, row(i), t));
        for (let w = 0; w < 4; w++) { a[i * 4 + w] = Number(u & 0xffffffffn); u >>= 32n; }
      }) });
    case 'string': {
      // One buffer sized for the worst case (3 UTF-8 bytes per UTF-16 unit), ASCII copied by hand and
      // the rest through encodeInto: a Uint8Array per value (TextEncoder.encode) is several times slower.
      const offsets = new Int32Array(n + 1);
      let capacity = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === null || v === undefined) continue;
        if (typeof v !== 'string') throw badValue(path, row(i), t, v, 'a string');
        capacity += v.length * 3;
      }
      const out = new Uint8Array(capacity);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i] as string | null | undefined;
        if (v !== null && v !== undefined) {
          let k = 0;
          for (; k < v.length; k++) {
            const c = v.charCodeAt(k);
            if (c >= 0x80) break;
            out[total + k] = c;
          }
          total += k;
          if (k < v.length) total += encoder.encodeInto(v.slice(k), out.subarray(total)).written;
        }
        offsets[i + 1] = total;
      }
      return arrow.makeData({ ...base, type: type as arrow.Utf8, valueOffsets: offsets, data: out.subarray(0, total) });
    }
    case 'binary': {
      const parts: Uint8Array[] = [];
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v !== null && v !== undefined) {
          if (!(v instanceof Uint8Array)) throw badValue(path, row(i), t, v, 'a Uint8Array');
          parts.push(v);
          total += v.length;
        }
        offsets[i + 1] = total;
      }
      return arrow.makeData({ ...base, type: type as arrow.Binary, valueOffsets: offsets, data: concat(parts, total) });
    }
    case 'uuid':
    case 'fixed': {
      const width = t.kind === 'uuid' ? 16 : t.length;
      return arrow.makeData({ ...base, type: type as arrow.FixedSizeBinary, data: each(new Uint8Array(n * width), (a, i, v) => {
        let b = v;
        if (t.kind === 'uuid' && typeof v === 'string') {
          b = new Uint8Array(16);
          if (!uuidToBytesInto(v, b as Uint8Array)) b = undefined;
        }
        if (!(b instanceof Uint8Array) || b.length !== width) {
          throw badValue(path, row(i), t, v, t.kind === 'uuid' ? 'a uuid string (8-4-4-4-12 hex) or 16 bytes' : `a Uint8Array of ${width} bytes`);
        }
        a.set(b, i * width);
      }) });
    }
    case 'struct': {
      const st = type as arrow.Struct;
      const children = t.fields.map((f, k) => {
        const childValues = values.map((v, i) => {
          if (v === null || v === undefined) return null;
          if (typeof v !== 'object' || Array.isArray(v)) throw badValue(path, row(i), t, v, 'an object');
          return (v as Record<string, unknown>)[f.name] ?? null;
        });
        // A null struct hides its children, so a required child may be null there (masked, as Arrow allows).
        const requiredHere = f.required && nulls === 0;
        if (f.required && nulls > 0) {
          const i = childValues.findIndex((v, j) => v === null && values[j] !== null && values[j] !== undefined);
          if (i >= 0) throw new LakehouseError('INVALID_ARGUMENT', `Row ${row(i)}: column "${path}.${f.name}" is required but has no value.`);
        }
        return buildColumn(f.type, st.children[k]!.type, childValues, requiredHere, `${path}.${f.name}`, rowIndex);
      });
      return arrow.makeData({ ...base, type: st, children });
    }
    case 'list': {
      const offsets = new Int32Array(n + 1);
      const flat: unknown[] = [];
      const flatRows: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v !== null && v !== undefined) {
          if (!Array.isArray(v)) throw badValue(path, row(i), t, v, 'an array');
          for (const e of v) { flat.push(e); flatRows.push(row(i)); }
        }
        offsets[i + 1] = flat.length;
      }
      const child = buildColumn(t.element, (type as arrow.List).children[0]!.type, flat, t.elementRequired, `${path}.element`, flatRows);
      return arrow.makeData({ ...base, type: type as arrow.List, valueOffsets: offsets, child });
    }
    case 'map': {
      const offsets = new Int32Array(n + 1);
      const keys: unknown[] = [];
      const vals: unknown[] = [];
      const flatRows: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v !== null && v !== undefined) {
          const entries = v instanceof Map ? [...v.entries()] : Array.isArray(v) ? v : typeof v === 'object' ? Object.entries(v) : undefined;
          if (!entries) throw badValue(path, row(i), t, v, 'a Map, an array of [key, value] pairs or an object');
          for (const e of entries) {
            if (!Array.isArray(e) || e.length !== 2) throw badValue(path, row(i), t, e, 'a [key, value] pair');
            keys.push(e[0]); vals.push(e[1]); flatRows.push(row(i));
          }
        }
        offsets[i + 1] = keys.length;
      }
      const entriesType = (type as arrow.Map_).children[0]!.type as arrow.Struct;
      const k = buildColumn(t.key, entriesType.children[0]!.type, keys, true, `${path}.key`, flatRows);
      const val = buildColumn(t.value, entriesType.children[1]!.type, vals, t.valueRequired, `${path}.value`, flatRows);
      const entries = arrow.makeData({ type: entriesType, length: keys.length, nullCount: 0, children: [k, val] });
      return arrow.makeData({ ...base, type: type as arrow.Map_, valueOffsets: offsets, child: entries });
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** An optional column of Iceberg type `t` as Arrow `type` from in-memory values (null for missing). */
export function columnFromValues(t: IcebergType, type: arrow.DataType, values: unknown[], path = 'value'): arrow.Data {
  return buildColumn(t, type, values, false, path, undefined);
}

/** One RecordBatch in the table's Arrow schema (field ids included) from row objects keyed by column name. */
export function rowsToRecordBatch(schema: Schema, rows: Record<string, unknown>[]): arrow.RecordBatch {
  const arrowSchema = icebergToArrowSchema(schema);
  const children = schema.fields.map((f, k) =>
    buildColumn(f.type, arrowSchema.fields[k]!.type, rows.map((r) => r[f.name] ?? null), f.required, f.name, undefined));
  const data = arrow.makeData({ type: new arrow.Struct(arrowSchema.fields), length: rows.length, nullCount: 0, children });
  return new arrow.RecordBatch(arrowSchema, data);
}

// ---- Arrow -> rows ----

/** The value at row i of an Arrow column, in the in-memory representation for Iceberg type `t`. */
export type Getter = (i: number) => unknown;

/** A reader of one column as Iceberg values; also what partitioning uses to feed the transforms. */
export function valueGetter(data: arrow.Data, t: IcebergType): Getter {
  const type = data.type;
  if (arrow.DataType.isDictionary(type)) {
    const indices = data.values as ArrayLike<number | bigint>;
    const dict = data.dictionary!;
    const chunks = dict.data.map((d) => ({ get: valueGetter(d, t), length: d.length }));
    const lookup = chunks.length === 1 ? chunks[0]!.get : (k: number) => {
      for (const c of chunks) { if (k < c.length) return c.get(k); k -= c.length; }
      return null;
    };
    return (i) => (isValidAt(data, i) ? lookup(Number(indices[i]!)) : null);
  }
  const valid = (i: number) => isValidAt(data, i);
  switch (t.kind) {
    case 'boolean': {
      const v = data.values as Uint8Array;
      return (i) => { const j = data.offset + i; return valid(i) ? (v[j >> 3]! & (1 << (j & 7))) !== 0 : null; };
    }
    case 'int':
    case 'date':
    case 'float':
    case 'double': {
      const v = data.values as Int32Array | Float32Array | Float64Array;
      return (i) => (valid(i) ? v[i]! : null);
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const v = data.values as BigInt64Array;
      return (i) => (valid(i) ? v[i]! : null);
    }
    case 'decimal': {
      const v = data.values as Uint32Array;
      return (i) => (valid(i) ? decimalAt(v, i) : null);
    }
    case 'string': {
      const v = data.values as Uint8Array;
      const o = data.valueOffsets as Int32Array | BigInt64Array;
      return (i) => (valid(i) ? decoder.decode(v.subarray(Number(o[i]!), Number(o[i + 1]!))) : null);
    }
    case 'binary': {
      const v = data.values as Uint8Array;
      const o = data.valueOffsets as Int32Array | BigInt64Array;
      return (i) => (valid(i) ? v.slice(Number(o[i]!), Number(o[i + 1]!)) : null);
    }
    case 'uuid': {
      const v = data.values as Uint8Array;
      return (i) => (valid(i) ? fromBinary(UUID, v.subarray(i * 16, i * 16 + 16)) : null);
    }
    case 'fixed': {
      const v = data.values as Uint8Array;
      const w = t.length;
      return (i) => (valid(i) ? v.slice(i * w, i * w + w) : null);
    }
    case 'struct': {
      const fields = (type as arrow.Struct).children;
      const getters = t.fields.map((f): [NestedField, Getter] => {
        const k = fields.findIndex((af) => af.name === f.name);
        return [f, k < 0 ? () => null : valueGetter(data.children[k]!, f.type)];
      });
      return (i) => {
        if (!valid(i)) return null;
        const o: Record<string, unknown> = {};
        for (const [f, g] of getters) o[f.name] = g(i);
        return o;
      };
    }
    case 'list': {
      const o = data.valueOffsets as Int32Array | BigInt64Array;
      const el = valueGetter(data.children[0]!, t.element);
      return (i) => {
        if (!valid(i)) return null;
        const out: unknown[] = [];
        for (let j = Number(o[i]!); j < Number(o[i + 1]!); j++) out.push(el(j));
        return out;
      };
    }
    case 'map': {
      const o = data.valueOffsets as Int32Array;
      const entries = data.children[0]!;
      const k = valueGetter(entries.children[0]!, t.key);
      const v = valueGetter(entries.children[1]!, t.value);
      return (i) => {
        if (!valid(i)) return null;
        const m = new Map<unknown, unknown>();
        for (let j = o[i]!; j < o[i + 1]!; j++) m.set(k(j), v(j));
        return m;
      };
    }
  }
}

/** Signed unscaled value of Decimal128 slot i (four little-endian 32-bit words). */
export function decimalAt(words: Uint32Array, i: number): bigint {
  const b = i * 4;
  const u = (BigInt(words[b + 3]!) << 96n) | (BigInt(words[b + 2]!) << 64n) | (BigInt(words[b + 1]!) << 32n) | BigInt(words[b]!);
  return BigInt.asIntN(128, u);
}

/**
 * Row objects from a batch or table, columns matched by name to the schema (what readParquetBytes
 * returns is already in table order and names); a column the batch lacks reads as null.
 */
export function recordBatchToRows(batch: arrow.RecordBatch | arrow.Table, schema: Schema): Record<string, unknown>[] {
  const batches = batch instanceof arrow.Table ? batch.batches : [batch];
  const rows: Record<string, unknown>[] = [];
  for (const b of batches) {
    const getters = schema.fields.map((f): [string, Getter] => {
      const k = b.schema.fields.findIndex((af) => af.name === f.name);
      return [f.name, k < 0 ? () => null : valueGetter(b.data.children[k]!, f.type)];
    });
    for (let i = 0; i < b.numRows; i++) {
      const r: Record<string, unknown> = {};
      for (const [name, g] of getters) r[name] = g(i);
      rows.push(r);
    }
  }
  return rows;
}
