import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { columnFromValues, valueGetter } from '../arrow/arrow-rows.ts';
import { arrowFieldId, icebergFieldToArrow, icebergToArrowSchema, nullData } from '../arrow/arrow-schema.ts';
import { LakehouseError, errorMessage } from '../../core/errors.ts';
import type { Schema } from '../spec/schema.ts';
import { type IcebergType, type NestedField, type PrimitiveType, isPrimitive, typeToString } from '../spec/types.ts';

/**
 * Parquet bytes -> Arrow table shaped like an Iceberg schema. Columns are matched BY FIELD ID, never by
 * name (spec "Column Projection": a renamed column keeps its id), so files written by any engine and
 * before any rename read correctly; a field the file lacks reads as nulls. Values are brought to the
 * table's Arrow types where Iceberg allows the difference: type promotion (int -> long,
 * float -> double, wider decimal) and the layouts other writers choose (LargeUtf8, dictionaries,
 * LargeList, millisecond or nanosecond timestamps).
 */

/** Rows per decoded batch; parquet-wasm's default (1024) makes thousands of tiny batches per file. */
const READ_BATCH_ROWS = 65_536;

export function readParquetBytes(bytes: Uint8Array, schema: Schema): arrow.Table {
  let file: arrow.Table;
  try {
    file = arrow.tableFromIPC(pw.readParquet(bytes, { batchSize: READ_BATCH_ROWS }).intoIPCStream());
  } catch (e) {
    throw new LakehouseError('IO_ERROR', `Decoding Parquet with parquet-wasm failed: ${errorMessage(e)}.`, { cause: e });
  }
  if (file.schema.fields.length > 0 && !hasAnyFieldId(file.schema.fields)) throw noFieldIds();
  const target = icebergToArrowSchema(schema);
  return new arrow.Table(target, file.batches.map((b) => projectBatch(b, schema, target)));
}

/**
 * One batch as decoded from a Parquet file -> the same rows shaped like `schema` (columns found by field
 * id, converted as readParquetBytes does). `target` is icebergToArrowSchema(schema), passed in so that a
 * caller projecting many batches makes it once.
 */
export function projectBatch(b: arrow.RecordBatch, schema: Schema, target: arrow.Schema = icebergToArrowSchema(schema)): arrow.RecordBatch {
  if (b.schema.fields.length > 0 && !hasAnyFieldId(b.schema.fields)) throw noFieldIds();
  const children = schema.fields.map((f) => project(f, f.name, b.schema.fields, b.data, b.numRows));
  return new arrow.RecordBatch(target, arrow.makeData({ type: new arrow.Struct(target.fields), length: b.numRows, nullCount: 0, children }));
}

function noFieldIds(): LakehouseError {
  return new LakehouseError('SCHEMA_MISMATCH', 'The Parquet file has no field ids, so its columns cannot be matched to the table schema; files added to an Iceberg table need field ids (or a name mapping, which is not supported yet).');
}

function hasAnyFieldId(fields: arrow.Field[]): boolean {
  return fields.some((f) => arrowFieldId(f) !== undefined || hasAnyFieldId(f.type.children ?? []));
}

/** The column for Iceberg field `f` from a struct's children, found by field id; nulls when absent. */
function project(f: NestedField, path: string, fileFields: arrow.Field[], parent: arrow.Data, length: number): arrow.Data {
  const k = fileFields.findIndex((ff) => arrowFieldId(ff) === f.id);
  if (k < 0) {
    if (f.required) throw new LakehouseError('SCHEMA_MISMATCH', `The Parquet file has no column with field id ${f.id} for required column "${path}".`);
    return nullData(icebergFieldToArrow(f).type, length);
  }
  return convert(f.type, path, parent.children[k]!);
}

function mismatch(path: string, t: IcebergType, got: arrow.DataType): LakehouseError {
  return new LakehouseError('SCHEMA_MISMATCH', `Column "${path}" is ${typeToString(t)} in the table but the Parquet file stores Arrow ${String(got)}, which does not convert to it.`);
}

function convert(t: IcebergType, path: string, data: arrow.Data): arrow.Data {
  const want = icebergFieldToArrow({ id: 0, name: '', required: false, type: t }).type;
  const got = data.type;
  if (isPrimitive(t)) return convertPrimitive(t, path, want, data);
  if (t.kind === 'struct') {
    if (!arrow.DataType.isStruct(got)) throw mismatch(path, t, got);
    const children = t.fields.map((f) => project(f, `${path}.${f.name}`, got.children, data, data.length));
    return data.clone(want, data.offset, data.length, data.nullCount, undefined, children);
  }
  if (t.kind === 'list') {
    if (!(arrow.DataType.isList(got) || got.typeId === arrow.Type.LargeList)) throw mismatch(path, t, got);
    const el = convert(t.element, `${path}.element`, data.children[0]!);
    return arrow.makeData({
      type: want as arrow.List, offset: data.offset, length: data.length, nullCount: data.nullCount,
      nullBitmap: data.nullBitmap, valueOffsets: int32Offsets(data), child: el,
    });
  }
  if (!arrow.DataType.isMap(got)) throw mismatch(path, t, got);
  const entries = data.children[0]!;
  const entriesType = (want as arrow.Map_).children[0]!.type;
  const kd = convert(t.key, `${path}.key`, entries.children[0]!);
  const vd = convert(t.value, `${path}.value`, entries.children[1]!);
  const e = entries.clone(entriesType, entries.offset, entries.length, entries.nullCount, undefined, [kd, vd]);
  return data.clone(want, data.offset, data.length, data.nullCount, undefined, [e]);
}

/** Offsets as Int32 (a LargeList/LargeUtf8 in the file), indexed like the Data's other buffers. */
function int32Offsets(data: arrow.Data): Int32Array {
  const o = data.valueOffsets as Int32Array | BigInt64Array;
  return o instanceof BigInt64Array ? Int32Array.from(o, Number) : o;
}

const MICROS_PER: Partial<Record<arrow.TimeUnit, bigint>> = {
  [arrow.TimeUnit.SECOND]: 1_000_000n,
  [arrow.TimeUnit.MILLISECOND]: 1_000n,
};

function convertPrimitive(t: PrimitiveType, path: string, want: arrow.DataType, data: arrow.Data): arrow.Data {
  const got = data.type;
  const same = { offset: data.offset, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap };
  if (arrow.DataType.isDictionary(got)) {
    const get = valueGetter(data, t);
    return columnFromValues(t, want, Array.from({ length: data.length }, (_, i) => get(i)));
  }
  switch (t.kind) {
    case 'long':
      if (arrow.DataType.isInt(got) && got.bitWidth === 32 && got.isSigned) {
        return arrow.makeData({ ...same, type: want as arrow.Int64, data: BigInt64Array.from(data.values as Int32Array, (x) => BigInt(x)) });
      }
      break;
    case 'double':
      if (arrow.DataType.isFloat(got) && got.precision === arrow.Precision.SINGLE) {
        return arrow.makeData({ ...same, type: want as arrow.Float64, data: Float64Array.from(data.values as Float32Array) });
      }
      break;
    case 'decimal':
      // Widening keeps the scale and the unscaled value: only the declared precision changes.
      if (arrow.DataType.isDecimal(got) && got.bitWidth === 128 && got.scale === (want as arrow.Decimal).scale) return data.clone(want);
      break;
    case 'timestamp':
    case 'timestamptz':
      if (arrow.DataType.isTimestamp(got) && !!got.timezone === (t.kind === 'timestamptz')) {
        if (got.unit === arrow.TimeUnit.MICROSECOND) return data.clone(want);
        const v = data.values as BigInt64Array;
        const mul = MICROS_PER[got.unit];
        // Nanoseconds (INT96 and TIMESTAMP(NANOS) files) floor to micros, as Java's readers do.
        const out = mul !== undefined ? v.map((x) => x * mul) : v.map((x) => (x >= 0n ? x / 1000n : -((-x + 999n) / 1000n)));
        return arrow.makeData({ ...same, type: want as arrow.TimestampMicrosecond, data: out });
      }
      break;
    case 'string':
    case 'binary':
      if (arrow.DataType.isLargeUtf8(got) || arrow.DataType.isLargeBinary(got)) {
        const o = data.valueOffsets as unknown as BigInt64Array;
        return arrow.makeData({ ...same, type: want as arrow.Utf8, valueOffsets: Int32Array.from(o, Number), data: data.values as Uint8Array });
      }
      break;
  }
  // Same physical layout, maybe another label (a uuid read as plain fixed[16], a zone spelled "+00:00").
  if (sameLayout(want, got)) return data.type === want ? data : data.clone(want);
  throw mismatch(path, t, got);
}

/**
 * Whether two primitive Arrow types store values identically. Field-by-field rather than
 * arrow.util.compareTypes, which also requires the same JS class (Float64 vs a decoded Float).
 */
function sameLayout(a: arrow.DataType, b: arrow.DataType): boolean {
  if (a.typeId !== b.typeId) return false;
  if (arrow.DataType.isInt(a) && arrow.DataType.isInt(b)) return a.bitWidth === b.bitWidth && a.isSigned === b.isSigned;
  if (arrow.DataType.isFloat(a) && arrow.DataType.isFloat(b)) return a.precision === b.precision;
  if (arrow.DataType.isDecimal(a) && arrow.DataType.isDecimal(b)) return a.bitWidth === b.bitWidth && a.scale === b.scale && a.precision === b.precision;
  if (arrow.DataType.isFixedSizeBinary(a) && arrow.DataType.isFixedSizeBinary(b)) return a.byteWidth === b.byteWidth;
  if (arrow.DataType.isTimestamp(a) && arrow.DataType.isTimestamp(b)) return a.unit === b.unit && !!a.timezone === !!b.timezone;
  if (arrow.DataType.isDate(a) && arrow.DataType.isDate(b)) return a.unit === b.unit;
  if (arrow.DataType.isTime(a) && arrow.DataType.isTime(b)) return a.unit === b.unit && a.bitWidth === b.bitWidth;
  return arrow.DataType.isBool(a) || arrow.DataType.isUtf8(a) || arrow.DataType.isBinary(a);
}
