/**
 * The binary form of single values (spec "Appendix D: Single-value serialization", binary table): what
 * manifests store as column lower/upper bounds and partition field summaries. Little-endian fixed
 * widths, UTF-8 strings, big-endian decimals and uuids; reading also takes the 4-byte bounds a column
 * kept from before an int -> long or float -> double promotion.
 */
import { LakehouseError } from '../../../core/errors.ts';
import { primitiveToString, type PrimitiveType, type Value } from '../types.ts';
import { decimalFromBytes, decimalToBytes } from './decimal.ts';
import { bytesToUuid, uuidToBytesInto } from './uuid-hex.ts';
import { asBigint, asBytes, asNumber, asString, wrongValue } from './value-checks.ts';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

function fixedWidth(size: number, write: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  write(new DataView(out.buffer));
  return out;
}

export function toBinary(t: PrimitiveType, v: Value): Uint8Array {
  switch (t.kind) {
    case 'boolean':
      if (typeof v !== 'boolean') wrongValue(t, v, 'a boolean');
      return Uint8Array.of(v ? 1 : 0);
    case 'int':
    case 'date': {
      const n = asNumber(t, v);
      return fixedWidth(4, (d) => d.setInt32(0, n, true));
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const n = asBigint(t, v);
      return fixedWidth(8, (d) => d.setBigInt64(0, n, true));
    }
    case 'float': {
      const n = asNumber(t, v);
      return fixedWidth(4, (d) => d.setFloat32(0, n, true));
    }
    case 'double': {
      const n = asNumber(t, v);
      return fixedWidth(8, (d) => d.setFloat64(0, n, true));
    }
    case 'decimal':
      return decimalToBytes(asBigint(t, v));
    case 'string':
      return utf8Encoder.encode(asString(t, v));
    case 'uuid': {
      const out = new Uint8Array(16);
      if (!uuidToBytesInto(asString(t, v), out)) wrongValue(t, v, 'a string in 8-4-4-4-12 hex form');
      return out;
    }
    case 'fixed':
    case 'binary':
      return asBytes(t, v);
  }
}

function needLength(t: PrimitiveType, b: Uint8Array, ok: boolean, expected: string): void {
  if (!ok) {
    throw new LakehouseError('INVALID_METADATA',
      `Cannot read a ${primitiveToString(t)} from ${b.length} bytes: spec Appendix D stores ${primitiveToString(t)} as ${expected}.`);
  }
}

export function fromBinary(t: PrimitiveType, b: Uint8Array): Value {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (t.kind) {
    case 'boolean':
      needLength(t, b, b.length === 1, 'one byte');
      return b[0] !== 0;
    case 'int':
    case 'date':
      needLength(t, b, b.length === 4, '4 bytes little-endian');
      return view.getInt32(0, true);
    case 'long':
      // A column promoted from int keeps its old 4-byte bounds (Java Conversions does the same).
      if (b.length === 4) return BigInt(view.getInt32(0, true));
      needLength(t, b, b.length === 8, '8 bytes little-endian');
      return view.getBigInt64(0, true);
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      needLength(t, b, b.length === 8, '8 bytes little-endian');
      return view.getBigInt64(0, true);
    case 'float':
      needLength(t, b, b.length === 4, '4 bytes little-endian IEEE 754');
      return view.getFloat32(0, true);
    case 'double':
      // A column promoted from float keeps its old 4-byte bounds.
      if (b.length === 4) return view.getFloat32(0, true);
      needLength(t, b, b.length === 8, '8 bytes little-endian IEEE 754');
      return view.getFloat64(0, true);
    case 'decimal':
      return decimalFromBytes(b);
    case 'string':
      return utf8Decoder.decode(b);
    case 'uuid':
      needLength(t, b, b.length === 16, '16 bytes big-endian');
      return bytesToUuid(b);
    case 'fixed':
    case 'binary':
      return b.slice();
  }
}
