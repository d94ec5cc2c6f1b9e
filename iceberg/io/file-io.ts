/**
 * The storage port of the table format (the table format declares the small interface it needs;
 * storage adapters implement it, so `iceberg/` itself never touches a disk or an SDK). Paths are full locations as they appear in metadata: `/abs/path`, `file:///abs/path` or
 * `s3://bucket/key`. Implementations live in `iceberg/io/` and are the only files that touch `fs` or S3.
 */
export interface FileInfo {
  location: string;
  size: number;
  /** Milliseconds since epoch, when the store reports it. */
  lastModifiedMs?: number;
}

export interface WriteOptions {
  /** Fail with ALREADY_EXISTS instead of replacing an existing object (If-None-Match on S3). */
  ifNotExists?: boolean;
}

export interface FileIO {
  read(location: string): Promise<Uint8Array>;
  /** Bytes [offset, offset + length) of a file. */
  readRange(location: string, offset: number, length: number): Promise<Uint8Array>;
  write(location: string, data: Uint8Array, options?: WriteOptions): Promise<void>;
  exists(location: string): Promise<boolean>;
  size(location: string): Promise<number>;
  /** Deleting a missing file is not an error. */
  delete(location: string): Promise<void>;
  deleteMany(locations: string[]): Promise<void>;
  /** Every file under a prefix (a "directory"), recursively. */
  list(prefix: string): AsyncIterable<FileInfo>;
  /**
   * Releases what the FileIO holds open (S3: the client's sockets). Its owner calls it once, when no
   * table uses it any more; a FileIO handed to a catalog by the caller stays the caller's to close.
   */
  close(): Promise<void>;
}
