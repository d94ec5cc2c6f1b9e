/**
 * Apache Iceberg in TypeScript: the front door of the table format. Code outside `iceberg/` imports
 * this file and `iceberg/io/index.ts` (storage) only; the rooms behind it are:
 *
 * - `spec/`   the data model: types, schema, partitioning and transforms, sort orders, table metadata,
 *             updates and requirements, manifests (Avro stays private), values of primitive types
 * - `expr/`   row filters: expressions, parser, evaluators, projection onto partitions
 * - `arrow/`  Arrow <-> Iceberg schemas and rows
 * - `writer/` Arrow batches -> Parquet data files with statistics
 * - `scan/`   scan planning and reading rows
 * - `ops/`    snapshot-producing operations and the metadata builder
 * - `io/`     FileIO: local files and S3 (its own front door, `iceberg/io/index.ts`)
 *
 * `table.ts` ties them together for one table; `catalog-port.ts` is what a catalog implements.
 */
export * from './spec/index.ts';
export * from './expr/index.ts';
export * from './arrow/index.ts';
export * from './writer/index.ts';
export * from './scan/index.ts';
export * from './ops/index.ts';
export * from './catalog-port.ts';
export { Table, type WriteOptions as TableWriteOptions } from './table.ts';
export type { FileIO, FileInfo, WriteOptions as FileWriteOptions } from './io/file-io.ts';
export * from './errors.ts';
