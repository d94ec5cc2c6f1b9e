import { randomUUID } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { LakehouseError, errorMessage } from '../../core/errors.ts';
import type { FileInfo, FileIO, WriteOptions } from './file-io.ts';

/**
 * FileIO on the local file system, and the only file in the project that imports `fs`.
 *
 * Locations may be `/abs/path`, `file:///abs/path` or `file:/abs/path` (Hadoop's form, which Java
 * writes). PyIceberg's SqlCatalog stores whatever warehouse string it was given, so both forms appear
 * in catalogs we share with it. Percent-escapes are not decoded: PyIceberg's PyArrowFileIO passes the
 * path of a `file:` URI through verbatim, and we must resolve the same string to the same file.
 * Relative paths are resolved against the working directory.
 */
export class LocalFileIO implements FileIO {
  /** Parallel unlinks in `deleteMany`; enough to hide syscall latency without exhausting descriptors. */
  private static readonly DELETE_CONCURRENCY = 16;

  async read(location: string): Promise<Uint8Array> {
    const p = toLocalPath(location);
    try {
      const buf = await fsp.readFile(p);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      throw ioError('read', location, e);
    }
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(location, offset, length);
    const p = toLocalPath(location);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(p, 'r');
      const out = new Uint8Array(length);
      let done = 0;
      // A single read may return fewer bytes than asked (pipes, network file systems); loop until full.
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < length) {
        throw new LakehouseError(
          'IO_ERROR',
          `Cannot read bytes [${offset}, ${offset + length}) of ${location}: the file ends at byte ${offset + done}. ` +
            'The file is shorter than its metadata says; it may have been truncated or replaced.',
          { context: { location, offset, length } },
        );
      }
      return out;
    } catch (e) {
      throw ioError('read', location, e);
    } finally {
      await fh?.close();
    }
  }

  /**
   * Writes to a temporary file in the target directory and then renames it into place, so a reader
   * sees either nothing or the whole file, never a prefix. With `ifNotExists` the temp file is
   * hard-linked to the target instead: `link` fails with EEXIST when the target exists, so of two
   * racing writers exactly one wins (the local equivalent of S3 `If-None-Match: *`).
   */
  async write(location: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const target = toLocalPath(location);
    const dir = path.dirname(target);
    const tmp = path.join(dir, tempName(path.basename(target)));
    try {
      await fsp.mkdir(dir, { recursive: true });
      const fh = await fsp.open(tmp, 'wx');
      try {
        await fh.writeFile(data);
        // fsync before rename: without it a crash can leave the new name pointing at an empty file,
        // and a metadata file that a catalog already references must never be empty.
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (options.ifNotExists) await this.linkExclusive(tmp, target, location);
      else await fsp.rename(tmp, target);
    } catch (e) {
      throw ioError('write', location, e);
    } finally {
      // After a rename the temp name is gone (ENOENT is ignored); after link or failure it remains.
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  private async linkExclusive(tmp: string, target: string, location: string): Promise<void> {
    try {
      await fsp.link(tmp, target);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST') throw alreadyExists(location, e);
      // Some file systems (FAT, some FUSE and SMB mounts) have no hard links. An exclusive copy is
      // still exclusive (one creator wins) but a reader could see a partial file while it copies.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
        try {
          await fsp.copyFile(tmp, target, fsConstants.COPYFILE_EXCL);
          return;
        } catch (e2) {
          if (errnoCode(e2) === 'EEXIST') throw alreadyExists(location, e2);
          throw e2;
        }
      }
      throw e;
    }
  }

  async exists(location: string): Promise<boolean> {
    try {
      await fsp.stat(toLocalPath(location));
      return true;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return false;
      throw ioError('stat', location, e);
    }
  }

  async size(location: string): Promise<number> {
    try {
      return (await fsp.stat(toLocalPath(location))).size;
    } catch (e) {
      throw ioError('stat', location, e);
    }
  }

  async delete(location: string): Promise<void> {
    try {
      await fsp.unlink(toLocalPath(location));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw ioError('delete', location, e);
    }
  }

  async deleteMany(locations: string[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < locations.length) await this.delete(locations[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(LocalFileIO.DELETE_CONCURRENCY, locations.length) }, worker));
  }

  /**
   * Every file under a directory, recursively, named in the same form as the prefix (a `file:` prefix
   * yields `file:` locations). A missing directory lists as empty, like an S3 prefix with no objects.
   * Temporary files of writes in progress are skipped: they are not files yet, just as S3 does not
   * list unfinished multipart uploads.
   */
  async *list(prefix: string): AsyncIterable<FileInfo> {
    const root = toLocalPath(prefix);
    const rootLocation = prefix.replace(/\/+$/, '');
    const stack: Array<{ dir: string; location: string }> = [{ dir: root, location: rootLocation }];
    while (stack.length > 0) {
      const { dir, location } = stack.pop()!;
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'ENOENT') continue;
        if (code === 'ENOTDIR') {
          // The prefix is a file: list it alone.
          const st = await fsp.stat(dir);
          yield { location: prefix, size: st.size, lastModifiedMs: st.mtimeMs };
          continue;
        }
        throw ioError('list', location, e);
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const ent of entries) {
        const childDir = path.join(dir, ent.name);
        const childLocation = `${location}/${ent.name}`;
        if (ent.isDirectory()) {
          stack.push({ dir: childDir, location: childLocation });
        } else if (!isTempName(ent.name)) {
          try {
            const st = await fsp.stat(childDir);
            if (st.isFile()) yield { location: childLocation, size: st.size, lastModifiedMs: st.mtimeMs };
          } catch (e) {
            // Deleted between readdir and stat: it is simply no longer there.
            if (errnoCode(e) !== 'ENOENT') throw ioError('list', childLocation, e);
          }
        }
      }
    }
  }

  /** Every call opens and closes its own file handles: nothing is held between calls. */
  async close(): Promise<void> {}

  /**
   * Creates a directory and its parents. Not part of the FileIO port (object stores have no
   * directories); the SQLite catalog needs it because SQLite will not create a database file's folder.
   */
  async ensureDirectory(location: string): Promise<void> {
    try {
      await fsp.mkdir(toLocalPath(location), { recursive: true });
    } catch (e) {
      throw ioError('create directory', location, e);
    }
  }
}

/** True for `/abs`, relative paths and `file:` URIs: the locations LocalFileIO handles. */
export function isLocalLocation(location: string): boolean {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(location)?.[1]?.toLowerCase();
  return scheme === undefined || scheme === 'file';
}

/**
 * `file:///a/b`, `file://localhost/a/b` and `file:/a/b` -> `/a/b`; a plain path is resolved to an
 * absolute one. Exported so catalogs can turn a warehouse given as a path into the same file.
 */
export function toLocalPath(location: string): string {
  if (!isLocalLocation(location)) {
    throw new LakehouseError(
      'INVALID_ARGUMENT',
      `LocalFileIO cannot open "${location}": only local paths and file:// URIs are local. Use the S3 FileIO for s3:// locations.`,
    );
  }
  if (!/^file:/i.test(location)) return path.resolve(location);
  const rest = location.slice('file:'.length);
  if (rest.startsWith('//')) {
    // file://host/path: only an empty host or localhost name this machine.
    const slash = rest.indexOf('/', 2);
    const host = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    if (host !== '' && host.toLowerCase() !== 'localhost') {
      throw new LakehouseError(
        'INVALID_ARGUMENT',
        `Location "${location}" names host "${host}"; a file:// URI must be file:///absolute/path (three slashes).`,
      );
    }
    return slash < 0 ? '/' : rest.slice(slash);
  }
  if (!rest.startsWith('/')) {
    throw new LakehouseError('INVALID_ARGUMENT', `Location "${location}" is not absolute; write file:///absolute/path.`);
  }
  return rest;
}

/** An absolute path or file: URI as `file:///abs/path`, the form PyIceberg and Java both read. */
export function toFileUri(location: string): string {
  return 'file://' + toLocalPath(location);
}

const TEMP_SUFFIX = '.lakehouse-tmp';

function tempName(base: string): string {
  // Dot-prefixed so tools that skip hidden files (Spark, Hadoop) also skip it.
  return `.${base}.${randomUUID()}${TEMP_SUFFIX}`;
}

function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(TEMP_SUFFIX);
}

function checkRange(location: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new LakehouseError(
      'INVALID_ARGUMENT',
      `Cannot read ${location} at offset ${offset} length ${length}: both must be non-negative integers.`,
    );
  }
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

function alreadyExists(location: string, cause: unknown): LakehouseError {
  return new LakehouseError('ALREADY_EXISTS', `File ${location} already exists and was not replaced (exclusive create).`, {
    cause,
    context: { location },
  });
}

function ioError(op: string, location: string, e: unknown): LakehouseError {
  if (e instanceof LakehouseError) return e;
  const code = errnoCode(e);
  if (code === 'ENOENT' && op !== 'write') {
    return new LakehouseError('NOT_FOUND', `Cannot ${op} ${location}: no such file.`, { cause: e, context: { location } });
  }
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? ' Check the permissions of the file and its directory for the user running lakehouse.'
      : code === 'ENOSPC'
        ? ' The disk is full; free space and retry.'
        : code === 'EISDIR'
          ? ' The location is a directory, not a file.'
          : '';
  return new LakehouseError('IO_ERROR', `Cannot ${op} ${location}: ${errorMessage(e)}.${hint}`, {
    cause: e,
    context: { location, errno: code },
    // EAGAIN/EBUSY/EMFILE pass with time; the rest need a human.
    retryable: code === 'EAGAIN' || code === 'EBUSY' || code === 'EMFILE' || code === 'ENFILE',
  });
}
