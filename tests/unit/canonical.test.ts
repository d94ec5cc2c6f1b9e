import { describe, expect, it } from 'vitest';
import { Schema, T } from '../../iceberg/index.ts';
import {
  canonicalRow, canonicalRows, canonicalToValue, canonicalValue, compareCodePoints, rowFromCanonical,
} from '../interop/canonical.ts';

// Expected values are worked out by hand (IEEE-754 layouts, epoch arithmetic), never with the code
// under test: they are the contract verify.py implements on the Python side.

describe('canonical encoding of primitives', () => {
  it('encodes a double as the 16 hex digits of its bits', () => {
    expect(canonicalValue(T.double(), 1.5)).toBe('3ff8000000000000');
    expect(canonicalValue(T.double(), 0.1)).toBe('3fb999999999999a');
    expect(canonicalValue(T.double(), -2)).toBe('c000000000000000');
    expect(canonicalValue(T.double(), Number.MIN_VALUE)).toBe('0000000000000001');
    expect(canonicalValue(T.double(), Number.MAX_VALUE)).toBe('7fefffffffffffff');
  });

  it('keeps the sign of zero and the infinities distinct', () => {
    expect(canonicalValue(T.double(), 0)).toBe('0000000000000000');
    expect(canonicalValue(T.double(), -0)).toBe('8000000000000000');
    expect(canonicalValue(T.double(), Infinity)).toBe('7ff0000000000000');
    expect(canonicalValue(T.double(), -Infinity)).toBe('fff0000000000000');
  });

  it('encodes every NaN as "NaN" whatever its payload', () => {
    expect(canonicalValue(T.double(), Number.NaN)).toBe('NaN');
    const payload = new DataView(new ArrayBuffer(8));
    payload.setBigUint64(0, 0xfff8000000000123n);
    expect(canonicalValue(T.double(), payload.getFloat64(0))).toBe('NaN');
    expect(canonicalValue(T.float(), Number.NaN)).toBe('NaN');
  });

  it('encodes a float as the float32 the column stores, widened exactly to a double', () => {
    // float32 0.1 = 0x3dcccccd: exponent 123 -> 1019 (0x3fb), 23-bit mantissa 0x4ccccd << 29 = 0x99999a0000000.
    expect(canonicalValue(T.float(), 0.1)).toBe('3fb99999a0000000');
    expect(canonicalValue(T.float(), 1.5)).toBe('3ff8000000000000');
    expect(canonicalValue(T.float(), -0)).toBe('8000000000000000');
  });

  it('encodes int and long as decimal strings, including their extremes', () => {
    expect(canonicalValue(T.int(), -2147483648)).toBe('-2147483648');
    expect(canonicalValue(T.int(), 2147483647)).toBe('2147483647');
    expect(canonicalValue(T.long(), -9223372036854775808n)).toBe('-9223372036854775808');
    expect(canonicalValue(T.long(), 9223372036854775807n)).toBe('9223372036854775807');
    expect(canonicalValue(T.long(), 42)).toBe('42');
  });

  it('encodes a decimal as its unscaled integer', () => {
    expect(canonicalValue(T.decimal(9, 2), 123n)).toBe('123'); // 1.23
    expect(canonicalValue(T.decimal(9, 2), -999999999n)).toBe('-999999999'); // -9999999.99
    expect(canonicalValue(T.decimal(38, 10), 10n ** 38n - 1n)).toBe('99999999999999999999999999999999999999');
  });

  it('encodes dates as days and timestamps as microseconds since the epoch', () => {
    expect(canonicalValue(T.date(), 19723)).toBe('19723'); // 2024-01-01
    expect(canonicalValue(T.date(), -1)).toBe('-1'); // 1969-12-31
    expect(canonicalValue(T.date(), -719162)).toBe('-719162'); // 0001-01-01
    expect(canonicalValue(T.timestamptz(), 1704067200000000n)).toBe('1704067200000000'); // 2024-01-01T00:00:00Z
    expect(canonicalValue(T.timestamp(), 1704067200123456n)).toBe('1704067200123456'); // ...00.123456
    expect(canonicalValue(T.timestamp(), -1n)).toBe('-1'); // 1969-12-31T23:59:59.999999
    expect(canonicalValue(T.time(), 86399999999n)).toBe('86399999999'); // 23:59:59.999999
  });

  it('encodes uuids in lower case and bytes as lower-case hex', () => {
    expect(canonicalValue(T.uuid(), '123E4567-E89B-12D3-A456-426614174000')).toBe('123e4567-e89b-12d3-a456-426614174000');
    const bytes = new Uint8Array([0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00]);
    expect(canonicalValue(T.uuid(), bytes)).toBe('123e4567-e89b-12d3-a456-426614174000');
    expect(canonicalValue(T.binary(), new Uint8Array([0, 255, 16]))).toBe('00ff10');
    expect(canonicalValue(T.fixed(4), new Uint8Array([0xde, 0xad, 0xbe, 0xef]))).toBe('deadbeef');
    expect(canonicalValue(T.binary(), new Uint8Array([]))).toBe('');
  });

  it('rejects values outside our in-memory representation, naming the column', () => {
    expect(() => canonicalValue(T.long(), '5', 'l')).toThrow(/l \(long\)/);
    expect(() => canonicalValue(T.long(), 2 ** 53 + 2, 'l')).toThrow(/bigint/);
    expect(() => canonicalValue(T.int(), 1.5, 'i')).toThrow(/integer/);
    expect(() => canonicalValue(T.uuid(), 'not-a-uuid', 'u')).toThrow(/uuid/);
    expect(() => canonicalValue(T.binary(), '00ff', 'b')).toThrow(/Uint8Array/);
  });
});

describe('canonical encoding of nested values and rows', () => {
  const schema = new Schema([
    T.field(1, 'id', T.long(), true),
    T.field(2, 'st', T.struct([T.field(5, 'a', T.int()), T.field(6, 'b', T.string())])),
    T.field(3, 'li', T.list(7, T.double())),
    T.field(4, 'm', T.map(8, T.string(), 9, T.int())),
  ]);

  it('writes struct fields and row columns in schema order with missing ones as null', () => {
    expect(JSON.stringify(canonicalRow(schema, { m: new Map(), st: { b: 'x' }, id: 7n })))
      .toBe('{"id":"7","st":{"a":null,"b":"x"},"li":null,"m":[]}');
  });

  it('sorts map entries by the JSON text of the key, by code point', () => {
    // U+FF71 sorts before U+1F389 by code point, though its UTF-16 unit 0xff71 is above 0xd83c.
    const m = new Map<string, number | null>([['🎉', 1], ['ｱ', 2], ['b', null], ['a', 3]]);
    expect(canonicalValue(schema.fields[3]!.type, m)).toEqual([['a', '3'], ['b', null], ['ｱ', '2'], ['🎉', '1']]);
    expect(canonicalValue(schema.fields[3]!.type, [['b', 1], ['a', 2]])).toEqual([['a', '2'], ['b', '1']]);
  });

  it('keeps list order and nulls inside lists', () => {
    expect(canonicalValue(schema.fields[2]!.type, [2, null, 1])).toEqual(['4000000000000000', null, '3ff0000000000000']);
  });

  it('refuses a column that is not in the schema', () => {
    expect(() => canonicalRow(schema, { id: 1n, typo: 1 })).toThrow(/"typo" is not a field/);
  });

  it('serialises strings as JSON.stringify does (the text Python json.dumps(ensure_ascii=False) gives)', () => {
    const s = new Schema([T.field(1, 's', T.string())]);
    expect(canonicalRows(s, [{ s: 'héllo 世界 🎉' }])).toEqual(['{"s":"héllo 世界 🎉"}']);
    expect(canonicalRows(s, [{ s: 'tab\tnl\nq"\\ \u0001 \u007f' }])).toEqual(['{"s":"tab\\tnl\\nq\\"\\\\ \\u0001 \u007f"}']);
  });

  it('sorts rows by code point so both languages agree on the order', () => {
    const s = new Schema([T.field(1, 's', T.string())]);
    expect(canonicalRows(s, [{ s: '🎉' }, { s: 'ｱ' }, { s: 'a' }, { s: null }]))
      .toEqual(['{"s":"a"}', '{"s":"ｱ"}', '{"s":"🎉"}', '{"s":null}']);
    expect(compareCodePoints('ｱ', '🎉')).toBeLessThan(0);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
  });

  it('treats rows as a multiset: the same rows in another order give the same lines', () => {
    const rows = [{ id: 2n }, { id: 1n }, { id: 2n }];
    expect(canonicalRows(schema, rows)).toEqual(canonicalRows(schema, [rows[1]!, rows[0]!, rows[2]!]));
    expect(canonicalRows(schema, rows)).toHaveLength(3);
  });
});

describe('canonicalToValue', () => {
  it('turns canonical primitives back into our in-memory values', () => {
    expect(canonicalToValue(T.long(), '-9223372036854775808')).toBe(-9223372036854775808n);
    expect(canonicalToValue(T.int(), '-5')).toBe(-5);
    expect(canonicalToValue(T.double(), '3ff8000000000000')).toBe(1.5);
    expect(Object.is(canonicalToValue(T.double(), '8000000000000000'), -0)).toBe(true);
    expect(canonicalToValue(T.double(), 'NaN')).toBeNaN();
    expect(canonicalToValue(T.decimal(9, 2), '123')).toBe(123n);
    expect(canonicalToValue(T.timestamptz(), '1704067200000000')).toBe(1704067200000000n);
    expect(canonicalToValue(T.fixed(4), 'deadbeef')).toEqual(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    expect(canonicalToValue(T.string(), null)).toBeNull();
  });

  it('round-trips a row with nested types through its canonical line', () => {
    const schema = new Schema([
      T.field(1, 'st', T.struct([T.field(4, 'x', T.float())])),
      T.field(2, 'li', T.list(5, T.binary())),
      T.field(3, 'm', T.map(6, T.date(), 7, T.uuid())),
    ]);
    const row = { st: { x: 0.5 }, li: [new Uint8Array([1]), null], m: new Map([[-1, '00000000-0000-0000-0000-000000000001']]) };
    const [line] = canonicalRows(schema, [row]);
    expect(rowFromCanonical(schema, line!)).toEqual(row);
  });
});
