import type * as arrow from 'apache-arrow';
import { DataFileContent, type DataFile } from '../spec/manifest/manifest-types.ts';
import type { Value } from '../spec/types.ts';
import type { FileWriter, WrittenFile } from './file-writer.ts';

/**
 * The data files of one partition: every file the wrapped writer produces gets this partition's
 * tuple and spec id, and the data content type (iceberg-rust `DataFileWriter`).
 */
export class DataFileWriter implements FileWriter {
  constructor(private readonly inner: FileWriter<WrittenFile>, readonly partition: Value[], readonly specId: number) {}

  write(batch: arrow.RecordBatch): void | Promise<void> {
    return this.inner.write(batch);
  }

  async close(): Promise<DataFile[]> {
    return (await this.inner.close()).map((f) => ({ content: DataFileContent.DATA, ...f, partition: this.partition, specId: this.specId }));
  }
}
