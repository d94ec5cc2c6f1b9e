import { type FileIO, isLocalLocation, resolveFileIO } from '../iceberg/io/index.ts';

/** Property keys that configure a FileIO: two tables whose settings differ here need different FileIOs. */
const STORAGE_KEY = /^(s3|client|gcs|adls)\./;

export interface FileIOCacheOptions {
  /** The catalog's properties: the storage settings of every FileIO unless a call gives others. */
  properties: Record<string, string>;
  env: NodeJS.ProcessEnv;
  /**
   * Used for every location instead (tests, custom stores). It belongs to whoever passed it and is
   * not closed here: the same one may serve several catalogs.
   */
  override?: FileIO;
}

/**
 * The FileIOs a catalog opens: one per storage kind (the location's scheme, `file` for local paths)
 * and distinct storage settings, created on first use and shared by every table that needs the same
 * one, because an S3 client keeps a pool of connections that one process should not multiply per
 * table. They are closed with the catalog.
 */
export class FileIOCache {
  private readonly o: FileIOCacheOptions;
  private readonly ios = new Map<string, FileIO>();

  constructor(options: FileIOCacheOptions) {
    this.o = options;
  }

  /**
   * The FileIO for `location`. `properties` replaces the catalog's when a table comes with its own
   * storage settings (a REST server's table config or vended credentials).
   */
  forLocation(location: string, properties: Record<string, string> = this.o.properties): FileIO {
    if (this.o.override) return this.o.override;
    const kind = isLocalLocation(location) ? 'file' : location.slice(0, location.indexOf(':')).toLowerCase();
    const storage = Object.entries(properties)
      .filter(([k]) => STORAGE_KEY.test(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = `${kind}\n${JSON.stringify(storage)}`;
    let io = this.ios.get(key);
    if (!io) {
      io = resolveFileIO(location, properties, this.o.env);
      this.ios.set(key, io);
    }
    return io;
  }

  /** Closes every FileIO this cache opened; a later `forLocation` opens new ones. */
  async close(): Promise<void> {
    const ios = [...this.ios.values()];
    this.ios.clear();
    for (const io of ios) await io.close();
  }
}
