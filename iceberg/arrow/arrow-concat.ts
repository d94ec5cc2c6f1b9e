import * as arrow from 'apache-arrow';
import { LakehouseError } from '../../core/errors.ts';

/**
 * Flat Arrow columns (no children: Utf8/Binary with 32-bit offsets, booleans, fixed-width numbers and
 * timestamps) laid end to end into one, with a copy of each part's buffers (TypedArray.set per part,
 * not per value). A writer that fills one set of columns per partition hands them over as one batch
 * this way, rows grouped by partition. Parts must share `type` and start at offset 0 (not slices).
 */
export function concatFlatData(type: arrow.DataType, parts: arrow.Data[]): arrow.Data {
  let total = 0;
  let nulls = 0;
  for (const p of parts) {
    if (p.offset !== 0 || p.children.length > 0) throw new LakehouseError('INTERNAL', 'concatFlatData takes unsliced flat columns only.');
    total += p.length;
    nulls += p.nullCount;
  }
  let nullBitmap: Uint8Array | undefined;
  if (nulls > 0) {
    nullBitmap = new Uint8Array((total + 7) >> 3);
    let at = 0;
    for (const p of parts) {
      if (p.nullCount === 0) setBits(nullBitmap, at, p.length);
      else copyBits(nullBitmap, at, p.nullBitmap!, p.length);
      at += p.length;
    }
  }
  const base = { type, length: total, nullCount: nulls, nullBitmap };
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isBinary(type)) {
    const offsets = new Int32Array(total + 1);
    let bytes = 0;
    for (const p of parts) bytes += (p.valueOffsets as Int32Array)[p.length]! - (p.valueOffsets as Int32Array)[0]!;
    const data = new Uint8Array(bytes);
    let row = 0;
    let at = 0;
    for (const p of parts) {
      const o = p.valueOffsets as Int32Array;
      const first = o[0]!;
      const shift = at - first;
      for (let i = 1; i <= p.length; i++) offsets[row + i] = o[i]! + shift;
      const end = o[p.length]!;
      data.set((p.values as Uint8Array).subarray(first, end), at);
      at += end - first;
      row += p.length;
    }
    return arrow.makeData({ ...base, type: type as arrow.Utf8, valueOffsets: offsets, data });
  }
  if (arrow.DataType.isBool(type)) {
    const data = new Uint8Array((total + 7) >> 3);
    let at = 0;
    for (const p of parts) { copyBits(data, at, p.values as Uint8Array, p.length); at += p.length; }
    return arrow.makeData({ ...base, type: type as arrow.Bool, data });
  }
  const first = parts[0]?.values as Typed | undefined;
  if (first === undefined || arrow.DataType.isDictionary(type) || type.children?.length > 0) {
    throw new LakehouseError('INTERNAL', `concatFlatData cannot join ${String(type)} columns.`);
  }
  const stride = arrow.DataType.isFixedSizeBinary(type) ? type.byteWidth : arrow.DataType.isDecimal(type) ? 4 : 1;
  const values = new (first.constructor as new (n: number) => Typed)(total * stride);
  let at = 0;
  for (const p of parts) {
    values.set((p.values as Typed).subarray(0, p.length * stride) as never, at);
    at += p.length * stride;
  }
  return arrow.makeData({ ...base, type: type as arrow.Int32, data: values as Int32Array });
}

type Typed = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

function setBits(dst: Uint8Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) dst[(at + i) >> 3]! |= 1 << ((at + i) & 7);
}

function copyBits(dst: Uint8Array, at: number, src: Uint8Array, n: number): void {
  if ((at & 7) === 0) {
    // Byte-aligned: whole bytes, then the bits of the last one (the rest of dst is still zero).
    const whole = n >> 3;
    dst.set(src.subarray(0, whole), at >> 3);
    for (let i = whole << 3; i < n; i++) if ((src[i >> 3]! & (1 << (i & 7))) !== 0) dst[(at + i) >> 3]! |= 1 << ((at + i) & 7);
    return;
  }
  for (let i = 0; i < n; i++) if ((src[i >> 3]! & (1 << (i & 7))) !== 0) dst[(at + i) >> 3]! |= 1 << ((at + i) & 7);
}
