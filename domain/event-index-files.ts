import { LakehouseError, errorMessage } from '../core/errors.ts';
import { type FileIO, canonicalLocation } from '../iceberg/io/index.ts';
import type { TableMetadata } from '../iceberg/index.ts';

/**
 * Where the metrics job keeps its event_id index (sql/event-index.ts builds and reads it) and which files
 * a table's snapshots point at: the part maintenance needs to delete the index files no snapshot uses,
 * here so that neither side imports the other.
 */

/** Snapshot summary key of campaign_metrics: the location of its event index manifest. */
export const EVENT_INDEX_KEY = 'lakehouse.metrics.event-index';

/** Folder under a metrics table's location holding the index files and their manifests. */
export const EVENT_INDEX_FOLDER = 'event-index';

export function eventIndexFolder(tableLocation: string): string {
  return `${tableLocation.replace(/\/+$/, '')}/${EVENT_INDEX_FOLDER}`;
}

export interface EventIndexFile {
  path: string;
  count: number;
}

/** The manifest's JSON. */
export interface EventIndexManifest {
  format: 1;
  'duckdb-version': string;
  'events-snapshot-id': string;
  'max-processed-at-us': string | null;
  'id-files': EventIndexFile[];
  'loser-files': EventIndexFile[];
}

/**
 * Every index file (manifests included, as canonical locations) that some snapshot kept in `metadata`
 * points at, current or not: an older snapshot can become current again (rollback), and its index must
 * be there. A manifest that no longer exists is skipped (its snapshot's index is unusable anyway: the job
 * rebuilds in full); one that cannot be read or parsed stops the count, as nothing may be deleted then.
 */
export async function eventIndexFilesReferenced(io: FileIO, metadata: TableMetadata): Promise<Set<string>> {
  const out = new Set<string>();
  const manifests = new Set(metadata.snapshots.map((s) => s.summary[EVENT_INDEX_KEY]).filter((l): l is string => Boolean(l)));
  for (const location of manifests) {
    out.add(canonicalLocation(location));
    let manifest: EventIndexManifest;
    try {
      if (!(await io.exists(location))) continue;
      manifest = JSON.parse(new TextDecoder().decode(await io.read(location))) as EventIndexManifest;
    } catch (e) {
      throw new LakehouseError('IO_ERROR', `Cannot read the event index manifest ${location}, which a kept snapshot of the table points at (${errorMessage(e)}); without it the set of index files in use is unknown, so none was deleted. Fix or restore the file (or expire that snapshot) and run again.`, { cause: e });
    }
    if (!Array.isArray(manifest?.['id-files']) || !Array.isArray(manifest['loser-files'])) {
      throw new LakehouseError('IO_ERROR', `${location}, which a kept snapshot of the table points at, is not an event index manifest; no index file was deleted. Restore the file (or expire that snapshot) and run again.`);
    }
    for (const f of [...manifest['id-files'], ...manifest['loser-files']]) out.add(canonicalLocation(f.path));
  }
  return out;
}
