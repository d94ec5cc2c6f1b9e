/**
 * The proleptic Gregorian calendar over "days from 1970-01-01" and "microseconds from 1970-01-01 UTC",
 * the units Iceberg stores dates and timestamps in (and java.time reckons in): civil date <-> epoch day,
 * month lengths, and ISO-8601 text of days and micros. Both the table format (date and timestamp
 * values, the year/month transforms) and the event decoder (per-event timestamps) reckon with these
 * rules, so they live once, below both.
 *
 * Every function takes and returns plain numbers (bigint only for epoch micros, which exceed 2^53) and
 * allocates nothing except civilFromDays' result and the text: the decoder and the partition
 * transforms call them once per row.
 */

export const MICROS_PER_SECOND = 1_000_000;
/** A bigint, for epoch micros. */
export const MICROS_PER_DAY_N = 86_400_000_000n;

/**
 * Days from 1970-01-01 to a civil date (H. Hinnant, "chrono-compatible low-level date algorithms",
 * days_from_civil). Exact for any integer year; it does not check the date, see isCivilDate.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Days in `month` (1-12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Whether month and day name a real date of `year` (2023-02-29 does not): the check before daysFromCivil. */
export function isCivilDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * Months from 1970-01 of the epoch day `days` (H. Hinnant's civil_from_days), floor semantics before the epoch (1969-12-31 -> -1).
 * The year and month transforms both derive from it; it allocates nothing, for their hot loops.
 */
export function epochMonthFromDays(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  // mp counts months from March; months 10 and 11 (Jan, Feb) belong to the next civil year.
  const year = yoe + era * 400 + (mp >= 10 ? 1 : 0);
  const month0 = mp < 10 ? mp + 2 : mp - 10;
  return (year - 1970) * 12 + month0;
}

/** Civil date of an epoch day, proleptic Gregorian like java.time. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const m = epochMonthFromDays(days);
  const year = 1970 + Math.floor(m / 12);
  const month = m - Math.floor(m / 12) * 12 + 1;
  return { year, month, day: days - daysFromCivil(year, month, 1) + 1 };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** ISO-8601 year as java.time prints it: 4 digits, a sign beyond 9999 or before year 0. */
function isoYear(y: number): string {
  if (y >= 0 && y <= 9999) return pad(y, 4);
  return y > 9999 ? `+${y}` : `-${pad(-y, 4)}`;
}

/** `2017-11-16` for 17486. */
export function daysToIsoDate(days: number): string {
  const c = civilFromDays(days);
  return `${isoYear(c.year)}-${pad(c.month, 2)}-${pad(c.day, 2)}`;
}

/** `22:31:08.000001` for microseconds from midnight: always six fraction digits (Iceberg's JSON form of `time`). */
export function microsToIsoTime(micros: number): string {
  const secs = Math.floor(micros / MICROS_PER_SECOND);
  const frac = micros - secs * MICROS_PER_SECOND;
  return `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(frac, 6)}`;
}

/**
 * `2017-11-16T22:31:08.000001`, plus `+00:00` when `withZone` (Iceberg's JSON form of timestamptz
 * requires that exact offset). Always six fraction digits, so values sort and diff cleanly in text.
 */
export function microsToIso(micros: bigint, withZone: boolean): string {
  let days = micros / MICROS_PER_DAY_N;
  let rem = micros % MICROS_PER_DAY_N;
  if (rem < 0n) {
    days -= 1n;
    rem += MICROS_PER_DAY_N;
  }
  const text = `${daysToIsoDate(Number(days))}T${microsToIsoTime(Number(rem))}`;
  return withZone ? text + '+00:00' : text;
}
