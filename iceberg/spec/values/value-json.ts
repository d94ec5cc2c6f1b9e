/**
 * The JSON form of single values (spec "Appendix D: Single-value serialization", JSON table): how
 * default values in schemas and literals in REST scan filters are written. Writing follows Java
 * exactly (six fraction digits, `+00:00` for timestamptz, lower-case hex); reading is lenient where
 * Java and PyIceberg writers differ (offsets, fraction digits).
 */
import { LakehouseError } from '../../../core/errors.ts';
import { daysToIsoDate, microsToIso, microsToIsoTime } from '../../../core/calendar.ts';
import { primitiveToString, type PrimitiveType, type Value } from '../types.ts';
import { parseDateTime, parseTimeText, toEpochMicros } from './date-time-text.ts';
import { decimalFromText, decimalToString } from './decimal.ts';
import { float32ToString, specialFloat } from './float-text.ts';
import { bytesToHex, hexToBytes, isUuidText } from './uuid-hex.ts';
import { INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, asBigint, asBytes, asNumber, asString, show, wrongValue } from './value-checks.ts';

/**
 * The spec's JSON form. `long` values come back as numbers when they are safe integers and as bigint
 * otherwise (write them with core/json.ts `stringifyJson`). Non-finite floats become the strings "NaN",
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
    `Cannot read JSON ${show(j)} as a ${primitiveToString(t)} value: spec Appendix D expects ${expected}.`);
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
      const micros = typeof j === 'string' ? parseTimeText(j) : null;
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
      if (typeof j !== 'string' || !isUuidText(j)) return badJson(t, j, 'a uuid string such as "f79c3e09-677c-4bbd-a479-3f349cb785e7"');
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
