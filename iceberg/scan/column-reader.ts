import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { arrowFieldId, icebergToArrowSchema } from '../arrow/arrow-schema.ts';
import { LakehouseError, errorMessage } from '../../core/errors.ts';
import type { FileIO } from '../io/file-io.ts';
import { Schema } from '../spec/schema.ts';
import { isPrimitive } from '../spec/types.ts';
import { projectBatch } from './parquet-reader.ts';

/**
 * A few top-level columns of one Parquet data file, fetched with ranged reads: the footer, then only
 * those columns' chunks, so reading one id column of a wide file moves a fraction of its bytes (from
 * S3 as from a disk). parquet-wasm's async reader does the decoding (every codec the writer has, zstd
 * included, which hyparquet cannot decompress); it asks for bytes through a Blob-shaped view of
 * FileIO.readRange (it calls only `size`, `slice` and `arrayBuffer`). Columns are matched by field id
 * and converted as readParquetBytes does; a column the file lacks reads as nulls (or fails when required).
 */

/** Rows per decoded batch: big enough to amortize the per-batch IPC copy, small enough to stream. */
const COLUMN_BATCH_ROWS = 65_536;

interface BlobView {
  readonly size: number;
  slice(start?: number, end?: number): BlobView;
  arrayBuffer(): Promise<ArrayBuffer>;
}

function rangeBlob(io: FileIO, location: string, start: number, end: number): BlobView {
  return {
    size: end - start,
    slice(a = 0, b = end - start) {
      const from = start + Math.max(0, a);
      return rangeBlob(io, location, from, Math.max(from, Math.min(end, start + b)));
    },
    async arrayBuffer() {
      if (end <= start) return new ArrayBuffer(0);
      const u = await io.readRange(location, start, end - start);
      return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength ? u.buffer as ArrayBuffer : u.slice().buffer as ArrayBuffer;
    },
  };
}

/**
 * Yields the rows of `location` (of `sizeInBytes` bytes) as batches shaped like `schema.select(fieldIds)`,
 * in file order. Only top-level primitive columns can be picked.
 */
export async function* readDataFileColumns(io: FileIO, location: string, sizeInBytes: number, schema: Schema, fieldIds: number[]): AsyncGenerator<arrow.RecordBatch> {
  const fields = fieldIds.map((id) => {
    const f = schema.fields.find((x) => x.id === id);
    if (!f || !isPrimitive(f.type)) throw new LakehouseError('INVALID_ARGUMENT', `Field id ${id} is not a top-level primitive column of the schema; readDataFileColumns reads only those.`);
    return f;
  });
  const projected = new Schema(fields);
  const target = icebergToArrowSchema(projected);
  const fail = (e: unknown) => new LakehouseError('IO_ERROR', `Reading columns ${fields.map((f) => f.name).join(', ')} of ${location} with parquet-wasm failed: ${errorMessage(e)}.`, { cause: e });
  let file: pw.ParquetFile;
  try {
    file = await pw.ParquetFile.fromFile(rangeBlob(io, location, 0, sizeInBytes) as unknown as Blob);
  } catch (e) {
    throw fail(e);
  }
  try {
    const fileSchema = arrow.tableFromIPC(file.schema().intoIPCStream()).schema;
    const names = fields.map((f) => fileSchema.fields.find((ff) => arrowFieldId(ff) === f.id)?.name).filter((n): n is string => n !== undefined);
    // No column at all would leave no row count to give the null columns; no table of ours has such files.
    if (names.length === 0) throw new LakehouseError('SCHEMA_MISMATCH', `${location} has none of the columns ${fields.map((f) => `${f.name} (id ${f.id})`).join(', ')}.`);
    let stream: ReadableStream<pw.RecordBatch>;
    try {
      stream = await file.stream({ columns: names, batchSize: COLUMN_BATCH_ROWS });
    } catch (e) {
      throw fail(e);
    }
    const reader = stream.getReader();
    try {
      for (;;) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (e) {
          throw fail(e);
        }
        if (next.done) break;
        const decoded = arrow.tableFromIPC(next.value.intoIPCStream());
        for (const b of decoded.batches) yield projectBatch(b, projected, target);
      }
    } finally {
      reader.releaseLock();
    }
  } finally {
    file.free();
  }
}
