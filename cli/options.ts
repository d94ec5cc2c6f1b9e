import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { parseDuration, parseTime } from '../core/time.ts';

/**
 * Option parsers every command shares. Each returns a commander parser that turns the text into a
 * value or throws a usage error naming the flag, so a bad flag fails before any work starts.
 */

export function positiveInt(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive whole number, got "${v}".`);
    return n;
  };
}

export function port(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${flag} must be a port number 0-65535, got "${v}".`);
    return n;
  };
}

export function fraction(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${flag} must be a fraction between 0 and 1 (e.g. 0.01 for 1 %), got "${v}".`);
    return n;
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `256MiB`, `64MB`, `1GiB`, `1048576` (bytes). */
export function byteSize(flag: string) {
  return (v: string) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
    const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
    const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a size such as 256MiB, 64MB or 1048576 (bytes), got "${v}".`);
    return n;
  };
}

/** `500ms`, `5s`, `1m`, `1h` -> milliseconds (core/time.ts has the rule). */
export function duration(flag: string) {
  return commanderError((v: string) => parseDuration(v, flag));
}

/** Like duration, plus `0` or `off` for 0 (a feature turned off). */
export function durationOrOff(flag: string) {
  const parse = duration(flag);
  return (v: string) => (/^\s*(0|off)\s*$/i.test(v) ? 0 : parse(v));
}

/** Epoch milliseconds, ISO-8601 date or date-time (UTC when no zone) -> epoch milliseconds. */
export function time(flag: string) {
  return commanderError((v: string) => parseTime(v, flag));
}

/**
 * An age (`3d`, `12h`, `90m`) or a point in time (ISO-8601, epoch ms), for flags such as `--older-than`
 * where both read naturally.
 */
export function ageOrTime(flag: string) {
  return commanderError((v: string): { kind: 'age' | 'time'; ms: number } => {
    if (/^\s*\d+(?:\.\d+)?\s*(ms|s|m|h|d)\s*$/.test(v)) return { kind: 'age', ms: parseDuration(v, flag) };
    if (/^\s*\d{4}-\d{2}-\d{2}/.test(v) || /^\s*\d{10,}\s*$/.test(v)) return { kind: 'time', ms: parseTime(v, flag) };
    throw new LakehouseError('INVALID_ARGUMENT', `${flag} must be an age such as 3d, 12h or 90m, or a time such as 2026-11-01T00:00:00Z, got "${v}".`);
  });
}

/** Our sentence as commander's usage error, so a bad flag exits 2 with the usage hint. */
function commanderError<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (e) {
      throw new InvalidArgumentError(errorMessage(e));
    }
  };
}

/** `file:PATH` (relative or absolute), `file:///abs`, `s3://...` or a plain path -> a FileSource location. */
export function fileSourceLocation(text: string): string {
  if (text.startsWith('file://')) return fileURLToPath(text);
  if (text.startsWith('file:')) return path.resolve(text.slice('file:'.length));
  if (/^s3[an]?:\/\//.test(text)) return text;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//.test(text)) {
    throw new LakehouseError('INVALID_ARGUMENT', `--source ${text}: supported are file:PATH, file:///abs/path, s3://bucket/key and kafka.`);
  }
  return path.resolve(text);
}

/** Repeatable flags: each occurrence is appended. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--property key=value` items (repeatable) as one object; a later key wins. */
export function parseProperties(items: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new LakehouseError('INVALID_ARGUMENT', `--property "${item}" is not key=value (e.g. --property write.target-file-size-bytes=134217728).`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** A snapshot id: a whole number (64-bit, may be negative), kept exact as bigint. */
export function snapshotId(flag: string) {
  return (v: string) => {
    if (!/^\s*-?\d+\s*$/.test(v)) throw new InvalidArgumentError(`${flag} must be a snapshot id (a whole number, see \`lakehouse tables snapshots <table>\`), got "${v}".`);
    return BigInt(v.trim());
  };
}
