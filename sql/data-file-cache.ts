import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { mapLimit } from '../iceberg/index.ts';
import { type FileIO, isLocalLocation, toLocalPath } from '../iceberg/io/index.ts';

/**
 * Local paths DuckDB can read for the data files the Iceberg planner chose. On S3 it
 * must work without any DuckDB extension download at run time (httpfs is not installable offline).
 *
 * Local warehouses are read in place. Object-store files are fetched once through the table's own FileIO
 * (the same credentials and endpoint the writer used) into a cache directory and read from there. Iceberg
 * data files are immutable - a path never gets new content - so a cached copy never goes stale, and an
 * incremental run downloads only the files committed since the last one. DuckDB's httpfs extension would
 * avoid the copy, but it is not bundled with @duckdb/node-api and cannot be installed offline; the cache
 * works everywhere and makes repeated scans of the same files local-disk fast. Files the table no longer
 * references stay in the cache until it is deleted (`rm -rf` is safe at any time between runs).
 */
export class DataFileCache {
  readonly dir: string;
  private readonly io: FileIO;

  constructor(io: FileIO, dir = defaultCacheDir()) {
    this.io = io;
    this.dir = dir;
  }

  /** Local paths for the given table file locations, in the same order. */
  async localPaths(locations: readonly string[]): Promise<string[]> {
    return mapLimit([...locations], 8, (loc) => this.localPath(loc));
  }

  async localPath(location: string): Promise<string> {
    // As the local FileIO reads it: locations are used as written, never percent-decoded.
    if (isLocalLocation(location)) return toLocalPath(location);
    const hash = createHash('sha256').update(location).digest('hex').slice(0, 32);
    const target = path.join(this.dir, hash.slice(0, 2), `${hash}${path.extname(location) || '.parquet'}`);
    if (await exists(target)) return target;
    await mkdir(path.dirname(target), { recursive: true });
    const bytes = await this.io.read(location);
    // Write then rename, so a crash or a concurrent run never leaves a half file under the final name.
    const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, target);
    return target;
  }
}

/** `$LAKEHOUSE_CACHE/data-files`, default `~/.cache/lakehouse/data-files`. */
export function defaultCacheDir(): string {
  return path.join(process.env.LAKEHOUSE_CACHE ?? path.join(homedir(), '.cache', 'lakehouse'), 'data-files');
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
