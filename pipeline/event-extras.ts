import { daysFromCivil, isCivilDate } from '../core/calendar.ts';
import { EVENT_FIELDS } from '../domain/campaign-events.ts';
import { isPrimitive, type NestedField, type Value } from '../iceberg/index.ts';
import { type ExtraFields as ExtraFieldsPort, type Rejection, jsonKind, shown } from './event-decoder.ts';

/**
 * Extra event fields: optional top-level columns a campaign_events table has beyond the fields the
 * decoder knows (EVENT_FIELDS), e.g. `campaign_name` added with `lakehouse tables alter ... add-column`.
 * An event that carries a JSON key equal to such a column's name fills it; events without the key leave
 * it null, and apps may start sending the key before or after the column is added. The known fields keep
 * their hand-written decoding; an extra value is read by the same byte scanner (its position, or its
 * number) and checked here, once, for both paths, so both accept and reject alike:
 *
 *   string       a JSON string                      boolean  true or false
 *   int          a whole JSON number in int32 range long     a whole JSON number within ±2^53
 *   float/double a finite JSON number               date     "YYYY-MM-DD"
 *   timestamptz  ISO-8601 with a zone, or epoch milliseconds (as the event's own timestamp)
 *
 * A value of the wrong kind dead-letters the event (wrong_type / out_of_range), as for the known
 * optional fields. Columns of other types (decimal, uuid, binary, time, timestamp, nested) are not
 * filled by events and stay null.
 */

export type ExtraKind = 'string' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'date' | 'timestamptz';
const FILLABLE: ReadonlySet<string> = new Set<ExtraKind>(['string', 'boolean', 'int', 'long', 'float', 'double', 'date', 'timestamptz']);
const KNOWN_KEYS: ReadonlySet<string> = new Set(EVENT_FIELDS.map((f) => f.key));
const INT_MAX = 2 ** 31 - 1;
const INT_MIN = -(2 ** 31);

function problem(reason: Rejection['reason'], detail: string): Rejection {
  return { reason, detail };
}

/** Whether an optional table column that no known event field fills can be filled from an event key. */
export function isFillableExtra(f: NestedField): boolean {
  return !f.required && isPrimitive(f.type) && FILLABLE.has(f.type.kind) && !KNOWN_KEYS.has(f.name);
}

export class ExtraFields implements ExtraFieldsPort {
  /** The message key of each extra column: its name in the table's current schema. */
  readonly keys: string[];
  readonly kinds: ExtraKind[];
  private readonly keyBytes: Uint8Array[];

  /**
   * `columns`: the extra columns, in the order the buffer keeps them; `parseTimestamp` reads an ISO-8601
   * text with a zone as epoch microseconds (NaN when it is none), the decoder's own parser.
   */
  constructor(columns: readonly NestedField[], private readonly parseTimestamp: (s: string) => number) {
    this.keys = columns.map((f) => f.name);
    this.kinds = columns.map((f) => f.type.kind as ExtraKind);
    const encoder = new TextEncoder();
    this.keyBytes = this.keys.map((k) => encoder.encode(k));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The extra column whose key is bytes [from, to) of `b`, or -1. */
  match(b: Uint8Array, from: number, to: number): number {
    const len = to - from;
    for (let k = 0; k < this.keyBytes.length; k++) {
      const key = this.keyBytes[k]!;
      if (key.length !== len) continue;
      let j = 0;
      while (j < len && b[from + j] === key[j]) j++;
      if (j === len) return k;
    }
    return -1;
  }

  /**
   * Extra column k's value from a parsed JSON value (undefined = key absent), in the in-memory
   * representation the Arrow column is built from, or the problem that dead-letters the event.
   */
  check(k: number, v: unknown): Value | Rejection {
    if (v === undefined || v === null) return null;
    const key = this.keys[k]!;
    const kind = this.kinds[k]!;
    const wrong = (want: string) => problem('wrong_type', `Field "${key}" must be ${want} (table column ${key} is ${kind}), got ${jsonKind(v)} (${shown(v)}).`);
    switch (kind) {
      case 'string':
        if (typeof v !== 'string') return wrong('a string');
        if (!(v as unknown as { isWellFormed(): boolean }).isWellFormed()) return problem('not_utf8', `Field "${key}" holds a lone UTF-16 surrogate escape, which has no UTF-8 form.`);
        return v;
      case 'boolean':
        return typeof v === 'boolean' ? v : wrong('true or false');
      case 'int':
      case 'long': {
        if (typeof v !== 'number' || !Number.isInteger(v)) return wrong('a whole number');
        if (kind === 'int' && (v < INT_MIN || v > INT_MAX)) return problem('out_of_range', `Field "${key}" is ${shown(v)}, outside the int range of table column ${key} (-2147483648 to 2147483647).`);
        if (kind === 'long' && !Number.isSafeInteger(v)) return problem('out_of_range', `Field "${key}" is ${shown(v)}, beyond 2^53, which a JSON number does not carry exactly.`);
        return kind === 'int' ? v : BigInt(v);
      }
      case 'float':
      case 'double':
        return typeof v === 'number' && Number.isFinite(v) ? v : wrong('a finite number');
      case 'date': {
        const m = typeof v === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(v) : null;
        if (!m || !isCivilDate(Number(m[1]), Number(m[2]), Number(m[3]))) return wrong('a date "YYYY-MM-DD"');
        return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
      }
      case 'timestamptz': {
        const micros = typeof v === 'string' ? this.parseTimestamp(v) : typeof v === 'number' && Number.isFinite(v) ? Math.round(v * 1000) : NaN;
        if (!Number.isSafeInteger(micros)) return wrong('an ISO-8601 time with a zone or epoch milliseconds');
        return BigInt(micros);
      }
    }
  }
}

