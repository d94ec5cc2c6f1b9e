import type { Value } from '../types.ts';

/**
 * Data files, manifest entries and manifest-list entries as the spec's "Manifests" and
 * "Manifest Lists" define them, in the in-memory form the rest of the code uses.
 * Counts and sizes are numbers (exact below 2^53); snapshot ids are bigint (random 63-bit longs).
 */
export const enum DataFileContent {
  DATA = 0,
  POSITION_DELETES = 1,
  EQUALITY_DELETES = 2,
}

export type FileFormat = 'PARQUET' | 'AVRO' | 'ORC';

export interface DataFile {
  content: DataFileContent;
  filePath: string;
  fileFormat: FileFormat;
  /** Partition tuple, one value per field of the spec the file was written with (see `specId`). */
  partition: Value[];
  recordCount: number;
  fileSizeInBytes: number;
  columnSizes?: Map<number, number>;
  valueCounts?: Map<number, number>;
  nullValueCounts?: Map<number, number>;
  nanValueCounts?: Map<number, number>;
  /** Single-value binary serialization (spec Appendix D) per field id. */
  lowerBounds?: Map<number, Uint8Array>;
  upperBounds?: Map<number, Uint8Array>;
  keyMetadata?: Uint8Array | null;
  splitOffsets?: number[] | null;
  equalityIds?: number[] | null;
  sortOrderId?: number | null;
  /** Not stored in the data_file struct: the partition spec id of the manifest that holds the file. */
  specId: number;
}

export const enum ManifestEntryStatus {
  EXISTING = 0,
  ADDED = 1,
  DELETED = 2,
}

export interface ManifestEntry {
  status: ManifestEntryStatus;
  /** null = inherit from the manifest-list entry (v2). */
  snapshotId: bigint | null;
  sequenceNumber: bigint | null;
  fileSequenceNumber: bigint | null;
  dataFile: DataFile;
}

export const enum ManifestContent {
  DATA = 0,
  DELETES = 1,
}

export interface FieldSummary {
  containsNull: boolean;
  containsNan?: boolean | null;
  lowerBound?: Uint8Array | null;
  upperBound?: Uint8Array | null;
}

/** One entry of a manifest list (the `manifest_file` struct). */
export interface ManifestFile {
  manifestPath: string;
  manifestLength: number;
  partitionSpecId: number;
  content: ManifestContent;
  sequenceNumber: bigint;
  minSequenceNumber: bigint;
  addedSnapshotId: bigint;
  addedFilesCount: number;
  existingFilesCount: number;
  deletedFilesCount: number;
  addedRowsCount: number;
  existingRowsCount: number;
  deletedRowsCount: number;
  partitions?: FieldSummary[] | null;
  keyMetadata?: Uint8Array | null;
}
