/**
 * ISO-8601 text of dates, times and timestamps read into Iceberg's units (days from 1970-01-01,
 * microseconds from midnight or from 1970-01-01 UTC): the form spec "Appendix D: Single-value
 * serialization" gives `date`, `time`, `timestamp` and `timestamptz` in JSON, and the form users type
 * in literals. Both readers need the same rules, so they are here once. Lenient where Java and
 * PyIceberg writers differ (offset or not, 0-9 fraction digits, `T` or space); exact to the
 * microsecond, so finer text that is not whole micros is refused rather than rounded.
 */
import { MICROS_PER_DAY_N, MICROS_PER_SECOND, daysFromCivil, isCivilDate } from '../../../core/calendar.ts';

const DATE_TIME_RE = /^([+-]?\d{4,9})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?$/;

export interface ParsedDateTime {
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

/** Microseconds from midnight of `HH:MM[:SS[.fffffffff]]`, or null when it is not that or not a real time. */
export function parseTimeText(text: string): number | null {
  const m = TIME_RE.exec(text);
  return m ? timeParts(m[1]!, m[2]!, m[3], m[4]) : null;
}

/**
 * A date (`2024-01-31`, years of 4 to 9 digits with an optional sign) with an optional time and
 * offset (`Z`, `±hh`, `±hhmm`, `±hh:mm` up to 18 hours, java.time's ZoneOffset limit); null when the
 * text is not that form or names no real date or time.
 */
export function parseDateTime(text: string): ParsedDateTime | null {
  const m = DATE_TIME_RE.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (!isCivilDate(year, month, day)) return null;
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

/** Microseconds from 1970-01-01 UTC of parsed text; no offset counts as UTC. */
export function toEpochMicros(p: ParsedDateTime): bigint {
  return BigInt(p.days) * MICROS_PER_DAY_N + BigInt(p.microsOfDay - (p.offsetSeconds ?? 0) * MICROS_PER_SECOND);
}
