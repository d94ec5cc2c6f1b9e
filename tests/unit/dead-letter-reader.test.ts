import { describe, expect, it } from 'vitest';
import {
  DeadLetterReplaySource, DeadLetterStats, exportLine, letterFromLine, letterFromTopicRecord, matchesFilter, rejectedField, validateFilter,
} from '../../pipeline/dead-letter-reader.ts';
import { type DeadLetter, deadLetterToJson } from '../../pipeline/dead-letters.ts';
import { decodeEvent, isRejection } from '../../pipeline/event-decoder.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { deadLetterMessage } from '../../pipeline/kafka-dead-letters.ts';
import type { Positions, Source, SourceRecord } from '../../pipeline/source.ts';

/**
 * Reading dead letters back: what the two sinks write (the topic's headers, the file's lines) reads back
 * as the letter that was sent; an export keeps every value byte (BOM, invalid UTF-8) and reads back the
 * same; the field of every rejection the decoder gives is found; a replay source passes exactly the
 * matching, whole letters on at their place in the store.
 */

const letter = (over: Partial<DeadLetter> = {}): DeadLetter => ({
  value: Buffer.from('{"event_id":"e1"}'), key: Buffer.from('user-1'), headers: { trace: 'abc' },
  reason: 'missing_field', detail: 'Field "user_id" is missing; every event needs it.',
  topic: 'campaign_events', partition: 2, offset: 41n, timeMs: Date.UTC(2026, 10, 1, 10), sourceTimestampMs: Date.UTC(2026, 10, 1, 9), group: 'g1',
  ...over,
});

describe('reading back what the sinks write', () => {
  it('a topic record (deadLetterMessage) reads back as the letter sent, with the original headers only', () => {
    const l = letter();
    const m = deadLetterMessage(l);
    const headers = Object.fromEntries(Object.entries(m.headers!).map(([k, v]) => [k, String(v)]));
    const back = letterFromTopicRecord('dlq', { partition: 0, offset: 7n, headers, key: m.key as Buffer, value: m.value as Buffer });
    expect(back).toEqual({ ...l, store: 'kafka:dlq', storePartition: 0, storeOffset: 7n });
  });

  it('a dead-letter file line (deadLetterToJson) reads back as the letter sent', () => {
    const l = letter({ value: Buffer.from([0xff, 0xfe, 0x00, 0x41]) });
    const back = letterFromLine('file:/d.ndjson', 3, JSON.stringify(deadLetterToJson(l)));
    expect(back).toEqual({ ...l, store: 'file:/d.ndjson', storePartition: 0, storeOffset: 3n });
  });

  it('an export keeps the bytes: text for UTF-8 (a BOM too), base64 otherwise, and reads back the same', () => {
    const values = [Buffer.from('\uFEFF{"a":"é"}'), Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), Buffer.alloc(0), null];
    for (const value of values) {
      const line = exportLine({ ...letter({ value }), store: 'kafka:dlq', storePartition: 0, storeOffset: 1n });
      if (value && value.length >= 0 && value[1] !== 0xc3) expect(typeof line.text).toBe('string');
      const back = letterFromLine('file:/x', 0, JSON.stringify(line))!;
      expect(back.value === null ? null : Buffer.from(back.value)).toEqual(value);
      expect(back.reason).toBe('missing_field');
    }
    expect(exportLine({ ...letter({ value: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }), store: 's', storePartition: 0, storeOffset: 0n })).toMatchObject({ value: 'e8MofQ==' });
  });

  it('a line that is no letter (cut by a crash, stray text) is undefined', () => {
    expect(letterFromLine('f', 0, '{"value":"eyJ')).toBeUndefined();
    expect(letterFromLine('f', 0, '[1,2]')).toBeUndefined();
  });
});

describe('fields and filters', () => {
  it('finds the field of every rejection the generator provokes, or none for the whole message', () => {
    const seen = new Map<string, Set<string>>();
    for (const m of generateMessages({ count: 2000, seed: 3, invalidRate: 0.5 })) {
      if (m.kind !== 'invalid') continue;
      const r = decodeEvent(m.value, Date.UTC(2026, 10, 2));
      expect(isRejection(r)).toBe(true);
      if (!isRejection(r)) continue;
      const field = rejectedField(r.detail) ?? '(message)';
      if (!seen.has(r.reason)) seen.set(r.reason, new Set());
      seen.get(r.reason)!.add(field);
    }
    expect([...seen.get('bad_json')!]).toEqual(['(message)']);
    expect([...seen.get('missing_field')!].every((f) => f !== '(message)')).toBe(true);
    expect([...seen.get('unknown_event_type')!]).toEqual(['event_type']);
  });

  it('filters by reason and a half-open time range; an empty range is refused', () => {
    const l = { ...letter(), store: 's', storePartition: 0, storeOffset: 0n };
    expect(matchesFilter(l, { reasons: ['bad_json'] })).toBe(false);
    expect(matchesFilter(l, { reasons: ['missing_field'], sinceMs: l.timeMs, untilMs: l.timeMs + 1 })).toBe(true);
    expect(matchesFilter(l, { untilMs: l.timeMs })).toBe(false);
    expect(() => validateFilter({ sinceMs: 5, untilMs: 5 })).toThrow(/is not before --until/);
  });

  it('stats count by reason, field and source', () => {
    const s = new DeadLetterStats('kafka:dlq');
    s.add({ ...letter(), store: 's', storePartition: 0, storeOffset: 0n });
    s.add({ ...letter({ reason: 'bad_json', detail: 'The message is not valid JSON: x.', partition: 1 }), store: 's', storePartition: 0, storeOffset: 1n, truncatedFrom: 2_000_000 });
    expect(s.result()).toMatchObject({
      total: 2, byReason: { bad_json: 1, missing_field: 1 }, byField: { '(message)': 1, user_id: 1 },
      topSources: [{ source: 'campaign_events:1', count: 1 }, { source: 'campaign_events:2', count: 1 }], truncated: 1,
    });
  });
});

class ListSource implements Source {
  readonly description = 'list';
  private done = false;
  constructor(private readonly records: SourceRecord[]) {}
  async start(_resume: Positions): Promise<void> {}
  async poll(): Promise<SourceRecord[]> { if (this.done) return []; this.done = true; return this.records; }
  ended(): boolean { return this.done; }
  async commit(): Promise<void> {}
  pause(): void {}
  resume(): void {}
  async close(): Promise<void> {}
}

describe('DeadLetterReplaySource', () => {
  it('passes on the original value of each matching whole letter at its place in the store', async () => {
    const line = (over: Partial<DeadLetter>, extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ ...deadLetterToJson(letter(over)), ...extra }));
    const records: SourceRecord[] = [
      { topic: '/d.ndjson', partition: 0, offset: 0n, value: line({ value: Buffer.from('A') }) },
      { topic: '/d.ndjson', partition: 0, offset: 1n, value: line({ value: Buffer.from('B'), reason: 'bad_json' }) },
      { topic: '/d.ndjson', partition: 0, offset: 2n, value: line({ value: Buffer.from('C') }, { truncatedFrom: 9 }) },
      { topic: '/d.ndjson', partition: 0, offset: 3n, value: Buffer.from('{"cut') },
    ];
    const src = new DeadLetterReplaySource(new ListSource(records), (r) => letterFromLine('file:/d.ndjson', r.offset, r.value!), { reasons: ['missing_field'] });
    await src.start(new Map());
    const got = await src.poll(100, 0);
    expect(got.map((r) => [r.offset, Buffer.from(r.value!).toString(), Buffer.from(r.key!).toString()])).toEqual([[0n, 'A', 'user-1']]);
    expect(got[0]!.headers).toEqual({ trace: 'abc' });
    expect(src.counts).toEqual({ replayed: 1, truncated: 1, notMatching: 1, unreadable: 1 });
  });
});
