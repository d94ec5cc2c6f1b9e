import type * as arrow from 'apache-arrow';
import type { DataFile } from '../spec/manifest/manifest-types.ts';

/**
 * What every layer of the data-file writer is (iceberg-rust `FileWriter` / `IcebergWriter`): it takes
 * batches already in the table's Arrow layout (conformBatch: table column order, field ids) and, when
 * closed, returns the files it wrote. A layer owns the layer it wraps and closes it in its own close.
 *
 * `F` is what a closed layer reports: a finished DataFile from the partition layer up, a WrittenFile
 * (everything but the partition) below it. `write` may finish synchronously where a layer only buffers
 * (one Parquet file), so the layer above does not pay a promise for each slice it hands down.
 */
export interface FileWriter<F = DataFile> {
  write(batch: arrow.RecordBatch): void | Promise<void>;
  close(): Promise<F[]>;
}

/** A written data file before its partition is known: the Parquet layer's result (iceberg-rust `DataFileBuilder`). */
export type WrittenFile = Omit<DataFile, 'content' | 'partition' | 'specId'>;
