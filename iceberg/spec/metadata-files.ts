import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { errorMessage, LakehouseError } from '../../core/errors.ts';
import type { FileIO } from '../io/file-io.ts';
import { parseTableMetadata, serializeTableMetadata, stripTrailingSlash, type TableMetadata } from './table-metadata.ts';

/**
 * Where metadata files live and how they are named (spec "Metastore Tables":
 * `<V>-<random-uuid>.metadata.json`, V zero-padded to five digits as Java writes it), plus reading
 * and writing them through FileIO.
 */

/** Java's `write.metadata.path` (Appendix F "Path Construction"): where new metadata files go. */
export const WRITE_METADATA_PATH = 'write.metadata.path';
/** Java's `write.metadata.compression-codec`: `none` (default) or `gzip`. */
export const METADATA_COMPRESSION = 'write.metadata.compression-codec';
export const METADATA_COMPRESSION_DEFAULT = 'none';

export function metadataFileLocation(tableLocation: string, version: number, uuid: string = randomUUID()): string {
  return `${stripTrailingSlash(tableLocation)}/metadata/${metadataFileName(version, uuid, false)}`;
}

/** Appendix F "Naming for GZIP compressed Metadata JSON files": `.gz.metadata.json` is what readers expect. */
function metadataFileName(version: number, uuid: string, gzip: boolean): string {
  return `${String(version).padStart(5, '0')}-${uuid}${gzip ? '.gz' : ''}.metadata.json`;
}

/**
 * The version number of a metadata file name: `00012-<uuid>.metadata.json` → 12, and the file-system
 * catalog's `v12.metadata.json` → 12. -1 when the name carries no version (Java `parseVersion`).
 */
export function parseMetadataVersion(location: string): number {
  const name = location.slice(location.lastIndexOf('/') + 1);
  const m = /^(\d+)-/.exec(name) ?? /^v(\d+)\./.exec(name);
  if (!m) return -1;
  const v = Number(m[1]);
  return Number.isSafeInteger(v) ? v : -1;
}

function isAbsolute(path: string): boolean {
  return path.startsWith('/') || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(path);
}

/** The folder for new metadata files: `write.metadata.path` (absolute, or relative to the table) or `<location>/metadata`. */
export function metadataDirectory(metadata: TableMetadata): string {
  const configured = metadata.properties[WRITE_METADATA_PATH];
  if (configured === undefined || configured.trim() === '') return `${stripTrailingSlash(metadata.location)}/metadata`;
  const dir = stripTrailingSlash(configured.trim());
  return isAbsolute(dir) ? dir : `${stripTrailingSlash(metadata.location)}/${dir}`;
}

/** The location of the next metadata file: version of `currentLocation` + 1, or 0 for a new table. */
export function nextMetadataLocation(metadata: TableMetadata, currentLocation: string | null): string {
  const version = currentLocation === null ? 0 : Math.max(0, parseMetadataVersion(currentLocation) + 1);
  const codec = (metadata.properties[METADATA_COMPRESSION] ?? METADATA_COMPRESSION_DEFAULT).toLowerCase();
  if (codec !== 'none' && codec !== 'gzip') {
    throw new LakehouseError('INVALID_CONFIG', `Table property "${METADATA_COMPRESSION}" is ${JSON.stringify(codec)}; use "none" or "gzip".`);
  }
  return `${metadataDirectory(metadata)}/${metadataFileName(version, randomUUID(), codec === 'gzip')}`;
}

/** Java `Codec.fromFileName`: both `.gz.metadata.json` and the older `.metadata.json.gz`. */
function isGzipName(location: string): boolean {
  return location.endsWith('.gz.metadata.json') || location.endsWith('.metadata.json.gz');
}

function isGzipData(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Keeps the code (NOT_FOUND, ALREADY_EXISTS, ...) and retryability of FileIO errors; adds the file. */
function wrapIo(e: unknown, sentence: string, retryable: boolean): LakehouseError {
  if (e instanceof LakehouseError) {
    return new LakehouseError(e.code, `${sentence}: ${e.message}`, { cause: e, retryable: e.retryable, context: e.context });
  }
  return new LakehouseError('IO_ERROR', `${sentence}: ${errorMessage(e)}`, { cause: e, retryable });
}

export async function readTableMetadata(io: FileIO, location: string): Promise<TableMetadata> {
  let bytes: Uint8Array;
  try {
    bytes = await io.read(location);
  } catch (e) {
    throw wrapIo(e, `Cannot read table metadata file ${location}`, true);
  }
  // The magic bytes are checked too: some writers gzip without saying so in the name.
  if (isGzipName(location) || isGzipData(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new LakehouseError('INVALID_METADATA', `Table metadata file ${location} is named or marked as gzip but cannot be decompressed: ${errorMessage(e)}`, { cause: e });
    }
  }
  return parseTableMetadata(new TextDecoder('utf-8', { fatal: false }).decode(bytes), location);
}

/**
 * Writes a new metadata file, never replacing one: a commit's metadata file name is unique, and an
 * existing file means another writer used the name (ALREADY_EXISTS from FileIO).
 */
export async function writeTableMetadata(io: FileIO, location: string, metadata: TableMetadata): Promise<void> {
  const text = new TextEncoder().encode(serializeTableMetadata(metadata));
  const bytes = isGzipName(location) ? new Uint8Array(gzipSync(text)) : text;
  try {
    await io.write(location, bytes, { ifNotExists: true });
  } catch (e) {
    // Not retryable as is: whether a failed write left a file behind is unknown, so retry with a new name.
    throw wrapIo(e, `Cannot write table metadata file ${location}`, false);
  }
}
