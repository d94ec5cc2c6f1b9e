import { LakehouseError } from './errors.ts';

/**
 * JSON that keeps 64-bit integers exact. Iceberg snapshot ids are random 63-bit longs written by Java
 * and PyIceberg; `JSON.parse` would round them to doubles. `parseJson` returns integers that do not fit
 * a double exactly as `bigint`; `stringifyJson` writes `bigint` as bare digits.
 */
export function parseJson(text: string, what = 'JSON'): unknown {
  let i = 0;
  const fail = (msg: string): never => {
    throw new LakehouseError('INVALID_METADATA', `Malformed ${what}: ${msg} at character ${i}.`);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a property name');
        const k = str();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        o[k] = value();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return o; }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return a; }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  };
  const str = (): string => {
    // Fast path: find the closing quote; fall back to JSON.parse for escapes.
    const start = i;
    i++;
    let escaped = false;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 92) { escaped = true; i += 2; continue; }
      if (c === 34) break;
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    const raw = text.slice(start, i);
    return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

/** JSON.stringify that writes bigint as digits (never as strings) and drops undefined like JSON does. */
export function stringifyJson(v: unknown, indent?: number): string {
  // A marker no real metadata string contains; JSON.stringify would escape control characters.
  const marker = '~~lakehouse-bigint~~';
  const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? marker + x.toString() : x), indent);
  return s.replace(/"~~lakehouse-bigint~~(-?\d+)"/g, '$1');
}

/** A JSON number (number or bigint) as bigint; for ids that are longs in the spec. */
export function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new LakehouseError('INVALID_METADATA', `${what} must be an integer, got ${JSON.stringify(String(v))}.`);
}
