/**
 * Writing data files: Arrow batches -> Parquet files with Iceberg statistics -> DataFile entries, nothing
 * committed (the caller adds the files in a snapshot, so a failed commit never leaves a half-written
 * table). Layers wrap each other, one file each, every one a FileWriter (file-writer.ts), after
 * iceberg-rust `writer/`:
 *
 *   write-data-files.ts     writeDataFiles: validates the options, checks and conforms each batch,
 *                           composes the layers below, deletes the files it wrote when it fails
 *   fanout-writer.ts        routes each row to the writer of its partition (spec/partition-key.ts)
 *   data-file-writer.ts     one partition: stamps its tuple and spec id on every file
 *   rolling-file-writer.ts  starts a new file at write.target-file-size-bytes, by estimated size
 *   parquet-file-writer.ts  one file: buffers batches, collects statistics, encodes + uploads on close
 *   parquet-writer.ts       Arrow -> Parquet bytes (parquet-wasm); column-stats.ts the file metrics
 *   parquet-encode-pool.ts  the encoding on a second thread (parquet-encode.mjs, the same code inline)
 *
 * The ingest hot path: the event buffer keeps one set of growing columns per day x event_type as it
 * fills, and a flush hands the rows over grouped by partition. The fan-out still computes each row's
 * partition from the table's spec, but only where a row's source values differ from the row before, and
 * writes a partition that arrives as one long run as a slice of the batch, so nothing is copied between
 * the buffer and Parquet (a table partitioned otherwise gets its rows copied per partition, as before).
 * Statistics stay per file (the rolling layer decides where files end), collected in one pass over
 * each partition's contiguous rows. Parquet encoding is what is left, half of a flush's CPU: it runs on
 * its own thread, so the next records are read and decoded meanwhile.
 */
export * from './parquet-writer.ts';
export * from './column-stats.ts';
export { plainColumns } from './dictionary-choice.ts';
export type { FileWriter, WrittenFile } from './file-writer.ts';
export { estimateArrowBytes } from './rolling-file-writer.ts';
export { takeData } from './fanout-writer.ts';
export { type DataFileWriterOptions, writeDataFiles } from './write-data-files.ts';
