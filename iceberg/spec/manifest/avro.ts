import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import avsc from 'avsc';
import { fromBinary, toBinary } from '../values/single-value-binary.ts';
import { LakehouseError, errorMessage } from '../../../core/errors.ts';
import type { IcebergType, PrimitiveType, StructType, Value } from '../types.ts';

/**
 * Avro for Iceberg metadata files (manifests and manifest lists), on top of avsc 5.
 *
 * - Every Avro `long` decodes to `bigint`: snapshot ids are random 63-bit longs, and avsc's own long
 *   is a JS number that refuses values above 2^53.
 * - Schemas are built as JSON here, with the spec's `field-id` / `element-id` / `key-id` / `value-id`
 *   attributes (spec Appendix A "Field IDs"), and that JSON is what goes into the file header: avsc's
 *   `Type#schema()` would drop the attributes Iceberg readers look fields up by.
 * - The object container format is written and read synchronously here (avsc only offers streams),
 *   so manifests can be encoded to bytes in one call and golden tests can fix the sync marker.
 */

export type AvroSchema = string | AvroSchema[] | AvroObjectSchema;

export interface AvroObjectSchema {
  type: AvroSchema;
  name?: string;
  fields?: AvroField[];
  items?: AvroSchema;
  values?: AvroSchema;
  size?: number;
  logicalType?: string;
  [attribute: string]: unknown;
}

export interface AvroField {
  name: string;
  type: AvroSchema;
  default?: null;
  doc?: string;
  'field-id'?: number;
  [attribute: string]: unknown;
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** Avro long as bigint on read; accepts bigint or a safe-integer number on write. */
const bigintLong = avsc.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(0),
  toBuffer: (v: bigint | number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(v));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as number | string),
  toJSON: (v: bigint) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()),
  isValid: (v: unknown) =>
    (typeof v === 'bigint' && v >= LONG_MIN && v <= LONG_MAX) || (typeof v === 'number' && Number.isSafeInteger(v)),
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

function longHook(schema: unknown): avsc.Type | undefined {
  if (schema === 'long') return bigintLong;
  if (schema !== null && typeof schema === 'object' && !Array.isArray(schema) && (schema as AvroObjectSchema).type === 'long') {
    return bigintLong;
  }
  return undefined;
}

/** Types built, by their schema's JSON: avsc generates a type's code, a few ms per manifest schema. */
const typesBySchema = new Map<string, avsc.Type>();
const KEPT_TYPES = 64;

/**
 * An avsc type for a schema, with every long (logical types included) decoding to bigint. Types are
 * stateless, so one built for the same schema text (every manifest of a table and spec has one) is reused;
 * the `KEPT_TYPES` most recently used are kept.
 */
export function avroType(schema: AvroSchema, text = JSON.stringify(schema)): avsc.Type {
  let type = typesBySchema.get(text);
  if (type) {
    typesBySchema.delete(text);
  } else {
    type = avsc.Type.forSchema(schema as avsc.Schema, { typeHook: longHook, wrapUnions: 'auto' });
    if (typesBySchema.size >= KEPT_TYPES) typesBySchema.delete(typesBySchema.keys().next().value!);
  }
  typesBySchema.set(text, type);
  return type;
}

// ---- Iceberg type -> Avro schema (spec Appendix A; names as Java `TypeToSchema` gives them) ----

/** Java `AvroSchemaUtil.validAvroName`: a letter or `_`, then letters, digits or `_`. */
function validAvroName(name: string): boolean {
  return /^[\p{L}_][\p{L}\p{Nd}_]*$/u.test(name);
}

/**
 * Java `AvroSchemaUtil.sanitize`: a digit becomes `_D`, any other invalid character `_xHEX`. Iceberg names
 * such as `event-type` are legal but not Avro names; the original goes into `iceberg-field-name`.
 */
export function avroFieldName(name: string): string {
  if (validAvroName(name)) return name;
  let out = '';
  for (const [i, ch] of [...name].entries()) {
    const ok = i === 0 ? /[\p{L}_]/u.test(ch) : /[\p{L}\p{Nd}_]/u.test(ch);
    if (ok) out += ch;
    else if (/\d/.test(ch)) out += `_${ch}`;
    else out += `_x${ch.codePointAt(0)!.toString(16).toUpperCase()}`;
  }
  return out;
}

/** Bytes of the Avro `fixed` holding decimal(P, S): the fewest whose signed range covers 10^P - 1 (Java `TypeUtil.decimalRequiredBytes`). */
export function decimalRequiredBytes(precision: number): number {
  const max = 10n ** BigInt(precision);
  let bytes = 1;
  while (2n ** BigInt(8 * bytes - 1) - 1n < max) bytes++;
  return bytes;
}

export function optional(schema: AvroSchema): AvroSchema {
  return ['null', schema];
}

/**
 * The Avro schema of an Iceberg struct. Nested records are named `r<field id>` and map entry records
 * `k<key id>_v<value id>` like Java writes them, so files match Java's byte for byte in the schema.
 * A named type used twice (two `decimal_9_2` fields, say) is defined once and then referenced by name,
 * as Avro requires.
 */
export function icebergToAvroSchema(struct: StructType, rootName: string): AvroSchema {
  const defined = new Set<string>();
  const named = (name: string, build: () => AvroObjectSchema): AvroSchema => {
    if (defined.has(name)) return name;
    defined.add(name);
    return build();
  };

  const primitive = (t: PrimitiveType): AvroSchema => {
    switch (t.kind) {
      case 'boolean': case 'int': case 'long': case 'float': case 'double': case 'string':
        return t.kind;
      case 'binary':
        return 'bytes';
      case 'date':
        return { type: 'int', logicalType: 'date' };
      case 'time':
        return { type: 'long', logicalType: 'time-micros' };
      case 'timestamp':
        return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false };
      case 'timestamptz':
        return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true };
      case 'uuid':
        return named('uuid_fixed', () => ({ type: 'fixed', name: 'uuid_fixed', size: 16, logicalType: 'uuid' }));
      case 'fixed':
        return named(`fixed_${t.length}`, () => ({ type: 'fixed', name: `fixed_${t.length}`, size: t.length }));
      case 'decimal': {
        const name = `decimal_${t.precision}_${t.scale}`;
        return named(name, () => ({
          type: 'fixed', name, size: decimalRequiredBytes(t.precision), logicalType: 'decimal', precision: t.precision, scale: t.scale,
        }));
      }
    }
  };

  const convert = (t: IcebergType, fieldId: number | null): AvroSchema => {
    switch (t.kind) {
      case 'struct': {
        const name = fieldId === null ? rootName : `r${fieldId}`;
        return named(name, () => ({
          type: 'record',
          name,
          fields: t.fields.map((f) => {
            const inner = convert(f.type, f.id);
            const field: AvroField = { name: avroFieldName(f.name), type: f.required ? inner : optional(inner) };
            if (f.doc !== undefined) field.doc = f.doc;
            if (!f.required) field.default = null;
            field['field-id'] = f.id;
            if (field.name !== f.name) field['iceberg-field-name'] = f.name;
            return field;
          }),
        }));
      }
      case 'list': {
        const element = convert(t.element, t.elementId);
        return { type: 'array', items: t.elementRequired ? element : optional(element), 'element-id': t.elementId };
      }
      case 'map': {
        const key = convert(t.key, t.keyId);
        const value = convert(t.value, t.valueId);
        const valueSchema = t.valueRequired ? value : optional(value);
        if (t.key.kind === 'string') {
          return { type: 'map', values: valueSchema, 'key-id': t.keyId, 'value-id': t.valueId };
        }
        // Non-string keys: an array of 2-field records with logical type "map" (Appendix A, "map").
        const valueField: AvroField = { name: 'value', type: valueSchema };
        if (!t.valueRequired) valueField.default = null;
        valueField['field-id'] = t.valueId;
        return {
          type: 'array',
          logicalType: 'map',
          items: named(`k${t.keyId}_v${t.valueId}`, () => ({
            type: 'record',
            name: `k${t.keyId}_v${t.valueId}`,
            fields: [{ name: 'key', type: key, 'field-id': t.keyId }, valueField],
          })),
        };
      }
      default:
        return primitive(t);
    }
  };
  return convert(struct, null);
}

// ---- Values: in-memory representation (types.ts) <-> the Avro datum avsc reads and writes ----

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** The Avro datum of a primitive value under the Appendix A mapping (decimal and uuid as fixed). */
export function toAvroValue(t: PrimitiveType, v: Value): unknown {
  if (v === null) return null;
  switch (t.kind) {
    case 'decimal': {
      // Fixed of decimalRequiredBytes(P): the minimal two's complement, sign-extended.
      const minimal = toBinary(t, v);
      const size = decimalRequiredBytes(t.precision);
      if (minimal.length > size) {
        throw new LakehouseError('INVALID_ARGUMENT', `Decimal value ${String(v)} does not fit decimal(${t.precision},${t.scale}).`);
      }
      const out = Buffer.alloc(size, minimal.length > 0 && (minimal[0]! & 0x80) !== 0 ? 0xff : 0);
      out.set(minimal, size - minimal.length);
      return out;
    }
    case 'uuid':
      return asBuffer(toBinary(t, v));
    case 'binary':
    case 'fixed':
      if (!(v instanceof Uint8Array)) break;
      return asBuffer(v);
    default:
      if (typeof v !== JS_TYPE[t.kind]) break;
      return v;
  }
  throw new LakehouseError('INVALID_ARGUMENT', `Value ${typeof v === 'bigint' ? `${v}n` : String(v)} (${typeof v}) is not a ${t.kind}; see iceberg/spec/types.ts for the in-memory form of each type.`);
}

/** `typeof` of the in-memory form (types.ts) of the types stored as they are. */
const JS_TYPE: Record<string, string> = {
  boolean: 'boolean', int: 'number', date: 'number', float: 'number', double: 'number', string: 'string',
  long: 'bigint', time: 'bigint', timestamp: 'bigint', timestamptz: 'bigint',
};

/**
 * A primitive value from an Avro datum, tolerating what other writers and schema evolution produce:
 * an `int` datum under a long-typed field (int -> long promotion), a uuid written as an Avro string.
 */
export function fromAvroValue(t: PrimitiveType, raw: unknown): Value {
  if (raw === null || raw === undefined) return null;
  switch (t.kind) {
    case 'long': case 'time': case 'timestamp': case 'timestamptz':
      return typeof raw === 'bigint' ? raw : BigInt(raw as number);
    case 'int': case 'date':
      return typeof raw === 'bigint' ? Number(raw) : (raw as number);
    case 'decimal':
      return fromBinary(t, raw as Uint8Array);
    case 'uuid':
      return typeof raw === 'string' ? raw.toLowerCase() : fromBinary(t, raw as Uint8Array);
    case 'binary': case 'fixed':
      return new Uint8Array(raw as Uint8Array);
    default:
      return raw as Value;
  }
}

/** The Iceberg primitive type an Avro schema stores (Appendix A read backwards), or undefined for nested types. */
export function avroToIcebergPrimitive(schema: AvroSchema, names: Map<string, AvroObjectSchema>): PrimitiveType | undefined {
  const s = resolve(nonNull(schema), names);
  if (typeof s === 'string') {
    switch (s) {
      case 'boolean': case 'int': case 'long': case 'float': case 'double': case 'string': return { kind: s };
      case 'bytes': return { kind: 'binary' };
      default: return undefined;
    }
  }
  if (Array.isArray(s)) return undefined;
  const base = typeof s.type === 'string' ? s.type : undefined;
  switch (base) {
    case 'int': return s.logicalType === 'date' ? { kind: 'date' } : { kind: 'int' };
    case 'long':
      if (s.logicalType === 'time-micros') return { kind: 'time' };
      if (s.logicalType === 'timestamp-micros') return s['adjust-to-utc'] === true ? { kind: 'timestamptz' } : { kind: 'timestamp' };
      return { kind: 'long' };
    case 'fixed': case 'bytes':
      if (s.logicalType === 'decimal') return { kind: 'decimal', precision: Number(s.precision), scale: Number(s.scale ?? 0) };
      if (base === 'bytes') return { kind: 'binary' };
      return s.logicalType === 'uuid' && s.size === 16 ? { kind: 'uuid' } : { kind: 'fixed', length: Number(s.size) };
    case 'string': return s.logicalType === 'uuid' ? { kind: 'uuid' } : { kind: 'string' };
    case 'boolean': case 'float': case 'double': return { kind: base };
    default: return undefined;
  }
}

// ---- Reading schemas from a file header: named types and fields by id ----

/** Every named type (record, fixed, enum) defined in a schema, by full and by short name. */
export function namedTypes(schema: AvroSchema): Map<string, AvroObjectSchema> {
  const out = new Map<string, AvroObjectSchema>();
  const walk = (s: AvroSchema, namespace: string | undefined): void => {
    if (typeof s === 'string') return;
    if (Array.isArray(s)) { s.forEach((b) => walk(b, namespace)); return; }
    let ns = namespace;
    if (typeof s.name === 'string') {
      ns = s.name.includes('.') ? s.name.slice(0, s.name.lastIndexOf('.')) : (typeof s.namespace === 'string' ? s.namespace : namespace);
      const short = s.name.slice(s.name.lastIndexOf('.') + 1);
      out.set(ns ? `${ns}.${short}` : short, s);
      if (!out.has(short)) out.set(short, s);
    }
    if (typeof s.type !== 'string') walk(s.type, ns);
    s.fields?.forEach((f) => walk(f.type, ns));
    if (s.items !== undefined) walk(s.items, ns);
    if (s.values !== undefined) walk(s.values, ns);
  };
  walk(schema, undefined);
  return out;
}

/** The non-null branch of an optional union (`["null", T]`), or the schema itself. */
export function nonNull(schema: AvroSchema): AvroSchema {
  if (Array.isArray(schema)) {
    const branches = schema.filter((b) => b !== 'null');
    return branches.length === 1 ? branches[0]! : schema;
  }
  return schema;
}

/** A named-type reference replaced by its definition; `{type: {...}}` wrappers unwrapped. */
export function resolve(schema: AvroSchema, names: Map<string, AvroObjectSchema>): AvroSchema {
  let s = schema;
  for (;;) {
    if (typeof s === 'string') {
      const def = names.get(s) ?? names.get(s.slice(s.lastIndexOf('.') + 1));
      if (!def) return s;
      s = def;
    } else if (!Array.isArray(s) && typeof s.type === 'object' && s.type !== null && s.logicalType === undefined) {
      s = s.type;
    } else {
      return s;
    }
  }
}

/** The fields of a record schema keyed by their Iceberg `field-id` (fields without one are skipped). */
export function fieldsById(record: AvroSchema, names: Map<string, AvroObjectSchema>): Map<number, AvroField> {
  const r = resolve(nonNull(record), names);
  const out = new Map<number, AvroField>();
  if (typeof r === 'object' && !Array.isArray(r) && Array.isArray(r.fields)) {
    for (const f of r.fields) {
      const id = f['field-id'];
      if (typeof id === 'number') out.set(id, f);
      else if (typeof id === 'string' && /^\d+$/.test(id)) out.set(Number(id), f);
    }
  }
  return out;
}

// ---- Object container files (Avro spec "Object Container Files") ----

/**
 * `deflate` (raw RFC 1951, as Avro defines it) is the default: it is what Java and PyIceberg write by
 * default (`write.avro.compression-codec=gzip`), every Avro reader supports it, and manifests shrink
 * several times. `null` is for debugging and for golden files that must not depend on the zlib build.
 */
export type AvroCodec = 'null' | 'deflate';

export interface ContainerWriteOptions {
  schema: AvroSchema;
  records: readonly unknown[];
  /** User metadata; written as UTF-8 bytes (`avro.schema` and `avro.codec` are added). */
  metadata?: Record<string, string | Uint8Array>;
  codec?: AvroCodec;
  /** 16 bytes; random when absent. Fix it to make output byte-deterministic. */
  syncMarker?: Uint8Array;
}

export interface ContainerContents {
  /** Header metadata decoded as UTF-8. */
  metadata: Record<string, string>;
  /** The writer schema from `avro.schema`, with its Iceberg attributes. */
  schema: AvroSchema;
  records: unknown[];
}

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);
/** Uncompressed bytes per block; Java's Avro writer syncs every 64 000 bytes by default. */
const BLOCK_BYTES = 64 * 1024;
const metadataType = avsc.Type.forSchema({ type: 'map', values: 'bytes' });
const plainLong = avsc.Type.forSchema('long');

export function writeContainer(opts: ContainerWriteOptions): Uint8Array {
  const codec = opts.codec ?? 'deflate';
  const sync = opts.syncMarker ? Buffer.from(opts.syncMarker) : randomBytes(16);
  if (sync.length !== 16) {
    throw new LakehouseError('INVALID_ARGUMENT', `An Avro sync marker has 16 bytes; got ${sync.length}.`);
  }
  const schemaText = JSON.stringify(opts.schema);
  let type: avsc.Type;
  try {
    type = avroType(opts.schema, schemaText);
  } catch (e) {
    throw new LakehouseError('INTERNAL', `Cannot build an Avro type for the schema: ${errorMessage(e)}`, { cause: e });
  }
  const meta: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(opts.metadata ?? {})) meta[k] = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
  meta['avro.schema'] = Buffer.from(schemaText, 'utf8');
  meta['avro.codec'] = Buffer.from(codec, 'utf8');

  const parts: Buffer[] = [MAGIC, metadataType.toBuffer(meta), sync];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const raw = Buffer.concat(pending);
    const data = codec === 'deflate' ? deflateRawSync(raw) : raw;
    parts.push(plainLong.toBuffer(pending.length), plainLong.toBuffer(data.length), data, sync);
    pending = [];
    pendingBytes = 0;
  };
  for (const [i, record] of opts.records.entries()) {
    let buf: Buffer;
    try {
      buf = type.toBuffer(record);
    } catch (e) {
      throw new LakehouseError('INTERNAL', `Cannot encode Avro record ${i}: ${errorMessage(e)}`, { cause: e });
    }
    pending.push(buf);
    pendingBytes += buf.length;
    if (pendingBytes >= BLOCK_BYTES) flush();
  }
  flush();
  const out = Buffer.concat(parts);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Reads a whole container file; `what` names it in errors (a path). Codecs: null and deflate. */
export function readContainer(bytes: Uint8Array, what: string): ContainerContents {
  const fail = (msg: string, cause?: unknown): never => {
    throw new LakehouseError('INVALID_METADATA', `Cannot read Avro file ${what}: ${msg}`, cause === undefined ? {} : { cause });
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) fail('it does not start with the Avro magic "Obj\\x01".');
  const header = metadataType.decode(buf, 4);
  if (header.offset < 0 || header.offset + 16 > buf.length) fail('the header is truncated.');
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(header.value as Record<string, Buffer>)) metadata[k] = v.toString('utf8');
  const sync = buf.subarray(header.offset, header.offset + 16);
  const codec = metadata['avro.codec'] ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') {
    fail(`codec "${codec}" is not supported (only null and deflate); rewrite it with write.avro.compression-codec=gzip.`);
  }
  if (metadata['avro.schema'] === undefined) fail('the header has no avro.schema.');
  let schema: AvroSchema = 'null';
  let type: avsc.Type | undefined;
  try {
    schema = JSON.parse(metadata['avro.schema']!) as AvroSchema;
    type = avroType(schema, metadata['avro.schema']);
  } catch (e) {
    fail(`its schema is not valid: ${errorMessage(e)}`, e);
  }

  const records: unknown[] = [];
  let pos = header.offset + 16;
  while (pos < buf.length) {
    const count = plainLong.decode(buf, pos);
    if (count.offset < 0) fail(`block at byte ${pos} is truncated.`);
    const size = plainLong.decode(buf, count.offset);
    if (size.offset < 0) fail(`block at byte ${pos} is truncated.`);
    const start = size.offset;
    const end = start + (size.value as number);
    if (end + 16 > buf.length) fail(`block at byte ${pos} is truncated.`);
    if (!buf.subarray(end, end + 16).equals(sync)) fail(`block at byte ${pos} does not end with the file's sync marker.`);
    let data = buf.subarray(start, end);
    if (codec === 'deflate') {
      try {
        data = inflateRawSync(data);
      } catch (e) {
        fail(`block at byte ${pos} does not inflate: ${errorMessage(e)}`, e);
      }
    }
    let at = 0;
    for (let i = 0; i < (count.value as number); i++) {
      const r = type!.decode(data, at);
      if (r.offset < 0) fail(`record ${records.length} in the block at byte ${pos} is truncated.`);
      records.push(r.value);
      at = r.offset;
    }
    pos = end + 16;
  }
  return { metadata, schema, records };
}
