import { describe, expect, it } from 'vitest';
import { murmur3_32, murmur3_32_utf8 } from '../../iceberg/spec/murmur3.ts';
import {
  applyTransform, bucketHash, canTransform, humanString, parseTransform, partitionPath, preservesOrder,
  transformFunction, transformResultType, transformToString,
} from '../../iceberg/spec/partition-transforms.ts';
import { Schema } from '../../iceberg/spec/schema.ts';
import { T, type PrimitiveType } from '../../iceberg/spec/types.ts';
import { LakehouseError } from '../../core/errors.ts';

// Hand-computed anchors: 2017-11-16 is 47 * 365 + 12 leap days + 304 + 15 = 17486 days after 1970-01-01;
// 2024-01-01 is 54 * 365 + 13 leap days = 19723.
const DAY_2017_11_16 = 17486;
const DAY_2024_01_01 = 19723;
const MICROS_PER_DAY = 86_400_000_000n;
const MICROS_PER_HOUR = 3_600_000_000n;
const TIME_22_31_08 = (22n * 3600n + 31n * 60n + 8n) * 1_000_000n;
const TS_2017_11_16_22_31_08 = BigInt(DAY_2017_11_16) * MICROS_PER_DAY + TIME_22_31_08;
const INT_MIN = -2147483648;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
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

describe('murmur3_32', () => {
  it('matches the published x86_32 test vectors, as signed int32', () => {
    const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
    expect(murmur3_32(new Uint8Array(0))).toBe(0);
    expect(murmur3_32(new Uint8Array(0), 1)).toBe(0x514e28b7 | 0);
    expect(murmur3_32(new Uint8Array(0), 0xffffffff)).toBe(0x81f16f39 | 0);
    expect(murmur3_32(bytes('00000000'))).toBe(0x2362f9de | 0);
    expect(murmur3_32(ascii('aaaa'), 0x9747b28c)).toBe(0x5a97808a | 0);
    expect(murmur3_32(ascii('abc'), 0x9747b28c)).toBe(0xc84a62dd | 0);
    expect(murmur3_32(ascii('Hello, world!'), 0x9747b28c)).toBe(0x24884cba | 0);
    expect(murmur3_32(ascii('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cd | 0);
  });

  it('hashes a string as its UTF-8 bytes, multi-byte and astral characters included', () => {
    // 'ü' is C3 BC, U+1F600 is F0 9F 98 80, 'x' is 78.
    expect(murmur3_32_utf8('ü😀x')).toBe(murmur3_32(bytes('c3bcf09f988078')));
    // A lone surrogate is written to files as U+FFFD (EF BF BD).
    expect(murmur3_32_utf8('a\ud800')).toBe(murmur3_32(bytes('61efbfbd')));
  });

  it('hashes characters that straddle 4-byte blocks like their TextEncoder bytes', () => {
    const encoder = new TextEncoder();
    for (const s of ['', 'x😀', 'xx😀', 'xxx😀y', 'éé€', '中文字符串', '\u{10ffff}ß', '\udc00\ud800b']) {
      expect(murmur3_32_utf8(s)).toBe(murmur3_32(encoder.encode(s)));
    }
  });
});

describe('bucketHash (spec Appendix B test values)', () => {
  it('int 34 and long 34L hash to 2017239379', () => {
    expect(bucketHash(T.int(), 34)).toBe(2017239379);
    expect(bucketHash(T.long(), 34n)).toBe(2017239379);
  });

  it('decimal 14.20 hashes to -500754589 whatever the scale', () => {
    expect(bucketHash(T.decimal(4, 2), 1420n)).toBe(-500754589);
    expect(bucketHash(T.decimal(9, 3), 1420n)).toBe(-500754589);
  });

  it('date 2017-11-16 hashes to -653330422', () => {
    expect(bucketHash(T.date(), DAY_2017_11_16)).toBe(-653330422);
  });

  it('time 22:31:08 hashes to -662762989', () => {
    expect(bucketHash(T.time(), TIME_22_31_08)).toBe(-662762989);
  });

  it('timestamp and timestamptz 2017-11-16T22:31:08 UTC hash to -2047944441, one micro later to -1207196810', () => {
    for (const t of [T.timestamp(), T.timestamptz()]) {
      expect(bucketHash(t, TS_2017_11_16_22_31_08)).toBe(-2047944441);
      expect(bucketHash(t, TS_2017_11_16_22_31_08 + 1n)).toBe(-1207196810);
    }
  });

  it('string iceberg hashes to 1210000089', () => {
    expect(bucketHash(T.string(), 'iceberg')).toBe(1210000089);
  });

  it('uuid f79c3e09-677c-4bbd-a479-3f349cb785e7 hashes to 1488055340', () => {
    expect(bucketHash(T.uuid(), 'f79c3e09-677c-4bbd-a479-3f349cb785e7')).toBe(1488055340);
  });

  it('fixed and binary 00 01 02 03 hash to -188683207', () => {
    expect(bucketHash(T.fixed(4), bytes('00010203'))).toBe(-188683207);
    expect(bucketHash(T.binary(), bytes('00010203'))).toBe(-188683207);
  });

  it('boolean, float and double follow the appendix table for types not valid for bucketing', () => {
    expect(bucketHash(T.boolean(), true)).toBe(1392991556);
    expect(bucketHash(T.float(), 1)).toBe(-142385009);
    expect(bucketHash(T.float(), 0)).toBe(1669671676);
    expect(bucketHash(T.float(), -0)).toBe(1669671676);
    expect(bucketHash(T.double(), 1)).toBe(-142385009);
    expect(bucketHash(T.double(), 0)).toBe(1669671676);
    expect(bucketHash(T.double(), -0)).toBe(1669671676);
  });

  it('canonicalizes NaN to 0x7ff8000000000000 before hashing (note 5)', () => {
    expect(bucketHash(T.double(), NaN)).toBe(bucketHash(T.long(), 0x7ff8000000000000n));
  });

  it('hashes int values exactly like the same long values, negatives included (note 1)', () => {
    for (const v of [-1, INT_MIN, 2147483647, 0, -34]) {
      expect(bucketHash(T.int(), v)).toBe(bucketHash(T.long(), BigInt(v)));
    }
  });

  it('hashes decimals by minimal two-complement bytes, negative and above 64 bits included', () => {
    // -1 is the single byte FF; 2^63 needs 9 bytes 00 80 00 .. 00; 10^38 - 1 needs 16.
    expect(bucketHash(T.decimal(5, 0), -1n)).toBe(murmur3_32(bytes('ff')));
    expect(bucketHash(T.decimal(5, 0), 0n)).toBe(murmur3_32(bytes('00')));
    expect(bucketHash(T.decimal(5, 0), 128n)).toBe(murmur3_32(bytes('0080')));
    expect(bucketHash(T.decimal(38, 0), 2n ** 63n)).toBe(murmur3_32(bytes('008000000000000000')));
    expect(bucketHash(T.decimal(38, 0), 10n ** 38n - 1n)).toBe(murmur3_32(bytes('4b3b4ca85a86c47a098a223fffffffff')));
  });
});

describe('bucket transform', () => {
  it('is (hash & Integer.MAX_VALUE) % N', () => {
    expect(applyTransform('bucket[16]', T.int(), 34)).toBe(2017239379 % 16);
    // -500754589 with the sign bit dropped is -500754589 + 2^31.
    expect(applyTransform('bucket[100]', T.decimal(4, 2), 1420n)).toBe((-500754589 + 2 ** 31) % 100);
    expect(applyTransform('bucket[7]', T.string(), 'iceberg')).toBe(1210000089 % 7);
  });

  it('maps null to null', () => {
    expect(applyTransform('bucket[16]', T.string(), null)).toBeNull();
  });
});

describe('truncate transform (spec examples)', () => {
  it('int and long with W=10: 1 -> 0, -1 -> -10', () => {
    expect(applyTransform('truncate[10]', T.int(), 1)).toBe(0);
    expect(applyTransform('truncate[10]', T.int(), -1)).toBe(-10);
    expect(applyTransform('truncate[10]', T.long(), 1n)).toBe(0n);
    expect(applyTransform('truncate[10]', T.long(), -1n)).toBe(-10n);
    expect(applyTransform('truncate[10]', T.int(), 20)).toBe(20);
    expect(applyTransform('truncate[10]', T.long(), -20n)).toBe(-20n);
  });

  it('decimal with W=50 and scale 2: 10.65 -> 10.50', () => {
    expect(applyTransform('truncate[50]', T.decimal(9, 2), 1065n)).toBe(1050n);
    expect(applyTransform('truncate[50]', T.decimal(9, 2), -1n)).toBe(-50n);
  });

  it('string with L=3: iceberg -> ice', () => {
    expect(applyTransform('truncate[3]', T.string(), 'iceberg')).toBe('ice');
  });

  it('binary with L=3: 01 02 03 04 05 -> 01 02 03', () => {
    expect(applyTransform('truncate[3]', T.binary(), bytes('0102030405'))).toEqual(bytes('010203'));
  });

  it('counts string length in code points, never splitting a surrogate pair', () => {
    expect(applyTransform('truncate[2]', T.string(), 'äöü')).toBe('äö');
    expect(applyTransform('truncate[2]', T.string(), '😀😁😂')).toBe('😀😁');
    expect(applyTransform('truncate[2]', T.string(), 'a😀b')).toBe('a😀');
    expect(applyTransform('truncate[1]', T.string(), '😀')).toBe('😀');
    expect(applyTransform('truncate[5]', T.string(), 'ab')).toBe('ab');
  });

  it('returns a binary copy that does not alias the source bytes', () => {
    const src = bytes('0102030405');
    const out = applyTransform('truncate[2]', T.binary(), src) as Uint8Array;
    src[0] = 9;
    expect(out).toEqual(bytes('0102'));
  });

  it('wraps int results to int32 like Java near Integer.MIN_VALUE', () => {
    // INT_MIN - 2 (its positive remainder mod 10 is 2) wraps to INT_MAX - 1.
    expect(applyTransform('truncate[10]', T.int(), INT_MIN)).toBe(2147483646);
  });
});

describe('year, month, day, hour', () => {
  const ts = T.timestamp();

  it('count from 1970 for 2017-11-16T22:31:08', () => {
    expect(applyTransform('year', ts, TS_2017_11_16_22_31_08)).toBe(47);
    expect(applyTransform('month', ts, TS_2017_11_16_22_31_08)).toBe(47 * 12 + 10);
    expect(applyTransform('day', ts, TS_2017_11_16_22_31_08)).toBe(DAY_2017_11_16);
    expect(applyTransform('hour', ts, TS_2017_11_16_22_31_08)).toBe(DAY_2017_11_16 * 24 + 22);
    expect(applyTransform('hour', T.timestamptz(), TS_2017_11_16_22_31_08)).toBe(DAY_2017_11_16 * 24 + 22);
  });

  it('are 0 at the epoch', () => {
    for (const t of ['year', 'month', 'day', 'hour']) expect(applyTransform(t, ts, 0n)).toBe(0);
  });

  it('floor before the epoch: 1969-12-31T23:59:59.999999 is year, month, day and hour -1', () => {
    for (const t of ['year', 'month', 'day', 'hour']) expect(applyTransform(t, ts, -1n)).toBe(-1);
  });

  it('floor exactly on and just before pre-epoch boundaries', () => {
    const jan1969 = -365n * MICROS_PER_DAY;
    expect(applyTransform('year', ts, jan1969)).toBe(-1);
    expect(applyTransform('month', ts, jan1969)).toBe(-12);
    expect(applyTransform('day', ts, jan1969)).toBe(-365);
    expect(applyTransform('hour', ts, jan1969)).toBe(-365 * 24);
    expect(applyTransform('year', ts, jan1969 - 1n)).toBe(-2);
    expect(applyTransform('month', ts, jan1969 - 1n)).toBe(-13);
    expect(applyTransform('day', ts, jan1969 - 1n)).toBe(-366);
    expect(applyTransform('hour', ts, jan1969 - 1n)).toBe(-365 * 24 - 1);
    expect(applyTransform('hour', ts, -MICROS_PER_HOUR)).toBe(-1);
    expect(applyTransform('hour', ts, -MICROS_PER_HOUR - 1n)).toBe(-2);
  });

  it('stay exact near 2^53 micros and at the long extremes', () => {
    // 104249 * 86400000000 = 9007113600000000; one micro earlier is still day 104248.
    expect(applyTransform('day', ts, 9007113600000000n - 1n)).toBe(104248);
    expect(applyTransform('day', ts, 9007113600000000n)).toBe(104249);
    // 2^53 + 1 = 9007199254740993 is below 104250 * 86400000000 = 9007200000000000.
    expect(applyTransform('day', ts, 2n ** 53n + 1n)).toBe(104249);
    // 106751991 * 86400000000 = 9223372022400000000 <= 2^63 - 1 < 106751992 days.
    expect(applyTransform('day', ts, LONG_MAX)).toBe(106751991);
    expect(applyTransform('day', ts, LONG_MIN)).toBe(-106751992);
  });

  it('apply to dates: day is the date itself, year and month floor before 1970', () => {
    const d = T.date();
    expect(applyTransform('year', d, DAY_2017_11_16)).toBe(47);
    expect(applyTransform('month', d, DAY_2017_11_16)).toBe(47 * 12 + 10);
    expect(applyTransform('day', d, DAY_2017_11_16)).toBe(DAY_2017_11_16);
    expect(applyTransform('year', d, -1)).toBe(-1);
    expect(applyTransform('month', d, -1)).toBe(-1);
    expect(applyTransform('month', d, -365)).toBe(-12);
    expect(applyTransform('month', d, -366)).toBe(-13);
    // 2000-01-01 is day 10957 (30 * 365 + 7 leap days); Feb 29 is 59 days later, Mar 1 one more.
    expect(applyTransform('month', d, 10957 + 59)).toBe(30 * 12 + 1);
    expect(applyTransform('month', d, 10957 + 60)).toBe(30 * 12 + 2);
  });

  it('agree with the JS Date UTC calendar for dates and timestamps from year 0 to 9999', () => {
    for (let days = -719528; days <= 2932896; days += 1009) {
      const d = new Date(days * 86_400_000);
      const month = (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth();
      expect(applyTransform('month', T.date(), days)).toBe(month);
      expect(applyTransform('year', T.date(), days)).toBe(d.getUTCFullYear() - 1970);
      const micros = BigInt(days) * MICROS_PER_DAY + 12_345_678_901n;
      expect(applyTransform('month', ts, micros)).toBe(month);
      expect(applyTransform('hour', ts, micros)).toBe(days * 24 + 3);
    }
  });

  it('map null to null', () => {
    for (const t of ['year', 'month', 'day', 'hour']) expect(applyTransform(t, ts, null)).toBeNull();
    expect(applyTransform('year', T.date(), null)).toBeNull();
    expect(applyTransform('truncate[2]', T.string(), null)).toBeNull();
  });
});

describe('void and identity', () => {
  it('void always gives null', () => {
    expect(applyTransform('void', T.string(), 'x')).toBeNull();
    expect(applyTransform('void', T.int(), 5)).toBeNull();
  });

  it('identity gives the value back', () => {
    expect(applyTransform('identity', T.long(), 5n)).toBe(5n);
  });
});

describe('parseTransform and transformToString', () => {
  it('read every transform, ignoring case as Java does', () => {
    expect(parseTransform('bucket[16]')).toEqual({ kind: 'bucket', n: 16 });
    expect(parseTransform('truncate[4]')).toEqual({ kind: 'truncate', width: 4 });
    expect(parseTransform('BUCKET[8]')).toEqual({ kind: 'bucket', n: 8 });
    for (const k of ['identity', 'year', 'month', 'day', 'hour', 'void']) expect(parseTransform(k)).toEqual({ kind: k });
    expect(parseTransform('Day')).toEqual({ kind: 'day' });
  });

  it('write the spec form back', () => {
    for (const s of ['identity', 'bucket[16]', 'truncate[4]', 'year', 'month', 'day', 'hour', 'void']) {
      expect(transformToString(parseTransform(s))).toBe(s);
    }
  });

  it('reject unknown transforms with UNSUPPORTED and a sentence naming them', () => {
    const e = thrown(() => parseTransform('zorder'));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain('"zorder"');
    expect(thrown(() => parseTransform('bucket[x]')).code).toBe('UNSUPPORTED');
  });

  it('reject a zero width or bucket count', () => {
    expect(thrown(() => parseTransform('bucket[0]')).message).toContain('number of buckets');
    expect(thrown(() => parseTransform('truncate[0]')).message).toContain('width');
  });
});

describe('type rules', () => {
  const all: PrimitiveType[] = [
    T.boolean(), T.int(), T.long(), T.float(), T.double(), T.decimal(9, 2), T.date(), T.time(), T.timestamp(),
    T.timestamptz(), T.string(), T.uuid(), T.binary(), T.fixed(4),
  ];
  const accepted = (t: string) => all.filter((s) => canTransform(t, s)).map((s) => s.kind);

  it('canTransform follows the spec table', () => {
    expect(accepted('identity')).toHaveLength(all.length);
    expect(accepted('void')).toHaveLength(all.length);
    expect(accepted('bucket[4]')).toEqual(['int', 'long', 'decimal', 'date', 'time', 'timestamp', 'timestamptz', 'string', 'uuid', 'binary', 'fixed']);
    expect(accepted('truncate[4]')).toEqual(['int', 'long', 'decimal', 'string', 'binary']);
    expect(accepted('year')).toEqual(['date', 'timestamp', 'timestamptz']);
    expect(accepted('month')).toEqual(['date', 'timestamp', 'timestamptz']);
    expect(accepted('day')).toEqual(['date', 'timestamp', 'timestamptz']);
    expect(accepted('hour')).toEqual(['timestamp', 'timestamptz']);
    expect(canTransform('zorder', T.int())).toBe(false);
  });

  it('result types: bucket/year/month/hour int, day date, others the source', () => {
    expect(transformResultType('bucket[4]', T.string())).toEqual(T.int());
    expect(transformResultType('year', T.timestamp())).toEqual(T.int());
    expect(transformResultType('month', T.date())).toEqual(T.int());
    expect(transformResultType('hour', T.timestamptz())).toEqual(T.int());
    expect(transformResultType('day', T.timestamptz())).toEqual(T.date());
    expect(transformResultType('truncate[4]', T.decimal(9, 2))).toEqual(T.decimal(9, 2));
    expect(transformResultType('identity', T.uuid())).toEqual(T.uuid());
    expect(transformResultType('void', T.long())).toEqual(T.long());
  });

  it('transformResultType and transformFunction explain a transform that cannot apply', () => {
    const e = thrown(() => transformResultType('hour', T.date()));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/hour cannot apply to a date column: it accepts timestamp, timestamptz/);
    expect(thrown(() => transformFunction('bucket[4]', T.float())).message).toContain('float');
  });

  it('preservesOrder is true except for bucket and void', () => {
    for (const t of ['identity', 'truncate[3]', 'year', 'month', 'day', 'hour']) expect(preservesOrder(t)).toBe(true);
    expect(preservesOrder('bucket[3]')).toBe(false);
    expect(preservesOrder('void')).toBe(false);
  });
});

describe('humanString (Java toHumanString)', () => {
  it('prints time transforms as calendar text', () => {
    expect(humanString('year', T.int(), 54)).toBe('2024');
    expect(humanString('month', T.int(), 54 * 12)).toBe('2024-01');
    expect(humanString('day', T.date(), DAY_2024_01_01)).toBe('2024-01-01');
    expect(humanString('hour', T.int(), DAY_2024_01_01 * 24 + 10)).toBe('2024-01-01-10');
  });

  it('prints pre-epoch ordinals by floor', () => {
    expect(humanString('year', T.int(), -1)).toBe('1969');
    expect(humanString('month', T.int(), -1)).toBe('1969-12');
    expect(humanString('month', T.int(), -13)).toBe('1968-12');
    expect(humanString('day', T.date(), -1)).toBe('1969-12-31');
    expect(humanString('hour', T.int(), -1)).toBe('1969-12-31-23');
  });

  it('prints null as null and bucket numbers as digits', () => {
    expect(humanString('day', T.date(), null)).toBe('null');
    expect(humanString('void', T.int(), null)).toBe('null');
    expect(humanString('bucket[16]', T.int(), 5)).toBe('5');
  });

  it('prints identity values by type', () => {
    expect(humanString('identity', T.timestamp(), TS_2017_11_16_22_31_08)).toBe('2017-11-16T22:31:08');
    expect(humanString('identity', T.timestamp(), TS_2017_11_16_22_31_08 + 1n)).toBe('2017-11-16T22:31:08.000001');
    expect(humanString('identity', T.timestamp(), TS_2017_11_16_22_31_08 + 100_000n)).toBe('2017-11-16T22:31:08.1');
    expect(humanString('identity', T.timestamptz(), TS_2017_11_16_22_31_08)).toBe('2017-11-16T22:31:08+00:00');
    expect(humanString('identity', T.timestamp(), -1n)).toBe('1969-12-31T23:59:59.999999');
    expect(humanString('identity', T.date(), DAY_2017_11_16)).toBe('2017-11-16');
    expect(humanString('identity', T.time(), (22n * 60n + 31n) * 60_000_000n)).toBe('22:31');
    expect(humanString('identity', T.time(), TIME_22_31_08)).toBe('22:31:08');
    expect(humanString('identity', T.time(), TIME_22_31_08 + 500_000n)).toBe('22:31:08.500');
    expect(humanString('identity', T.time(), TIME_22_31_08 + 1n)).toBe('22:31:08.000001');
    expect(humanString('identity', T.decimal(9, 2), 1420n)).toBe('14.20');
    expect(humanString('identity', T.decimal(9, 2), -5n)).toBe('-0.05');
    expect(humanString('identity', T.decimal(10, 10), 123n)).toBe('1.23E-8');
    expect(humanString('identity', T.double(), 1)).toBe('1.0');
    expect(humanString('identity', T.double(), 0.001)).toBe('0.001');
    expect(humanString('identity', T.double(), 1e-4)).toBe('1.0E-4');
    expect(humanString('identity', T.double(), 1e7)).toBe('1.0E7');
    expect(humanString('identity', T.double(), 123456.5)).toBe('123456.5');
    expect(humanString('identity', T.float(), Math.fround(0.1))).toBe('0.1');
    expect(humanString('identity', T.binary(), bytes('00010203'))).toBe('AAECAw==');
    expect(humanString('truncate[2]', T.string(), 'ic')).toBe('ic');
    expect(humanString('identity', T.boolean(), true)).toBe('true');
    expect(humanString('identity', T.long(), -7n)).toBe('-7');
  });
});

describe('partitionPath', () => {
  const schema = new Schema([
    T.field(1, 'event_time', T.timestamptz(), true),
    T.field(2, 'event_type', T.string()),
    T.field(3, 'payload', T.binary()),
  ]);

  it('joins name=value pairs like Java partitionToPath', () => {
    const spec = {
      specId: 1,
      fields: [
        { sourceId: 1, fieldId: 1000, name: 'event_time_day', transform: 'day' },
        { sourceId: 2, fieldId: 1001, name: 'event_type', transform: 'identity' },
      ],
    };
    expect(partitionPath(spec, schema, [DAY_2024_01_01, 'click'])).toBe('event_time_day=2024-01-01/event_type=click');
    expect(partitionPath(spec, schema, [null, null])).toBe('event_time_day=null/event_type=null');
  });

  it('URL-encodes names and values as java.net.URLEncoder with UTF-8', () => {
    const spec = {
      specId: 0,
      fields: [
        { sourceId: 2, fieldId: 1000, name: 'event type', transform: 'identity' },
        { sourceId: 3, fieldId: 1001, name: 'p', transform: 'truncate[4]' },
      ],
    };
    expect(partitionPath(spec, schema, ['a b/c&ü~*._-', bytes('00010203')]))
      .toBe('event+type=a+b%2Fc%26%C3%BC%7E*._-/p=AAECAw%3D%3D');
  });

  it('prints void fields as null even when their source column is gone', () => {
    const spec = { specId: 2, fields: [{ sourceId: 99, fieldId: 1000, name: 'old', transform: 'void' }] };
    expect(partitionPath(spec, schema, [null])).toBe('old=null');
  });

  it('rejects a value count that does not match the spec', () => {
    expect(thrown(() => partitionPath({ specId: 0, fields: [] }, schema, [1])).code).toBe('INVALID_ARGUMENT');
  });
});
