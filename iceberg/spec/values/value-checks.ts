/**
 * Checks that a value has the in-memory form of its type (documented in `../types.ts`), the error a
 * wrong one raises, and the int/long ranges: shared by every file here that reads or writes values,
 * so a bad value fails with the same sentence whichever form it was headed for.
 */
import { LakehouseError } from '../../../core/errors.ts';
import { primitiveToString, type PrimitiveType, type Value } from '../types.ts';

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;
export const LONG_MIN = -(1n << 63n);
export const LONG_MAX = (1n << 63n) - 1n;

/** A value for an error message: bigint with its `n`, bytes by length, long text cut at 80 characters. */
export function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v);
  return String(v);
}

export function wrongValue(t: PrimitiveType, v: unknown, expected: string): never {
  throw new LakehouseError('INVALID_ARGUMENT',
    `Value ${show(v)} is not a valid ${primitiveToString(t)} value: the in-memory form of ${primitiveToString(t)} is ${expected} (see iceberg/spec/types.ts).`);
}

export function asNumber(t: PrimitiveType, v: Value): number {
  if (typeof v !== 'number') wrongValue(t, v, 'a number');
  return v;
}

export function asBigint(t: PrimitiveType, v: Value): bigint {
  if (typeof v !== 'bigint') wrongValue(t, v, 'a bigint');
  return v;
}

export function asBytes(t: PrimitiveType, v: Value): Uint8Array {
  if (!(v instanceof Uint8Array)) wrongValue(t, v, 'a Uint8Array');
  return v;
}

export function asString(t: PrimitiveType, v: Value): string {
  if (typeof v !== 'string') wrongValue(t, v, 'a string');
  return v;
}
