/**
 * Apache Arrow <-> Iceberg: schemas (with `PARQUET:field_id` metadata, so Parquet files carry
 * Iceberg field ids) and rows (record batches to and from the in-memory value form), and flat columns
 * laid end to end (arrow-concat.ts).
 */
export * from './arrow-schema.ts';
export * from './arrow-rows.ts';
export * from './arrow-concat.ts';
