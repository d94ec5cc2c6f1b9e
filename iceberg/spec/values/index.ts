/**
 * Values of Iceberg primitive types in their in-memory form (see `../types.ts`): the single-value
 * binary form of spec Appendix D, the JSON form of Appendix D, ordering for statistics, bound
 * truncation, decimals and user literals. Named exports, so the front door offers only what callers
 * outside use; the helpers the files here share stay inside iceberg/.
 */
export { toBinary, fromBinary } from './single-value-binary.ts';
export { valueToJson, valueFromJson } from './value-json.ts';
export { compareValues } from './ordering.ts';
export { codePointOffset, truncateLowerBound, truncateUpperBound } from './bounds.ts';
export { parseLiteral } from './literals.ts';
export { formatValue } from './format.ts';
export { decimalBytesInto, decimalToString } from './decimal.ts';
export { uuidToBytesInto, bytesToHex } from './uuid-hex.ts';
export { float32ToString } from './float-text.ts';
// Calendar arithmetic is core's (the event decoder shares it); these stay on the table format's
// front door because its callers print and bucket Iceberg dates and timestamps with them.
export { civilFromDays, daysToIsoDate, epochMonthFromDays, microsToIso, microsToIsoTime } from '../../../core/calendar.ts';
