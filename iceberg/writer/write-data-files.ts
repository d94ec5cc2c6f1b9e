import { randomUUID } from 'node:crypto';
import type * as arrow from 'apache-arrow';
import { checkBatchSchema, conformBatch } from '../arrow/arrow-schema.ts';
import { LakehouseError } from '../../core/errors.ts';
import type { FileIO } from '../io/file-io.ts';
import type { DataFile } from '../spec/manifest/manifest-types.ts';
import { type PartitionSpec, isUnpartitioned } from '../spec/partition-spec.ts';
import { partitionPath } from '../spec/partition-transforms.ts';
import type { Schema } from '../spec/schema.ts';
import { WRITE_TARGET_FILE_SIZE_BYTES, WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT, intProperty } from '../spec/table-properties.ts';
import type { Value } from '../spec/types.ts';
import { columnMetricsModes } from './column-stats.ts';
import { DataFileWriter } from './data-file-writer.ts';
import { FanoutWriter } from './fanout-writer.ts';
import { ParquetFileWriter, type ParquetFileWriterOptions } from './parquet-file-writer.ts';
import {
  PARQUET_ROW_GROUP_LIMIT, PARQUET_ROW_GROUP_LIMIT_DEFAULT, PARQUET_ROW_GROUP_SIZE_BYTES, PARQUET_ROW_GROUP_SIZE_BYTES_DEFAULT,
  parquetCompression,
} from './parquet-writer.ts';
import { RollingFileWriter, SizeEstimator } from './rolling-file-writer.ts';

export interface DataFileWriterOptions {
  io: FileIO;
  schema: Schema;
  spec: PartitionSpec;
  /** Table root; files go under `${tableLocation}/data/`. */
  tableLocation: string;
  /** Table properties: target file size, compression codec, metrics modes, row-group limit. */
  properties?: Record<string, string>;
  /** First part of every file name, e.g. a uuid per write; a random uuid when absent. */
  fileNamePrefix?: string;
}

/** Settings every file of one write shares, each validated before any batch is read: a bad property fails here, by name, not inside a flush. */
function resolveOptions(opts: DataFileWriterOptions): { targetBytes: number; file: ParquetFileWriterOptions } {
  const props = opts.properties ?? {};
  if (!opts.tableLocation) throw new LakehouseError('INVALID_ARGUMENT', 'writeDataFiles needs a tableLocation (the table root URI).');
  const targetBytes = intProperty(props, WRITE_TARGET_FILE_SIZE_BYTES, WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT);
  if (!(targetBytes > 0)) {
    throw new LakehouseError('INVALID_CONFIG', `Table property ${WRITE_TARGET_FILE_SIZE_BYTES}="${props[WRITE_TARGET_FILE_SIZE_BYTES]}" must be a positive number of bytes.`);
  }
  const rowGroupSize = intProperty(props, PARQUET_ROW_GROUP_LIMIT, PARQUET_ROW_GROUP_LIMIT_DEFAULT);
  if (!(rowGroupSize > 0)) {
    throw new LakehouseError('INVALID_CONFIG', `Table property ${PARQUET_ROW_GROUP_LIMIT}="${props[PARQUET_ROW_GROUP_LIMIT]}" must be a positive number of rows.`);
  }
  const rowGroupBytes = intProperty(props, PARQUET_ROW_GROUP_SIZE_BYTES, PARQUET_ROW_GROUP_SIZE_BYTES_DEFAULT);
  if (!(rowGroupBytes > 0)) {
    throw new LakehouseError('INVALID_CONFIG', `Table property ${PARQUET_ROW_GROUP_SIZE_BYTES}="${props[PARQUET_ROW_GROUP_SIZE_BYTES]}" must be a positive number of bytes.`);
  }
  const parquet = { compression: parquetCompression(props), rowGroupSize, rowGroupBytes };
  return { targetBytes, file: { io: opts.io, schema: opts.schema, modes: columnMetricsModes(opts.schema, props), parquet } };
}

/**
 * Writes the batches as Parquet data files of the table (schema checked with checkBatchSchema, rows
 * fanned out by partition, files rolled at write.target-file-size-bytes) and returns their DataFile
 * entries, nothing committed. Paths: `${tableLocation}/data/${partitionPath}/${prefix}-${n}.parquet`,
 * no partition directory when the spec is unpartitioned; n counts the files of this call. On failure,
 * files already written by this call are deleted (nothing references them yet).
 */
export async function writeDataFiles(batches: arrow.RecordBatch[] | AsyncIterable<arrow.RecordBatch>, opts: DataFileWriterOptions): Promise<DataFile[]> {
  const { targetBytes, file } = resolveOptions(opts);
  const { schema, spec } = opts;
  const location = opts.tableLocation.replace(/\/+$/, '');
  const prefix = opts.fileNamePrefix ?? randomUUID();
  const size = new SizeEstimator();
  /** Every location a file was written to, for clean-up when a later step fails. */
  const locations: string[] = [];
  const fanout = new FanoutWriter(schema, spec, (partition: Value[]) => {
    const dir = isUnpartitioned(spec) ? `${location}/data` : `${location}/data/${partitionPath(spec, schema, partition)}`;
    const newFile = () => {
      const path = `${dir}/${prefix}-${String(locations.length).padStart(5, '0')}.parquet`;
      locations.push(path);
      return new ParquetFileWriter(path, file);
    };
    return new DataFileWriter(new RollingFileWriter(newFile, targetBytes, size), partition, spec.specId);
  });
  try {
    for await (const batch of batches) {
      checkBatchSchema(schema, batch);
      if (batch.numRows > 0) await fanout.write(conformBatch(schema, batch));
    }
    return await fanout.close();
  } catch (e) {
    await opts.io.deleteMany(locations).catch(() => {});
    throw e;
  }
}
