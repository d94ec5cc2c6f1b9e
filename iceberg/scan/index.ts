/** Reading tables: scan planning (snapshot, pruning), reading rows, and what changed between snapshots. */
export * from './table-scan.ts';
export * from './table-reader.ts';
export * from './parquet-reader.ts';
export * from './snapshot-changes.ts';
export * from './column-reader.ts';
