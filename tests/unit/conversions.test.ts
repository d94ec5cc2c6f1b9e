import { describe, expect, it } from 'vitest';
import { compareValues, daysToIsoDate, formatValue, fromBinary, microsToIso, parseLiteral, toBinary, truncateLowerBound, truncateUpperBound, valueFromJson, valueToJson, T, type PrimitiveType, type Value } from '../../iceberg/index.ts';
import { LakehouseError } from '../../core/errors.ts';

// 2017-11-16 is 47 * 365 + 12 leap days + 304 + 15 = 17486 days after 1970-01-01.
const DAY_2017_11_16 = 17486;
const MICROS_PER_DAY = 86_400_000_000n;
const TIME_22_31_08 = (22n * 3600n + 31n * 60n + 8n) * 1_000_000n;
const TS_2017_11_16_22_31_08 = BigInt(DAY_2017_11_16) * MICROS_PER_DAY + TIME_22_31_08;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function thrown(f: () => unknown): LakehouseError {
  try {
    f();
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw e;
  }
  throw new Error('expected a LakehouseError');
}

describe('binary single-value serialization (spec Appendix D)', () => {
  const cases: Array<[string, PrimitiveType, Value, string]> = [
    ['boolean false', T.boolean(), false, '00'],
    ['boolean true', T.boolean(), true, '01'],
    ['int 1', T.int(), 1, '01000000'],
    ['int -1', T.int(), -1, 'ffffffff'],
    ['int MIN', T.int(), INT_MIN, '00000080'],
    ['int MAX', T.int(), INT_MAX, 'ffffff7f'],
    ['long 1', T.long(), 1n, '0100000000000000'],
    ['long MIN', T.long(), LONG_MIN, '0000000000000080'],
    ['long MAX', T.long(), LONG_MAX, 'ffffffffffffff7f'],
    ['float 1.0', T.float(), 1, '0000803f'],
    ['float -0.0', T.float(), -0, '00000080'],
    ['float max', T.float(), 3.4028234663852886e38, 'ffff7f7f'],
    ['float infinity', T.float(), Infinity, '0000807f'],
    ['double 1.0', T.double(), 1, '000000000000f03f'],
    ['double -0.0', T.double(), -0, '0000000000000080'],
    ['double -infinity', T.double(), -Infinity, '000000000000f0ff'],
    ['decimal 14.20', T.decimal(4, 2), 1420n, '058c'],
    ['decimal 0', T.decimal(4, 2), 0n, '00'],
    ['decimal -1', T.decimal(4, 2), -1n, 'ff'],
    ['decimal 127', T.decimal(4, 2), 127n, '7f'],
    ['decimal 128', T.decimal(4, 2), 128n, '0080'],
    ['decimal -128', T.decimal(4, 2), -128n, '80'],
    ['decimal -129', T.decimal(4, 2), -129n, 'ff7f'],
    ['decimal 2^63', T.decimal(38, 0), 2n ** 63n, '008000000000000000'],
    ['decimal -2^63', T.decimal(38, 0), -(2n ** 63n), '8000000000000000'],
    ['decimal 10^38-1', T.decimal(38, 0), 10n ** 38n - 1n, '4b3b4ca85a86c47a098a223fffffffff'],
    ['decimal -(10^38-1)', T.decimal(38, 0), -(10n ** 38n - 1n), 'b4c4b357a5793b85f675ddc000000001'],
    ['date 2017-11-16', T.date(), DAY_2017_11_16, '4e440000'],
    ['date -1', T.date(), -1, 'ffffffff'],
    ['time 22:31:08', T.time(), TIME_22_31_08, '008307e012000000'],
    ['timestamp 2017-11-16T22:31:08', T.timestamp(), TS_2017_11_16_22_31_08, '00c3262d215e0500'],
    ['timestamptz 2017-11-16T22:31:08Z', T.timestamptz(), TS_2017_11_16_22_31_08, '00c3262d215e0500'],
    ['timestamp -1', T.timestamp(), -1n, 'ffffffffffffffff'],
    ['string iceberg', T.string(), 'iceberg', '69636562657267'],
    ['string empty', T.string(), '', ''],
    ['string unicode', T.string(), 'ü😀', 'c3bcf09f9880'],
    ['uuid', T.uuid(), 'f79c3e09-677c-4bbd-a479-3f349cb785e7', 'f79c3e09677c4bbda4793f349cb785e7'],
    ['fixed', T.fixed(4), bytes('00010203'), '00010203'],
    ['binary', T.binary(), bytes('000102ff'), '000102ff'],
    ['binary empty', T.binary(), new Uint8Array(0), ''],
  ];

  for (const [name, type, value, expected] of cases) {
    it(`${name} is ${expected || 'empty'} and reads back`, () => {
      const b = toBinary(type, value);
      expect(hex(b)).toBe(expected);
      const back = fromBinary(type, b);
      if (typeof value === 'number') expect(Object.is(back, value)).toBe(true);
      else expect(back).toEqual(value);
    });
  }

  it('round-trips NaN for float and double', () => {
    expect(Number.isNaN(fromBinary(T.float(), toBinary(T.float(), NaN)))).toBe(true);
    expect(Number.isNaN(fromBinary(T.double(), toBinary(T.double(), NaN)))).toBe(true);
  });

  it('reads any non-zero byte as true', () => {
    expect(fromBinary(T.boolean(), bytes('02'))).toBe(true);
  });

  it('reads 4-byte bounds of columns promoted from int to long and float to double', () => {
    expect(fromBinary(T.long(), bytes('ffffffff'))).toBe(-1n);
    expect(fromBinary(T.double(), bytes('0000803f'))).toBe(1);
  });

  it('reads a decimal with redundant sign bytes', () => {
    expect(fromBinary(T.decimal(9, 2), bytes('ffff7f'))).toBe(-129n);
  });

  it('returns binary values as copies', () => {
    const src = bytes('0102');
    const out = fromBinary(T.binary(), src) as Uint8Array;
    src[0] = 9;
    expect(out).toEqual(bytes('0102'));
  });

  it('rejects a wrong length with INVALID_METADATA naming the type', () => {
    const e = thrown(() => fromBinary(T.int(), bytes('010203')));
    expect(e.code).toBe('INVALID_METADATA');
    expect(e.message).toContain('int from 3 bytes');
  });

  it('rejects a value of the wrong in-memory type', () => {
    expect(thrown(() => toBinary(T.long(), 5)).message).toContain('bigint');
  });
});

describe('compareValues', () => {
  it('orders strings by code point, so an astral character sorts after U+FFFF', () => {
    expect(compareValues(T.string(), '\uffff', '😀')).toBe(-1);
    expect(compareValues(T.string(), '😀', '\ue000')).toBe(1);
    expect(compareValues(T.string(), 'a', 'ab')).toBe(-1);
    expect(compareValues(T.string(), 'b', 'ab')).toBe(1);
    expect(compareValues(T.string(), 'ü', 'ü')).toBe(0);
  });

  it('orders binary and fixed as unsigned bytes, prefixes first', () => {
    expect(compareValues(T.binary(), bytes('01'), bytes('ff'))).toBe(-1);
    expect(compareValues(T.binary(), bytes('01'), bytes('0100'))).toBe(-1);
    expect(compareValues(T.fixed(2), bytes('8000'), bytes('7fff'))).toBe(1);
  });

  it('orders uuids as unsigned bytes', () => {
    expect(compareValues(T.uuid(), '00000000-0000-0000-0000-000000000000', 'f0000000-0000-0000-0000-000000000000')).toBe(-1);
    expect(compareValues(T.uuid(), '90000000-0000-0000-0000-000000000000', '10000000-0000-0000-0000-000000000000')).toBe(1);
  });

  it('orders numbers numerically, -0.0 before 0.0 as Java does', () => {
    expect(compareValues(T.int(), -5, 3)).toBe(-1);
    expect(compareValues(T.long(), LONG_MIN, LONG_MAX)).toBe(-1);
    expect(compareValues(T.decimal(9, 2), 1065n, 1050n)).toBe(1);
    expect(compareValues(T.double(), -0, 0)).toBe(-1);
    expect(compareValues(T.double(), 0.5, 0.5)).toBe(0);
    expect(compareValues(T.timestamp(), -1n, 0n)).toBe(-1);
    expect(compareValues(T.boolean(), false, true)).toBe(-1);
  });
});

describe('bound truncation', () => {
  it('lower bounds keep the first code points or bytes', () => {
    expect(truncateLowerBound(T.string(), 'iceberg', 3)).toBe('ice');
    expect(truncateLowerBound(T.string(), '😀😁😂', 2)).toBe('😀😁');
    expect(truncateLowerBound(T.string(), 'ab', 16)).toBe('ab');
    expect(truncateLowerBound(T.binary(), bytes('0102030405'), 3)).toEqual(bytes('010203'));
    expect(truncateLowerBound(T.long(), 5n, 1)).toBe(5n);
  });

  it('upper bounds increment the last kept code point', () => {
    expect(truncateUpperBound(T.string(), 'iceberg', 3)).toBe('icf');
    expect(truncateUpperBound(T.string(), 'äöü', 2)).toBe('ä÷');
    expect(truncateUpperBound(T.string(), '😀x', 1)).toBe('😁');
    expect(truncateUpperBound(T.string(), '\uffffx', 1)).toBe('\u{10000}');
  });

  it('upper bounds skip the surrogate range: U+D7FF steps to U+E000', () => {
    expect(truncateUpperBound(T.string(), 'a\ud7ffx', 2)).toBe('a\ue000');
  });

  it('upper bounds carry past trailing U+10FFFF, dropping them', () => {
    expect(truncateUpperBound(T.string(), 'ab\u{10ffff}\u{10ffff}x', 4)).toBe('ac');
  });

  it('upper bounds are null when every kept code point is U+10FFFF', () => {
    expect(truncateUpperBound(T.string(), '\u{10ffff}\u{10ffff}x', 2)).toBeNull();
  });

  it('upper bounds of values within the width are the values', () => {
    expect(truncateUpperBound(T.string(), 'ice', 3)).toBe('ice');
    expect(truncateUpperBound(T.string(), '\u{10ffff}', 1)).toBe('\u{10ffff}');
    expect(truncateUpperBound(T.binary(), bytes('ffff'), 2)).toEqual(bytes('ffff'));
  });

  it('binary upper bounds increment the last byte below 0xFF, or are null', () => {
    expect(truncateUpperBound(T.binary(), bytes('01020304'), 2)).toEqual(bytes('0103'));
    expect(truncateUpperBound(T.binary(), bytes('01ff03'), 2)).toEqual(bytes('02'));
    expect(truncateUpperBound(T.binary(), bytes('ffff01'), 2)).toBeNull();
  });
});

describe('parseLiteral', () => {
  it('reads dates, including before 1970', () => {
    expect(parseLiteral(T.date(), '2017-11-16')).toBe(DAY_2017_11_16);
    expect(parseLiteral(T.date(), '1969-12-31')).toBe(-1);
    expect(parseLiteral(T.date(), '2000-02-29')).toBe(10957 + 59);
    expect(parseLiteral(T.date(), 5)).toBe(5);
  });

  it('rejects impossible dates with a sentence naming the type and the text', () => {
    const e = thrown(() => parseLiteral(T.date(), '2023-02-29'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('"2023-02-29"');
    expect(e.message).toContain('date');
  });

  it('reads timestamptz text with an offset or Z, and epoch micros', () => {
    expect(parseLiteral(T.timestamptz(), '2017-11-16T14:31:08-08:00')).toBe(TS_2017_11_16_22_31_08);
    expect(parseLiteral(T.timestamptz(), '2017-11-16T14:31:08.000001-08:00')).toBe(TS_2017_11_16_22_31_08 + 1n);
    expect(parseLiteral(T.timestamptz(), '2017-11-16T22:31:08Z')).toBe(TS_2017_11_16_22_31_08);
    expect(parseLiteral(T.timestamptz(), '2017-11-16')).toBe(BigInt(DAY_2017_11_16) * MICROS_PER_DAY);
    expect(parseLiteral(T.timestamptz(), 123n)).toBe(123n);
  });

  it('requires an offset for timestamptz and refuses one for timestamp', () => {
    expect(thrown(() => parseLiteral(T.timestamptz(), '2017-11-16T22:31:08')).message).toContain('add Z for UTC');
    expect(thrown(() => parseLiteral(T.timestamp(), '2017-11-16T22:31:08Z')).message).toContain('drop the offset');
    expect(parseLiteral(T.timestamp(), '2017-11-16 22:31:08.000001')).toBe(TS_2017_11_16_22_31_08 + 1n);
    expect(parseLiteral(T.timestamp(), '1969-12-31T23:59:59.999999')).toBe(-1n);
  });

  it('refuses sub-microsecond digits instead of rounding', () => {
    expect(parseLiteral(T.timestamp(), '2017-11-16T22:31:08.000001000')).toBe(TS_2017_11_16_22_31_08 + 1n);
    expect(thrown(() => parseLiteral(T.timestamp(), '2017-11-16T22:31:08.0000001')).code).toBe('INVALID_ARGUMENT');
  });

  it('reads times with microseconds', () => {
    expect(parseLiteral(T.time(), '12:30:00.123456')).toBe((12n * 3600n + 30n * 60n) * 1_000_000n + 123456n);
    expect(parseLiteral(T.time(), '22:31:08')).toBe(TIME_22_31_08);
    expect(thrown(() => parseLiteral(T.time(), '24:00:00')).code).toBe('INVALID_ARGUMENT');
  });

  it('reads decimals exactly, rescaled to the column scale', () => {
    const t = T.decimal(9, 2);
    expect(parseLiteral(t, '12.34')).toBe(1234n);
    expect(parseLiteral(t, '12.3')).toBe(1230n);
    expect(parseLiteral(t, '12.340')).toBe(1234n);
    expect(parseLiteral(t, '-0.05')).toBe(-5n);
    expect(parseLiteral(t, '1.5E3')).toBe(150000n);
    expect(parseLiteral(t, 12.34)).toBe(1234n);
    expect(parseLiteral(t, 7n)).toBe(700n);
    expect(parseLiteral(t, '9999999.99')).toBe(999999999n);
  });

  it('refuses decimals that would need rounding or overflow the precision', () => {
    expect(thrown(() => parseLiteral(T.decimal(9, 2), '12.345')).message).toContain('at most 2 digits after the decimal point');
    expect(thrown(() => parseLiteral(T.decimal(9, 2), '12345678.9')).message).toContain('at most 9 significant digits');
    expect(thrown(() => parseLiteral(T.decimal(9, 2), 'abc')).message).toContain('decimal(9,2)');
  });

  it('reads integers within their range only', () => {
    expect(parseLiteral(T.int(), '-2147483648')).toBe(INT_MIN);
    expect(parseLiteral(T.int(), 42)).toBe(42);
    expect(thrown(() => parseLiteral(T.int(), '2147483648')).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => parseLiteral(T.int(), 1.5)).code).toBe('INVALID_ARGUMENT');
    expect(parseLiteral(T.long(), '9223372036854775807')).toBe(LONG_MAX);
    expect(parseLiteral(T.long(), 5)).toBe(5n);
    expect(thrown(() => parseLiteral(T.long(), '9223372036854775808')).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => parseLiteral(T.long(), 2 ** 60)).message).toContain('bigint');
  });

  it('reads floats, doubles, booleans, uuids and hex bytes', () => {
    expect(parseLiteral(T.float(), '0.1')).toBe(Math.fround(0.1));
    expect(parseLiteral(T.double(), '0.1')).toBe(0.1);
    expect(Number.isNaN(parseLiteral(T.double(), 'NaN'))).toBe(true);
    expect(parseLiteral(T.double(), '-Infinity')).toBe(-Infinity);
    expect(parseLiteral(T.boolean(), 'TRUE')).toBe(true);
    expect(parseLiteral(T.uuid(), 'F79C3E09-677C-4BBD-A479-3F349CB785E7')).toBe('f79c3e09-677c-4bbd-a479-3f349cb785e7');
    expect(parseLiteral(T.binary(), '0x00ff')).toEqual(bytes('00ff'));
    expect(parseLiteral(T.fixed(2), '00FF')).toEqual(bytes('00ff'));
    expect(thrown(() => parseLiteral(T.fixed(3), '00ff')).message).toContain('6 hex digits');
    expect(thrown(() => parseLiteral(T.string(), 5)).code).toBe('INVALID_ARGUMENT');
  });
});

describe('JSON single-value serialization (spec Appendix D examples)', () => {
  const cases: Array<[PrimitiveType, Value, unknown]> = [
    [T.boolean(), true, true],
    [T.int(), 34, 34],
    [T.long(), 34n, 34],
    [T.float(), 1, 1.0],
    [T.double(), 1, 1.0],
    [T.decimal(4, 2), 1420n, '14.20'],
    [T.date(), DAY_2017_11_16, '2017-11-16'],
    [T.time(), TIME_22_31_08 + 123456n, '22:31:08.123456'],
    [T.timestamp(), TS_2017_11_16_22_31_08 + 123456n, '2017-11-16T22:31:08.123456'],
    [T.timestamptz(), TS_2017_11_16_22_31_08 + 123456n, '2017-11-16T22:31:08.123456+00:00'],
    [T.string(), 'iceberg', 'iceberg'],
    [T.uuid(), 'f79c3e09-677c-4bbd-a479-3f349cb785e7', 'f79c3e09-677c-4bbd-a479-3f349cb785e7'],
    [T.fixed(4), bytes('000102ff'), '000102ff'],
    [T.binary(), bytes('000102ff'), '000102ff'],
  ];

  for (const [type, value, json] of cases) {
    it(`${type.kind} writes ${JSON.stringify(json)} and reads it back`, () => {
      expect(valueToJson(type, value)).toEqual(json);
      expect(valueFromJson(type, json)).toEqual(value);
    });
  }

  it('writes null as null', () => {
    expect(valueToJson(T.int(), null)).toBeNull();
    expect(valueFromJson(T.int(), null)).toBeNull();
  });

  it('keeps longs beyond 2^53 as bigint', () => {
    expect(valueToJson(T.long(), LONG_MAX)).toBe(LONG_MAX);
    expect(valueFromJson(T.long(), LONG_MIN)).toBe(LONG_MIN);
  });

  it('writes a float by its shortest float text', () => {
    expect(valueToJson(T.float(), Math.fround(0.1))).toBe(0.1);
    expect(valueFromJson(T.float(), 0.1)).toBe(Math.fround(0.1));
  });

  it('writes decimals with exactly scale digits after the point', () => {
    expect(valueToJson(T.decimal(9, 2), -5n)).toBe('-0.05');
    expect(valueToJson(T.decimal(9, 0), 7n)).toBe('7');
    expect(valueToJson(T.decimal(10, 10), 123n)).toBe('0.0000000123');
  });

  it('reads timestamptz written with another offset, and refuses an offset on timestamp', () => {
    expect(valueFromJson(T.timestamptz(), '2017-11-16T14:31:08-08:00')).toBe(TS_2017_11_16_22_31_08);
    expect(thrown(() => valueFromJson(T.timestamp(), '2017-11-16T22:31:08+00:00')).code).toBe('INVALID_METADATA');
  });

  it('writes non-finite doubles as the strings Jackson uses', () => {
    expect(valueToJson(T.double(), NaN)).toBe('NaN');
    expect(valueFromJson(T.double(), '-Infinity')).toBe(-Infinity);
  });
});

describe('formatting helpers', () => {
  it('daysToIsoDate prints ISO dates, with a sign outside years 0000-9999', () => {
    expect(daysToIsoDate(0)).toBe('1970-01-01');
    expect(daysToIsoDate(-1)).toBe('1969-12-31');
    expect(daysToIsoDate(10957 + 59)).toBe('2000-02-29');
    // 9999-12-31 is day 2932896; 0000-01-01 is 719528 days before the epoch (719468 to 0000-03-01, less 60).
    expect(daysToIsoDate(2932896)).toBe('9999-12-31');
    expect(daysToIsoDate(2932897)).toBe('+10000-01-01');
    expect(daysToIsoDate(-719528)).toBe('0000-01-01');
    expect(daysToIsoDate(-719529)).toBe('-0001-12-31');
  });

  it('daysToIsoDate and date parsing agree with the JS Date UTC calendar across years 0000-9999', () => {
    for (let days = -719528; days <= 2932896; days += 997) {
      const iso = new Date(days * 86_400_000).toISOString().slice(0, 10);
      expect(daysToIsoDate(days)).toBe(iso);
      expect(parseLiteral(T.date(), iso)).toBe(days);
    }
  });

  it('microsToIso prints six fraction digits and +00:00 for zoned values', () => {
    expect(microsToIso(-1n, false)).toBe('1969-12-31T23:59:59.999999');
    expect(microsToIso(TS_2017_11_16_22_31_08, true)).toBe('2017-11-16T22:31:08.000000+00:00');
    expect(microsToIso(LONG_MIN, false)).toBe('-290308-12-21T19:59:05.224192');
  });

  it('formatValue prints decimals with the point, bytes as hex, null as null', () => {
    expect(formatValue(T.decimal(9, 2), -5n)).toBe('-0.05');
    expect(formatValue(T.binary(), bytes('00ff'))).toBe('00ff');
    expect(formatValue(T.date(), DAY_2017_11_16)).toBe('2017-11-16');
    expect(formatValue(T.timestamptz(), 0n)).toBe('1970-01-01T00:00:00.000000+00:00');
    expect(formatValue(T.float(), Math.fround(0.1))).toBe('0.1');
    expect(formatValue(T.long(), 5n)).toBe('5');
    expect(formatValue(T.string(), null)).toBe('null');
  });
});
