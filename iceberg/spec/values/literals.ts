/**
 * User literals: the values people write in filters and CLI flags, read as a value of a column's type.
 * Not a spec form (the spec's text forms are the JSON ones in value-json.ts), so it accepts more - a
 * number or bigint for any numeric type, a bare date for a timestamp - but it is exact as the spec's
 * forms are: a literal that does not fit the type fails with a sentence saying what would, it is
 * never rounded into a different value that then filters the wrong rows.
 */
import { LakehouseError } from '../../../core/errors.ts';
import { MICROS_PER_DAY_N } from '../../../core/calendar.ts';
import { primitiveToString, type PrimitiveType, type Value } from '../types.ts';
import { parseDateTime, parseTimeText, toEpochMicros } from './date-time-text.ts';
import { decimalFromText } from './decimal.ts';
import { specialFloat } from './float-text.ts';
import { hexToBytes, isUuidText } from './uuid-hex.ts';
import { INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, show } from './value-checks.ts';

function badText(t: PrimitiveType, x: unknown, expected: string): never {
  throw new LakehouseError('INVALID_ARGUMENT', `Cannot read ${show(x)} as a ${primitiveToString(t)} value: expected ${expected}.`);
}

const INTEGER_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

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
      else return badText(t, x, `a decimal such as 12.34 for ${primitiveToString(t)}`);
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
      const micros = parseTimeText(text);
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
      if (typeof x !== 'string' || !isUuidText(text)) return badText(t, x, 'a uuid such as f79c3e09-677c-4bbd-a479-3f349cb785e7');
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
