import { type Counter, type Gauge, type Histogram, MetricsRegistry } from '../pipeline/prometheus.ts';

/**
 * Prometheus metrics of `lakehouse maintain`, on the same prom-client wrappers ingest uses
 * (pipeline/prometheus.ts), labelled by table (and step) so one process maintaining several tables shows
 * each. Counters count what committed steps did; a dry run counts nothing but its run.
 */
export interface MaintenanceMetrics {
  registry: MetricsRegistry;
  /** By `step`, `table` and `outcome` (ok, failed, skipped: stopped before it ran). */
  steps: Counter;
  stepSeconds: Histogram;
  /** Unix seconds of the last step that succeeded, by `step` and `table`. */
  lastSuccess: Gauge;
  filesCompacted: Counter;
  filesWritten: Counter;
  bytesRewritten: Counter;
  groupsSkipped: Counter;
  snapshotsExpired: Counter;
  filesDeleted: Counter;
  manifestsReplaced: Counter;
  orphansDeleted: Counter;
  eventIndexFilesDeleted: Counter;
  /** Live data files of each table after its last pass. */
  dataFiles: Gauge;
  /** Whole passes over every table. */
  passes: Counter;
}

export function createMaintenanceMetrics(registry: MetricsRegistry = new MetricsRegistry()): MaintenanceMetrics {
  return {
    registry,
    steps: registry.counter('lakehouse_maintain_steps_total', 'Maintenance steps run, by step, table and outcome (ok, failed, skipped)', ['step', 'table', 'outcome']),
    stepSeconds: registry.histogram('lakehouse_maintain_step_seconds', 'Duration of one maintenance step on one table', [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900]),
    lastSuccess: registry.gauge('lakehouse_maintain_last_success_timestamp_seconds', 'When a step last succeeded on a table (unix seconds)', ['step', 'table']),
    filesCompacted: registry.counter('lakehouse_maintain_compacted_files_total', 'Small data files replaced by compaction', ['table']),
    filesWritten: registry.counter('lakehouse_maintain_compaction_written_files_total', 'Data files written by compaction', ['table']),
    bytesRewritten: registry.counter('lakehouse_maintain_compaction_read_bytes_total', 'Bytes of data files read and rewritten by compaction', ['table']),
    groupsSkipped: registry.counter('lakehouse_maintain_compaction_skipped_groups_total', 'Compaction groups skipped because a concurrent commit removed their files twice', ['table']),
    snapshotsExpired: registry.counter('lakehouse_maintain_expired_snapshots_total', 'Snapshots expired', ['table']),
    filesDeleted: registry.counter('lakehouse_maintain_deleted_files_total', 'Data files, manifests and manifest lists deleted by snapshot expiry', ['table']),
    manifestsReplaced: registry.counter('lakehouse_maintain_replaced_manifests_total', 'Manifests replaced by a manifest rewrite', ['table']),
    orphansDeleted: registry.counter('lakehouse_maintain_deleted_orphan_files_total', 'Files under a table location that no retained metadata referenced, deleted', ['table']),
    eventIndexFilesDeleted: registry.counter('lakehouse_maintain_deleted_event_index_files_total', 'Event index files of a metrics table that no kept snapshot pointed at, deleted', ['table']),
    dataFiles: registry.gauge('lakehouse_maintain_data_files', 'Live data files of the table after the last maintenance pass', ['table']),
    passes: registry.counter('lakehouse_maintain_passes_total', 'Passes over every table'),
  };
}
