import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { TrinoClient, timestampTzMicros } from '../../sql/trino-client.ts';

describe('Trino timestamps WITH TIME ZONE to microseconds since the epoch', () => {
  it('reads UTC values at every precision up to the microsecond', () => {
    expect(timestampTzMicros('2026-11-01 00:00:00 UTC')).toBe(BigInt(Date.UTC(2026, 10, 1)) * 1000n);
    expect(timestampTzMicros('2026-11-01 12:34:56.5 UTC')).toBe(BigInt(Date.UTC(2026, 10, 1, 12, 34, 56)) * 1000n + 500_000n);
    expect(timestampTzMicros('1970-01-01 00:00:00.000001 UTC')).toBe(1n);
  });

  it('applies a fixed offset (the same instant in another zone)', () => {
    expect(timestampTzMicros('2026-11-01 02:00:00.123456 +02:00')).toBe(timestampTzMicros('2026-11-01 00:00:00.123456 UTC'));
    expect(timestampTzMicros('2026-10-31 19:30:00.000000 -04:30')).toBe(timestampTzMicros('2026-11-01 00:00:00 UTC'));
  });

  it('refuses what would lose information: a digit below the microsecond, a named zone', () => {
    expect(() => timestampTzMicros('2026-11-01 00:00:00.1234567 UTC')).toThrow(/finer than a microsecond/);
    expect(() => timestampTzMicros('2026-11-01 00:00:00.000000000 UTC')).not.toThrow();
    expect(() => timestampTzMicros('2026-11-01 00:00:00 Europe/Berlin')).toThrow(LakehouseError);
  });
});

describe('TrinoClient options', () => {
  it('refuses a URI that is not http(s) with a sentence naming it', () => {
    expect(() => new TrinoClient({ uri: 'localhost:8080' })).toThrow(/must start with http:\/\/ or https:\/\//);
    expect(() => new TrinoClient({ uri: 'not a url' })).toThrow(/is not a URL/);
  });
});
