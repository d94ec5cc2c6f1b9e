/** Writing data files: Arrow batches -> Parquet files with Iceberg statistics, rolled and fanned out. */
export * from './parquet-writer.ts';
export * from './column-stats.ts';
export * from './data-file-writer.ts';
