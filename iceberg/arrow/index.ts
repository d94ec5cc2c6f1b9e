/**
 * Apache Arrow <-> Iceberg: schemas (with `PARQUET:field_id` metadata, so Parquet files carry
 * Iceberg field ids) and rows (record batches to and from the in-memory value form).
 */
export * from './arrow-schema.ts';
export * from './arrow-rows.ts';
