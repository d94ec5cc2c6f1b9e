import * as arrow from 'apache-arrow';
import { LakehouseError } from '../../core/errors.ts';
import { Schema } from '../spec/schema.ts';
import { type IcebergType, type NestedField, type PrimitiveType, type StructType, isPrimitive, typeToString } from '../spec/types.ts';

/**
 * Iceberg <-> Arrow type mapping (spec Appendix A "Parquet"), and the check that a batch handed to the
 * writer fits the table.
 *
 * Every Arrow field carries `PARQUET:field_id`: arrow-rs (inside parquet-wasm) copies that metadata into
 * the Parquet schema's field_id, which is how Iceberg readers find columns. Names are only labels.
 */

/** The Arrow field-metadata key arrow-rs and pyarrow use for the Parquet field id. */
export const PARQUET_FIELD_ID_KEY = 'PARQUET:field_id';
/** Canonical Arrow extension name for uuid; lets a FixedSizeBinary(16) say "uuid" rather than fixed[16]. */
export const ARROW_EXTENSION_NAME_KEY = 'ARROW:extension:name';
export const ARROW_UUID_EXTENSION = 'arrow.uuid';
/** Names Iceberg Java writes for the 3-level list and map (Parquet LogicalTypes.md); Arrow names them too. */
export const LIST_ELEMENT_NAME = 'element';
export const MAP_ENTRIES_NAME = 'key_value';
export const MAP_KEY_NAME = 'key';
export const MAP_VALUE_NAME = 'value';

export function icebergToArrowType(t: IcebergType): arrow.DataType {
  switch (t.kind) {
    case 'boolean': return new arrow.Bool();
    case 'int': return new arrow.Int32();
    case 'long': return new arrow.Int64();
    case 'float': return new arrow.Float32();
    case 'double': return new arrow.Float64();
    // 128-bit whatever the precision: arrow-rs then picks INT32 / INT64 / FIXED by precision, as the spec asks.
    case 'decimal': return new arrow.Decimal(t.scale, t.precision, 128);
    case 'date': return new arrow.DateDay();
    case 'time': return new arrow.TimeMicrosecond();
    case 'timestamp': return new arrow.TimestampMicrosecond();
    case 'timestamptz': return new arrow.TimestampMicrosecond('UTC');
    case 'string': return new arrow.Utf8();
    case 'uuid': return new arrow.FixedSizeBinary(16);
    case 'binary': return new arrow.Binary();
    case 'fixed': return new arrow.FixedSizeBinary(t.length);
    case 'struct': return new arrow.Struct(t.fields.map(icebergFieldToArrow));
    case 'list':
      return new arrow.List(arrowField(LIST_ELEMENT_NAME, t.element, t.elementId, !t.elementRequired));
    case 'map':
      return mapType(new arrow.Struct([
        arrowField(MAP_KEY_NAME, t.key, t.keyId, false),
        arrowField(MAP_VALUE_NAME, t.value, t.valueId, !t.valueRequired),
      ]), false);
  }
}

/**
 * A Map_ whose entries field is named `key_value`. apache-arrow renames the entries field to "entries"
 * in its constructor (ARROW-8716) and arrow-rs names the Parquet repeated group after it; readers accept
 * any name, but `key_value` is what Parquet LogicalTypes.md and Iceberg Java write.
 */
export function mapType(entries: arrow.Struct, keysSorted: boolean): arrow.Map_ {
  const t = new arrow.Map_(new arrow.Field(MAP_ENTRIES_NAME, entries, false), keysSorted);
  (t.children[0] as { name: string }).name = MAP_ENTRIES_NAME;
  return t;
}

function arrowField(name: string, t: IcebergType, id: number, nullable: boolean): arrow.Field {
  const md = new Map([[PARQUET_FIELD_ID_KEY, String(id)]]);
  if (t.kind === 'uuid') md.set(ARROW_EXTENSION_NAME_KEY, ARROW_UUID_EXTENSION);
  return new arrow.Field(name, icebergToArrowType(t), nullable, md);
}

export function icebergFieldToArrow(f: NestedField): arrow.Field {
  return arrowField(f.name, f.type, f.id, !f.required);
}

export function icebergToArrowSchema(schema: Schema): arrow.Schema {
  return new arrow.Schema(schema.fields.map(icebergFieldToArrow));
}

/** The field id arrow-rs / pyarrow left in an Arrow field's metadata, if any. */
export function arrowFieldId(f: arrow.Field): number | undefined {
  const raw = f.metadata.get(PARQUET_FIELD_ID_KEY);
  if (raw === undefined) return undefined;
  const id = Number(raw);
  return Number.isInteger(id) ? id : undefined;
}

// ---- Arrow -> Iceberg ----

/** Placeholder for "no PARQUET:field_id"; replaced by fresh ids once the whole tree is known. */
const NO_ID = -1;

function unsupported(t: arrow.DataType, hint: string): LakehouseError {
  return new LakehouseError('UNSUPPORTED', `Arrow type ${String(t)} has no Iceberg equivalent: ${hint}.`);
}

function primitiveFromArrow(t: arrow.DataType, isUuid: boolean): PrimitiveType {
  if (arrow.DataType.isBool(t)) return { kind: 'boolean' };
  if (arrow.DataType.isInt(t)) {
    if (t.bitWidth <= 16 || (t.bitWidth === 32 && t.isSigned)) return { kind: 'int' };
    if (t.bitWidth === 32 || (t.bitWidth === 64 && t.isSigned)) return { kind: 'long' };
    throw unsupported(t, 'unsigned 64-bit integers do not fit long; cast to Int64 or Decimal(20,0)');
  }
  if (arrow.DataType.isFloat(t)) {
    if (t.precision === arrow.Precision.SINGLE) return { kind: 'float' };
    if (t.precision === arrow.Precision.DOUBLE) return { kind: 'double' };
    throw unsupported(t, 'cast half floats to Float32');
  }
  if (arrow.DataType.isDecimal(t)) {
    if (t.precision > 38) throw unsupported(t, 'Iceberg decimals have at most 38 digits of precision');
    return { kind: 'decimal', precision: t.precision, scale: t.scale };
  }
  if (arrow.DataType.isDate(t)) return { kind: 'date' };
  if (arrow.DataType.isTime(t)) {
    if (t.unit === arrow.TimeUnit.MICROSECOND) return { kind: 'time' };
    throw unsupported(t, 'Iceberg time is in microseconds; use TimeMicrosecond');
  }
  if (arrow.DataType.isTimestamp(t)) {
    if (t.unit !== arrow.TimeUnit.MICROSECOND) throw unsupported(t, 'Iceberg timestamps are in microseconds; use TimestampMicrosecond');
    return t.timezone ? { kind: 'timestamptz' } : { kind: 'timestamp' };
  }
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8(t)) return { kind: 'string' };
  if (arrow.DataType.isBinary(t) || arrow.DataType.isLargeBinary(t)) return { kind: 'binary' };
  if (arrow.DataType.isFixedSizeBinary(t)) {
    return isUuid && t.byteWidth === 16 ? { kind: 'uuid' } : { kind: 'fixed', length: t.byteWidth };
  }
  if (arrow.DataType.isDictionary(t)) return primitiveFromArrow(t.dictionary, isUuid);
  throw unsupported(t, 'supported are Bool, Int, Float32/64, Decimal, Date, Time/Timestamp (microseconds), Utf8, Binary, FixedSizeBinary, Struct, List and Map');
}

function typeFromArrow(t: arrow.DataType, isUuid: boolean): IcebergType {
  if (arrow.DataType.isStruct(t)) return { kind: 'struct', fields: t.children.map(fieldFromArrow) };
  if (arrow.DataType.isList(t) || t.typeId === arrow.Type.LargeList) {
    const el = (t as arrow.List).children[0]!;
    return { kind: 'list', elementId: arrowFieldId(el) ?? NO_ID, elementRequired: !el.nullable, element: typeFromArrow(el.type, isUuidField(el)) };
  }
  if (arrow.DataType.isMap(t)) {
    const [k, v] = (t.children[0]!.type as arrow.Struct).children;
    if (!k || !v) throw unsupported(t, 'a map needs a key and a value field');
    return {
      kind: 'map', keyId: arrowFieldId(k) ?? NO_ID, key: typeFromArrow(k.type, isUuidField(k)),
      valueId: arrowFieldId(v) ?? NO_ID, valueRequired: !v.nullable, value: typeFromArrow(v.type, isUuidField(v)),
    };
  }
  return primitiveFromArrow(t, isUuid);
}

function isUuidField(f: arrow.Field): boolean {
  return f.metadata.get(ARROW_EXTENSION_NAME_KEY) === ARROW_UUID_EXTENSION;
}

function fieldFromArrow(f: arrow.Field): NestedField {
  return { id: arrowFieldId(f) ?? NO_ID, name: f.name, required: !f.nullable, type: typeFromArrow(f.type, isUuidField(f)) };
}

/**
 * Fills NO_ID placeholders with ids above every id already present, in the order Java
 * `TypeUtil.assignFreshIds` uses (a struct's own fields first, then their children), so a schema
 * without any ids numbers exactly like a table create would.
 */
function fillMissingIds(root: StructType): StructType {
  let next = 0;
  const seen = (t: IcebergType): void => {
    if (t.kind === 'struct') for (const f of t.fields) { next = Math.max(next, f.id); seen(f.type); }
    if (t.kind === 'list') { next = Math.max(next, t.elementId); seen(t.element); }
    if (t.kind === 'map') { next = Math.max(next, t.keyId, t.valueId); seen(t.key); seen(t.value); }
  };
  seen(root);
  const fresh = (id: number) => (id === NO_ID ? ++next : id);
  const fill = (t: IcebergType): IcebergType => {
    if (t.kind === 'struct') {
      const ids = t.fields.map((f) => fresh(f.id));
      return { kind: 'struct', fields: t.fields.map((f, i) => ({ ...f, id: ids[i]!, type: fill(f.type) })) };
    }
    if (t.kind === 'list') {
      const elementId = fresh(t.elementId);
      return { ...t, elementId, element: fill(t.element) };
    }
    if (t.kind === 'map') {
      const keyId = fresh(t.keyId);
      const valueId = fresh(t.valueId);
      return { ...t, keyId, valueId, key: fill(t.key), value: fill(t.value) };
    }
    return t;
  };
  return fill(root) as StructType;
}

/**
 * Iceberg type of an Arrow type. Nested children keep their `PARQUET:field_id`; children without one
 * get fresh ids above the highest id present. A bare FixedSizeBinary(16) is fixed[16] (a DataType has
 * no metadata to say "uuid"; use arrowToIcebergSchema on fields tagged `arrow.uuid` for that).
 */
export function arrowToIcebergType(t: arrow.DataType): IcebergType {
  const converted = typeFromArrow(t, false);
  if (isPrimitive(converted)) return converted;
  return (fillMissingIds({ kind: 'struct', fields: [{ id: 0, name: '', required: true, type: converted }] }).fields[0]!).type;
}

/** Iceberg schema of an Arrow schema: ids from `PARQUET:field_id` where present, fresh ids elsewhere. */
export function arrowToIcebergSchema(s: arrow.Schema): Schema {
  const root = fillMissingIds({ kind: 'struct', fields: s.fields.map(fieldFromArrow) });
  return new Schema(root.fields);
}

// ---- Batch vs table check ----

/** Whether a primitive Arrow type stores an Iceberg primitive in a layout the Parquet writer maps correctly. */
function primitiveAccepts(expected: PrimitiveType, t: arrow.DataType): boolean {
  if (arrow.DataType.isDictionary(t)) {
    // Dictionary-encoded strings/binaries are what fast column builders produce; arrow-rs writes the values.
    return (expected.kind === 'string' || expected.kind === 'binary') && primitiveAccepts(expected, t.dictionary);
  }
  switch (expected.kind) {
    case 'boolean': return arrow.DataType.isBool(t);
    case 'int': return arrow.DataType.isInt(t) && t.isSigned && t.bitWidth === 32;
    case 'long': return arrow.DataType.isInt(t) && t.isSigned && t.bitWidth === 64;
    case 'float': return arrow.DataType.isFloat(t) && t.precision === arrow.Precision.SINGLE;
    case 'double': return arrow.DataType.isFloat(t) && t.precision === arrow.Precision.DOUBLE;
    case 'decimal': return arrow.DataType.isDecimal(t) && t.bitWidth === 128 && t.precision === expected.precision && t.scale === expected.scale;
    case 'date': return arrow.DataType.isDate(t) && t.unit === arrow.DateUnit.DAY;
    case 'time': return arrow.DataType.isTime(t) && t.unit === arrow.TimeUnit.MICROSECOND && t.bitWidth === 64;
    // Any zone marks an instant; arrow-rs writes isAdjustedToUTC=true for all of them.
    case 'timestamp': return arrow.DataType.isTimestamp(t) && t.unit === arrow.TimeUnit.MICROSECOND && !t.timezone;
    case 'timestamptz': return arrow.DataType.isTimestamp(t) && t.unit === arrow.TimeUnit.MICROSECOND && !!t.timezone;
    case 'string': return arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8(t);
    case 'binary': return arrow.DataType.isBinary(t) || arrow.DataType.isLargeBinary(t);
    case 'uuid': return arrow.DataType.isFixedSizeBinary(t) && t.byteWidth === 16;
    case 'fixed': return arrow.DataType.isFixedSizeBinary(t) && t.byteWidth === expected.length;
  }
}

interface Problem { path: string; text: string }

function checkField(expected: NestedField, got: arrow.Field, path: string, problems: Problem[], data: arrow.Data | undefined, parentValid: ValidMask): void {
  const t = expected.type;
  const badType = () => problems.push({
    path,
    text: `column "${path}" is ${typeToString(t)} in the table (Arrow ${String(icebergToArrowType(t))}) but the batch has Arrow ${String(got.type)}`,
  });
  if (expected.required) {
    // With data, the data decides (apache-arrow does not stop a non-nullable field from holding nulls).
    const nulls = data === undefined ? undefined : unmaskedNulls(data, parentValid);
    if (nulls !== undefined && nulls > 0) {
      problems.push({ path, text: `column "${path}" is required in the table but the batch has ${nulls} null value(s) in it` });
    } else if (nulls === undefined && got.nullable) {
      problems.push({
        path,
        text: `column "${path}" is required in the table but the Arrow field is nullable (declare it non-nullable, or pass the batch so its data can be checked for nulls)`,
      });
    }
  }
  if (isPrimitive(t)) {
    if (!primitiveAccepts(t, got.type)) badType();
    return;
  }
  if (t.kind === 'struct') {
    if (!arrow.DataType.isStruct(got.type)) return void badType();
    checkStruct(t.fields, got.type.children, path + '.', problems, data, data === undefined ? undefined : validMask(data, parentValid));
    return;
  }
  if (t.kind === 'list') {
    if (!(arrow.DataType.isList(got.type) || got.type.typeId === arrow.Type.LargeList)) return void badType();
    const el = (got.type as arrow.List).children[0]!;
    const elementField: NestedField = { id: t.elementId, name: 'element', required: t.elementRequired, type: t.element };
    // Lists and maps: arrow-rs rejects any null in a non-nullable child, referenced or not, so no mask.
    checkField(elementField, el, `${path}.element`, problems, data?.children[0], undefined);
    return;
  }
  if (!arrow.DataType.isMap(got.type)) return void badType();
  const [k, v] = (got.type.children[0]!.type as arrow.Struct).children;
  const entries = data?.children[0];
  if (!k || !v) return void badType();
  checkField({ id: t.keyId, name: 'key', required: true, type: t.key }, k, `${path}.key`, problems, entries?.children[0], undefined);
  checkField({ id: t.valueId, name: 'value', required: t.valueRequired, type: t.value }, v, `${path}.value`, problems, entries?.children[1], undefined);
}

function checkStruct(expected: NestedField[], got: arrow.Field[], prefix: string, problems: Problem[], data: arrow.Data | undefined, valid: ValidMask): void {
  const byName = new Map(got.map((f, i) => [f.name, i]));
  if (byName.size < got.length) {
    const dup = got.find((f, i) => byName.get(f.name) !== i)!;
    problems.push({ path: prefix + dup.name, text: `column "${prefix}${dup.name}" appears more than once in the batch` });
  }
  for (const f of got) {
    if (!expected.some((e) => e.name === f.name)) {
      problems.push({ path: prefix + f.name, text: `column "${prefix}${f.name}" is not in the table schema (columns there: ${expected.map((e) => e.name).join(', ')}); drop it or evolve the schema first` });
    }
  }
  for (const e of expected) {
    const i = byName.get(e.name);
    if (i === undefined) {
      if (e.required) problems.push({ path: prefix + e.name, text: `required column "${prefix}${e.name}" (${typeToString(e.type)}) is missing from the batch` });
      continue;
    }
    checkField(e, got[i]!, prefix + e.name, problems, data?.children[i], valid);
  }
}

/**
 * Throws SCHEMA_MISMATCH (one sentence per problem) unless the batch fits the table: columns matched by
 * name in any order, each with an Arrow type that maps to its Iceberg type, no unknown columns, every
 * required column present. Missing optional columns are fine (the writer fills them with nulls).
 *
 * Nullability: given only an arrow.Schema, a nullable Arrow field for a required column is an error;
 * given the RecordBatch, it passes when the data holds no null there (a struct child may be null
 * where its parent struct is null, as Arrow and Parquet allow).
 */
export function checkBatchSchema(table: Schema, batch: arrow.Schema | arrow.RecordBatch): void {
  const isBatch = batch instanceof arrow.RecordBatch;
  const arrowSchema = isBatch ? batch.schema : batch;
  const problems: Problem[] = [];
  checkStruct(table.fields, arrowSchema.fields, '', problems, isBatch ? batch.data : undefined, undefined);
  if (problems.length > 0) {
    throw new LakehouseError(
      'SCHEMA_MISMATCH',
      `The batch does not match the table schema: ${problems.map((p) => p.text).join('; ')}.`,
      { context: { columns: problems.map((p) => p.path) } },
    );
  }
}

// ---- validity helpers shared with the writer ----

/** Per-row validity of the enclosing structs (undefined = all valid), as one bit per row. */
export type ValidMask = Uint8Array | undefined;

export function isValidAt(data: arrow.Data, i: number): boolean {
  const bm = data.nullBitmap;
  if (!bm || bm.length === 0 || data.nullCount === 0) return true;
  const j = data.offset + i;
  return (bm[j >> 3]! & (1 << (j & 7))) !== 0;
}

/** Combines a parent mask with this Data's own validity (struct nulls hide their children). */
export function validMask(data: arrow.Data, parent: ValidMask): ValidMask {
  if (data.nullCount === 0) return parent;
  const out = new Uint8Array((data.length + 7) >> 3);
  for (let i = 0; i < data.length; i++) {
    if (isValidAt(data, i) && (parent === undefined || (parent[i >> 3]! & (1 << (i & 7))) !== 0)) out[i >> 3]! |= 1 << (i & 7);
  }
  return out;
}

/** Nulls of `data` at rows where every enclosing struct is valid. */
function unmaskedNulls(data: arrow.Data, parent: ValidMask): number {
  if (data.nullCount === 0) return 0;
  if (parent === undefined) return data.nullCount;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    if ((parent[i >> 3]! & (1 << (i & 7))) !== 0 && !isValidAt(data, i)) n++;
  }
  return n;
}

// ---- conforming a checked batch to the table ----

/**
 * The batch relabelled with the table's fields (names, field ids, nullability) in table order, nested
 * fields included, without copying buffers; missing optional columns become all-null columns. Call
 * after checkBatchSchema. Accepted value layouts (Dictionary / LargeUtf8 strings, any-zone
 * timestamptz) are kept as they are: arrow-rs writes them as the table's Parquet types.
 */
export function conformBatch(table: Schema, batch: arrow.RecordBatch): arrow.RecordBatch {
  const root = conformStruct(table.fields, batch.schema.fields, batch.data);
  return new arrow.RecordBatch(new arrow.Schema(root.fields, batch.schema.metadata), root.data);
}

function conformStruct(expected: NestedField[], got: arrow.Field[], data: arrow.Data): { fields: arrow.Field[]; data: arrow.Data<arrow.Struct> } {
  const fields: arrow.Field[] = [];
  const children: arrow.Data[] = [];
  for (const e of expected) {
    const i = got.findIndex((f) => f.name === e.name);
    if (i < 0) {
      const f = icebergFieldToArrow(e);
      fields.push(f);
      children.push(nullData(f.type, data.length));
      continue;
    }
    const c = conformField(e.name, e.id, e.required, e.type, got[i]!, data.children[i]!);
    fields.push(c.field);
    children.push(c.data);
  }
  const type = new arrow.Struct(fields);
  return { fields, data: data.clone(type, data.offset, data.length, data.nullCount, undefined, children) as arrow.Data<arrow.Struct> };
}

function conformField(name: string, id: number, required: boolean, t: IcebergType, got: arrow.Field, data: arrow.Data): { field: arrow.Field; data: arrow.Data } {
  const md = new Map([[PARQUET_FIELD_ID_KEY, String(id)]]);
  if (t.kind === 'uuid') md.set(ARROW_EXTENSION_NAME_KEY, ARROW_UUID_EXTENSION);
  if (isPrimitive(t)) {
    // checkBatchSchema accepted the layout; only the field (name, id, nullability) changes.
    return { field: new arrow.Field(name, got.type, !required, md), data };
  }
  if (t.kind === 'struct') {
    const s = conformStruct(t.fields, (got.type as arrow.Struct).children, data);
    return { field: new arrow.Field(name, s.data.type, !required, md), data: s.data };
  }
  if (t.kind === 'list') {
    const el = (got.type as arrow.List).children[0]!;
    const c = conformField(LIST_ELEMENT_NAME, t.elementId, t.elementRequired, t.element, el, data.children[0]!);
    const type = got.type.typeId === arrow.Type.LargeList ? new arrow.LargeList(c.field) : new arrow.List(c.field);
    return { field: new arrow.Field(name, type, !required, md), data: data.clone(type, data.offset, data.length, data.nullCount, undefined, [c.data]) };
  }
  const entriesData = data.children[0]!;
  const [k, v] = ((got.type as arrow.Map_).children[0]!.type as arrow.Struct).children;
  const kc = conformField(MAP_KEY_NAME, t.keyId, true, t.key, k!, entriesData.children[0]!);
  const vc = conformField(MAP_VALUE_NAME, t.valueId, t.valueRequired, t.value, v!, entriesData.children[1]!);
  const entriesType = new arrow.Struct([kc.field, vc.field]);
  const entries = entriesData.clone(entriesType, entriesData.offset, entriesData.length, entriesData.nullCount, undefined, [kc.data, vc.data]);
  const type = mapType(entriesType, (got.type as arrow.Map_).keysSorted);
  return { field: new arrow.Field(name, type, !required, md), data: data.clone(type, data.offset, data.length, data.nullCount, undefined, [entries]) };
}

/** An all-null column of `type` (nested children empty or null too), for optional columns a batch omits. */
export function nullData(type: arrow.DataType, length: number): arrow.Data {
  const nullBitmap = new Uint8Array((length + 7) >> 3);
  if (arrow.DataType.isStruct(type)) {
    return arrow.makeData({ type, length, nullCount: length, nullBitmap, children: type.children.map((c) => nullData(c.type, length)) });
  }
  if (arrow.DataType.isList(type) || arrow.DataType.isMap(type)) {
    const child = nullData(type.children[0]!.type, 0);
    return arrow.makeData({ type: type as arrow.List, length, nullCount: length, nullBitmap, valueOffsets: new Int32Array(length + 1), child });
  }
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isBinary(type)) {
    return arrow.makeData({ type: type as arrow.Utf8, length, nullCount: length, nullBitmap, valueOffsets: new Int32Array(length + 1), data: new Uint8Array(0) });
  }
  if (arrow.DataType.isBool(type)) {
    return arrow.makeData({ type, length, nullCount: length, nullBitmap, data: new Uint8Array((length + 7) >> 3) });
  }
  const stride = arrow.DataType.isFixedSizeBinary(type) ? type.byteWidth : arrow.DataType.isDecimal(type) ? 4 : 1;
  const ArrayType = (type as arrow.Int).ArrayType as unknown as new (n: number) => ArrayLike<number>;
  return arrow.makeData({ type: type as arrow.Int, length, nullCount: length, nullBitmap, data: new ArrayType(length * stride) as never });
}
