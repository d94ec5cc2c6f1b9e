import { LakehouseError } from '../../core/errors.ts';
import type { FileIO, FileInfo, WriteOptions } from '../../iceberg/io/index.ts';

/**
 * Storage as a Map, with the FileIO error codes, for unit tests of code above the FileIO port
 * (manifests, metadata files, the data-file writer). Real storage is tested in the FileIO tests.
 */
export class MemoryIO implements FileIO {
  readonly files = new Map<string, Uint8Array>();
  async read(location: string): Promise<Uint8Array> {
    const b = this.files.get(location);
    if (!b) throw new LakehouseError('NOT_FOUND', `File ${location} does not exist.`);
    return b;
  }
  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    return (await this.read(location)).subarray(offset, offset + length);
  }
  async write(location: string, data: Uint8Array, options?: WriteOptions): Promise<void> {
    if (options?.ifNotExists && this.files.has(location)) throw new LakehouseError('ALREADY_EXISTS', `File ${location} already exists.`);
    this.files.set(location, data.slice());
  }
  async exists(location: string): Promise<boolean> { return this.files.has(location); }
  async size(location: string): Promise<number> { return (await this.read(location)).length; }
  async delete(location: string): Promise<void> { this.files.delete(location); }
  async deleteMany(locations: string[]): Promise<void> { for (const l of locations) this.files.delete(l); }
  async *list(prefix: string): AsyncIterable<FileInfo> {
    for (const [location, b] of this.files) if (location.startsWith(prefix)) yield { location, size: b.length };
  }
  async close(): Promise<void> {}
}
