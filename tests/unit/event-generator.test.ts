import { describe, expect, it } from 'vitest';
import { EVENT_RULES } from '../../domain/campaign-events.ts';
import { REJECT_REASONS, decodeEvent, isRejection } from '../../pipeline/event-decoder.ts';
import { type GeneratedMessage, formatIsoMicros, generateMessages } from '../../pipeline/event-generator.ts';

const START = Date.UTC(2026, 10, 1);
/** Processing time: the end of the default 3-day span, so no generated event is in the future. */
const NOW = START + 3 * 86_400_000;
const text = (m: GeneratedMessage) => new TextDecoder().decode(m.value);

describe('generateMessages', () => {
  const opts = { count: 40_000, seed: 5, startMs: START, invalidRate: 0.04, lateRate: 0.05, duplicateRate: 0.03 };
  const messages = [...generateMessages(opts)];

  it('produces each kind of message in its share (within 1 percentage point)', () => {
    const share = (kind: string) => messages.filter((m) => m.kind === kind).length / messages.length;
    expect(messages).toHaveLength(40_000);
    expect(Math.abs(share('invalid') - 0.04)).toBeLessThan(0.01);
    expect(Math.abs(share('late') - 0.05)).toBeLessThan(0.01);
    expect(Math.abs(share('duplicate') - 0.03)).toBeLessThan(0.01);
    expect(Math.abs(share('valid') - 0.88)).toBeLessThan(0.01);
  });

  it('makes 80 % impressions, 15 % clicks and 5 % conversions among the events that decode (within 1 point)', () => {
    const types = new Map<string, number>();
    let decoded = 0;
    for (const m of messages) {
      if (m.kind === 'invalid' || m.kind === 'duplicate') continue;
      const r = decodeEvent(m.value, NOW);
      if (isRejection(r)) throw new Error(`${m.kind} message rejected: ${r.detail} ${text(m)}`);
      types.set(r.event_type, (types.get(r.event_type) ?? 0) + 1);
      decoded++;
    }
    expect(Math.abs(types.get('impression')! / decoded - 0.8)).toBeLessThan(0.01);
    expect(Math.abs(types.get('click')! / decoded - 0.15)).toBeLessThan(0.01);
    expect(Math.abs(types.get('conversion')! / decoded - 0.05)).toBeLessThan(0.01);
  });

  it('makes invalid messages that decodeEvent rejects with the intended reason, covering every reason', () => {
    const invalid = messages.filter((m) => m.kind === 'invalid');
    for (const m of invalid) {
      const r = decodeEvent(m.value, NOW);
      expect(isRejection(r) ? r.reason : 'accepted', text(m).slice(0, 300)).toBe(m.reason);
    }
    expect(new Set(invalid.map((m) => m.reason))).toEqual(new Set(REJECT_REASONS));
  });

  it('repeats an earlier message byte for byte as a duplicate, under the same key', () => {
    const seen = new Map<string, string>();
    for (const m of messages) {
      const t = text(m);
      if (m.kind === 'duplicate') expect(seen.get(t)).toBe(m.key);
      else seen.set(t, m.key);
    }
  });

  it('makes late events decode to times 1 to 6 hours before the generated span allows on-time ones', () => {
    const late = messages.filter((m) => m.kind === 'late').map((m) => decodeEvent(m.value, NOW));
    const earliest = BigInt(START) * 1000n - 6n * 3_600_000_000n;
    for (const r of late) {
      if (isRejection(r)) throw new Error(r.detail);
      expect(r.event_time >= earliest && r.event_time < BigInt(NOW) * 1000n - 3_600_000_000n).toBe(true);
    }
    // On-time events never fall before the span; some late ones do.
    expect(late.some((r) => !isRejection(r) && r.event_time < BigInt(START) * 1000n)).toBe(true);
  });

  it('sends timestamps the ways apps do: ISO with Z, ISO with an offset, and epoch milliseconds', () => {
    const valid = messages.filter((m) => m.kind === 'valid').map((m) => JSON.parse(text(m)) as Record<string, unknown>);
    const forms = { z: 0, offset: 0, epoch: 0 };
    for (const m of valid) {
      if (typeof m.timestamp === 'number') forms.epoch++;
      else if (String(m.timestamp).endsWith('Z')) forms.z++;
      else if (/[+-]\d\d:\d\d$/.test(String(m.timestamp))) forms.offset++;
    }
    expect(forms.z + forms.offset + forms.epoch).toBe(valid.length);
    for (const n of Object.values(forms)) expect(n / valid.length).toBeGreaterThan(0.1);
    expect(valid.some((m) => m.revenue === undefined)).toBe(true);
    expect(valid.some((m) => typeof m.channel === 'string' && typeof m.cost === 'number')).toBe(true);
  });

  it('is deterministic for a seed', () => {
    const again = [...generateMessages({ ...opts, count: 500 })];
    expect(again.map(text)).toEqual(messages.slice(0, 500).map(text));
  });

  it('follows a clock in live mode', () => {
    const now = Date.UTC(2026, 10, 21, 12);
    for (const m of generateMessages({ count: 200, seed: 1, clock: () => now })) {
      const r = decodeEvent(m.value, now);
      if (isRejection(r)) throw new Error(r.detail);
      expect(Number(r.event_time) / 1000).toBeGreaterThan(now - 2001);
      expect(Number(r.event_time) / 1000).toBeLessThanOrEqual(now);
    }
  });

  it('refuses rates outside 0..1 or adding up to more than 1, naming the option', () => {
    expect(() => generateMessages({ count: 1, invalidRate: 1.5 }).next()).toThrow('invalidRate');
    expect(() => generateMessages({ count: 1, lateRate: -0.1 }).next()).toThrow('lateRate');
    expect(() => generateMessages({ count: 1, invalidRate: 0.6, duplicateRate: 0.6 }).next()).toThrow('add up to');
  });

  it('keeps every message it calls valid under the size limit', () => {
    expect(Math.max(...messages.filter((m) => m.kind !== 'invalid').map((m) => m.value.length))).toBeLessThan(EVENT_RULES.maxMessageBytes);
  });
});

describe('formatIsoMicros', () => {
  // 2026-11-01T12:34:56.123456Z = 1 793 536 496 s + 123 456 µs.
  const micros = 1_793_536_496_123_456n;
  it('writes UTC with Z and offsets as local time with ±hh:mm', () => {
    expect(formatIsoMicros(micros)).toBe('2026-11-01T12:34:56.123456Z');
    expect(formatIsoMicros(micros, 0, 3)).toBe('2026-11-01T12:34:56.123Z');
    expect(formatIsoMicros(micros, 120, 0, false)).toBe('2026-11-01T14:34:56+02:00');
    expect(formatIsoMicros(micros, -330, 6)).toBe('2026-11-01T07:04:56.123456-05:30');
    expect(formatIsoMicros(micros, 0, 0, false)).toBe('2026-11-01T12:34:56+00:00');
  });
});
