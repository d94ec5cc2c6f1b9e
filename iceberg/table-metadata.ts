import type { Schema } from './schema.ts';
import type { PartitionSpec } from './partition-spec.ts';
import type { SortOrder } from './sort-order.ts';

/**
 * Table metadata (spec "Table Metadata"), in memory. Field names are the camelCase of the JSON keys.
 * Snapshot ids are bigint because they are random 63-bit longs.
 */
export interface Snapshot {
  snapshotId: bigint;
  parentSnapshotId?: bigint | null;
  /** v2: required; v1 files read as 0. */
  sequenceNumber: number;
  timestampMs: number;
  manifestList: string;
  /** `operation` plus string properties (added-records, total-data-files, ...). */
  summary: Record<string, string> & { operation: SnapshotOperation };
  schemaId?: number | null;
}

export type SnapshotOperation = 'append' | 'replace' | 'overwrite' | 'delete';

export interface SnapshotRef {
  snapshotId: bigint;
  type: 'branch' | 'tag';
  minSnapshotsToKeep?: number | null;
  maxSnapshotAgeMs?: number | null;
  maxRefAgeMs?: number | null;
}

export interface SnapshotLogEntry {
  snapshotId: bigint;
  timestampMs: number;
}

export interface MetadataLogEntry {
  metadataFile: string;
  timestampMs: number;
}

export interface TableMetadata {
  formatVersion: 1 | 2;
  tableUuid: string;
  location: string;
  lastSequenceNumber: number;
  lastUpdatedMs: number;
  lastColumnId: number;
  schemas: Schema[];
  currentSchemaId: number;
  partitionSpecs: PartitionSpec[];
  defaultSpecId: number;
  lastPartitionId: number;
  properties: Record<string, string>;
  currentSnapshotId: bigint | null;
  snapshots: Snapshot[];
  snapshotLog: SnapshotLogEntry[];
  metadataLog: MetadataLogEntry[];
  sortOrders: SortOrder[];
  defaultSortOrderId: number;
  refs: Record<string, SnapshotRef>;
  /** Statistics / partition-statistics files are carried through untouched (JSON as read). */
  statistics?: unknown[];
  partitionStatistics?: unknown[];
}

export const MAIN_BRANCH = 'main';
