import { describe, expect, it } from 'vitest';
import { parseJson, stringifyJson } from '../../core/json.ts';

describe('bigint-safe JSON', () => {
  it('keeps a 63-bit snapshot id exact through parse and stringify', () => {
    const text = '{"snapshot-id":9223372036854775807,"small":3,"neg":-9007199254740993}';
    const v = parseJson(text) as Record<string, unknown>;
    expect(v['snapshot-id']).toBe(9223372036854775807n);
    expect(v.small).toBe(3);
    expect(v.neg).toBe(-9007199254740993n);
    expect(stringifyJson(v)).toBe(text);
  });

  it('parses floats, escapes, unicode and nesting like JSON.parse', () => {
    const text = '{"a":[1.5,-2e-7,true,false,null],"s":"h\\u00e9llo \\"x\\" 世界 🎉","o":{}}';
    expect(parseJson(text)).toEqual(JSON.parse(text));
  });

  it('names the position of malformed input', () => {
    expect(() => parseJson('{"a": 1,', 'metadata file x.json')).toThrow(/Malformed metadata file x\.json: .* at character \d+/);
    expect(() => parseJson('{"a": 1} x')).toThrow(/trailing characters/);
  });
});
