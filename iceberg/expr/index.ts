/**
 * Row filters: unbound and bound expressions, the text parser (`event_type = 'click' AND ...`),
 * evaluators over rows, partitions and column statistics, and projection of a row filter onto
 * partition values (inclusive and strict, spec "Scan Planning").
 */
export * from './expressions.ts';
export * from './expression-parser.ts';
export * from './evaluators.ts';
export * from './projection.ts';
