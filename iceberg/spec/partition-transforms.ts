import { LakehouseError } from '../../core/errors.ts';
import { civilFromDays, daysToIsoDate, epochMonthFromDays } from '../../core/calendar.ts';
import { codePointOffset } from './values/bounds.ts';
import { decimalBytesInto } from './values/decimal.ts';
import { float32ToString } from './values/float-text.ts';
import { uuidToBytesInto } from './values/uuid-hex.ts';
import { murmur3_32, murmur3_32_long, murmur3_32_range, murmur3_32_utf8 } from './murmur3.ts';
import type { PartitionSpec } from './partition-spec.ts';
import type { Schema } from './schema.ts';
import { isPrimitive, primitiveToString, type PrimitiveKind, type PrimitiveType, type Value } from './types.ts';

/**
 * Partition transforms (spec "Partition Transforms", "Bucket Transform Details", "Truncate Transform
 * Details", "Appendix B: 32-bit Hash Requirements"): parsing, type rules, the per-value functions, and
 * the human strings Java uses to build partition paths.
 *
 * Values follow the in-memory representation of types.ts. Results of year, month, day and hour are
 * numbers counted from 1970 with floor semantics (1969-12-31T23:59:59.999999 is day -1, hour -1).
 */

export type Transform =
  | { kind: 'identity' | 'year' | 'month' | 'day' | 'hour' | 'void' }
  | { kind: 'bucket'; n: number }
  | { kind: 'truncate'; width: number };

const INT_MAX = 2147483647;
const MICROS_PER_HOUR = 3_600_000_000;
const MICROS_PER_DAY = 86_400_000_000;
const MICROS_PER_HOUR_N = 3_600_000_000n;
const MICROS_PER_DAY_N = 86_400_000_000n;

const SIMPLE_KINDS = new Set(['identity', 'year', 'month', 'day', 'hour', 'void']);
const WIDTH_RE = /^(\w+)\[(\d+)\]$/;
const parsed = new Map<string, Transform>();

/** Reads `identity`, `bucket[16]`, `truncate[4]`, `year`, ... case-insensitively, as Java `Transforms.fromString`. */
export function parseTransform(s: string): Transform {
  const cached = parsed.get(s);
  if (cached) return cached;
  const text = s.trim().toLowerCase();
  let t: Transform | undefined;
  const m = WIDTH_RE.exec(text);
  if (m && (m[1] === 'bucket' || m[1] === 'truncate')) {
    const n = Number(m[2]);
    if (!(n >= 1 && n <= INT_MAX)) {
      throw new LakehouseError('INVALID_ARGUMENT',
        `Partition transform "${s}" is not valid: the ${m[1] === 'bucket' ? 'number of buckets' : 'width'} must be an integer from 1 to ${INT_MAX}.`);
    }
    t = m[1] === 'bucket' ? { kind: 'bucket', n } : { kind: 'truncate', width: n };
  } else if (SIMPLE_KINDS.has(text)) {
    t = { kind: text } as Transform;
  }
  if (!t) {
    throw new LakehouseError('UNSUPPORTED',
      `Unknown partition transform "${s}": expected identity, bucket[N], truncate[W], year, month, day, hour or void (spec "Partition Transforms").`);
  }
  parsed.set(s, Object.freeze(t));
  return t;
}

function resolve(t: Transform | string): Transform {
  return typeof t === 'string' ? parseTransform(t) : t;
}

export function transformToString(t: Transform): string {
  switch (t.kind) {
    case 'bucket': return `bucket[${t.n}]`;
    case 'truncate': return `truncate[${t.width}]`;
    default: return t.kind;
  }
}

// Source types per transform, from the spec's "Partition Transforms" table (v1/v2 types).
const BUCKET_SOURCES = new Set<PrimitiveKind>(['int', 'long', 'decimal', 'date', 'time', 'timestamp', 'timestamptz', 'string', 'uuid', 'fixed', 'binary']);
const TRUNCATE_SOURCES = new Set<PrimitiveKind>(['int', 'long', 'decimal', 'string', 'binary']);
const DATE_SOURCES = new Set<PrimitiveKind>(['date', 'timestamp', 'timestamptz']);
const HOUR_SOURCES = new Set<PrimitiveKind>(['timestamp', 'timestamptz']);

function sourcesOf(t: Transform): Set<PrimitiveKind> | null {
  switch (t.kind) {
    case 'identity':
    case 'void':
      return null;
    case 'bucket': return BUCKET_SOURCES;
    case 'truncate': return TRUNCATE_SOURCES;
    case 'hour': return HOUR_SOURCES;
    default: return DATE_SOURCES;
  }
}

/** False for unknown transform strings as well as for source types the transform does not accept. */
export function canTransform(t: Transform | string, source: PrimitiveType): boolean {
  let tr: Transform;
  try {
    tr = resolve(t);
  } catch {
    return false;
  }
  const sources = sourcesOf(tr);
  return sources === null || sources.has(source.kind);
}

function requireApplicable(tr: Transform, source: PrimitiveType): void {
  const sources = sourcesOf(tr);
  if (sources !== null && !sources.has(source.kind)) {
    throw new LakehouseError('INVALID_ARGUMENT',
      `Partition transform ${transformToString(tr)} cannot apply to a ${primitiveToString(source)} column: it accepts ${[...sources].join(', ')} (spec "Partition Transforms").`);
  }
}

/** bucket, year, month, hour give int; day gives date (spec table, note [1]); the rest keep the source type. */
export function transformResultType(t: Transform | string, source: PrimitiveType): PrimitiveType {
  const tr = resolve(t);
  requireApplicable(tr, source);
  switch (tr.kind) {
    case 'bucket':
    case 'year':
    case 'month':
    case 'hour':
      return { kind: 'int' };
    case 'day':
      return { kind: 'date' };
    default:
      return source;
  }
}

export function preservesOrder(t: Transform | string): boolean {
  const k = resolve(t).kind;
  return k !== 'bucket' && k !== 'void';
}

// ---- hashing (Appendix B) ----

// Scratch buffers keep the bucket hot loop allocation-free; JS is single-threaded and none re-enters.
const scratch8 = new DataView(new ArrayBuffer(8));
const scratch16 = new Uint8Array(16);
const scratch16View = new DataView(scratch16.buffer);

function hashInt(v: number): number {
  // Appendix B note 1: int hashes as the long of the same value, so promotion keeps buckets.
  return murmur3_32_long(v, v < 0 ? -1 : 0);
}

function hashLong(v: bigint): number {
  scratch8.setBigInt64(0, v, true);
  return murmur3_32_long(scratch8.getInt32(0, true), scratch8.getInt32(4, true));
}

function hashDouble(v: number): number {
  // Note 5: doubleToLongBits with NaN canonicalized to 0x7ff8000000000000 and -0.0 to 0.0.
  if (Number.isNaN(v)) return murmur3_32_long(0, 0x7ff80000);
  scratch8.setFloat64(0, v === 0 ? 0 : v, true);
  return murmur3_32_long(scratch8.getInt32(0, true), scratch8.getInt32(4, true));
}

function hashDecimal(v: bigint): number {
  const start = decimalBytesInto(v, scratch16, scratch16View);
  return murmur3_32_range(scratch16, start, 16);
}

function hashUuid(v: string): number {
  if (!uuidToBytesInto(v, scratch16)) {
    throw new LakehouseError('INVALID_ARGUMENT', `Cannot hash ${JSON.stringify(v)} as a uuid: expected 8-4-4-4-12 hex.`);
  }
  return murmur3_32_range(scratch16, 0, 16);
}

type Hasher = (v: Value) => number;

function hasherFor(source: PrimitiveType): Hasher | null {
  switch (source.kind) {
    case 'int':
    case 'date':
      return hashInt as Hasher;
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return hashLong as Hasher;
    case 'decimal':
      return hashDecimal as Hasher;
    case 'string':
      return ((v: string) => murmur3_32_utf8(v)) as Hasher;
    case 'uuid':
      return hashUuid as Hasher;
    case 'fixed':
    case 'binary':
      return ((v: Uint8Array) => murmur3_32(v)) as Hasher;
    case 'boolean':
      return ((v: boolean) => hashInt(v ? 1 : 0)) as Hasher;
    case 'float':
    case 'double':
      // Float hashes as its value widened to double (note 5), which a JS number already is.
      return hashDouble as Hasher;
  }
}

/**
 * The spec's 32-bit hash of a non-null value (Appendix B), signed like Java's. Also defined for
 * boolean, float and double by the appendix's second table, although bucket does not accept them.
 */
export function bucketHash(source: PrimitiveType, v: Value): number {
  if (v === null) throw new LakehouseError('INVALID_ARGUMENT', 'bucketHash needs a value: null has no hash, and bucket maps null to null.');
  return hasherFor(source)!(v);
}

// ---- transform functions ----

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** floor(v / unit) for epoch micros; exact double arithmetic below 2^53, bigint beyond. */
function floorDivMicros(v: bigint, unit: number, unitN: bigint): number {
  const x = Number(v);
  if (x >= -MAX_SAFE && x <= MAX_SAFE) {
    let q = Math.floor(x / unit);
    // The quotient can round to the neighbouring integer; the exact remainder corrects it.
    const r = x - q * unit;
    if (r < 0) q -= 1;
    else if (r >= unit) q += 1;
    return q;
  }
  let q = v / unitN;
  if (v < 0n && q * unitN !== v) q -= 1n;
  return Number(q);
}

function microsToDays(v: bigint): number {
  return floorDivMicros(v, MICROS_PER_DAY, MICROS_PER_DAY_N);
}

type Fn = (v: Value) => Value;

function bind(tr: Transform, source: PrimitiveType): Fn {
  requireApplicable(tr, source);
  const fromDate = source.kind === 'date';
  switch (tr.kind) {
    case 'identity':
      return (v) => v;
    case 'void':
      return () => null;
    case 'bucket': {
      const hash = hasherFor(source)!;
      const n = tr.n;
      return (v) => (v === null ? null : (hash(v) & INT_MAX) % n);
    }
    case 'year':
      return fromDate
        ? (v) => (v === null ? null : Math.floor(epochMonthFromDays(v as number) / 12))
        : (v) => (v === null ? null : Math.floor(epochMonthFromDays(microsToDays(v as bigint)) / 12));
    case 'month':
      return fromDate
        ? (v) => (v === null ? null : epochMonthFromDays(v as number))
        : (v) => (v === null ? null : epochMonthFromDays(microsToDays(v as bigint)));
    case 'day':
      return fromDate ? (v) => v : (v) => (v === null ? null : microsToDays(v as bigint));
    case 'hour':
      // `| 0` wraps like Java's (int) cast; only timestamps beyond year 245,000 reach it.
      return (v) => (v === null ? null : floorDivMicros(v as bigint, MICROS_PER_HOUR, MICROS_PER_HOUR_N) | 0);
    case 'truncate':
      return truncateFunction(tr.width, source);
  }
}

function truncateFunction(w: number, source: PrimitiveType): Fn {
  switch (source.kind) {
    case 'int':
      // v - (((v % W) + W) % W): the spec's positive remainder (Truncate note 1); the result wraps to
      // int32 like Java's int arithmetic near Integer.MIN_VALUE.
      return (v) => (v === null ? null : ((v as number) - ((((v as number) % w) + w) % w)) | 0);
    case 'long': {
      const W = BigInt(w);
      return (v) => (v === null ? null : BigInt.asIntN(64, (v as bigint) - ((((v as bigint) % W) + W) % W)));
    }
    case 'decimal': {
      // Note 2: the width applies to the unscaled value, i.e. in units of the column's scale.
      const W = BigInt(w);
      return (v) => (v === null ? null : (v as bigint) - ((((v as bigint) % W) + W) % W));
    }
    case 'string':
      // Note 3: at most W code points, so a surrogate pair is never split.
      return (v) => (v === null || (v as string).length <= w ? v : (v as string).slice(0, codePointOffset(v as string, w)));
    default:
      // binary, note 4: W bytes. A copy, so the value does not pin or alias the source batch's buffer.
      return (v) => (v === null || (v as Uint8Array).length <= w ? v : (v as Uint8Array).slice(0, w));
  }
}

const bound = new Map<string, Fn>();

/** The transform bound to a source type, resolved once for hot loops; maps null to null. */
export function transformFunction(t: Transform | string, source: PrimitiveType): (v: Value) => Value {
  const tr = resolve(t);
  const key = `${transformToString(tr)}|${primitiveToString(source)}`;
  let fn = bound.get(key);
  if (!fn) {
    fn = bind(tr, source);
    bound.set(key, fn);
  }
  return fn;
}

export function applyTransform(t: Transform | string, source: PrimitiveType, v: Value): Value {
  return transformFunction(t, source)(v);
}

// ---- human strings and partition paths (Java Transform.toHumanString, PartitionSpec.partitionToPath) ----

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Java `String.format("%04d", n)`: the sign counts toward the width (-1 -> "-001"). */
function java04d(n: number): string {
  return n < 0 ? `-${String(-n).padStart(3, '0')}` : String(n).padStart(4, '0');
}

function floorMod(a: number, b: number): number {
  return a - Math.floor(a / b) * b;
}

function humanDay(days: number): string {
  const c = civilFromDays(days);
  return `${java04d(c.year)}-${pad2(c.month)}-${pad2(c.day)}`;
}

/** Java `LocalTime.toString`: seconds only when non-zero, fraction in groups of 3, 6 or 9 digits. */
function humanTime(micros: number): string {
  const secs = Math.floor(micros / 1_000_000);
  const frac = micros - secs * 1_000_000;
  let s = `${pad2(Math.floor(secs / 3600))}:${pad2(Math.floor(secs / 60) % 60)}`;
  if (secs % 60 !== 0 || frac !== 0) s += `:${pad2(secs % 60)}`;
  if (frac !== 0) s += '.' + (frac % 1000 === 0 ? String(frac / 1000).padStart(3, '0') : String(frac).padStart(6, '0'));
  return s;
}

/** Java ISO_LOCAL_DATE_TIME (+ `+00:00`): seconds always, fraction with trailing zeros dropped. */
function humanTimestamp(micros: bigint, withZone: boolean): string {
  let days = micros / MICROS_PER_DAY_N;
  let rem = micros % MICROS_PER_DAY_N;
  if (rem < 0n) {
    days -= 1n;
    rem += MICROS_PER_DAY_N;
  }
  const r = Number(rem);
  const secs = Math.floor(r / 1_000_000);
  const frac = r - secs * 1_000_000;
  let s = `${daysToIsoDate(Number(days))}T${pad2(Math.floor(secs / 3600))}:${pad2(Math.floor(secs / 60) % 60)}:${pad2(secs % 60)}`;
  if (frac !== 0) s += '.' + String(frac).padStart(6, '0').replace(/0+$/, '');
  return withZone ? s + '+00:00' : s;
}

/** Java `BigDecimal.toString` for scale >= 0: plain unless the adjusted exponent is below -6 (`1E-8`). */
function humanDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString();
  const sign = neg ? '-' : '';
  const adjusted = digits.length - 1 - scale;
  if (adjusted >= -6) {
    if (scale === 0) return sign + digits;
    const padded = digits.padStart(scale + 1, '0');
    return `${sign}${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
  }
  return `${sign}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}E${adjusted}`;
}

/** Java `Double.toString` / `Float.toString`: shortest digits, `1.0`, `1.0E7`, `1.0E-4`. */
function humanFloating(v: number, isFloat: boolean): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const shortest = isFloat ? Number(float32ToString(v)) : v;
  const [mantissa, expText] = shortest.toExponential().split('e') as [string, string];
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  const exp = Number(expText);
  const abs = Math.abs(v);
  if (abs >= 1e-3 && abs < 1e7) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    return `${sign}${intPart}.${digits.slice(exp + 1) || '0'}`;
  }
  return `${sign}${digits[0]}.${digits.slice(1) || '0'}E${exp}`;
}

function humanValue(type: PrimitiveType, v: Value): string {
  switch (type.kind) {
    case 'date':
      return humanDay(v as number);
    case 'time':
      return humanTime(Number(v as bigint));
    case 'timestamp':
      return humanTimestamp(v as bigint, false);
    case 'timestamptz':
      return humanTimestamp(v as bigint, true);
    case 'decimal':
      return humanDecimal(v as bigint, type.scale);
    case 'float':
      return humanFloating(v as number, true);
    case 'double':
      return humanFloating(v as number, false);
    case 'fixed':
    case 'binary': {
      // Java prints bytes as standard base64 with padding.
      const b = v as Uint8Array;
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
    }
    default:
      return String(v);
  }
}

/**
 * A partition value as Java's `toHumanString` writes it: year `2024`, month `2024-01`, day `2024-01-01`,
 * hour `2024-01-01-10`, null `null`; identity and truncate values print by `resultType`.
 */
export function humanString(t: Transform | string, resultType: PrimitiveType, v: Value): string {
  if (v === null) return 'null';
  const tr = resolve(t);
  switch (tr.kind) {
    case 'year':
      return java04d(1970 + (v as number));
    case 'month':
      return `${java04d(1970 + Math.floor((v as number) / 12))}-${pad2(floorMod(v as number, 12) + 1)}`;
    case 'day':
      return humanDay(v as number);
    case 'hour':
      return `${humanDay(Math.floor((v as number) / 24))}-${pad2(floorMod(v as number, 24))}`;
    case 'void':
      return 'null';
    case 'bucket':
      return String(v);
    default:
      return humanValue(resultType, v);
  }
}

const URL_SAFE_RE = /^[A-Za-z0-9.\-*_]*$/;
const utf8 = new TextEncoder();

/** Java `URLEncoder.encode(s, UTF_8)`: keeps A-Z a-z 0-9 . - * _, space becomes +, the rest %XX of UTF-8. */
function urlEncode(s: string): string {
  if (URL_SAFE_RE.test(s)) return s;
  let out = '';
  for (const b of utf8.encode(s)) {
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x2d || b === 0x2a || b === 0x5f) {
      out += String.fromCharCode(b);
    } else if (b === 0x20) {
      out += '+';
    } else {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** `event_time_day=2024-01-01/event_type=click`, as Java `PartitionSpec.partitionToPath`. */
export function partitionPath(spec: PartitionSpec, schema: Schema, values: Value[]): string {
  if (values.length !== spec.fields.length) {
    throw new LakehouseError('INVALID_ARGUMENT',
      `Partition spec ${spec.specId} has ${spec.fields.length} fields but ${values.length} partition values were given.`);
  }
  const parts: string[] = [];
  for (let i = 0; i < spec.fields.length; i++) {
    const f = spec.fields[i]!;
    let text: string;
    if (resolve(f.transform).kind === 'void' || values[i] === null) {
      // A void field's source column may since have been dropped; its value prints as null anyway.
      text = 'null';
    } else {
      const source = schema.findField(f.sourceId);
      if (!source || !isPrimitive(source.type)) {
        throw new LakehouseError('INVALID_ARGUMENT',
          `Partition field "${f.name}" reads source column id ${f.sourceId}, which is not a primitive column of schema ${schema.schemaId}.`);
      }
      text = humanString(f.transform, transformResultType(f.transform, source.type), values[i]!);
    }
    parts.push(`${urlEncode(f.name)}=${urlEncode(text)}`);
  }
  return parts.join('/');
}
