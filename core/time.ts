import { LakehouseError } from './errors.ts';

/**
 * Times and durations as people type them (flags, config): one rule for every command, so `--as-of`,
 * `--older-than` and `--from` accept the same text.
 */

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HAS_ZONE = /([zZ]|[+-]\d{2}:?\d{2})$/;

/**
 * Milliseconds since the epoch from epoch milliseconds (`1767225600000`), an ISO-8601 date
 * (`2026-11-01`, midnight UTC) or date-time (`2026-11-01T10:00:00Z`). A date-time without a zone is
 * UTC, never the machine's zone: windows, snapshots and partitions are all UTC, and a command must not
 * mean another instant on a laptop in another zone.
 */
export function parseTime(text: string, what = 'time'): number {
  const s = text.trim();
  let ms = NaN;
  if (/^\d+$/.test(s)) ms = Number(s);
  else if (/^\d{4}-\d{2}-\d{2}/.test(s)) ms = Date.parse(DATE_ONLY.test(s) ? `${s}T00:00:00Z` : HAS_ZONE.test(s) ? s : `${s}Z`);
  if (!Number.isSafeInteger(ms)) {
    throw new LakehouseError('INVALID_ARGUMENT', `${what} must be an ISO-8601 date or time such as 2026-11-01 or 2026-11-01T10:00:00Z, or epoch milliseconds, got "${text}".`);
  }
  return ms;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `500ms`, `5s`, `10m`, `1h`, `3d` -> milliseconds (positive). A unit is required so that "5" cannot
 * mean two things.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  const n = m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new LakehouseError('INVALID_ARGUMENT', `${what} must be a duration with a unit such as 5s, 500ms or 1m, got "${text}".`);
  }
  return n;
}
