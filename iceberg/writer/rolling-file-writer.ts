import * as arrow from 'apache-arrow';
import type { FileWriter, WrittenFile } from './file-writer.ts';
import type { ParquetFileWriter } from './parquet-file-writer.ts';

/**
 * Bytes the rows of `data` occupy in Arrow, counting only the ranges they use (a slice of a big batch
 * counts its rows, not the whole buffers as Data.byteLength does).
 */
export function estimateArrowBytes(data: arrow.Data): number {
  const n = data.length;
  const validity = data.nullCount > 0 ? Math.ceil(n / 8) : 0;
  const t = data.type;
  if (arrow.DataType.isStruct(t)) return validity + data.children.reduce((s, c) => s + estimateArrowBytes(c), 0);
  if (data.valueOffsets && n > 0) {
    const o = data.valueOffsets as Int32Array | BigInt64Array;
    const from = Number(o[0]!);
    const to = Number(o[n]!);
    const offsets = (n + 1) * o.BYTES_PER_ELEMENT;
    if (data.children.length > 0) {
      const child = data.children[0]!;
      return validity + offsets + (child.length > 0 ? estimateArrowBytes(child) * ((to - from) / child.length) : 0);
    }
    return validity + offsets + (to - from);
  }
  if (arrow.DataType.isBool(t)) return validity + Math.ceil(n / 8);
  const values = data.values as ArrayLike<unknown> & { BYTES_PER_ELEMENT?: number } | undefined;
  const width = arrow.DataType.isFixedSizeBinary(t) ? t.byteWidth : arrow.DataType.isDecimal(t) ? 16 : (values?.BYTES_PER_ELEMENT ?? 0);
  // A dictionary's values are shared by every batch that uses it; only the indices count per row.
  return validity + n * width;
}

/**
 * Encoded-to-Arrow size ratio learned from the files written so far, shared by every partition of one
 * write: parquet-wasm encodes a whole file at once, so a file's size is known only after it is written.
 */
export class SizeEstimator {
  private arrow = 0;
  private encoded = 0;

  observe(arrowBytes: number, encodedBytes: number): void {
    this.arrow += arrowBytes;
    this.encoded += encodedBytes;
  }

  /** 1.0 before the first file: the first file errs small (Parquet is usually 3-10x smaller than Arrow). */
  get ratio(): number {
    return this.arrow > 0 ? this.encoded / this.arrow : 1;
  }
}

/**
 * Starts a new file when the current one reaches the target size (`write.target-file-size-bytes`).
 * The encoded size of the open file is estimated as (Arrow bytes written to it) x (the estimator's
 * ratio), so later files land near the target. A batch is split across files where the estimate says
 * the current one is full; a batch of another Arrow layout also starts a new file. Memory per open
 * partition is bounded by target / ratio, since a file's batches are held until it is written.
 */
export class RollingFileWriter implements FileWriter<WrittenFile> {
  private current: ParquetFileWriter | undefined;
  /** Estimated Arrow bytes of the rows in `current`: what the estimator learns its ratio from. */
  private currentBytes = 0;
  private readonly written: WrittenFile[] = [];

  constructor(private readonly newFile: () => ParquetFileWriter, private readonly targetBytes: number, private readonly size: SizeEstimator) {}

  async write(batch: arrow.RecordBatch): Promise<void> {
    const perRow = batch.numRows > 0 ? estimateArrowBytes(batch.data) / batch.numRows : 0;
    let from = 0;
    while (from < batch.numRows) {
      if (this.current && !this.current.accepts(batch)) await this.roll();
      this.current ??= this.newFile();
      const room = this.targetBytes / this.size.ratio - this.currentBytes;
      // An empty file takes at least one row, so even a tiny target makes progress.
      let rows = perRow > 0 ? Math.floor(room / perRow) : batch.numRows - from;
      if (rows <= 0 && this.current.rows === 0) rows = 1;
      if (rows <= 0) { await this.roll(); continue; }
      const to = Math.min(batch.numRows, from + rows);
      this.current.write(from === 0 && to === batch.numRows ? batch : batch.slice(from, to));
      this.currentBytes += perRow * (to - from);
      from = to;
      if (this.currentBytes * this.size.ratio >= this.targetBytes) await this.roll();
    }
  }

  private async roll(): Promise<void> {
    const f = this.current;
    const arrowBytes = this.currentBytes;
    this.current = undefined;
    this.currentBytes = 0;
    if (!f) return;
    for (const w of await f.close()) {
      this.size.observe(arrowBytes, w.fileSizeInBytes);
      this.written.push(w);
    }
  }

  async close(): Promise<WrittenFile[]> {
    await this.roll();
    return this.written;
  }
}
