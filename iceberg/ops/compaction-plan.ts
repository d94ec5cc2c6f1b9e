import { LakehouseError } from '../../core/errors.ts';
import type { DataFile } from '../spec/manifest/manifest-types.ts';
import { type PartitionKey, partitionKey } from '../spec/partition-key.ts';
import { WRITE_TARGET_FILE_SIZE_BYTES, WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT, intProperty } from '../spec/table-properties.ts';
import type { Value } from '../spec/types.ts';

/**
 * Bin-packing plan of a compaction (Java `BinPackRewriteFilePlanner`): per partition, the files smaller
 * than a threshold are packed, largest first, into groups of at most the target file size; a group of
 * one file changes nothing and is dropped. Pure: it sees data files and numbers, no table, so the
 * choices are testable on their own.
 */

/**
 * Share of the target size under which a file counts as small: Java's rewrite_data_files default
 * (`min-file-size-bytes` = 75 % of `write.target-file-size-bytes`).
 */
export const COMPACTION_MIN_FILE_SIZE_RATIO = 0.75;
/**
 * Fewest files worth one rewrite. Java waits for 5 per group because a rewrite in Spark is a job of its
 * own; here a group costs one read and one commit, and merging two files already halves what a scan opens.
 */
export const COMPACTION_MIN_INPUT_FILES = 2;

export interface CompactionPlanOptions {
  /** Bytes a group may hold (input sizes); default the table's write.target-file-size-bytes. */
  targetFileSizeBytes: number;
  /** Files at least this large are left alone; default COMPACTION_MIN_FILE_SIZE_RATIO x target. */
  minFileSizeBytes?: number;
  /** Fewest files per group; default COMPACTION_MIN_INPUT_FILES. */
  minInputFiles?: number;
  /** This run rewrites at most this many input bytes. */
  maxBytes?: number;
  /** This run rewrites at most this many input files. */
  maxFiles?: number;
}

export interface CompactionGroup {
  specId: number;
  partition: Value[];
  key: PartitionKey;
  files: DataFile[];
  bytes: number;
  records: number;
}

export interface CompactionPlan {
  /** Groups to rewrite now, most files first. */
  groups: CompactionGroup[];
  /** Groups (or the rest of a group) left for a later run by maxBytes / maxFiles. */
  deferred: CompactionGroup[];
  /** Data files looked at, and how many of them were small. */
  filesConsidered: number;
  smallFiles: number;
  targetFileSizeBytes: number;
  minFileSizeBytes: number;
}

/** The target of a table's compaction: its write.target-file-size-bytes, as the writer reads it. */
export function targetFileSize(properties: Record<string, string>): number {
  return intProperty(properties, WRITE_TARGET_FILE_SIZE_BYTES, WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT);
}

function checkPositive(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
    throw new LakehouseError('INVALID_ARGUMENT', `Compaction option ${name} must be a positive whole number, got ${v}.`);
  }
}

export function planCompaction(files: readonly DataFile[], opts: CompactionPlanOptions): CompactionPlan {
  const target = opts.targetFileSizeBytes;
  checkPositive('targetFileSizeBytes', target);
  checkPositive('minFileSizeBytes', opts.minFileSizeBytes);
  checkPositive('maxBytes', opts.maxBytes);
  checkPositive('maxFiles', opts.maxFiles);
  const minInput = opts.minInputFiles ?? COMPACTION_MIN_INPUT_FILES;
  if (!(Number.isSafeInteger(minInput) && minInput >= 2)) {
    throw new LakehouseError('INVALID_ARGUMENT', `Compaction option minInputFiles must be 2 or more (one file alone is not compacted), got ${minInput}.`);
  }
  const minSize = opts.minFileSizeBytes ?? Math.floor(target * COMPACTION_MIN_FILE_SIZE_RATIO);

  const byPartition = new Map<PartitionKey, DataFile[]>();
  let small = 0;
  for (const f of files) {
    if (f.fileSizeInBytes >= minSize) continue;
    small++;
    const key = partitionKey(f.specId, f.partition);
    const list = byPartition.get(key);
    if (list) list.push(f);
    else byPartition.set(key, [f]);
  }

  const all: CompactionGroup[] = [];
  for (const [key, list] of byPartition) {
    // First fit decreasing: few bins, each close to the target.
    const sorted = [...list].sort((a, b) => b.fileSizeInBytes - a.fileSizeInBytes || (a.filePath < b.filePath ? -1 : 1));
    const bins: { files: DataFile[]; bytes: number }[] = [];
    for (const f of sorted) {
      const bin = bins.find((b) => b.bytes + f.fileSizeInBytes <= target);
      if (bin) { bin.files.push(f); bin.bytes += f.fileSizeInBytes; }
      else bins.push({ files: [f], bytes: f.fileSizeInBytes });
    }
    for (const b of bins) {
      if (b.files.length < minInput) continue;
      const first = b.files[0]!;
      all.push({ specId: first.specId, partition: first.partition, key, files: b.files, bytes: b.bytes, records: b.files.reduce((a, f) => a + f.recordCount, 0) });
    }
  }
  all.sort((a, b) => b.files.length - a.files.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const groups: CompactionGroup[] = [];
  const deferred: CompactionGroup[] = [];
  let bytes = 0;
  let count = 0;
  for (const g of all) {
    // A group larger than what is left of the run's budget is cut to fit (its largest files first),
    // so a limit smaller than one partition's small files still makes progress run by run.
    const taken: DataFile[] = [];
    let takenBytes = 0;
    for (const f of g.files) {
      if (opts.maxFiles !== undefined && count + taken.length + 1 > opts.maxFiles) break;
      if (opts.maxBytes !== undefined && bytes + takenBytes + f.fileSizeInBytes > opts.maxBytes) continue;
      taken.push(f);
      takenBytes += f.fileSizeInBytes;
    }
    if (taken.length < minInput) { deferred.push(g); continue; }
    if (taken.length < g.files.length) {
      const rest = g.files.filter((f) => !taken.includes(f));
      deferred.push({ ...g, files: rest, bytes: g.bytes - takenBytes, records: rest.reduce((a, f) => a + f.recordCount, 0) });
    }
    groups.push({ ...g, files: taken, bytes: takenBytes, records: taken.reduce((a, f) => a + f.recordCount, 0) });
    bytes += takenBytes;
    count += taken.length;
  }
  return { groups, deferred, filesConsidered: files.length, smallFiles: small, targetFileSizeBytes: target, minFileSizeBytes: minSize };
}
