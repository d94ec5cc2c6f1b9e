import type { Value } from './types.ts';
import { bytesToHex } from './values/index.ts';

/**
 * A partition's identity as one string, for Map and Set keys: the writer's fan-out (one writer per
 * partition) and a snapshot's `changed-partition-count` (files of several specs counted together).
 * Two keys are equal exactly when the spec ids are equal and the tuples hold the same values of the
 * same JS types, so a key never merges partitions a reader tells apart:
 *
 *   - 1 (int, date, day ...) and 1n (long, timestamp, decimal unscaled) differ, as do 1 and "1";
 *   - null differs from the string "null", NaN from null, -0.0 from 0.0 (Java compares partition
 *     doubles as Double.compareTo does: -0.0 apart from 0.0, NaN equal to itself);
 *   - bigints (longs, decimals) and numbers are written exactly: every distinct double has its own
 *     shortest decimal text in JS, every bigint its own digits;
 *   - byte arrays (binary, fixed, uuid) compare by content, never by reference.
 *
 * Layout: the spec id, then per value a comma and a one-letter type tag; a string carries its length
 * before its text, so a comma (or anything else) inside a string cannot be read as a boundary. No
 * other component's text contains a comma, so every key reads back to one (spec id, tuple) only.
 */
export type PartitionKey = string & { readonly partitionKeyBrand: unique symbol };

export function partitionKey(specId: number, values: readonly Value[]): PartitionKey {
  let key = String(specId);
  for (const v of values) {
    if (v === null) { key += ',n'; continue; }
    switch (typeof v) {
      case 'string': key += ',s' + v.length + ':' + v; break;
      case 'number': key += Object.is(v, -0) ? ',d-0' : ',d' + v; break;
      case 'bigint': key += ',i' + v; break;
      case 'boolean': key += v ? ',t' : ',f'; break;
      default: key += ',x' + bytesToHex(v);
    }
  }
  return key as PartitionKey;
}
