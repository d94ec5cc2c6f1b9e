import { LakehouseError, errorMessage } from '../../core/errors.ts';
import { identifierToString } from '../catalog-port.ts';
import type { FileIO } from '../io/file-io.ts';
import { canonicalLocation } from '../io/resolve-file-io.ts';
import type { ManifestFile } from '../spec/manifest/manifest-types.ts';
import { readManifest } from '../spec/manifest/manifest.ts';
import { readManifestList } from '../spec/manifest/manifest-list.ts';
import { readTableMetadata } from '../spec/metadata-files.ts';
import type { TableMetadata } from '../spec/table-metadata.ts';
import { mapLimit } from '../scan/table-scan.ts';
import type { TableHandle } from './snapshot-producer.ts';

/** Java's `DeleteOrphanFiles` default: files younger than 3 days may belong to a commit still in flight. */
export const ORPHAN_MIN_AGE_MS_DEFAULT = 3 * 24 * 60 * 60 * 1000;

/** What a file under a table's location is, by its name; null = not a table file we know, never deleted. */
export type TableFileKind = 'data' | 'manifest' | 'manifest-list' | 'metadata' | 'statistics';

export interface OrphanFile {
  location: string;
  kind: TableFileKind;
  size: number;
  lastModifiedMs: number;
}

export interface RemoveOrphansOptions {
  /** Only files last modified before this instant (ms since epoch) may go; default now - 3 days. */
  olderThanMs?: number;
  /** Find and report, delete nothing. */
  dryRun?: boolean;
  /** Progress of the three phases, for a progress bar (`total` is known for the last two only). */
  onProgress?: (phase: 'list' | 'read' | 'delete', done: number, total?: number) => void;
}

export interface RemoveOrphansResult {
  dryRun: boolean;
  location: string;
  olderThanMs: number;
  /** Files found under the table's location. */
  filesListed: number;
  /** Files the retained metadata references (whether or not they exist). */
  filesReferenced: number;
  /** Unreferenced table files older than the cut-off: deleted (or, on a dry run, to delete). */
  orphans: OrphanFile[];
  orphanBytes: number;
  /** Unreferenced table files modified at or after the cut-off: kept, they may be a commit in flight. */
  keptTooNew: number;
  /** Unreferenced files that are not table files by their name (e.g. a version hint, a user's file): kept. */
  keptUnknown: string[];
}

/** Table files by name, as Iceberg writers name them; anything else under a table location is left alone. */
export function tableFileKind(location: string): TableFileKind | null {
  const name = location.slice(location.lastIndexOf('/') + 1);
  if (name.endsWith('.metadata.json') || name.endsWith('.metadata.json.gz')) return 'metadata';
  if (name.endsWith('.puffin') || name.endsWith('.stats')) return 'statistics';
  if (name.endsWith('.parquet') || name.endsWith('.orc')) return 'data';
  if (name.endsWith('.avro')) {
    const inMetadata = /\/metadata\/[^/]*$/.test(location);
    if (!inMetadata) return 'data';
    return name.startsWith('snap-') ? 'manifest-list' : 'manifest';
  }
  return null;
}

const isNotFound = (e: unknown) => e instanceof LakehouseError && e.code === 'NOT_FOUND';

/**
 * Every file the table's retained metadata references, in canonical form (`canonicalLocation`): the
 * current metadata file, the previous ones in its metadata log, and from each of those metadata files
 * that still exists, every snapshot's manifest list, its manifests, the data and delete files they list
 * (DELETED entries too: a reader of an older snapshot may still need the file), and statistics files.
 *
 * The current metadata's own files must all be readable: if one is missing or unreadable the set would
 * be incomplete, so this throws instead of letting a deletion run on it. Files only an older metadata
 * file names may be gone (an expiry deleted them); those are skipped.
 */
export async function referencedFiles(
  io: FileIO, metadataLocation: string, metadata: TableMetadata, onRead?: (done: number, total: number) => void,
): Promise<Set<string>> {
  const refs = new Set<string>();
  const add = (loc: string) => refs.add(canonicalLocation(loc));
  add(metadataLocation);
  const all: { m: TableMetadata; required: boolean }[] = [{ m: metadata, required: true }];
  for (const e of metadata.metadataLog) {
    add(e.metadataFile);
    try {
      all.push({ m: await readTableMetadata(io, e.metadataFile), required: false });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const lists = new Map<string, boolean>();
  for (const { m, required } of all) {
    for (const s of m.snapshots) lists.set(s.manifestList, (lists.get(s.manifestList) ?? false) || required);
    for (const st of [...(m.statistics ?? []), ...(m.partitionStatistics ?? [])]) {
      const p = (st as Record<string, unknown>)['statistics-path'];
      if (typeof p === 'string') add(p);
    }
  }
  const manifests = new Map<string, { m: ManifestFile; required: boolean }>();
  let done = 0;
  const total = () => lists.size + manifests.size;
  await mapLimit([...lists], 8, async ([list, required]) => {
    add(list);
    let ms: ManifestFile[];
    try {
      ms = await readManifestList(io, list);
    } catch (e) {
      if (!required && isNotFound(e)) return;
      throw incomplete(list, e);
    }
    for (const m of ms) {
      const had = manifests.get(m.manifestPath);
      if (!had || (required && !had.required)) manifests.set(m.manifestPath, { m, required: required || Boolean(had?.required) });
    }
    onRead?.(++done, total());
  });
  await mapLimit([...manifests.values()], 8, async ({ m, required }) => {
    add(m.manifestPath);
    try {
      for (const e of await readManifest(io, m)) add(e.dataFile.filePath);
    } catch (e) {
      if (!required && isNotFound(e)) return;
      throw incomplete(m.manifestPath, e);
    }
    onRead?.(++done, total());
  });
  return refs;
}

function incomplete(location: string, e: unknown): LakehouseError {
  return new LakehouseError('IO_ERROR', `Cannot read ${location}, which the table's current metadata references (${errorMessage(e)}); without it the set of referenced files is incomplete, so no file was deleted. Fix or restore the file and run again.`, { cause: e });
}

/**
 * Deletes the files under a table's location that no retained metadata references (Java
 * `DeleteOrphanFiles`): what a writer killed between writing its files and its commit leaves, and
 * attempts whose commit failed without clean-up. Only files last modified before `olderThanMs` go, so
 * the files of a commit still in flight (written, not yet committed) are never touched: the cut-off
 * must be older than the longest a commit can take.
 *
 * The listing comes first and the table is reloaded after it, so a commit that lands during the run is
 * in the reference set (and its files, being new, are under the cut-off anyway). Files that are not
 * table files by their name are reported and left alone.
 */
export async function removeOrphanFiles(table: TableHandle, opts: RemoveOrphansOptions = {}): Promise<RemoveOrphansResult> {
  const cutoff = opts.olderThanMs ?? Date.now() - ORPHAN_MIN_AGE_MS_DEFAULT;
  const location = table.state.metadata.location;
  const io = table.state.io;
  const listed: { location: string; size: number; lastModifiedMs?: number }[] = [];
  for await (const f of io.list(location)) {
    listed.push(f);
    if (listed.length % 1000 === 0) opts.onProgress?.('list', listed.length);
  }
  opts.onProgress?.('list', listed.length);

  const loaded = await table.refresh();
  if (canonicalLocation(loaded.metadata.location) !== canonicalLocation(location)) {
    throw new LakehouseError('CONFLICT', `Table ${identifierToString(loaded.identifier)} moved from ${location} to ${loaded.metadata.location} while its files were listed; nothing was deleted. Run again.`);
  }
  const refs = await referencedFiles(io, loaded.metadataLocation, loaded.metadata, (d, t) => opts.onProgress?.('read', d, t));

  const result: RemoveOrphansResult = {
    dryRun: Boolean(opts.dryRun), location, olderThanMs: cutoff, filesListed: listed.length, filesReferenced: refs.size,
    orphans: [], orphanBytes: 0, keptTooNew: 0, keptUnknown: [],
  };
  for (const f of listed) {
    if (refs.has(canonicalLocation(f.location))) continue;
    const kind = tableFileKind(f.location);
    if (kind === null) { result.keptUnknown.push(f.location); continue; }
    // A store that reports no time gives no proof of age: keep the file.
    if (f.lastModifiedMs === undefined || f.lastModifiedMs >= cutoff) { result.keptTooNew++; continue; }
    result.orphans.push({ location: f.location, kind, size: f.size, lastModifiedMs: f.lastModifiedMs });
    result.orphanBytes += f.size;
  }
  if (!opts.dryRun) {
    const paths = result.orphans.map((o) => o.location);
    for (let i = 0; i < paths.length; i += 1000) {
      await io.deleteMany(paths.slice(i, i + 1000));
      opts.onProgress?.('delete', Math.min(paths.length, i + 1000), paths.length);
    }
  }
  return result;
}
