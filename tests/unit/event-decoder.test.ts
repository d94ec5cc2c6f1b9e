import { describe, expect, it } from 'vitest';
import { campaignEventsSchema, EVENT_RULES } from '../../domain/campaign-events.ts';
import { type CampaignEventRow, EventScan, type RejectReason, decodeEvent, fieldSlot, isRejection, parseIsoTimestampMicros, scanEvent } from '../../pipeline/event-decoder.ts';

/** Processing time of every test: 2026-11-21T12:00:00Z. */
const NOW = 1_795_262_400_000;
/** 2026-11-01T12:34:56Z = 20 758 days x 86 400 s + 12 h 34 min 56 s = 1 793 536 496 s. */
const T0_US = 1_793_536_496_000_000n;

const base = {
  event_id: 'evt-1', user_id: 'user-7', campaign_id: 'campaign-003', event_type: 'click', platform: 'google',
  timestamp: '2026-11-01T12:34:56Z', revenue: 0, country: 'DE', device_type: 'mobile', channel: 'search', cost: 0.25,
};

const utf8 = (s: string) => new TextEncoder().encode(s);
const message = (fields: Record<string, unknown>) => utf8(JSON.stringify(fields));
const withFields = (overrides: Record<string, unknown>) => message({ ...base, ...overrides });
const without = (key: string) => {
  const m: Record<string, unknown> = { ...base };
  delete m[key];
  return message(m);
};

function row(bytes: Uint8Array | null, now = NOW): CampaignEventRow {
  const r = decodeEvent(bytes, now);
  if (isRejection(r)) throw new Error(`unexpected rejection: ${r.reason}: ${r.detail}`);
  return r;
}

function rejection(bytes: Uint8Array | null, now = NOW): { reason: RejectReason; detail: string } {
  const r = decodeEvent(bytes, now);
  if (!isRejection(r)) throw new Error(`expected a rejection, got a row for ${r.event_id}`);
  return r;
}

describe('decodeEvent: valid messages', () => {
  it('decodes every field into the table representation', () => {
    expect(row(withFields({ revenue: 12.5, event_type: 'conversion' }))).toEqual({
      event_id: 'evt-1', user_id: 'user-7', campaign_id: 'campaign-003', event_type: 'conversion', platform: 'google',
      event_time: T0_US, revenue: 12.5, country: 'DE', device_type: 'mobile', channel: 'search', cost: 0.25,
    });
  });

  it('fills revenue with 0 and optional fields with null when they are absent or null', () => {
    const r = row(message({ event_id: 'e', user_id: 'u', campaign_id: 'c', event_type: 'impression', timestamp: base.timestamp, country: null }));
    expect(r).toMatchObject({ revenue: 0, platform: null, country: null, device_type: null, channel: null, cost: null });
    expect(row(withFields({ revenue: null })).revenue).toBe(0);
  });

  it('keeps unicode and JSON escapes exactly, and ignores unknown keys (nested ones too)', () => {
    const r = row(withFields({ user_id: 'Zoë-東京-🚀', campaign_id: 'say "hi"\\now', extra: { nested: [1, 2] } }));
    expect(r.user_id).toBe('Zoë-東京-🚀');
    expect(r.campaign_id).toBe('say "hi"\\now');
  });

  it('accepts whitespace around tokens and a byte order mark', () => {
    const text = `\uFEFF {\n  "event_id" : "e" , "user_id":"u","campaign_id":"c","event_type":"click","timestamp": 1793536496000 }\n`;
    expect(row(utf8(text)).event_time).toBe(T0_US);
  });

  it('takes the last value of a repeated key, as JSON.parse does', () => {
    expect(row(utf8(JSON.stringify(base).replace('{', '{"event_type":"view",'))).event_type).toBe('click');
  });
});

describe('decodeEvent: timestamp forms, checked against hand-computed microseconds', () => {
  const cases: Array<[string, string | number, bigint]> = [
    ['Z', '2026-11-01T12:34:56Z', T0_US],
    ['+02:00 (two hours ahead of UTC)', '2026-11-01T14:34:56+02:00', T0_US],
    ['-05:30 (five and a half hours behind)', '2026-11-01T07:04:56-05:30', T0_US],
    ['offset that crosses midnight', '2026-10-31T23:34:56-13:00', T0_US],
    ['+00:00', '2026-11-01T12:34:56+00:00', T0_US],
    ['milliseconds', '2026-11-01T12:34:56.123Z', T0_US + 123_000n],
    ['microseconds', '2026-11-01T12:34:56.123456Z', T0_US + 123_456n],
    ['one fraction digit', '2026-11-01T12:34:56.1Z', T0_US + 100_000n],
    ['nanoseconds truncated to micros', '2026-11-01T12:34:56.123456789Z', T0_US + 123_456n],
    ['fraction with an offset', '2026-11-01T14:34:56.000001+02:00', T0_US + 1n],
    ['epoch milliseconds', 1_793_536_496_123, T0_US + 123_000n],
    ['epoch milliseconds with a fraction', 1_793_536_496_123.5, T0_US + 123_500n],
    // The general parser's forms.
    ['space instead of T', '2026-11-01 12:34:56Z', T0_US],
    ['lower-case t and z', '2026-11-01t12:34:56z', T0_US],
    ['comma before the fraction', '2026-11-01T12:34:56,25Z', T0_US + 250_000n],
    ['offset without a colon', '2026-11-01T14:34:56.5+0200', T0_US + 500_000n],
    ['hour-only offset', '2026-11-01T09:34:56-03', T0_US],
    ['no seconds', '2026-11-01T12:34Z', T0_US - 56_000_000n],
    ['basic format', '20261101T123456Z', T0_US],
    ['leap day', '2028-02-29T00:00:00Z', 1_835_395_200_000_000n],
  ];
  for (const [name, ts, micros] of cases) {
    it(`${name}: ${String(ts)}`, () => {
      expect(row(withFields({ timestamp: ts }), Date.UTC(2028, 2, 1)).event_time).toBe(micros);
    });
  }

  it('agrees with Date.parse to the millisecond on 2 000 random times and offsets', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 2000; k++) {
      const ms = Date.UTC(2000, 0, 1) + Math.floor(rnd() * 30 * 365 * 86_400_000);
      const offset = Math.floor(rnd() * 24 * 4 - 48) * 15;
      const local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
      const zone = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
      const text = `${local}${k % 2 ? '417' : ''}${zone}`;
      expect(parseIsoTimestampMicros(text), text).toBe(Date.parse(text) * 1000 + (k % 2 ? 417 : 0));
    }
  });

  it('rejects impossible dates and times, and times without a zone, as wrong_type', () => {
    for (const ts of ['2026-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-01T24:00:00Z', '2026-11-01T12:60:00Z', '2026-11-01T12:00:60Z',
      '2026-11-01T12:34:56', '2026-11-01', '2026-11-01T12:34:56.Z', '2026-11-01T12:34:56+24:00', 'yesterday', '1793536496000']) {
      const r = rejection(withFields({ timestamp: ts }));
      expect([r.reason, ts]).toEqual(['wrong_type', ts]);
      expect(r.detail).toContain('"timestamp"');
    }
  });

  it(`accepts up to ${EVENT_RULES.maxFutureMs / 3_600_000} h after the processing time and no further`, () => {
    const limit = NOW + EVENT_RULES.maxFutureMs;
    expect(row(withFields({ timestamp: limit })).event_time).toBe(BigInt(limit) * 1000n);
    expect(rejection(withFields({ timestamp: limit + 1 })).reason).toBe('absurd_timestamp');
  });
});

describe('decodeEvent: every reject reason, with the field named', () => {
  const cases: Array<[string, Uint8Array | null, RejectReason, string]> = [
    ['a Kafka tombstone (null value)', null, 'empty', 'the message'],
    ['an empty value', new Uint8Array(0), 'empty', 'the message'],
    ['a value of spaces', utf8('   '), 'empty', 'the message'],
    ['a value of tabs, CR and LF', utf8('\t\r\n \t'), 'empty', 'the message'],
    ['a byte order mark and a space', utf8('\uFEFF '), 'empty', 'the message'],
    ['a no-break space, which is not JSON whitespace', utf8('\u00a0'), 'bad_json', 'the message'],
    ['truncated JSON', utf8('{"event_id":"e1","user_id":'), 'bad_json', 'the message'],
    ['a trailing comma', utf8(JSON.stringify(base).replace(/}$/, ',}')), 'bad_json', 'the message'],
    ['a raw newline inside a string', utf8(JSON.stringify(base).replace('user-7', 'user\n7')), 'bad_json', 'the message'],
    ['a byte that is not UTF-8 in user_id', (() => { const b = withFields({ user_id: 'ab~' }); b[b.indexOf(0x7e)] = 0xff; return b; })(), 'not_utf8', '"user_id"'],
    ['an encoded UTF-16 surrogate in platform', (() => { const b = withFields({ platform: 'p~~~' }); b.set([0xed, 0xa0, 0x80], b.indexOf(0x7e)); return b; })(), 'not_utf8', '"platform"'],
    ['a lone surrogate escape in campaign_id', utf8(JSON.stringify(base).replace('campaign-003', 'c\\ud800')), 'not_utf8', '"campaign_id"'],
    ['a message over the byte limit', withFields({ padding: 'x'.repeat(EVENT_RULES.maxMessageBytes) }), 'oversize', 'the message'],
    ['a user_id alone longer than a message may be', withFields({ user_id: 'u'.repeat(EVENT_RULES.maxMessageBytes) }), 'oversize', 'the message'],
    ['no event_id', without('event_id'), 'missing_field', '"event_id"'],
    ['no user_id', without('user_id'), 'missing_field', '"user_id"'],
    ['no campaign_id', without('campaign_id'), 'missing_field', '"campaign_id"'],
    ['no event_type', without('event_type'), 'missing_field', '"event_type"'],
    ['no timestamp', without('timestamp'), 'missing_field', '"timestamp"'],
    ['a null event_id', withFields({ event_id: null }), 'missing_field', '"event_id"'],
    ['an empty event_id', withFields({ event_id: '' }), 'missing_field', '"event_id"'],
    ['a JSON array instead of an object', utf8('[1,2]'), 'wrong_type', 'the message'],
    ['revenue as a string', withFields({ revenue: '12.50' }), 'wrong_type', '"revenue"'],
    ['cost as a string', withFields({ cost: '0.25' }), 'wrong_type', '"cost"'],
    ['user_id as a number', withFields({ user_id: 42 }), 'wrong_type', '"user_id"'],
    ['platform as an object', withFields({ platform: { name: 'google' } }), 'wrong_type', '"platform"'],
    ['event_type as a number', withFields({ event_type: 1 }), 'wrong_type', '"event_type"'],
    ['timestamp as a boolean', withFields({ timestamp: true }), 'wrong_type', '"timestamp"'],
    ['timestamp without a zone', withFields({ timestamp: '2026-11-01T12:34:56' }), 'wrong_type', '"timestamp"'],
    ['event_type "view"', withFields({ event_type: 'view' }), 'unknown_event_type', '"event_type"'],
    ['event_type in another case', withFields({ event_type: 'Click' }), 'unknown_event_type', '"event_type"'],
    ['negative revenue', withFields({ revenue: -1 }), 'out_of_range', '"revenue"'],
    ['negative cost', withFields({ cost: -0.5 }), 'out_of_range', '"cost"'],
    ['revenue above maxAmount', withFields({ revenue: EVENT_RULES.maxAmount * 10 }), 'out_of_range', '"revenue"'],
    ['a time before 2000', withFields({ timestamp: '1999-12-31T23:59:59Z' }), 'absurd_timestamp', '"timestamp"'],
    ['epoch seconds sent as milliseconds', withFields({ timestamp: 1_793_536_496 }), 'absurd_timestamp', '"timestamp"'],
    ['epoch microseconds sent as milliseconds', withFields({ timestamp: 1_793_536_496_000_000 }), 'absurd_timestamp', '"timestamp"'],
    ['a time far in the future', withFields({ timestamp: '2999-01-01T00:00:00Z' }), 'absurd_timestamp', '"timestamp"'],
    ['an epoch number that overflows to Infinity', utf8(JSON.stringify(base).replace('"2026-11-01T12:34:56Z"', '1e400')), 'absurd_timestamp', '"timestamp"'],
  ];
  for (const [name, bytes, reason, named] of cases) {
    it(`${reason}: ${name}`, () => {
      const r = rejection(bytes);
      expect(r.reason).toBe(reason);
      if (named === 'the message') expect(r.detail).toMatch(/^The message /);
      else expect(r.detail).toContain(named);
      expect(r.detail).toMatch(/\.$/);
    });
  }

  it('has a hand-made case for every RejectReason', () => {
    const all: RejectReason[] = ['bad_json', 'not_utf8', 'oversize', 'missing_field', 'wrong_type', 'unknown_event_type', 'out_of_range', 'absurd_timestamp', 'empty'];
    expect(new Set(cases.map((c) => c[2]))).toEqual(new Set(all));
  });

  it('checks the size before decoding: an oversize message is oversize even when it is not UTF-8', () => {
    const b = new Uint8Array(EVENT_RULES.maxMessageBytes + 1).fill(0xff);
    expect(rejection(b).reason).toBe('oversize');
  });
});

describe('decodeEvent and scanEvent: long values are data, only the whole message is capped', () => {
  const scan = new EventScan();
  const accepted = (bytes: Uint8Array) => ({ decoded: row(bytes), fast: scanEvent(bytes, NOW, scan) });

  for (const chars of [300, 5_000]) {
    it(`accepts a ${chars}-character campaign_id, on both paths, exactly as sent`, () => {
      const id = `c-${'x'.repeat(chars - 2)}`;
      const { decoded, fast } = accepted(withFields({ campaign_id: id }));
      expect(decoded.campaign_id).toBe(id);
      expect(fast).toBe(true);
      expect(scan.end[fieldSlot('campaign_id')]! - scan.start[fieldSlot('campaign_id')]!).toBe(chars);
    });
  }

  it('accepts every string field at once 5,000 ASCII or 2,000 CJK characters long (35 and 42 KB)', () => {
    const strings = EVENT_RULES.fields.filter((f) => f.kind === 'string').map((f) => f.key);
    for (const unit of ['a'.repeat(5), '東'.repeat(2)]) {
      const long = Object.fromEntries(strings.map((k) => [k, `${k}:${unit.repeat(1_000)}`]));
      const r = row(withFields(long));
      for (const k of strings) expect(r[k as keyof CampaignEventRow]).toBe(long[k]);
    }
  });

  it(`accepts a message of exactly ${EVENT_RULES.maxMessageBytes} bytes and dead-letters one byte more as oversize`, () => {
    const padded = (size: number) => {
      const b = withFields({ notes: '' });
      return withFields({ notes: 'n'.repeat(size - b.length) });
    };
    const atCap = padded(EVENT_RULES.maxMessageBytes);
    expect(atCap.length).toBe(EVENT_RULES.maxMessageBytes);
    expect(accepted(atCap)).toMatchObject({ decoded: { event_id: 'evt-1' }, fast: true });
    const over = padded(EVENT_RULES.maxMessageBytes + 1);
    expect(rejection(over)).toMatchObject({ reason: 'oversize', detail: `The message is ${EVENT_RULES.maxMessageBytes + 1} bytes; the limit is ${EVENT_RULES.maxMessageBytes} (EVENT_RULES.maxMessageBytes).` });
    expect(scanEvent(over, NOW, scan)).toBe(false);
  });
});

describe('field rules and schema come from one module', () => {
  it('every message field has a table column of the same id, and channel and cost are ids 11 and 12', () => {
    for (const f of EVENT_RULES.fields) expect(campaignEventsSchema.findField(f.fieldId)?.name).toBe(f.column);
    expect(campaignEventsSchema.findField(11)).toMatchObject({ name: 'channel', required: false, type: { kind: 'string' } });
    expect(campaignEventsSchema.findField(12)).toMatchObject({ name: 'cost', required: false, type: { kind: 'double' } });
    expect(campaignEventsSchema.fields.map((f) => f.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('isRejection tells rows from rejections', () => {
    expect(isRejection(decodeEvent(withFields({}), NOW))).toBe(false);
    expect(isRejection(decodeEvent(null, NOW))).toBe(true);
    expect(isRejection(null)).toBe(false);
  });
});
