/**
 * Values as text for people (CLI output, error messages): ISO timestamps with micros, plain decimals,
 * lower-case hex bytes, the shortest float text. Not a spec form and not meant to be read back; it
 * follows the JSON form where one exists so the same value reads the same everywhere.
 */
import { daysToIsoDate, microsToIso, microsToIsoTime } from '../../../core/calendar.ts';
import type { PrimitiveType, Value } from '../types.ts';
import { decimalToString } from './decimal.ts';
import { float32ToString } from './float-text.ts';
import { bytesToHex } from './uuid-hex.ts';
import { asBigint, asBytes, asNumber } from './value-checks.ts';

/** `v` as text for people; the word `null` for null. */
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
