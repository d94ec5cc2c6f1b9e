/**
 * The two text forms of bytes: uuids as 8-4-4-4-12 hex over their 16 big-endian bytes (spec "Appendix B:
 * 32-bit Hash Requirements" note 4, and Appendix D's binary form), and plain lower-case hex, which is
 * Appendix D's JSON form of `binary` and `fixed` and what user literals of those types are written in.
 */

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Writes the 16 big-endian bytes of a 8-4-4-4-12 uuid into `out` (spec Appendix B note 4); false if malformed. */
export function uuidToBytesInto(s: string, out: Uint8Array): boolean {
  if (s.length !== 36) return false;
  let j = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (s.charCodeAt(i) !== 45) return false;
      continue;
    }
    const hi = hexValue(s.charCodeAt(i));
    const lo = hexValue(s.charCodeAt(++i));
    if (hi < 0 || lo < 0) return false;
    out[j++] = (hi << 4) | lo;
  }
  return true;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Whether `s` is a uuid in 8-4-4-4-12 hex form, either case. */
export function isUuidText(s: string): boolean {
  return UUID_RE.test(s);
}

const HEX = '0123456789abcdef';

/** Lower-case hex, no separators (spec Appendix D JSON form of binary and fixed). */
export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]! >> 4]! + HEX[b[i]! & 15]!;
  return s;
}

/** Bytes of hex digits in either case, no separators; null when the text is not that. */
export function hexToBytes(s: string): Uint8Array | null {
  if (s.length % 2 !== 0) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexValue(s.charCodeAt(2 * i));
    const lo = hexValue(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** The lower-case 8-4-4-4-12 text of 16 uuid bytes. */
export function bytesToUuid(b: Uint8Array): string {
  const h = bytesToHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
