import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, deadLetterMessage, fitMessage, messageBytes } from '../../pipeline/kafka-dead-letters.ts';

/** Cutting a dead letter to the topic's byte limit: what is kept, what says so, what always arrives. */
const letter = (valueBytes: number, extraHeaders: Record<string, string> = {}) => deadLetterMessage({
  value: new Uint8Array(valueBytes).fill(0x41), key: Buffer.from('k'), headers: extraHeaders,
  reason: 'oversize', detail: 'too big', topic: 'events', partition: 2, offset: 41n, timeMs: 0,
});

describe('fitMessage', () => {
  it('leaves a letter that fits untouched', () => {
    const m = letter(10_000);
    expect(fitMessage(m, 1_048_588)).toBe(m);
  });

  it('cuts the value of a letter that alone exceeds the limit, keeps its first bytes and says how long it was', () => {
    const m = letter(2_000_000);
    const cut = fitMessage(m, 1_048_588);
    const value = cut.value as Buffer;
    expect(messageBytes(cut)).toBeLessThanOrEqual(1_048_588);
    expect(value.length).toBeGreaterThan(1_000_000);
    expect(value.equals((m.value as Buffer).subarray(0, value.length))).toBe(true);
    expect((cut.headers as Record<string, string>)[DLQ_HEADERS.truncatedFrom]).toBe('2000000');
    expect((cut.headers as Record<string, string>)[DLQ_HEADERS.offset]).toBe('41');
    expect(cut.key).toEqual(Buffer.from('k'));
  });

  it('drops original headers that alone exceed the limit, but the reason and position always arrive', () => {
    const m = letter(100, { huge: 'h'.repeat(50_000) });
    const cut = fitMessage(m, 20_000);
    const headers = cut.headers as Record<string, string>;
    expect(messageBytes(cut)).toBeLessThanOrEqual(20_000);
    expect(headers.huge).toBeUndefined();
    expect(headers[DLQ_HEADERS.reason]).toBe('oversize');
    expect(headers[DLQ_HEADERS.partition]).toBe('2');
    expect(headers[DLQ_HEADERS.truncatedFrom]).toBe('100');
  });
});
