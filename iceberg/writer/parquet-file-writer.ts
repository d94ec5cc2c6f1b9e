import type * as arrow from 'apache-arrow';
import { LakehouseError, errorMessage } from '../../core/errors.ts';
import type { FileIO } from '../io/file-io.ts';
import type { Schema } from '../spec/schema.ts';
import { ColumnStatsCollector, type ColumnMetricsMode } from './column-stats.ts';
import type { FileWriter, WrittenFile } from './file-writer.ts';
import { type ParquetWriteOptions, encodeParquetBytes } from './parquet-writer.ts';

export interface ParquetFileWriterOptions {
  io: FileIO;
  /** The table schema the batches are conformed to; metrics are collected per field id of it. */
  schema: Schema;
  /** Metrics mode per field id (columnMetricsModes). */
  modes: Map<number, ColumnMetricsMode>;
  parquet: ParquetWriteOptions;
}

/** Arrow layout of a conformed batch; batches of one file must share it (Dictionary vs plain Utf8, say). */
function layoutKey(schema: arrow.Schema): string {
  return schema.fields.map((f) => String(f.type)).join('|');
}

/**
 * One Parquet file: holds the batches written to it and collects their metrics as they come, then
 * encodes and uploads the whole file on close. parquet-wasm encodes a file in one call, so the batches
 * stay in memory until then; the rolling layer above bounds how many.
 */
export class ParquetFileWriter implements FileWriter<WrittenFile> {
  private readonly batches: arrow.RecordBatch[] = [];
  private readonly stats: ColumnStatsCollector;
  private schema: arrow.Schema | undefined;
  private layout = '';
  /** Rows written so far. */
  rows = 0;

  constructor(readonly location: string, private readonly opts: ParquetFileWriterOptions) {
    this.stats = new ColumnStatsCollector(opts.schema, opts.modes);
  }

  /** Whether `batch` can go in this file: an empty file takes any layout, a started one only its own. */
  accepts(batch: arrow.RecordBatch): boolean {
    return this.schema === undefined || layoutKey(batch.schema) === this.layout;
  }

  write(batch: arrow.RecordBatch): void {
    if (this.schema === undefined) { this.schema = batch.schema; this.layout = layoutKey(batch.schema); }
    this.batches.push(batch);
    this.stats.add(batch);
    this.rows += batch.numRows;
  }

  /** Encodes and uploads the file; nothing (no empty file) when no row was written. */
  async close(): Promise<WrittenFile[]> {
    if (this.rows === 0) return [];
    const batches = this.batches.splice(0);
    const bytes = await encodeParquetBytes(batches, this.schema!, this.opts.parquet);
    try {
      await this.opts.io.write(this.location, bytes);
    } catch (e) {
      throw new LakehouseError('IO_ERROR', `Writing data file ${this.location} failed: ${errorMessage(e)}.`, { cause: e, retryable: true });
    }
    const s = this.stats.finish(bytes);
    return [{
      filePath: this.location,
      fileFormat: 'PARQUET',
      recordCount: this.rows,
      fileSizeInBytes: bytes.length,
      columnSizes: s.columnSizes,
      valueCounts: s.valueCounts,
      nullValueCounts: s.nullValueCounts,
      nanValueCounts: s.nanValueCounts,
      lowerBounds: s.lowerBounds,
      upperBounds: s.upperBounds,
      splitOffsets: s.splitOffsets,
    }];
  }
}
