/**
 * The order of values of one primitive type, as min/max column statistics and the bound checks of scan
 * planning need it (spec "Manifests": lower and upper bounds). It must agree with the order the
 * writers that produced a file used: Java's for floats (-0.0 before 0.0, NaN last), unsigned bytes
 * for binary and uuid, code points (UTF-8 byte order) for strings.
 */
import type { PrimitiveType, Value } from '../types.ts';

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * Orders UTF-16 strings by code point, which is the order of their UTF-8 bytes: a surrogate (part of a
 * code point above U+FFFF) sorts after every unit in U+E000..U+FFFF, unlike plain `<`.
 */
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareFloats(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) {
    // Java's Float.compare order, so -0.0 sorts before 0.0 as in Java-written bounds.
    const na = Object.is(a, -0);
    const nb = Object.is(b, -0);
    return na === nb ? 0 : na ? -1 : 1;
  }
  // NaN sorts last, as Java's Double.compare puts it.
  return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
}

/** Order of min/max statistics. Null sorts first. */
export function compareValues(t: PrimitiveType, a: Value, b: Value): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  switch (t.kind) {
    case 'boolean':
      return a === b ? 0 : a ? 1 : -1;
    case 'int':
    case 'date':
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 'float':
    case 'double':
      return compareFloats(a as number, b as number);
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'decimal':
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 'string':
      return compareStrings(a as string, b as string);
    case 'uuid':
      // Unsigned bytes, the order Parquet uses for the 16-byte uuid column (Java's UUID.compareTo is
      // signed and differs for the upper half); lower-case fixed-width hex sorts exactly so.
      return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case 'fixed':
    case 'binary':
      return compareBytes(a as Uint8Array, b as Uint8Array);
  }
}
