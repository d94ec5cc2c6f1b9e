/**
 * Decimal values (in memory: the unscaled bigint) as bytes and as text. The bytes are the
 * two's-complement big-endian form that spec "Appendix D: Single-value serialization" stores and
 * "Appendix B: 32-bit Hash Requirements" (note 2) hashes; the text is the plain notation of the JSON
 * form and of user literals, read exactly (no silent rounding).
 */
import { LONG_MAX, LONG_MIN } from './value-checks.ts';

/**
 * Writes `v` as minimal two's-complement big-endian (Java `BigInteger.toByteArray`, spec Appendix D
 * and Appendix B note 2) into the end of `scratch` (16 bytes, enough for any decimal(38, S)) and
 * returns the index of its first byte. Zero is one byte, 0x00.
 */
export function decimalBytesInto(v: bigint, scratch: Uint8Array, view: DataView): number {
  if (v >= LONG_MIN && v <= LONG_MAX) {
    view.setBigInt64(8, v, false);
    const fill = v < 0n ? 0xff : 0;
    for (let i = 0; i < 8; i++) scratch[i] = fill;
  } else {
    view.setBigInt64(0, BigInt.asIntN(64, v >> 64n), false);
    view.setBigUint64(8, BigInt.asUintN(64, v), false);
  }
  // Drop a leading byte while it only repeats the sign of the byte after it.
  let start = 0;
  while (start < 15) {
    const b = scratch[start]!;
    const nextTop = scratch[start + 1]! & 0x80;
    if ((b === 0 && nextTop === 0) || (b === 0xff && nextTop !== 0)) start++;
    else break;
  }
  return start;
}

const INT128_MIN = -(1n << 127n);
const INT128_MAX = (1n << 127n) - 1n;

/** Minimal two's-complement big-endian bytes of an unscaled decimal, in a fresh array. */
export function decimalToBytes(v: bigint): Uint8Array {
  if (v >= INT128_MIN && v <= INT128_MAX) {
    const scratch = new Uint8Array(16);
    const start = decimalBytesInto(v, scratch, new DataView(scratch.buffer));
    return scratch.slice(start);
  }
  // Beyond decimal(38, S); kept exact so a bad value still round-trips for diagnosis.
  const len = ((v < 0n ? ~v : v).toString(2).length >> 3) + 1;
  const out = new Uint8Array(len);
  let x = BigInt.asUintN(len * 8, v);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** The unscaled value of two's-complement big-endian bytes; no bytes read as zero. */
export function decimalFromBytes(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let x = 0n;
  for (let i = 0; i < b.length; i++) x = (x << 8n) | BigInt(b[i]!);
  return BigInt.asIntN(b.length * 8, x);
}

/** `14.20` for unscaled 1420 at scale 2; plain notation, exactly `scale` digits after the point. */
export function decimalToString(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString();
  if (scale <= 0) return (neg ? '-' : '') + digits + (scale < 0 ? '0'.repeat(-scale) : '');
  const padded = digits.padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
}

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Exact unscaled value of decimal text at `scale`: `12.3` at scale 2 is 1230n. Digits beyond the scale
 * must be zeros (no silent rounding), and the result must fit the precision. Returns an error reason.
 */
export function decimalFromText(text: string, precision: number, scale: number): bigint | string {
  const m = DECIMAL_RE.exec(text);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return 'decimal digits such as 12.34 or 1.5E3';
  const frac = m[3] ?? '';
  let digits = (m[2]! + frac).replace(/^0+/, '');
  const exp = (m[4] === undefined ? 0 : Number(m[4])) - frac.length;
  let shift = scale + exp;
  if (shift < 0) {
    const dropped = digits.slice(Math.max(0, digits.length + shift));
    if (/[^0]/.test(dropped)) return `at most ${scale} digits after the decimal point (the column's scale; round the value first)`;
    digits = digits.slice(0, Math.max(0, digits.length + shift));
    shift = 0;
  }
  if (digits.length > 0 && digits.length + shift > precision) {
    return `at most ${precision} significant digits with ${scale} after the point (the column's precision)`;
  }
  const unscaled = digits === '' ? 0n : BigInt(digits) * 10n ** BigInt(shift);
  return m[1] === '-' ? -unscaled : unscaled;
}
