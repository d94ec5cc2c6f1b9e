/**
 * 32-bit Murmur3, x86 variant (spec "Appendix B: 32-bit Hash Requirements"), returning the signed
 * int32 that Java's Guava `Hashing.murmur3_32_fixed()` returns, so `bucket[N]` agrees with Java and
 * PyIceberg byte for byte.
 *
 * Besides the plain byte-array hash, two allocation-free entry points serve the bucket transform's hot
 * loop: `murmur3_32_long` (every integer type is hashed as its 8-byte little-endian long, Appendix B
 * note 1) and `murmur3_32_utf8` (strings are hashed as their UTF-8 bytes without encoding them first).
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK1(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH1(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Hash of `bytes[start, end)`; the range form lets callers hash part of a scratch buffer without a view. */
export function murmur3_32_range(bytes: Uint8Array, start: number, end: number, seed = 0): number {
  let h = seed | 0;
  const len = end - start;
  const blockEnd = start + (len & ~3);
  let i = start;
  for (; i < blockEnd; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = mixH1(h, mixK1(k));
  }
  const tail = len & 3;
  if (tail > 0) {
    let k1 = bytes[i]!;
    if (tail > 1) k1 ^= bytes[i + 1]! << 8;
    if (tail > 2) k1 ^= bytes[i + 2]! << 16;
    h ^= mixK1(k1);
  }
  return fmix(h, len);
}

export function murmur3_32(bytes: Uint8Array, seed = 0): number {
  return murmur3_32_range(bytes, 0, bytes.length, seed);
}

/** Hash of the 8-byte little-endian long whose low and high 32-bit words are `lo` and `hi`. */
export function murmur3_32_long(lo: number, hi: number, seed = 0): number {
  let h = mixH1(seed | 0, mixK1(lo | 0));
  h = mixH1(h, mixK1(hi | 0));
  return fmix(h, 8);
}

/** UTF-8 bytes of one BMP code unit (not a surrogate), packed little-endian. */
function utf8Units(c: number): number {
  if (c < 0x80) return c;
  if (c < 0x800) return (0xc0 | (c >> 6)) | ((0x80 | (c & 0x3f)) << 8);
  return (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
}

/**
 * Hash of the UTF-8 encoding of `s`, encoded on the fly into the 4-byte block accumulator. A lone
 * surrogate is hashed as U+FFFD, which is what `TextEncoder` (and so the data file) stores for it.
 */
export function murmur3_32_utf8(s: string, seed = 0): number {
  let h = seed | 0;
  let acc = 0; // pending bytes of the current block, little-endian
  let bits = 0; // how many bits of acc are filled
  let total = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let units: number;
    let size: number;
    if (c < 0x80) {
      units = c;
      size = 1;
    } else if (c < 0x800) {
      units = utf8Units(c);
      size = 2;
    } else if ((c & 0xf800) !== 0xd800) {
      units = utf8Units(c);
      size = 3;
    } else {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && (next & 0xfc00) === 0xdc00) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        units = (0xf0 | (cp >> 18)) | ((0x80 | ((cp >> 12) & 0x3f)) << 8)
          | ((0x80 | ((cp >> 6) & 0x3f)) << 16) | ((0x80 | (cp & 0x3f)) << 24);
        size = 4;
      } else {
        units = utf8Units(0xfffd);
        size = 3;
      }
    }
    total += size;
    acc |= units << bits;
    bits += size << 3;
    if (bits >= 32) {
      h = mixH1(h, mixK1(acc));
      bits -= 32;
      // Bytes of this code point that did not fit the finished block start the next one.
      acc = bits === 0 ? 0 : units >>> ((size << 3) - bits);
    }
  }
  if (bits > 0) h ^= mixK1(acc);
  return fmix(h, total);
}
