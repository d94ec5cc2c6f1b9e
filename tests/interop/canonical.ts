import { LakehouseError } from '../../core/errors.ts';
import { type Schema, typeToString, type IcebergType, type NestedField } from '../../iceberg/index.ts';

/**
 * The canonical row encoding shared with tests/interop/verify.py, so rows we wrote and rows an
 * independent reader returns compare as plain strings. Python produces it from what PyIceberg and
 * DuckDB return; this file produces it from our in-memory values (iceberg/spec/types.ts). Change both
 * together.
 *
 *   boolean -> true/false
 *   int, long, date (days), time (µs of day), timestamp, timestamptz (µs since epoch, UTC)
 *                        -> decimal string
 *   float, double        -> 16 hex digits of the IEEE-754 bits of the value as a double (a float is
 *                           widened exactly), NaN (any payload) -> "NaN"
 *   decimal(P,S)         -> unscaled integer at scale S as a decimal string
 *   string -> itself     uuid -> lower-case 8-4-4-4-12     binary, fixed -> lower-case hex
 *   struct -> object by field name (schema order)          list -> array
 *   map -> [[key, value], ...] sorted by the JSON text of the key            null -> null
 *
 * A row is an object keyed by top-level column name in schema order, serialised with JSON.stringify
 * (Python: json.dumps(ensure_ascii=False, separators=(',', ':')), the same text). Rows are compared
 * as multisets, so lists of them are sorted by code point, which Python's str ordering also uses
 * (JavaScript's default sort compares UTF-16 units and would put U+FF61 after an emoji).
 */
export type Canonical = string | boolean | null | Canonical[] | { [name: string]: Canonical };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bad(path: string, type: IcebergType, value: unknown, expected: string): LakehouseError {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new LakehouseError(
    'INVALID_ARGUMENT',
    `Cannot canonicalise ${path} (${typeToString(type)}): expected ${expected}, got ${typeof value} ${shown}.`,
    { context: { path } },
  );
}

/** An integer given as bigint or as a safe-integer number, as a decimal string. */
function integerText(path: string, type: IcebergType, v: unknown, expected: string): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  throw bad(path, type, v, expected);
}

/** IEEE-754 bits of a double as 16 lower-case hex digits; NaN (any payload) is "NaN". */
export function doubleBits(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
}

export function bitsToDouble(bits: string): number {
  if (bits === 'NaN') return Number.NaN;
  if (!/^[0-9a-f]{16}$/.test(bits)) throw new LakehouseError('INVALID_ARGUMENT', `"${bits}" is not 16 lower-case hex digits of a double or "NaN".`);
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt('0x' + bits));
  return view.getFloat64(0);
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw new LakehouseError('INVALID_ARGUMENT', `"${hex}" is not lower-case hex bytes.`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Orders strings by Unicode code point (= UTF-8 byte order = Python's str order). UTF-16 order
 * differs only where a surrogate (a code point above U+FFFF) meets U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff) x += 0x10000;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x10000;
    return x - y;
  }
  return a.length - b.length;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Uint8Array);
}

function canonicalStruct(fields: NestedField[], value: Record<string, unknown>, path: string): { [name: string]: Canonical } {
  const known = new Set(fields.map((f) => f.name));
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new LakehouseError('INVALID_ARGUMENT', `Cannot canonicalise ${path}: "${key}" is not a field; fields are ${[...known].join(', ')}.`);
    }
  }
  const out: { [name: string]: Canonical } = {};
  for (const f of fields) out[f.name] = canonicalValue(f.type, value[f.name], path === '' ? f.name : `${path}.${f.name}`);
  return out;
}

/** Canonical form of one value of Iceberg type `type`, given in our in-memory representation. */
export function canonicalValue(type: IcebergType, value: unknown, path = 'value'): Canonical {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') throw bad(path, type, value, 'a boolean');
      return value;
    case 'int':
    case 'date':
      return integerText(path, type, value, 'an integer number');
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'decimal':
      return integerText(path, type, value, type.kind === 'decimal' ? 'the unscaled value as a bigint' : 'a bigint');
    case 'float':
      if (typeof value !== 'number') throw bad(path, type, value, 'a number');
      return doubleBits(Math.fround(value)); // what a float column stores: the nearest float32
    case 'double':
      if (typeof value !== 'number') throw bad(path, type, value, 'a number');
      return doubleBits(value);
    case 'string':
      if (typeof value !== 'string') throw bad(path, type, value, 'a string');
      return value;
    case 'uuid':
      if (typeof value === 'string' && UUID_RE.test(value)) return value.toLowerCase();
      if (value instanceof Uint8Array && value.length === 16) {
        const h = toHex(value);
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      }
      throw bad(path, type, value, 'a uuid string 8-4-4-4-12 or 16 bytes');
    case 'binary':
    case 'fixed':
      if (!(value instanceof Uint8Array)) throw bad(path, type, value, 'a Uint8Array');
      return toHex(value);
    case 'struct':
      if (!isPlainObject(value)) throw bad(path, type, value, 'an object');
      return canonicalStruct(type.fields, value, path);
    case 'list':
      if (!Array.isArray(value)) throw bad(path, type, value, 'an array');
      return value.map((e, i) => canonicalValue(type.element, e, `${path}[${i}]`));
    case 'map': {
      const entries = value instanceof Map ? [...value.entries()] : value;
      if (!Array.isArray(entries)) throw bad(path, type, value, 'a Map or an array of [key, value] pairs');
      const pairs = entries.map((entry, i): [Canonical, Canonical] => {
        if (!Array.isArray(entry) || entry.length !== 2) throw bad(`${path}[${i}]`, type, entry, 'a [key, value] pair');
        return [canonicalValue(type.key, entry[0], `${path}.key`), canonicalValue(type.value, entry[1], `${path}.value`)];
      });
      const keyed = pairs.map((p) => ({ key: JSON.stringify(p[0]), p }));
      keyed.sort((a, b) => compareCodePoints(a.key, b.key));
      return keyed.map((k) => k.p);
    }
  }
}

/** A row in our in-memory representation, keyed by top-level column name, in canonical form. */
export function canonicalRow(schema: Schema, row: Record<string, unknown>): { [name: string]: Canonical } {
  return canonicalStruct(schema.fields, row, '');
}

/** Canonical JSON lines of rows, sorted so two multisets of rows compare as equal arrays. */
export function canonicalRows(schema: Schema, rows: Iterable<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const row of rows) out.push(JSON.stringify(canonicalRow(schema, row)));
  return out.sort(compareCodePoints);
}

/** The inverse: a canonical value back in our in-memory representation (maps come back as Map). */
export function canonicalToValue(type: IcebergType, c: Canonical, path = 'value'): unknown {
  if (c === null) return null;
  const text = (): string => {
    if (typeof c !== 'string') throw bad(path, type, c, 'a canonical string');
    return c;
  };
  switch (type.kind) {
    case 'boolean':
      if (typeof c !== 'boolean') throw bad(path, type, c, 'true or false');
      return c;
    case 'int':
    case 'date':
      return Number(text());
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'decimal':
      return BigInt(text());
    case 'float':
    case 'double':
      return bitsToDouble(text());
    case 'string':
    case 'uuid':
      return text();
    case 'binary':
    case 'fixed':
      return fromHex(text());
    case 'struct': {
      if (typeof c !== 'object' || Array.isArray(c)) throw bad(path, type, c, 'an object');
      const out: Record<string, unknown> = {};
      for (const f of type.fields) out[f.name] = canonicalToValue(f.type, c[f.name] ?? null, `${path}.${f.name}`);
      return out;
    }
    case 'list':
      if (!Array.isArray(c)) throw bad(path, type, c, 'an array');
      return c.map((e, i) => canonicalToValue(type.element, e, `${path}[${i}]`));
    case 'map':
      if (!Array.isArray(c)) throw bad(path, type, c, 'an array of [key, value] pairs');
      return new Map(c.map((p, i) => {
        if (!Array.isArray(p) || p.length !== 2) throw bad(`${path}[${i}]`, type, p, 'a [key, value] pair');
        return [canonicalToValue(type.key, p[0]!, `${path}.key`), canonicalToValue(type.value, p[1]!, `${path}.value`)];
      }));
  }
}

/** A canonical row (object or its JSON line) back in our in-memory representation. */
export function rowFromCanonical(schema: Schema, row: string | { [name: string]: Canonical }): Record<string, unknown> {
  const obj = typeof row === 'string' ? (JSON.parse(row) as { [name: string]: Canonical }) : row;
  const out: Record<string, unknown> = {};
  for (const f of schema.fields) out[f.name] = canonicalToValue(f.type, obj[f.name] ?? null, f.name);
  return out;
}
