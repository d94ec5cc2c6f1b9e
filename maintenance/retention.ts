import type { Catalog } from '../catalog/catalog.ts';
import { type ExpireOptions, type ExpireResult, Table, ancestorsOf, currentSnapshot, identifierToString } from '../iceberg/index.ts';
import { offsetKeysToRetain } from '../domain/ingest-summary-keys.ts';
import { SOURCE_SNAPSHOT_KEY, SOURCE_TABLE_PROPERTY } from '../domain/campaign-metrics-table.ts';

/**
 * What snapshot expiry must keep for the project's writers, in one place for `lakehouse tables expire` and
 * `lakehouse maintain`:
 * - ingest resumes from the newest snapshot recording its group's positions (`lakehouse.offsets.<group>`,
 *   domain/ingest-summary-keys.ts), walking back by parent links from the head: that carrier and every
 *   snapshot after it stay, however old, whatever wrote the head (a compaction, another group);
 * - the metrics job reads the events snapshots after the one its table records
 *   (`lakehouse.metrics.source-snapshot-id`); without it a run is a full rebuild. So for every metrics table
 *   of the same namespace computed from this table, that snapshot and the history after it stay too;
 * - a metrics table itself: the job resumes from its newest snapshot recording the events snapshot (and
 *   the event index) it is current with, so that snapshot and every one after it stay, whatever wrote the
 *   head since (a compaction); without it the next run is a full rebuild.
 */
export interface WriterRetention {
  retainSummaryKeyPrefixes: string[];
  /** The snapshots metrics tables are current with: each stays with the history after it. */
  retainFromSnapshotIds: bigint[];
  /** The metrics tables found reading this one, with the events snapshot each is current with. */
  metricsReaders: { table: string; sourceSnapshotId: string }[];
}

export async function writerRetention(catalog: Catalog, table: Table): Promise<WriterRetention> {
  const out: WriterRetention = { retainSummaryKeyPrefixes: offsetKeysToRetain(table.metadata), retainFromSnapshotIds: [], metricsReaders: [] };
  if (table.metadata.properties[SOURCE_TABLE_PROPERTY] !== undefined) out.retainSummaryKeyPrefixes.push(SOURCE_SNAPSHOT_KEY);
  const head = currentSnapshot(table.metadata);
  if (!head) return out;
  const chain = ancestorsOf(table.metadata, head.snapshotId);
  for (const id of await catalog.listTables(table.identifier.namespace)) {
    if (id.name === table.identifier.name) continue;
    let other;
    try {
      other = await catalog.loadTable(id);
    } catch {
      continue; // dropped between the listing and the load
    }
    if (other.metadata.properties[SOURCE_TABLE_PROPERTY] !== table.name) continue;
    const recorded = currentSnapshot(other.metadata)?.summary[SOURCE_SNAPSHOT_KEY];
    if (recorded === undefined) continue;
    const kept = chain.find((s) => s.snapshotId.toString() === recorded);
    if (!kept) continue; // already gone: its next run rebuilds in full either way
    out.metricsReaders.push({ table: identifierToString(id), sourceSnapshotId: recorded });
    out.retainFromSnapshotIds.push(kept.snapshotId);
  }
  return out;
}

/** Expires snapshots as asked, never past what ingest and the metrics job still need. */
export async function expireKeepingWriters(catalog: Catalog, table: Table, opts: ExpireOptions): Promise<ExpireResult & { retention: WriterRetention }> {
  const retention = await writerRetention(catalog, table);
  const r = await table.expireSnapshots({
    ...opts,
    retainSummaryKeyPrefixes: [...(opts.retainSummaryKeyPrefixes ?? []), ...retention.retainSummaryKeyPrefixes],
    retainFromSnapshotIds: [...(opts.retainFromSnapshotIds ?? []), ...retention.retainFromSnapshotIds],
  });
  return { ...r, retention };
}
