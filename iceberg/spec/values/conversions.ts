import { LakehouseError } from '../../../core/errors.ts';
import { primitiveToString, type PrimitiveType, type Value } from '../types.ts';

/**
 * Single values in every form Iceberg writes them (spec "Appendix D: Single-value serialization"):
 * binary (column bounds, partition field summaries), JSON (default values, REST scan filters), plus the
 * order used for min/max statistics, bound truncation, user literals and human text.
 *
 * Values use the in-memory representation documented in types.ts.
 */

const MICROS_PER_SECOND = 1_000_000;
const MICROS_PER_DAY_N = 86_400_000_000n;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;

function typeName(t: PrimitiveType): string {
  return primitiveToString(t);
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v);
  return String(v);
}

function wrongValue(t: PrimitiveType, v: unknown, expected: string): never {
  throw new LakehouseError('INVALID_ARGUMENT',
    `Value ${show(v)} is not a valid ${typeName(t)} value: the in-memory form of ${typeName(t)} is ${expected} (see iceberg/spec/types.ts).`);
}

function badText(t: PrimitiveType, x: unknown, expected: string): never {
  throw new LakehouseError('INVALID_ARGUMENT', `Cannot read ${show(x)} as a ${typeName(t)} value: expected ${expected}.`);
}

function asNumber(t: PrimitiveType, v: Value): number {
  if (typeof v !== 'number') wrongValue(t, v, 'a number');
  return v;
}

function asBigint(t: PrimitiveType, v: Value): bigint {
  if (typeof v !== 'bigint') wrongValue(t, v, 'a bigint');
  return v;
}

function asBytes(t: PrimitiveType, v: Value): Uint8Array {
  if (!(v instanceof Uint8Array)) wrongValue(t, v, 'a Uint8Array');
  return v;
}

function asString(t: PrimitiveType, v: Value): string {
  if (typeof v !== 'string') wrongValue(t, v, 'a string');
  return v;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

// ---- calendar (proleptic Gregorian, as java.time and the spec's "days from 1970-01-01") ----

function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Months from 1970-01 of the epoch day `days` (H. Hinnant's civil_from_days), floor semantics before the epoch (1969-12-31 -> -1).
 * The year and month transforms both derive from it; it allocates nothing, for their hot loops.
 */
export function epochMonthFromDays(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  // mp counts months from March; months 10 and 11 (Jan, Feb) belong to the next civil year.
  const year = yoe + era * 400 + (mp >= 10 ? 1 : 0);
  const month0 = mp < 10 ? mp + 2 : mp - 10;
  return (year - 1970) * 12 + month0;
}

/** Civil date of an epoch day, proleptic Gregorian like java.time. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const m = epochMonthFromDays(days);
  const year = 1970 + Math.floor(m / 12);
  const month = m - Math.floor(m / 12) * 12 + 1;
  return { year, month, day: days - daysFromCivil(year, month, 1) + 1 };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** ISO-8601 year as java.time prints it: 4 digits, a sign beyond 9999 or before year 0. */
function isoYear(y: number): string {
  if (y >= 0 && y <= 9999) return pad(y, 4);
  return y > 9999 ? `+${y}` : `-${pad(-y, 4)}`;
}

/** `2017-11-16` for 17486. */
export function daysToIsoDate(days: number): string {
  const c = civilFromDays(days);
  return `${isoYear(c.year)}-${pad(c.month, 2)}-${pad(c.day, 2)}`;
}

/** `22:31:08.000001` for microseconds from midnight: always six fraction digits (spec Appendix D, JSON `time`). */
export function microsToIsoTime(micros: number): string {
  const secs = Math.floor(micros / MICROS_PER_SECOND);
  const frac = micros - secs * MICROS_PER_SECOND;
  return `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(frac, 6)}`;
}

/**
 * `2017-11-16T22:31:08.000001`, plus `+00:00` when `withZone` (spec Appendix D requires that exact
 * offset for timestamptz). Always six fraction digits, so values sort and diff cleanly in text.
 */
export function microsToIso(micros: bigint, withZone: boolean): string {
  let days = micros / MICROS_PER_DAY_N;
  let rem = micros % MICROS_PER_DAY_N;
  if (rem < 0n) {
    days -= 1n;
    rem += MICROS_PER_DAY_N;
  }
  const text = `${daysToIsoDate(Number(days))}T${microsToIsoTime(Number(rem))}`;
  return withZone ? text + '+00:00' : text;
}

const DATE_TIME_RE = /^([+-]?\d{4,9})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?$/;

interface ParsedDateTime {
  days: number;
  hasTime: boolean;
  microsOfDay: number;
  /** Offset east of UTC in seconds, or null when the text had none. */
  offsetSeconds: number | null;
}

/** Microseconds of `HH:MM[:SS[.fffffffff]]` parts, or null when out of range or finer than a microsecond. */
function timeParts(h: string, m: string, s: string | undefined, f: string | undefined): number | null {
  const hh = Number(h);
  const mm = Number(m);
  const ss = s === undefined ? 0 : Number(s);
  if (hh > 23 || mm > 59 || ss > 59) return null;
  let micros = 0;
  if (f !== undefined) {
    const nanos = Number(f.padEnd(9, '0'));
    if (nanos % 1000 !== 0) return null;
    micros = nanos / 1000;
  }
  return ((hh * 60 + mm) * 60 + ss) * MICROS_PER_SECOND + micros;
}

function parseDateTime(text: string): ParsedDateTime | null {
  const m = DATE_TIME_RE.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  const days = daysFromCivil(year, month, day);
  if (m[4] === undefined) return { days, hasTime: false, microsOfDay: 0, offsetSeconds: null };
  const microsOfDay = timeParts(m[4], m[5]!, m[6], m[7]);
  if (microsOfDay === null) return null;
  let offsetSeconds: number | null = null;
  const z = m[8];
  if (z !== undefined) {
    if (z === 'Z' || z === 'z') {
      offsetSeconds = 0;
    } else {
      const digits = z.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
      if (oh > 18 || om > 59) return null;
      offsetSeconds = (z[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
    }
  }
  return { days, hasTime: true, microsOfDay, offsetSeconds };
}

function toEpochMicros(p: ParsedDateTime): bigint {
  return BigInt(p.days) * MICROS_PER_DAY_N + BigInt(p.microsOfDay - (p.offsetSeconds ?? 0) * MICROS_PER_SECOND);
}

// ---- decimal ----

/**
 * Writes `v` as minimal two's-complement big-endian (Java `BigInteger.toByteArray`, spec Appendix D
 * and Appendix B note 2) into the end of `scratch` (16 bytes, enough for any decimal(38, S)) and
 * returns the index of its first byte. Zero is one byte, 0x00.
 */
export function decimalBytesInto(v: bigint, scratch: Uint8Array, view: DataView): number {
  if (v >= LONG_MIN && v <= LONG_MAX) {
    view.setBigInt64(8, v, false);
    const fill = v < 0n ? 0xff : 0;
    for (let i = 0; i < 8; i++) scratch[i] = fill;
  } else {
    view.setBigInt64(0, BigInt.asIntN(64, v >> 64n), false);
    view.setBigUint64(8, BigInt.asUintN(64, v), false);
  }
  // Drop a leading byte while it only repeats the sign of the byte after it.
  let start = 0;
  while (start < 15) {
    const b = scratch[start]!;
    const nextTop = scratch[start + 1]! & 0x80;
    if ((b === 0 && nextTop === 0) || (b === 0xff && nextTop !== 0)) start++;
    else break;
  }
  return start;
}

const INT128_MIN = -(1n << 127n);
const INT128_MAX = (1n << 127n) - 1n;

function decimalToBytes(v: bigint): Uint8Array {
  if (v >= INT128_MIN && v <= INT128_MAX) {
    const scratch = new Uint8Array(16);
    const start = decimalBytesInto(v, scratch, new DataView(scratch.buffer));
    return scratch.slice(start);
  }
  // Beyond decimal(38, S); kept exact so a bad value still round-trips for diagnosis.
  const len = ((v < 0n ? ~v : v).toString(2).length >> 3) + 1;
  const out = new Uint8Array(len);
  let x = BigInt.asUintN(len * 8, v);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function decimalFromBytes(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let x = 0n;
  for (let i = 0; i < b.length; i++) x = (x << 8n) | BigInt(b[i]!);
  return BigInt.asIntN(b.length * 8, x);
}

/** `14.20` for unscaled 1420 at scale 2; plain notation, exactly `scale` digits after the point. */
export function decimalToString(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString();
  if (scale <= 0) return (neg ? '-' : '') + digits + (scale < 0 ? '0'.repeat(-scale) : '');
  const padded = digits.padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
}

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Exact unscaled value of decimal text at `scale`: `12.3` at scale 2 is 1230n. Digits beyond the scale
 * must be zeros (no silent rounding), and the result must fit the precision. Returns an error reason.
 */
function decimalFromText(text: string, precision: number, scale: number): bigint | string {
  const m = DECIMAL_RE.exec(text);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return 'decimal digits such as 12.34 or 1.5E3';
  const frac = m[3] ?? '';
  let digits = (m[2]! + frac).replace(/^0+/, '');
  const exp = (m[4] === undefined ? 0 : Number(m[4])) - frac.length;
  let shift = scale + exp;
  if (shift < 0) {
    const dropped = digits.slice(Math.max(0, digits.length + shift));
    if (/[^0]/.test(dropped)) return `at most ${scale} digits after the decimal point (the column's scale; round the value first)`;
    digits = digits.slice(0, Math.max(0, digits.length + shift));
    shift = 0;
  }
  if (digits.length > 0 && digits.length + shift > precision) {
    return `at most ${precision} significant digits with ${scale} after the point (the column's precision)`;
  }
  const unscaled = digits === '' ? 0n : BigInt(digits) * 10n ** BigInt(shift);
  return m[1] === '-' ? -unscaled : unscaled;
}

// ---- uuid ----

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Writes the 16 big-endian bytes of a 8-4-4-4-12 uuid into `out` (spec Appendix B note 4); false if malformed. */
export function uuidToBytesInto(s: string, out: Uint8Array): boolean {
  if (s.length !== 36) return false;
  let j = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (s.charCodeAt(i) !== 45) return false;
      continue;
    }
    const hi = hexValue(s.charCodeAt(i));
    const lo = hexValue(s.charCodeAt(++i));
    if (hi < 0 || lo < 0) return false;
    out[j++] = (hi << 4) | lo;
  }
  return true;
}

const HEX = '0123456789abcdef';

/** Lower-case hex, no separators (spec Appendix D JSON form of binary and fixed). */
export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]! >> 4]! + HEX[b[i]! & 15]!;
  return s;
}

function hexToBytes(s: string): Uint8Array | null {
  if (s.length % 2 !== 0) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexValue(s.charCodeAt(2 * i));
    const lo = hexValue(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function bytesToUuid(b: Uint8Array): string {
  const h = bytesToHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- float ----

/**
 * Shortest decimal text that reads back to the same float32 (`0.1` for the float nearest 0.1, where
 * the double it widens to prints as 0.10000000149011612). Java prints floats this way.
 */
export function float32ToString(v: number): string {
  if (!Number.isFinite(v) || v === 0) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

// ---- binary single-value serialization (spec Appendix D) ----

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

function fixedWidth(size: number, write: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  write(new DataView(out.buffer));
  return out;
}

export function toBinary(t: PrimitiveType, v: Value): Uint8Array {
  switch (t.kind) {
    case 'boolean':
      if (typeof v !== 'boolean') wrongValue(t, v, 'a boolean');
      return Uint8Array.of(v ? 1 : 0);
    case 'int':
    case 'date': {
      const n = asNumber(t, v);
      return fixedWidth(4, (d) => d.setInt32(0, n, true));
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const n = asBigint(t, v);
      return fixedWidth(8, (d) => d.setBigInt64(0, n, true));
    }
    case 'float': {
      const n = asNumber(t, v);
      return fixedWidth(4, (d) => d.setFloat32(0, n, true));
    }
    case 'double': {
      const n = asNumber(t, v);
      return fixedWidth(8, (d) => d.setFloat64(0, n, true));
    }
    case 'decimal':
      return decimalToBytes(asBigint(t, v));
    case 'string':
      return utf8Encoder.encode(asString(t, v));
    case 'uuid': {
      const out = new Uint8Array(16);
      if (!uuidToBytesInto(asString(t, v), out)) wrongValue(t, v, 'a string in 8-4-4-4-12 hex form');
      return out;
    }
    case 'fixed':
    case 'binary':
      return asBytes(t, v);
  }
}

function needLength(t: PrimitiveType, b: Uint8Array, ok: boolean, expected: string): void {
  if (!ok) {
    throw new LakehouseError('INVALID_METADATA',
      `Cannot read a ${typeName(t)} from ${b.length} bytes: spec Appendix D stores ${typeName(t)} as ${expected}.`);
  }
}

export function fromBinary(t: PrimitiveType, b: Uint8Array): Value {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (t.kind) {
    case 'boolean':
      needLength(t, b, b.length === 1, 'one byte');
      return b[0] !== 0;
    case 'int':
    case 'date':
      needLength(t, b, b.length === 4, '4 bytes little-endian');
      return view.getInt32(0, true);
    case 'long':
      // A column promoted from int keeps its old 4-byte bounds (Java Conversions does the same).
      if (b.length === 4) return BigInt(view.getInt32(0, true));
      needLength(t, b, b.length === 8, '8 bytes little-endian');
      return view.getBigInt64(0, true);
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      needLength(t, b, b.length === 8, '8 bytes little-endian');
      return view.getBigInt64(0, true);
    case 'float':
      needLength(t, b, b.length === 4, '4 bytes little-endian IEEE 754');
      return view.getFloat32(0, true);
    case 'double':
      // A column promoted from float keeps its old 4-byte bounds.
      if (b.length === 4) return view.getFloat32(0, true);
      needLength(t, b, b.length === 8, '8 bytes little-endian IEEE 754');
      return view.getFloat64(0, true);
    case 'decimal':
      return decimalFromBytes(b);
    case 'string':
      return utf8Decoder.decode(b);
    case 'uuid':
      needLength(t, b, b.length === 16, '16 bytes big-endian');
      return bytesToUuid(b);
    case 'fixed':
    case 'binary':
      return b.slice();
  }
}

// ---- ordering for statistics ----

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * Orders UTF-16 strings by code point, which is the order of their UTF-8 bytes: a surrogate (part of a
 * code point above U+FFFF) sorts after every unit in U+E000..U+FFFF, unlike plain `<`.
 */
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareFloats(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) {
    // Java's Float.compare order, so -0.0 sorts before 0.0 as in Java-written bounds.
    const na = Object.is(a, -0);
    const nb = Object.is(b, -0);
    return na === nb ? 0 : na ? -1 : 1;
  }
  // NaN sorts last, as Java's Double.compare puts it.
  return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
}

/** Order of min/max statistics. Null sorts first. */
export function compareValues(t: PrimitiveType, a: Value, b: Value): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  switch (t.kind) {
    case 'boolean':
      return a === b ? 0 : a ? 1 : -1;
    case 'int':
    case 'date':
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 'float':
    case 'double':
      return compareFloats(a as number, b as number);
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'decimal':
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 'string':
      return compareStrings(a as string, b as string);
    case 'uuid':
      // Unsigned bytes, the order Parquet uses for the 16-byte uuid column (Java's UUID.compareTo is
      // signed and differs for the upper half); lower-case fixed-width hex sorts exactly so.
      return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case 'fixed':
    case 'binary':
      return compareBytes(a as Uint8Array, b as Uint8Array);
  }
}

// ---- bound truncation (write.metadata.metrics truncate(N)) ----

/** UTF-16 index just past the first `count` code points of `s` (s.length if it has fewer). */
export function codePointOffset(s: string, count: number): number {
  let i = 0;
  for (let n = 0; n < count && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i;
}

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 0) {
    throw new LakehouseError('INVALID_ARGUMENT', `Bound truncation width must be a non-negative integer, got ${width}.`);
  }
}

/** A lower bound no longer than `width` code points (strings) or bytes (binary, fixed); other types unchanged. */
export function truncateLowerBound(t: PrimitiveType, v: Value, width: number): Value {
  checkWidth(width);
  if (v === null) return null;
  if (t.kind === 'string') {
    const s = asString(t, v);
    return s.length <= width ? s : s.slice(0, codePointOffset(s, width));
  }
  if (t.kind === 'binary' || t.kind === 'fixed') {
    const b = asBytes(t, v);
    return b.length <= width ? b : b.slice(0, width);
  }
  return v;
}

/**
 * An upper bound no longer than `width` code points or bytes: the truncated prefix with its last
 * incrementable code point (byte) incremented and everything after it dropped, as Java's
 * `UnicodeUtil.truncateStringMax` / `BinaryUtil.truncateBinaryMax`. Null when every kept code point
 * is U+10FFFF (every byte 0xFF): no bound of that length exists and the bound must be omitted.
 * U+D7FF steps to U+E000, so the result is always valid UTF-8.
 */
export function truncateUpperBound(t: PrimitiveType, v: Value, width: number): Value | null {
  checkWidth(width);
  if (v === null) return null;
  if (t.kind === 'string') {
    const s = asString(t, v);
    const end = codePointOffset(s, width);
    if (end >= s.length) return s;
    let i = end;
    while (i > 0) {
      let start = i - 1;
      const c = s.charCodeAt(start);
      if ((c & 0xfc00) === 0xdc00 && start > 0 && (s.charCodeAt(start - 1) & 0xfc00) === 0xd800) start--;
      let cp = s.codePointAt(start)!;
      // A lone surrogate reaches the file as U+FFFD (what the UTF-8 encoder writes), so bound that.
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      if (cp !== 0x10ffff) return s.slice(0, start) + String.fromCodePoint(cp === 0xd7ff ? 0xe000 : cp + 1);
      i = start;
    }
    return null;
  }
  if (t.kind === 'binary' || t.kind === 'fixed') {
    const b = asBytes(t, v);
    if (b.length <= width) return b;
    for (let i = width - 1; i >= 0; i--) {
      if (b[i] !== 0xff) {
        const out = b.slice(0, i + 1);
        out[i]! += 1;
        return out;
      }
    }
    return null;
  }
  return v;
}

// ---- user literals ----

const INTEGER_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function specialFloat(text: string): number | null {
  switch (text.toLowerCase()) {
    case 'nan': return NaN;
    case 'infinity': case '+infinity': case 'inf': case '+inf': return Infinity;
    case '-infinity': case '-inf': return -Infinity;
    default: return null;
  }
}

function toInt(t: PrimitiveType, x: string | number | bigint | boolean, expected: string): number {
  let n: number;
  if (typeof x === 'number') n = x;
  else if (typeof x === 'bigint') n = x >= BigInt(INT_MIN) && x <= BigInt(INT_MAX) ? Number(x) : NaN;
  else if (typeof x === 'string' && INTEGER_RE.test(x.trim())) n = Number(x.trim());
  else return badText(t, x, expected);
  if (!Number.isInteger(n) || n < INT_MIN || n > INT_MAX) badText(t, x, expected);
  return n + 0; // '-0' reads as 0
}

function toLong(t: PrimitiveType, x: string | number | bigint | boolean, expected: string): bigint {
  let n: bigint;
  if (typeof x === 'bigint') n = x;
  else if (typeof x === 'number' && Number.isSafeInteger(x)) n = BigInt(x);
  else if (typeof x === 'string' && INTEGER_RE.test(x.trim())) n = BigInt(x.trim());
  else return badText(t, x, expected);
  if (n < LONG_MIN || n > LONG_MAX) badText(t, x, expected);
  return n;
}

function toFloating(t: PrimitiveType, x: string | number | bigint | boolean): number {
  let n: number | null = null;
  if (typeof x === 'number') n = x;
  else if (typeof x === 'bigint') n = Number(x);
  else if (typeof x === 'string') {
    const text = x.trim();
    n = FLOAT_RE.test(text) ? Number(text) : specialFloat(text);
  }
  if (n === null) return badText(t, x, 'a number such as 1.5, 2e-3, NaN or -Infinity');
  if (t.kind === 'float') {
    const f = Math.fround(n);
    if (!Number.isFinite(f) && Number.isFinite(n)) badText(t, x, 'a number within the float range (about ±3.4e38)');
    return f;
  }
  return n;
}

/**
 * Reads a user-supplied literal (filters, CLI flags) as a value of type `t`.
 *
 * Accepted forms, all exact (nothing is silently rounded):
 *   boolean: true/false or 'true'/'false'       int: integer in int32 range   long: bigint, safe integer or digits
 *   float/double: number, numeric text, NaN, Infinity, -Infinity
 *   decimal: '12.34', '-1.5E3', a number or bigint; rescaled to the column scale when that is exact
 *   date: '2024-01-31' or days since 1970-01-01
 *   time: '12:30', '12:30:00.123456' or microseconds since midnight
 *   timestamp: '2024-01-31T12:30:00.123456' (no offset; a bare date means midnight) or epoch micros
 *   timestamptz: the same with an offset, 'Z' or '+01:00' (a bare date means midnight UTC) or epoch micros
 *   string: as given     uuid: 8-4-4-4-12 hex, any case
 *   binary/fixed: hex digits, optional 0x prefix (hex, like the spec's JSON form); fixed needs exactly L bytes
 */
export function parseLiteral(t: PrimitiveType, x: string | number | bigint | boolean): Value {
  const text = typeof x === 'string' ? x.trim() : '';
  switch (t.kind) {
    case 'boolean':
      if (typeof x === 'boolean') return x;
      if (text.toLowerCase() === 'true') return true;
      if (text.toLowerCase() === 'false') return false;
      return badText(t, x, 'true or false');
    case 'int':
      return toInt(t, x, `an integer from ${INT_MIN} to ${INT_MAX}`);
    case 'long':
      return toLong(t, x, 'an integer from -9223372036854775808 to 9223372036854775807 (pass a bigint or text beyond ±2^53)');
    case 'float':
    case 'double':
      return toFloating(t, x);
    case 'decimal': {
      let source: string;
      if (typeof x === 'string') source = text;
      else if (typeof x === 'bigint') source = x.toString();
      else if (typeof x === 'number' && Number.isFinite(x)) source = String(x);
      else return badText(t, x, `a decimal such as 12.34 for ${typeName(t)}`);
      const r = decimalFromText(source, t.precision, t.scale);
      return typeof r === 'string' ? badText(t, x, r) : r;
    }
    case 'date': {
      if (typeof x !== 'string') return toInt(t, x, 'YYYY-MM-DD such as 2024-01-31, or days since 1970-01-01');
      const p = parseDateTime(text);
      if (!p || p.hasTime || p.days < INT_MIN || p.days > INT_MAX) return badText(t, x, 'YYYY-MM-DD such as 2024-01-31');
      return p.days;
    }
    case 'time': {
      if (typeof x !== 'string') {
        const n = toLong(t, x, 'HH:MM:SS[.ffffff] such as 12:30:00.123456, or microseconds since midnight');
        if (n < 0n || n >= MICROS_PER_DAY_N) badText(t, x, 'microseconds since midnight, 0 to 86399999999');
        return n;
      }
      const m = TIME_RE.exec(text);
      const micros = m ? timeParts(m[1]!, m[2]!, m[3], m[4]) : null;
      if (micros === null) return badText(t, x, 'HH:MM:SS[.ffffff] such as 12:30:00.123456 (microsecond precision)');
      return BigInt(micros);
    }
    case 'timestamp':
    case 'timestamptz': {
      const withZone = t.kind === 'timestamptz';
      if (typeof x !== 'string') return toLong(t, x, 'an ISO-8601 timestamp or microseconds since 1970-01-01');
      const form = withZone
        ? 'an ISO-8601 timestamp with an offset such as 2024-01-31T12:30:00Z or 2024-01-31T13:30:00.123456+01:00'
        : 'an ISO-8601 timestamp without offset such as 2024-01-31T12:30:00.123456';
      const p = parseDateTime(text);
      if (!p) return badText(t, x, `${form} (microsecond precision)`);
      if (p.hasTime && withZone && p.offsetSeconds === null) {
        return badText(t, x, `${form}; a timestamptz needs the zone of the text, add Z for UTC`);
      }
      if (!withZone && p.offsetSeconds !== null) {
        return badText(t, x, `${form}; a timestamp without zone takes local date-time text, drop the offset or use a timestamptz column`);
      }
      const micros = toEpochMicros(p);
      if (micros < LONG_MIN || micros > LONG_MAX) badText(t, x, form);
      return micros;
    }
    case 'string':
      if (typeof x !== 'string') return badText(t, x, 'text');
      return x;
    case 'uuid':
      if (typeof x !== 'string' || !UUID_RE.test(text)) return badText(t, x, 'a uuid such as f79c3e09-677c-4bbd-a479-3f349cb785e7');
      return text.toLowerCase();
    case 'fixed':
    case 'binary': {
      const expected = t.kind === 'fixed' ? `${t.length * 2} hex digits (${t.length} bytes), optional 0x prefix` : 'hex digits such as 00ff10, optional 0x prefix';
      if (typeof x !== 'string') return badText(t, x, expected);
      const b = hexToBytes(text.startsWith('0x') || text.startsWith('0X') ? text.slice(2) : text);
      if (!b || (t.kind === 'fixed' && b.length !== t.length)) return badText(t, x, expected);
      return b;
    }
  }
}

// ---- JSON single-value serialization (spec Appendix D) ----

/**
 * The spec's JSON form. `long` values come back as numbers when they are safe integers and as bigint
 * otherwise (write them with json.ts `stringifyJson`). Non-finite floats become the strings "NaN",
 * "Infinity", "-Infinity" as Jackson writes them, since JSON has no such numbers.
 */
export function valueToJson(t: PrimitiveType, v: Value): unknown {
  if (v === null) return null;
  switch (t.kind) {
    case 'boolean':
      if (typeof v !== 'boolean') wrongValue(t, v, 'a boolean');
      return v;
    case 'int':
      return asNumber(t, v);
    case 'long': {
      const n = asBigint(t, v);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'float':
    case 'double': {
      const n = asNumber(t, v);
      if (!Number.isFinite(n)) return String(n);
      // A float widened to double prints 0.10000000149011612; the shortest float text reads back the same.
      return t.kind === 'float' ? Number(float32ToString(n)) : n;
    }
    case 'decimal':
      return decimalToString(asBigint(t, v), t.scale);
    case 'date':
      return daysToIsoDate(asNumber(t, v));
    case 'time':
      return microsToIsoTime(Number(asBigint(t, v)));
    case 'timestamp':
      return microsToIso(asBigint(t, v), false);
    case 'timestamptz':
      return microsToIso(asBigint(t, v), true);
    case 'string':
    case 'uuid':
      return asString(t, v);
    case 'fixed':
    case 'binary':
      return bytesToHex(asBytes(t, v));
  }
}

function badJson(t: PrimitiveType, j: unknown, expected: string): never {
  throw new LakehouseError('INVALID_METADATA',
    `Cannot read JSON ${show(j)} as a ${typeName(t)} value: spec Appendix D expects ${expected}.`);
}

/** Reads the spec's JSON form; lenient where Java and PyIceberg writers differ (offsets, fraction digits). */
export function valueFromJson(t: PrimitiveType, j: unknown): Value {
  if (j === null || j === undefined) return null;
  switch (t.kind) {
    case 'boolean':
      if (typeof j !== 'boolean') badJson(t, j, 'true or false');
      return j;
    case 'int':
      if (typeof j === 'number' && Number.isInteger(j) && j >= INT_MIN && j <= INT_MAX) return j;
      return badJson(t, j, 'a JSON integer in int32 range');
    case 'long':
      if (typeof j === 'bigint' && j >= LONG_MIN && j <= LONG_MAX) return j;
      if (typeof j === 'number' && Number.isSafeInteger(j)) return BigInt(j);
      return badJson(t, j, 'a JSON integer in int64 range');
    case 'float':
    case 'double': {
      let n: number | null = typeof j === 'number' ? j : typeof j === 'bigint' ? Number(j) : null;
      if (typeof j === 'string') n = specialFloat(j);
      if (n === null) return badJson(t, j, 'a JSON number');
      return t.kind === 'float' ? Math.fround(n) : n;
    }
    case 'decimal': {
      if (typeof j !== 'string' && typeof j !== 'number') return badJson(t, j, 'a string such as "14.20"');
      const r = decimalFromText(String(j), t.precision, t.scale);
      return typeof r === 'string' ? badJson(t, j, `a decimal string with ${r}`) : r;
    }
    case 'date': {
      if (typeof j === 'number' && Number.isInteger(j)) return j;
      const p = typeof j === 'string' ? parseDateTime(j) : null;
      if (!p || p.hasTime) return badJson(t, j, 'an ISO-8601 date string such as "2017-11-16"');
      return p.days;
    }
    case 'time': {
      const m = typeof j === 'string' ? TIME_RE.exec(j) : null;
      const micros = m ? timeParts(m[1]!, m[2]!, m[3], m[4]) : null;
      if (micros === null) return badJson(t, j, 'an ISO-8601 time string such as "22:31:08.123456"');
      return BigInt(micros);
    }
    case 'timestamp':
    case 'timestamptz': {
      const withZone = t.kind === 'timestamptz';
      const p = typeof j === 'string' ? parseDateTime(j) : null;
      if (!p || !p.hasTime || (p.offsetSeconds !== null) !== withZone) {
        return badJson(t, j, withZone
          ? 'an ISO-8601 timestamp with offset such as "2017-11-16T22:31:08.123456+00:00"'
          : 'an ISO-8601 timestamp without offset such as "2017-11-16T22:31:08.123456"');
      }
      return toEpochMicros(p);
    }
    case 'string':
      if (typeof j !== 'string') badJson(t, j, 'a JSON string');
      return j;
    case 'uuid':
      if (typeof j !== 'string' || !UUID_RE.test(j)) return badJson(t, j, 'a uuid string such as "f79c3e09-677c-4bbd-a479-3f349cb785e7"');
      return j.toLowerCase();
    case 'fixed':
    case 'binary': {
      const b = typeof j === 'string' ? hexToBytes(j) : null;
      if (!b || (t.kind === 'fixed' && b.length !== t.length)) {
        return badJson(t, j, t.kind === 'fixed' ? `a string of ${t.length * 2} hex digits` : 'a hex string such as "000102ff"');
      }
      return b;
    }
  }
}

// ---- human text ----

/** Text for people (CLI output, error messages): ISO timestamps with micros, plain decimals, hex bytes. */
export function formatValue(t: PrimitiveType, v: Value): string {
  if (v === null) return 'null';
  switch (t.kind) {
    case 'float':
      return float32ToString(asNumber(t, v));
    case 'decimal':
      return decimalToString(asBigint(t, v), t.scale);
    case 'date':
      return daysToIsoDate(asNumber(t, v));
    case 'time':
      return microsToIsoTime(Number(asBigint(t, v)));
    case 'timestamp':
      return microsToIso(asBigint(t, v), false);
    case 'timestamptz':
      return microsToIso(asBigint(t, v), true);
    case 'fixed':
    case 'binary':
      return bytesToHex(asBytes(t, v));
    default:
      return String(v);
  }
}
