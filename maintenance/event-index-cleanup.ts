import { LakehouseError } from '../core/errors.ts';
import { type Table, identifierToString } from '../iceberg/index.ts';
import { canonicalLocation } from '../iceberg/io/index.ts';
import { eventIndexFilesReferenced, eventIndexFolder } from '../domain/event-index-files.ts';
import { SOURCE_TABLE_PROPERTY } from '../domain/campaign-metrics-table.ts';

/**
 * Deletes the metrics job's event index files (domain/event-index-files.ts) that no snapshot kept in the
 * table's metadata points at. A run writes new index files and never deletes old ones (an older snapshot
 * still points at them), and orphan removal leaves them alone (their names are not table-file names), so
 * without this every full rebuild would leave its fingerprint file behind (about 160 MB at 10 M ids) and
 * every incremental run about 1 MB; once expiry has dropped the snapshots that used them, they go here.
 *
 * Only files last modified before `olderThanMs` go: a metrics run writes its index files before its commit,
 * so until it commits nothing points at them; the cut-off (the orphan age, 3 days by default) is far longer
 * than any run. The folder is listed first and the table reloaded after, so a run that commits during the
 * listing has its files counted as used (they are new anyway). A table that is not a metrics table (no
 * `lakehouse.metrics.source-table` property) is left alone.
 */
export interface EventIndexCleanupOptions {
  olderThanMs: number;
  dryRun?: boolean;
}

export interface EventIndexCleanupResult {
  metricsTable: boolean;
  filesListed: number;
  filesReferenced: number;
  /** Unused index files older than the cut-off: deleted (or, on a dry run, to delete). */
  deleted: { location: string; size: number }[];
  deletedBytes: number;
  /** Unused index files modified at or after the cut-off (or of unknown age): kept, a run may be writing them. */
  keptTooNew: number;
}

export async function removeUnusedEventIndexFiles(table: Table, opts: EventIndexCleanupOptions): Promise<EventIndexCleanupResult> {
  const result: EventIndexCleanupResult = { metricsTable: false, filesListed: 0, filesReferenced: 0, deleted: [], deletedBytes: 0, keptTooNew: 0 };
  if (table.metadata.properties[SOURCE_TABLE_PROPERTY] === undefined) return result;
  result.metricsTable = true;
  const location = table.location;
  const listed = [];
  for await (const f of table.io.list(eventIndexFolder(location))) listed.push(f);
  result.filesListed = listed.length;
  if (listed.length === 0) return result;

  const loaded = await table.refresh();
  if (canonicalLocation(loaded.metadata.location) !== canonicalLocation(location)) {
    throw new LakehouseError('CONFLICT', `Table ${identifierToString(loaded.identifier)} moved from ${location} to ${loaded.metadata.location} while its event index files were listed; nothing was deleted. Run again.`);
  }
  const used = await eventIndexFilesReferenced(table.io, loaded.metadata);
  result.filesReferenced = used.size;
  for (const f of listed) {
    if (used.has(canonicalLocation(f.location))) continue;
    // A store that reports no time gives no proof of age: keep the file.
    if (f.lastModifiedMs === undefined || f.lastModifiedMs >= opts.olderThanMs) { result.keptTooNew++; continue; }
    result.deleted.push({ location: f.location, size: f.size });
    result.deletedBytes += f.size;
  }
  if (!opts.dryRun) {
    const paths = result.deleted.map((d) => d.location);
    for (let i = 0; i < paths.length; i += 1000) await table.io.deleteMany(paths.slice(i, i + 1000));
  }
  return result;
}
