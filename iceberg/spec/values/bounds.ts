/**
 * Truncated column bounds: the `truncate(N)` metrics mode (table properties `write.metadata.metrics.*`)
 * keeps the lower/upper bounds of strings and binary values (spec "Manifests") to N code points or
 * bytes. A lower bound is cut; an upper bound is cut and incremented so it still bounds every value,
 * as Java does, so the bounds we write prune the same files in every reader. codePointOffset also
 * serves the `truncate[W]` partition transform, which counts in code points too.
 */
import { LakehouseError } from '../../../core/errors.ts';
import type { PrimitiveType, Value } from '../types.ts';
import { asBytes, asString } from './value-checks.ts';

/** UTF-16 index just past the first `count` code points of `s` (s.length if it has fewer). */
export function codePointOffset(s: string, count: number): number {
  let i = 0;
  for (let n = 0; n < count && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i;
}

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 0) {
    throw new LakehouseError('INVALID_ARGUMENT', `Bound truncation width must be a non-negative integer, got ${width}.`);
  }
}

/** A lower bound no longer than `width` code points (strings) or bytes (binary, fixed); other types unchanged. */
export function truncateLowerBound(t: PrimitiveType, v: Value, width: number): Value {
  checkWidth(width);
  if (v === null) return null;
  if (t.kind === 'string') {
    const s = asString(t, v);
    return s.length <= width ? s : s.slice(0, codePointOffset(s, width));
  }
  if (t.kind === 'binary' || t.kind === 'fixed') {
    const b = asBytes(t, v);
    return b.length <= width ? b : b.slice(0, width);
  }
  return v;
}

/**
 * An upper bound no longer than `width` code points or bytes: the truncated prefix with its last
 * incrementable code point (byte) incremented and everything after it dropped, as Java's
 * `UnicodeUtil.truncateStringMax` / `BinaryUtil.truncateBinaryMax`. Null when every kept code point
 * is U+10FFFF (every byte 0xFF): no bound of that length exists and the bound must be omitted.
 * U+D7FF steps to U+E000, so the result is always valid UTF-8.
 */
export function truncateUpperBound(t: PrimitiveType, v: Value, width: number): Value | null {
  checkWidth(width);
  if (v === null) return null;
  if (t.kind === 'string') {
    const s = asString(t, v);
    const end = codePointOffset(s, width);
    if (end >= s.length) return s;
    let i = end;
    while (i > 0) {
      let start = i - 1;
      const c = s.charCodeAt(start);
      if ((c & 0xfc00) === 0xdc00 && start > 0 && (s.charCodeAt(start - 1) & 0xfc00) === 0xd800) start--;
      let cp = s.codePointAt(start)!;
      // A lone surrogate reaches the file as U+FFFD (what the UTF-8 encoder writes), so bound that.
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      if (cp !== 0x10ffff) return s.slice(0, start) + String.fromCodePoint(cp === 0xd7ff ? 0xe000 : cp + 1);
      i = start;
    }
    return null;
  }
  if (t.kind === 'binary' || t.kind === 'fixed') {
    const b = asBytes(t, v);
    if (b.length <= width) return b;
    for (let i = width - 1; i >= 0; i--) {
      if (b[i] !== 0xff) {
        const out = b.slice(0, i + 1);
        out[i]! += 1;
        return out;
      }
    }
    return null;
  }
  return v;
}
