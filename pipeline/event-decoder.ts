import { LakehouseError } from '../core/errors.ts';
import { daysFromCivil, isCivilDate } from '../core/calendar.ts';
import { EVENT_FIELDS, EVENT_RULES, EVENT_TYPES, MIN_EVENT_TIME_MS, type EventFieldRule } from '../domain/campaign-events.ts';
import type { Value } from '../iceberg/index.ts';

/**
 * Kafka message value bytes -> one validated `campaign_events` row, or the reason it goes to the dead
 * letter topic. The rules are EVENT_FIELDS / EVENT_RULES in campaign-events.ts; this file only applies
 * them. A rejection never throws: the caller dead-letters it and moves on (one bad event must never stall the pipeline).
 *
 * Two paths, one set of rules:
 * - decodeEvent: strict UTF-8 (fatal TextDecoder, the fastest strict check in Node 20), JSON.parse,
 *   then checkField per EVENT_FIELDS entry. It handles every message and explains every rejection.
 * - scanEvent (used by EventBuffer.addMessage): reads the messages apps usually send - ASCII, a flat
 *   object, no escapes - straight from the bytes, with no string or object made; the buffer copies the
 *   value bytes into its columns. It only ever accepts: anything else, every invalid message included,
 *   returns false and goes to decodeEvent. JSON.parse costs ~1 us per event (measured on 2 cores); this
 *   skips it, and the strings and row objects that come with it.
 * Both read the common ISO-8601 form with a hand parser (Date.parse was ~40 % of build time), exact to
 * the microsecond; other ISO forms go to a regex parser.
 */

export type RejectReason =
  | 'bad_json'
  | 'not_utf8'
  | 'oversize'
  | 'missing_field'
  | 'wrong_type'
  | 'unknown_event_type'
  | 'out_of_range'
  | 'absurd_timestamp'
  | 'empty';

export const REJECT_REASONS: readonly RejectReason[] = [
  'bad_json', 'not_utf8', 'oversize', 'missing_field', 'wrong_type', 'unknown_event_type', 'out_of_range', 'absurd_timestamp', 'empty',
];

export interface Rejection {
  reason: RejectReason;
  /** One sentence naming the field (or "the message") and what is wrong with it. */
  detail: string;
}

/** A decoded event, in table column names and representations (processed_at is added by the buffer). */
export interface CampaignEventRow {
  event_id: string;
  user_id: string;
  campaign_id: string;
  event_type: string;
  platform: string | null;
  /** Microseconds since epoch, UTC. */
  event_time: bigint;
  revenue: number;
  country: string | null;
  device_type: string | null;
  channel: string | null;
  cost: number | null;
  /** Values of the table's extra columns (event-extras.ts), in ExtraFields order; null without extras. */
  extra?: Value[] | null;
}

/**
 * The table's extra columns as the decoder reads them (pipeline/event-extras.ts implements it): their
 * message keys, which one a key names, and the check of a value (the same for both decoding paths).
 */
export interface ExtraFields {
  readonly size: number;
  readonly keys: readonly string[];
  /** The extra column whose key is bytes [from, to) of `b`, or -1. */
  match(b: Uint8Array, from: number, to: number): number;
  /** Column k's value from a parsed JSON value (undefined = absent), or why the event is rejected. */
  check(k: number, v: unknown): Value | Rejection;
}

export function isRejection(x: unknown): x is Rejection {
  return typeof x === 'object' && x !== null && typeof (x as Rejection).reason === 'string' && typeof (x as Rejection).detail === 'string';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

function reject(reason: RejectReason, detail: string): Rejection {
  return { reason, detail };
}

// ---- field slots ----

// Module-local copies: imported bindings can cost a getter call per read when run through tsx.
const FIELDS = [...EVENT_FIELDS];
const KEYS = FIELDS.map((f) => f.key);
const FIELD_COUNT = FIELDS.length;
const TYPES: readonly string[] = [...EVENT_TYPES];
const MAX_MESSAGE_BYTES = EVENT_RULES.maxMessageBytes;
const MAX_AMOUNT = EVENT_RULES.maxAmount;
const MAX_FUTURE_MS = EVENT_RULES.maxFutureMs;
const MIN_MICROS = MIN_EVENT_TIME_MS * 1000;

function slotOf(key: string): number {
  const i = FIELDS.findIndex((f) => f.key === key);
  if (i < 0) throw new LakehouseError('INTERNAL', `domain/campaign-events.ts has no message field "${key}", which the decoder fills; keep EVENT_FIELDS and CampaignEventRow in step.`);
  return i;
}

const S_EVENT_ID = slotOf('event_id');
const S_USER_ID = slotOf('user_id');
const S_CAMPAIGN_ID = slotOf('campaign_id');
const S_EVENT_TYPE = slotOf('event_type');
const S_PLATFORM = slotOf('platform');
const S_TIMESTAMP = slotOf('timestamp');
const S_REVENUE = slotOf('revenue');
const S_COUNTRY = slotOf('country');
const S_DEVICE_TYPE = slotOf('device_type');
const S_CHANNEL = slotOf('channel');
const S_COST = slotOf('cost');

/** Validated values per field. */
const out: unknown[] = new Array(FIELD_COUNT).fill(undefined);

// ---- timestamps ----

/**
 * Epoch microseconds of a civil time at a UTC offset (minutes east), NaN when a part is out of range.
 * Exact as a number for every accepted event time (2^53 µs reaches the year 2255).
 */
function civilMicros(y: number, mo: number, d: number, h: number, mi: number, sec: number, micros: number, offsetMin: number): number {
  if (!isCivilDate(y, mo, d) || h > 23 || mi > 59 || sec > 59) return NaN;
  const seconds = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offsetMin * 60;
  return seconds * 1_000_000 + micros;
}

/** Two decimal digits at b[i], b[i+1] as a number, or -1 (also past the end: undefined - 48 is NaN). */
function twoDigits(b: Uint8Array, i: number): number {
  const x = b[i]! - 0x30;
  const y = b[i + 1]! - 0x30;
  if (!(x >= 0 && x <= 9 && y >= 0 && y <= 9)) return -1;
  return x * 10 + y;
}

/** Up to 6 digits of a decimal fraction as microseconds (more digits are truncated, not rounded). */
function fractionMicros(digits: string): number {
  return Number(digits.length >= 6 ? digits.slice(0, 6) : digits.padEnd(6, '0'));
}

const EXTENDED = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)$/;
const BASIC = /^(\d{4})(\d{2})(\d{2})[Tt](\d{2})(\d{2})(?:(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?:\d{2})?)$/;

/**
 * The careful general parser: ISO-8601 / RFC 3339 calendar date-times with a zone, extended or basic
 * format, `T`, `t` or space between date and time, optional seconds, `.` or `,` before the fraction,
 * zone `Z`, `±hh`, `±hhmm` or `±hh:mm`. No zone is not accepted: the instant would be a guess.
 */
function parseIsoGeneral(s: string): number {
  const m = EXTENDED.exec(s) ?? BASIC.exec(s);
  if (m === null) return NaN;
  const zone = m[8]!;
  let offset = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 23 || om > 59) return NaN;
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return civilMicros(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), m[7] === undefined ? 0 : fractionMicros(m[7]), offset);
}

/**
 * Epoch microseconds of `YYYY-MM-DDTHH:MM:SS[.f+](Z|±hh:mm)` in bytes [from, to), read by position
 * (what apps and JS `toISOString` send), or NaN when the bytes are not exactly that form or name no
 * real time. Fraction digits past the sixth are truncated.
 */
export function parseIsoFast(b: Uint8Array, from: number, to: number): number {
  const n = to - from;
  if (n < 20 || b[from + 4] !== 0x2d || b[from + 7] !== 0x2d || b[from + 10] !== 0x54 || b[from + 13] !== 0x3a || b[from + 16] !== 0x3a) return NaN;
  const y1 = twoDigits(b, from);
  const y2 = twoDigits(b, from + 2);
  const mo = twoDigits(b, from + 5);
  const d = twoDigits(b, from + 8);
  const h = twoDigits(b, from + 11);
  const mi = twoDigits(b, from + 14);
  const sec = twoDigits(b, from + 17);
  if ((y1 | y2 | mo | d | h | mi | sec) < 0) return NaN;
  let i = from + 19;
  let micros = 0;
  if (i < to && b[i] === 0x2e) {
    i++;
    let digits = 0;
    while (i < to) {
      const c = b[i]! - 0x30;
      if (!(c >= 0 && c <= 9)) break;
      if (digits < 6) micros = micros * 10 + c;
      digits++;
      i++;
    }
    if (digits === 0) return NaN;
    for (; digits < 6; digits++) micros *= 10;
  }
  const z = i < to ? b[i] : -1;
  let offset: number;
  if (z === 0x5a && i + 1 === to) offset = 0;
  else if ((z === 0x2b || z === 0x2d) && i + 6 === to && b[i + 3] === 0x3a) {
    const oh = twoDigits(b, i + 1);
    const om = twoDigits(b, i + 4);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return NaN;
    offset = (z === 0x2d ? -1 : 1) * (oh * 60 + om);
  } else {
    return NaN;
  }
  return civilMicros(y1 * 100 + y2, mo, d, h, mi, sec, micros, offset);
}

/** Room for the fast form with nanoseconds and an offset, and then some. */
const isoScratch = new Uint8Array(48);

/**
 * Epoch microseconds of an ISO-8601 date-time with a zone, or NaN. The common form goes through
 * parseIsoFast (no Date.parse, no regex); any other shape goes to the general parser.
 */
export function parseIsoTimestampMicros(s: string): number {
  const n = s.length;
  if (n <= isoScratch.length) {
    let k = 0;
    for (; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) break;
      isoScratch[k] = c;
    }
    if (k === n) {
      const micros = parseIsoFast(isoScratch, 0, n);
      if (micros === micros) return micros;
    }
  }
  return parseIsoGeneral(s);
}

// ---- details ----

/** A value as a message shows it: JSON, cut at 40 characters. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** What kind of JSON value `v` is, as a phrase: "a string", "an array", "null". */
export function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function isoOf(micros: number): string {
  const ms = Math.floor(micros / 1000);
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${micros} µs since 1970`;
}

/** Offset of the first byte that breaks UTF-8 and the field whose value holds it, for the detail. */
function utf8Problem(bytes: Uint8Array): string {
  let lo = 0;
  let hi = bytes.length;
  // The longest prefix a fresh streaming decoder accepts ends at the bad byte (reject path only).
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try { new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true }); lo = mid; } catch { hi = mid - 1; }
  }
  const before = lenient.decode(bytes.subarray(0, lo));
  const key = /"([^"\\]{1,64})"\s*:\s*"[^"]*$/.exec(before)?.[1];
  return key === undefined
    ? `The message is not valid UTF-8 (bad byte at offset ${lo}).`
    : `Field "${key}" is not valid UTF-8 (bad byte at offset ${lo} of the message).`;
}

/** Nothing but JSON whitespace (a byte order mark was already dropped by the UTF-8 decoder). */
const JSON_BLANK = /^[ \t\n\r]*$/;

function isWellFormed(s: string): boolean {
  // String.prototype.isWellFormed is in Node 20 (V8 11.3) but not in TypeScript's ES2022 lib.
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

// ---- field checks ----

function checkField(f: EventFieldRule, v: unknown, nowMs: number, slot: number): Rejection | undefined {
  if (v === undefined || v === null) {
    if (f.required) return reject('missing_field', `Field "${f.key}" is ${v === null ? 'null' : 'missing'}; every event needs it.`);
    out[slot] = f.default ?? null;
    return undefined;
  }
  switch (f.kind) {
    case 'string': {
      if (typeof v !== 'string') return reject('wrong_type', `Field "${f.key}" must be a string, got ${jsonKind(v)} (${shown(v)}).`);
      if (v.length === 0 && f.required) return reject('missing_field', `Field "${f.key}" is an empty string; every event needs it.`);
      // Valid UTF-8 has no lone surrogates, but a \ud800 escape makes one; it has no UTF-8 form.
      if (!isWellFormed(v)) return reject('not_utf8', `Field "${f.key}" holds a lone UTF-16 surrogate escape, which has no UTF-8 form.`);
      out[slot] = v;
      return undefined;
    }
    case 'event_type': {
      if (typeof v !== 'string') return reject('wrong_type', `Field "${f.key}" must be a string, got ${jsonKind(v)} (${shown(v)}).`);
      const k = TYPES.indexOf(v);
      if (k < 0) return reject('unknown_event_type', `Field "${f.key}" is ${shown(v)}; expected one of ${TYPES.join(', ')}.`);
      out[slot] = TYPES[k];
      return undefined;
    }
    case 'timestamp': {
      let micros: number;
      if (typeof v === 'string') {
        micros = parseIsoTimestampMicros(v);
        if (micros !== micros) {
          return reject('wrong_type', `Field "${f.key}" must be an ISO-8601 time with a zone (like 2026-11-01T10:00:00Z or 2026-11-01T12:00:00+02:00) or epoch milliseconds, got ${shown(v)}.`);
        }
      } else if (typeof v === 'number') {
        if (!Number.isFinite(v)) return reject('absurd_timestamp', `Field "${f.key}" is ${shown(v)} epoch milliseconds, which is no time at all.`);
        micros = Math.round(v * 1000);
      } else {
        return reject('wrong_type', `Field "${f.key}" must be an ISO-8601 string with a zone or epoch milliseconds, got ${jsonKind(v)} (${shown(v)}).`);
      }
      if (micros < MIN_MICROS) {
        return reject('absurd_timestamp', `Field "${f.key}" is ${shown(v)} (${isoOf(micros)}), before ${EVENT_RULES.minEventTime} (EVENT_RULES.minEventTime)${typeof v === 'number' ? '; epoch seconds sent as milliseconds look like this' : ''}.`);
      }
      if (micros > (nowMs + MAX_FUTURE_MS) * 1000) {
        return reject('absurd_timestamp', `Field "${f.key}" is ${shown(v)} (${isoOf(micros)}), more than ${EVENT_RULES.maxFutureMs / 3_600_000} h after the processing time ${isoOf(nowMs * 1000)} (EVENT_RULES.maxFutureMs).`);
      }
      out[slot] = BigInt(micros);
      return undefined;
    }
    case 'amount': {
      if (typeof v !== 'number') return reject('wrong_type', `Field "${f.key}" must be a number, got ${jsonKind(v)} (${shown(v)}).`);
      if (!(v >= 0 && v <= MAX_AMOUNT)) {
        return reject('out_of_range', `Field "${f.key}" is ${shown(v)}; it must be between 0 and ${EVENT_RULES.maxAmount} (EVENT_RULES.maxAmount).`);
      }
      // -0 passes the check; store it as 0 so sums and min/max stats are not surprised.
      out[slot] = v === 0 ? 0 : v;
      return undefined;
    }
  }
}

/**
 * Decodes and validates one message value. `nowMs` is the processing time, the reference for the
 * "too far in the future" rule; `extras` the table's extra columns an event may fill. Returns the row,
 * or a Rejection naming the first problem found.
 */
export function decodeEvent(bytes: Uint8Array | null, nowMs: number, extras: ExtraFields | null = null): CampaignEventRow | Rejection {
  // Every source hands over empty records (a Kafka tombstone or empty value, a blank NDJSON line) so that
  // each one is counted and dead-lettered under this one reason, never skipped.
  if (bytes === null) return reject('empty', 'The message has no value (a Kafka tombstone), so it holds no event.');
  if (bytes.length === 0) return reject('empty', 'The message is empty (0 bytes), so it holds no event.');
  if (bytes.length > MAX_MESSAGE_BYTES) {
    return reject('oversize', `The message is ${bytes.length} bytes; the limit is ${EVENT_RULES.maxMessageBytes} (EVENT_RULES.maxMessageBytes).`);
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return reject('not_utf8', utf8Problem(bytes));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    // Checked only once JSON.parse has failed, so the valid messages pay nothing for it.
    if (JSON_BLANK.test(text)) return reject('empty', `The message holds only whitespace (${bytes.length} bytes), so it holds no event.`);
    return reject('bad_json', `The message is not valid JSON: ${e instanceof Error ? e.message : String(e)}.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('wrong_type', `The message must be a JSON object, got ${jsonKind(parsed)}.`);
  }
  const o = parsed as Record<string, unknown>;
  for (let k = 0; k < FIELD_COUNT; k++) {
    const problem = checkField(FIELDS[k]!, o[KEYS[k]!], nowMs, k);
    if (problem !== undefined) return problem;
  }
  let extra: Value[] | null = null;
  if (extras !== null) {
    extra = new Array<Value>(extras.size);
    for (let k = 0; k < extras.size; k++) {
      const v = extras.check(k, o[extras.keys[k]!]);
      if (isRejection(v)) return v;
      extra[k] = v as Value;
    }
  }
  const row: CampaignEventRow = {
    event_id: out[S_EVENT_ID] as string,
    user_id: out[S_USER_ID] as string,
    campaign_id: out[S_CAMPAIGN_ID] as string,
    event_type: out[S_EVENT_TYPE] as string,
    platform: out[S_PLATFORM] as string | null,
    event_time: out[S_TIMESTAMP] as bigint,
    revenue: out[S_REVENUE] as number,
    country: out[S_COUNTRY] as string | null,
    device_type: out[S_DEVICE_TYPE] as string | null,
    channel: out[S_CHANNEL] as string | null,
    cost: out[S_COST] as number | null,
  };
  if (extra !== null) row.extra = extra;
  return row;
}

// ---- the byte-level fast path ----

/** Per-slot states a scan records (JSON null and an absent key are the same: ABSENT). */
const ABSENT = 0;
const STRING = 1;
const NUMBER = 2;
const OTHER = 3;
/** The states an extra column's value can have in a scan, for the buffer's typed extra columns. */
export const SCAN_ABSENT = ABSENT;
export const SCAN_STRING = STRING;
export const SCAN_NUMBER = NUMBER;
/** Extra fields only: the JSON literals true and false. */
const TRUE = 4;
const FALSE = 5;

/** Field kinds as small ints for the scan's checks. */
const K_STRING = 0;
const K_EVENT_TYPE = 1;
const K_TIMESTAMP = 2;
const K_AMOUNT = 3;
const FIELD_KIND = Int8Array.from(FIELDS, (f) => ({ string: K_STRING, event_type: K_EVENT_TYPE, timestamp: K_TIMESTAMP, amount: K_AMOUNT })[f.kind]);
const REQUIRED = Uint8Array.from(FIELDS, (f) => (f.required ? 1 : 0));
const DEFAULTS = FIELDS.map((f) => f.default);
const KEY_BYTES = FIELDS.map((f) => new TextEncoder().encode(f.key));
const TYPE_BYTES = TYPES.map((t) => new TextEncoder().encode(t));
/** Powers of ten that are exact doubles (Clinger's fast path needs exactly these). */
const POW10 = Float64Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * What scanEvent read from one valid message, reused across messages (no allocation per event), per
 * field slot (index into EVENT_FIELDS, see fieldSlot):
 * - string fields: `present[k]` 1 and bytes [start[k], end[k]) of the message hold the value (ASCII),
 *   or `present[k]` 0 for null (optional fields only);
 * - amounts: `present[k]` 1 and `num[k]` (the default already applied), or 0 for null;
 * - the timestamp: `eventTimeMicros`.
 */
export class EventScan {
  readonly present = new Uint8Array(FIELD_COUNT);
  readonly start = new Int32Array(FIELD_COUNT);
  readonly end = new Int32Array(FIELD_COUNT);
  readonly num = new Float64Array(FIELD_COUNT);
  /** Epoch microseconds; exact (every accepted time is below 2^53). */
  eventTimeMicros = 0;
  /** Index of the event type in EVENT_TYPES (the buffer groups rows by it without reading the bytes again). */
  eventType = 0;
  /** The same per extra column (event-extras.ts), when the table has any; unchecked: see extraValue. */
  readonly extraKind: Uint8Array;
  readonly extraStart: Int32Array;
  readonly extraEnd: Int32Array;
  readonly extraNum: Float64Array;

  constructor(readonly extras: ExtraFields | null = null) {
    const n = extras?.size ?? 0;
    this.extraKind = new Uint8Array(n);
    this.extraStart = new Int32Array(n);
    this.extraEnd = new Int32Array(n);
    this.extraNum = new Float64Array(n);
  }
}

const ascii = new TextDecoder();

/**
 * Extra column k's value as JSON.parse would give it (undefined when absent), from a scan that
 * accepted the message: strings are ASCII without escapes there. The caller checks it (ExtraFields.check).
 */
export function extraValue(scan: EventScan, b: Uint8Array, k: number): unknown {
  switch (scan.extraKind[k]) {
    case STRING: return ascii.decode(b.subarray(scan.extraStart[k]!, scan.extraEnd[k]!));
    case NUMBER: return scan.extraNum[k]!;
    case TRUE: return true;
    case FALSE: return false;
    default: return undefined;
  }
}

/** Slot of a message key in EventScan arrays (its index in EVENT_FIELDS). */
export function fieldSlot(key: string): number {
  return slotOf(key);
}

/**
 * Byte classes for the scan's inner loops: 0 = plain string byte, 1 = quote, 2 = anything a string
 * without escapes cannot hold here (backslash, control characters, non-ASCII: the slow path's job).
 */
const STRING_BYTE = Uint8Array.from({ length: 256 }, (_, c) => (c === 0x22 ? 1 : c === 0x5c || c < 0x20 || c >= 0x80 ? 2 : 0));

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isDigitByte(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Key dispatch: (length, first byte, last byte) -> the one field key with that signature (-1 none,
 * -2 several, then a linear search); the candidate is then compared byte by byte.
 */
const KEY_TABLE = new Int8Array(64 * 128 * 128).fill(-1);
FIELDS.forEach((f, k) => {
  const key = KEY_BYTES[k]!;
  const at = keySignature(key.length, key[0]!, key[key.length - 1]!);
  KEY_TABLE[at] = KEY_TABLE[at] === -1 ? k : -2;
});

function keySignature(len: number, first: number, last: number): number {
  return ((len & 63) << 14) | ((first & 127) << 7) | (last & 127);
}

function keySlotBytes(b: Uint8Array, from: number, to: number): number {
  const len = to - from;
  if (len === 0) return -1;
  const k = KEY_TABLE[keySignature(len, b[from]!, b[to - 1]!)]!;
  if (k === -1) return -1;
  if (k >= 0) return bytesEqual(b, from, KEY_BYTES[k]!) ? k : -1;
  for (let j = 0; j < FIELD_COUNT; j++) if (KEY_BYTES[j]!.length === len && bytesEqual(b, from, KEY_BYTES[j]!)) return j;
  return -1;
}

function bytesEqual(b: Uint8Array, from: number, key: Uint8Array): boolean {
  const len = key.length;
  for (let j = 0; j < len; j++) if (b[from + j] !== key[j]) return false;
  return true;
}

/**
 * Key prediction: NEXT_KEY[0] is the slot of the first key of the last message, NEXT_KEY[k + 1] the
 * slot of the key that followed slot k. Starts as EVENT_FIELDS order and learns the producers' order;
 * a wrong guess only costs the comparison (the key is then looked up as usual).
 */
const NEXT_KEY = Int8Array.from({ length: FIELD_COUNT + 1 }, (_, k) => k % FIELD_COUNT);

/** Where the number scanNumber read ends; a module variable so a scan allocates nothing. */
let numberEndAt = 0;

/**
 * A JSON number at i, when it has at most 15 significant digits and a decimal exponent within ±22:
 * then mantissa and power of ten are exact doubles and one IEEE division or multiplication rounds
 * correctly (Clinger 1990), giving exactly what JSON.parse gives. NaN otherwise (the caller falls back).
 */
function scanNumber(b: Uint8Array, i: number, n: number): number {
  let negative = false;
  if (b[i] === 0x2d) { negative = true; i++; }
  if (i >= n) return NaN;
  let m = 0;
  let digits = 0;
  let exp = 0;
  const first = b[i]!;
  if (first === 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) {
    while (i < n && isDigitByte(b[i]!)) { m = m * 10 + (b[i]! - 0x30); digits++; i++; }
  } else return NaN;
  if (i < n && b[i] === 0x2e) {
    i++;
    if (!(i < n && isDigitByte(b[i]!))) return NaN;
    while (i < n && isDigitByte(b[i]!)) { m = m * 10 + (b[i]! - 0x30); digits++; exp--; i++; }
  }
  if (i < n && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    let sign = 1;
    if (i < n && (b[i] === 0x2b || b[i] === 0x2d)) { if (b[i] === 0x2d) sign = -1; i++; }
    if (!(i < n && isDigitByte(b[i]!))) return NaN;
    let e = 0;
    while (i < n && isDigitByte(b[i]!)) { if (e < 10_000) e = e * 10 + (b[i]! - 0x30); i++; }
    exp += sign * e;
  }
  if (digits > 15 || exp < -22 || exp > 22) return NaN;
  numberEndAt = i;
  const v = exp < 0 ? m / POW10[-exp]! : m * POW10[exp]!;
  return negative ? -v : v;
}

/**
 * The fast path: reads a message that is pure ASCII, a flat JSON object without escapes, with every
 * field valid by EVENT_RULES, into `scan` without making a string or an object. Returns false for
 * anything else - including every invalid message - and then decodeEvent must decide (and explain).
 * So this never rejects; it only accepts exactly what decodeEvent accepts, with the same values
 * (tests/unit/event-buffer.test.ts compares the two on generated and hand-made messages).
 */
export function scanEvent(b: Uint8Array, nowMs: number, scan: EventScan): boolean {
  const n = b.length;
  if (n === 0 || n > MAX_MESSAGE_BYTES) return false;
  const kind = scan.present;
  for (let k = 0; k < FIELD_COUNT; k++) kind[k] = ABSENT;
  const extras = scan.extras;
  if (extras !== null) scan.extraKind.fill(ABSENT);
  let previous = 0;
  let predicted = NEXT_KEY[0]!;
  let i = 0;
  while (i < n && isWs(b[i]!)) i++;
  if (i >= n || b[i] !== 0x7b) return false;
  i++;
  while (i < n && isWs(b[i]!)) i++;
  if (i < n && b[i] === 0x7d) {
    i++;
  } else {
    for (;;) {
      if (i >= n || b[i] !== 0x22) return false;
      const keyFrom = ++i;
      // Apps send their keys in one order: try the key that followed the previous one last time.
      let slot = predicted;
      /** The extra column this key fills, when it is no known field. */
      let extra = -1;
      const expected = KEY_BYTES[slot]!;
      const len = expected.length;
      if (keyFrom + len < n && b[keyFrom + len] === 0x22 && bytesEqual(b, keyFrom, expected)) {
        i = keyFrom + len;
      } else {
        while (i < n && STRING_BYTE[b[i]!] === 0) i++;
        if (i >= n || b[i] !== 0x22) return false;
        slot = keySlotBytes(b, keyFrom, i);
        if (slot >= 0) NEXT_KEY[previous] = slot;
        else if (extras !== null) extra = extras.match(b, keyFrom, i);
      }
      if (slot >= 0) { previous = slot + 1; predicted = NEXT_KEY[previous]!; }
      i++;
      while (i < n && isWs(b[i]!)) i++;
      if (i >= n || b[i] !== 0x3a) return false;
      i++;
      while (i < n && isWs(b[i]!)) i++;
      if (i >= n) return false;
      const c = b[i]!;
      if (c === 0x22) {
        const from = ++i;
        while (i < n && STRING_BYTE[b[i]!] === 0) i++;
        if (i >= n || b[i] !== 0x22) return false;
        if (slot >= 0) { kind[slot] = STRING; scan.start[slot] = from; scan.end[slot] = i; }
        else if (extra >= 0) { scan.extraKind[extra] = STRING; scan.extraStart[extra] = from; scan.extraEnd[extra] = i; }
        i++;
      } else if (c === 0x2d || isDigitByte(c)) {
        const v = scanNumber(b, i, n);
        if (v !== v) return false;
        i = numberEndAt;
        if (slot >= 0) { kind[slot] = NUMBER; scan.num[slot] = v; }
        else if (extra >= 0) { scan.extraKind[extra] = NUMBER; scan.extraNum[extra] = v; }
      } else if (c === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
        i += 4;
        if (slot >= 0) kind[slot] = OTHER;
        else if (extra >= 0) scan.extraKind[extra] = TRUE;
      } else if (c === 0x66 && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65) {
        i += 5;
        if (slot >= 0) kind[slot] = OTHER;
        else if (extra >= 0) scan.extraKind[extra] = FALSE;
      } else if (c === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) {
        i += 4;
        if (slot >= 0) kind[slot] = ABSENT;
        else if (extra >= 0) scan.extraKind[extra] = ABSENT;
      } else {
        return false;
      }
      while (i < n && isWs(b[i]!)) i++;
      if (i >= n) return false;
      if (b[i] === 0x2c) {
        i++;
        while (i < n && isWs(b[i]!)) i++;
        continue;
      }
      if (b[i] === 0x7d) { i++; break; }
      return false;
    }
  }
  while (i < n && isWs(b[i]!)) i++;
  if (i !== n) return false;
  return checkScan(b, nowMs, scan);
}

/** checkField's rules on a scan; false wherever checkField would reject. */
function checkScan(b: Uint8Array, nowMs: number, scan: EventScan): boolean {
  const kind = scan.present;
  for (let k = 0; k < FIELD_COUNT; k++) {
    const kd = kind[k]!;
    if (kd === ABSENT) {
      if (REQUIRED[k] === 1) return false;
      const dflt = DEFAULTS[k];
      if (dflt !== undefined) { kind[k] = NUMBER; scan.num[k] = dflt; }
      continue;
    }
    switch (FIELD_KIND[k]) {
      case K_STRING: {
        if (kd !== STRING) return false;
        if (scan.end[k] === scan.start[k] && REQUIRED[k] === 1) return false;
        break;
      }
      case K_EVENT_TYPE: {
        if (kd !== STRING) return false;
        const from = scan.start[k]!;
        const len = scan.end[k]! - from;
        let found = -1;
        for (let x = 0; x < TYPE_BYTES.length && found < 0; x++) {
          const t = TYPE_BYTES[x]!;
          if (t.length !== len) continue;
          let j = 0;
          while (j < len && b[from + j] === t[j]) j++;
          if (j === len) found = x;
        }
        if (found < 0) return false;
        scan.eventType = found;
        break;
      }
      case K_TIMESTAMP: {
        let micros: number;
        if (kd === STRING) micros = parseIsoFast(b, scan.start[k]!, scan.end[k]!);
        else if (kd === NUMBER) micros = Math.round(scan.num[k]! * 1000);
        else return false;
        // NaN fails both comparisons.
        if (!(micros >= MIN_MICROS && micros <= (nowMs + MAX_FUTURE_MS) * 1000)) return false;
        scan.eventTimeMicros = micros;
        break;
      }
      case K_AMOUNT: {
        if (kd !== NUMBER) return false;
        const v = scan.num[k]!;
        if (!(v >= 0 && v <= MAX_AMOUNT)) return false;
        if (v === 0) scan.num[k] = 0;
        break;
      }
    }
  }
  return true;
}
