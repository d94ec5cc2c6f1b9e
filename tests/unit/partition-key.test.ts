import { describe, expect, it } from 'vitest';
import { partitionKey, type Value } from '../../iceberg/index.ts';

describe('partitionKey', () => {
  it('gives tuples that differ in a value or its JS type different keys', () => {
    const tuples: Value[][] = [
      [1], [1n], ['1'], [true], [1.5], [-0], [0], [0n], [NaN], [Infinity], [-Infinity],
      [null], ['null'], ['n'], [''], [new Uint8Array()], [new Uint8Array([0x12])], [0x12n], [12n], ['12'],
      [new Uint8Array([1, 2])], [new Uint8Array([1]), new Uint8Array([2])],
      // 2^53 + 1 is exact as a bigint and not as a double.
      [9007199254740993n], [9007199254740992n], [9007199254740992],
      // Separators and tags inside strings never read as a boundary.
      ['a,n'], ['a', null], ['a', 'b'], ['a,s1:b'], ['a,sb'], ['1:a'], [',n'], ['', ''], ['', null],
      [null, null], [],
    ];
    const keys = tuples.map((t) => partitionKey(0, t));
    expect(new Set(keys).size).toBe(tuples.length);
  });

  it('gives equal tuples the same key, byte arrays by content', () => {
    expect(partitionKey(3, [19723, 'a', 5n, new Uint8Array([1, 2]), null])).toBe(partitionKey(3, [19723, 'a', 5n, new Uint8Array([1, 2]), null]));
    expect(partitionKey(0, [NaN])).toBe(partitionKey(0, [0 / 0]));
  });

  it('keeps the same tuple of two specs apart', () => {
    expect(partitionKey(0, [1])).not.toBe(partitionKey(1, [1]));
    expect(partitionKey(1, [])).not.toBe(partitionKey(11, []));
  });
});
