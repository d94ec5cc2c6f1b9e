/**
 * Values of Iceberg primitive types in their in-memory form (see `../types.ts`): the single-value
 * binary form of spec Appendix D, the JSON form of Appendix D, ordering for statistics, bound
 * truncation, decimals and user literals.
 */
export * from './conversions.ts';
