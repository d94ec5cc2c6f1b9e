import { randomUUID } from 'node:crypto';
import { LakehouseError } from '../core/errors.ts';
import { MergeAppend, type TableHandle, type Snapshot, type TableMetadata, ancestorsOf, currentSnapshot } from '../iceberg/index.ts';
import type { Positions } from './source.ts';
import { COMMIT_ID_KEY, CONSUMED_KEY, DEAD_LETTERED_KEY, DEAD_LETTERED_REASON_KEY_PREFIX, DEAD_LETTERS_KEY_PREFIX, DUPLICATES_KEY, OFFSETS_KEY_PREFIX, SOURCE_KEY } from '../domain/ingest-summary-keys.ts';

export { COMMIT_ID_KEY, CONSUMED_KEY, DEAD_LETTERED_KEY, DEAD_LETTERS_KEY_PREFIX, DUPLICATES_KEY, OFFSETS_KEY_PREFIX, SOURCE_KEY };

/**
 * Source positions recorded in Iceberg snapshot summaries (the keys and their meaning are in
 * domain/ingest-summary-keys.ts): recording them, reading them back, and refusing a commit that would
 * duplicate rows.
 */
/** Group names end up in a summary key; keep them to characters every catalog stores unchanged. */
const GROUP_PATTERN = /^[A-Za-z0-9._-]{1,200}$/;

export function offsetsKey(group: string): string {
  if (!GROUP_PATTERN.test(group)) {
    throw new LakehouseError('INVALID_ARGUMENT', `Group name "${group}" is not valid: use 1-200 letters, digits, ".", "_" or "-" (it becomes part of the snapshot summary key ${OFFSETS_KEY_PREFIX}<group>).`);
  }
  return OFFSETS_KEY_PREFIX + group;
}

/** The summary key of a group's dead-letter marks (offsetsKey validates the group). */
export function deadLettersKey(group: string): string {
  offsetsKey(group);
  return DEAD_LETTERS_KEY_PREFIX + group;
}

/** JSON text of dead-letter marks per source partition, keys sorted. */
export function encodeMarks(marks: Map<string, string>): string {
  return JSON.stringify(Object.fromEntries([...marks].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))));
}

/** Marks as recorded; a malformed value is dropped (its partition is then read from the sink's start). */
export function decodeMarks(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (text === undefined) return out;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return out;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return out;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) if (typeof v === 'string') out.set(k, v);
  return out;
}

/** JSON text of positions, keys sorted so equal positions give equal text. */
export function encodePositions(positions: Positions): string {
  const keys = [...positions.keys()].sort();
  const obj: Record<string, string> = {};
  for (const k of keys) obj[k] = positions.get(k)!.toString();
  return JSON.stringify(obj);
}

export function decodePositions(text: string, where = 'snapshot summary'): Positions {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new LakehouseError('INVALID_METADATA', `Recorded offsets in ${where} are not valid JSON (${(e as Error).message}): ${text.slice(0, 200)}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new LakehouseError('INVALID_METADATA', `Recorded offsets in ${where} must be a JSON object {"<topic>:<partition>": "<next offset>"}, got ${text.slice(0, 200)}`);
  }
  const out: Positions = new Map();
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const ok = (typeof v === 'string' && /^\d+$/.test(v)) || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
    if (!ok || k.lastIndexOf(':') <= 0) {
      throw new LakehouseError('INVALID_METADATA', `Recorded offset "${k}": ${JSON.stringify(v)} in ${where} is not "<topic>:<partition>": "<non-negative integer>".`);
    }
    out.set(k, BigInt(v as string | number));
  }
  return out;
}

/** Summary properties of one ingest commit (see the key list above). */
export function positionsSummary(opts: {
  group: string;
  positions: Positions;
  source: string;
  commitId?: string;
  counts?: { consumed: number; deadLettered: number; duplicates: number; deadLetteredByReason?: Record<string, number> };
  deadLetterMarks?: Map<string, string>;
}): Record<string, string> {
  const out: Record<string, string> = {
    [SOURCE_KEY]: opts.source,
    [offsetsKey(opts.group)]: encodePositions(opts.positions),
    [COMMIT_ID_KEY]: opts.commitId ?? randomUUID(),
  };
  if (opts.deadLetterMarks && opts.deadLetterMarks.size > 0) out[deadLettersKey(opts.group)] = encodeMarks(opts.deadLetterMarks);
  if (opts.counts) {
    out[CONSUMED_KEY] = String(opts.counts.consumed);
    out[DEAD_LETTERED_KEY] = String(opts.counts.deadLettered);
    out[DUPLICATES_KEY] = String(opts.counts.duplicates);
    for (const [reason, n] of Object.entries(opts.counts.deadLetteredByReason ?? {})) out[DEAD_LETTERED_REASON_KEY_PREFIX + reason] = String(n);
  }
  return out;
}

export interface RecordedOffsets {
  positions: Positions;
  /** The dead-letter marks recorded with them (`lakehouse.dead-letters.<group>`), per source partition. */
  deadLetterMarks: Map<string, string>;
  /** The snapshot that carried them; null when none of the current lineage does. */
  snapshot: Snapshot | null;
  /**
   * True when the walk stopped at an expired parent before finding the key: offsets may have been
   * recorded in history that no longer exists, so "nothing recorded" is not certain.
   */
  truncated: boolean;
}

/**
 * Walks back from the current snapshot of `main` through its ancestors to the newest snapshot that
 * carries `lakehouse.offsets.<group>`. Snapshots of other writers in between (compaction, metrics jobs,
 * other groups) are skipped. Parent lineage, not the snapshot list, because after a rollback the rolled
 * back snapshots are still listed but their rows are not in the table.
 */
export function findRecordedOffsets(metadata: TableMetadata, group: string): RecordedOffsets {
  const key = offsetsKey(group);
  const head = currentSnapshot(metadata);
  const chain = ancestorsOf(metadata, head?.snapshotId ?? null);
  for (const s of chain) {
    const text = s.summary[key];
    if (text !== undefined) {
      return { positions: decodePositions(text, `snapshot ${s.snapshotId}`), deadLetterMarks: decodeMarks(s.summary[DEAD_LETTERS_KEY_PREFIX + group]), snapshot: s, truncated: false };
    }
  }
  const oldest = chain[chain.length - 1];
  const truncated = oldest !== undefined && oldest.parentSnapshotId !== null && oldest.parentSnapshotId !== undefined;
  return { positions: new Map(), deadLetterMarks: new Map(), snapshot: null, truncated };
}

export function recordedPositions(metadata: TableMetadata, group: string): Positions {
  return findRecordedOffsets(metadata, group).positions;
}

/** True if some snapshot of the table carries this commit id (used after an unknown commit outcome). */
export function hasCommitId(metadata: TableMetadata, commitId: string): boolean {
  const head = currentSnapshot(metadata);
  return ancestorsOf(metadata, head?.snapshotId ?? null).some((s) => s.summary[COMMIT_ID_KEY] === commitId);
}

/** `recorded` carried forward with `update` on top (update wins per partition). */
export function mergePositions(recorded: Positions, update: Positions): Positions {
  const out: Positions = new Map(recorded);
  for (const [k, v] of update) out.set(k, v);
  return out;
}

/** Splits `<topic>:<partition>`; the topic may itself contain ':' (a file source's s3:// location). */
export function parsePositionKey(key: string): { topic: string; partition: number } {
  const i = key.lastIndexOf(':');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

/** The offset range one flush read from a partition: offsets first..next-1. */
export interface PositionRange {
  first: bigint;
  next: bigint;
}

/**
 * Another writer of the same group already recorded offsets inside the range we are about to commit
 * (a zombie whose partitions moved to another consumer, or a second process on the same file). Nothing
 * was committed; committing would duplicate rows.
 */
export class OffsetsFencedError extends LakehouseError {
  constructor(message: string, context: Record<string, unknown>) {
    super('VALIDATION_FAILED', message, { retryable: false, context });
    this.name = 'OffsetsFencedError';
  }
}

/** Our commit id is already in the table: an earlier attempt whose outcome was unknown did land. */
export class AlreadyCommittedError extends LakehouseError {
  readonly snapshot: Snapshot;
  constructor(snapshot: Snapshot) {
    super('COMMIT_FAILED', `Snapshot ${snapshot.snapshotId} with this commit id is already in the table.`, { retryable: false });
    this.name = 'AlreadyCommittedError';
    this.snapshot = snapshot;
  }
}

export interface OffsetsAppendOptions {
  group: string;
  /** Description of the source, recorded as `lakehouse.source`. */
  source: string;
  /** What this flush read, per `<topic>:<partition>`. */
  ranges: Map<string, PositionRange>;
  commitId: string;
  counts?: { consumed: number; deadLettered: number; duplicates: number; deadLetteredByReason?: Record<string, number> };
  /** The dead-letter sink's mark per source partition of `ranges`, taken when the flush started. */
  deadLetterMarks?: Map<string, string>;
}

/**
 * An append (merging small manifests as the table's properties say) that records positions, computed against the base each attempt is applied to (so a
 * retry after a conflict carries forward what other consumers of the group recorded meanwhile, instead
 * of overwriting it with a stale copy), and that refuses to commit a range someone else already
 * committed: the recorded position of each partition must not be past the first offset we read.
 * A gap (recorded < first) is allowed: Kafka offsets skip transaction markers and compacted records.
 * It only registers a summary hook of the append; the append's own work is untouched.
 */
export class OffsetsAppend extends MergeAppend {
  constructor(table: TableHandle, opts: OffsetsAppendOptions) {
    super(table);
    this.summaryFrom((base, parent) => offsetsSummaryFor(base, parent, opts));
  }
}

/**
 * The refusal a commit of `ranges` would meet against `recorded`: another writer of the group already
 * recorded a position past the first offset of one of them. Null when the ranges may be committed.
 */
export function fenceFor(recorded: RecordedOffsets, group: string, ranges: Map<string, PositionRange>): OffsetsFencedError | null {
  for (const [key, range] of ranges) {
    const at = recorded.positions.get(key);
    if (at !== undefined && at > range.first) {
      return new OffsetsFencedError(
        `Not committing offsets ${range.first}..${range.next - 1n} of ${key} for group "${group}": snapshot ${recorded.snapshot?.snapshotId} already records position ${at}, so another writer of this group committed part of that range (this consumer lost the partition, or two processes read the same source). Nothing was committed; restart to resume from the table's recorded offsets.`,
        { key, group, first: range.first.toString(), recorded: at.toString(), snapshotId: recorded.snapshot?.snapshotId.toString() },
      );
    }
  }
  return null;
}

/** The summary of an ingest commit against `base`; throws when the commit must not land (see OffsetsAppend). */
function offsetsSummaryFor(base: TableMetadata, parent: Snapshot | null, opts: OffsetsAppendOptions): Record<string, string> {
  const chain = ancestorsOf(base, parent?.snapshotId ?? null);
  const ours = chain.find((s) => s.summary[COMMIT_ID_KEY] === opts.commitId);
  if (ours) throw new AlreadyCommittedError(ours);
  const recorded = findRecordedOffsets(base, opts.group);
  const fenced = fenceFor(recorded, opts.group, opts.ranges);
  if (fenced) throw fenced;
  const next: Positions = new Map();
  for (const [key, range] of opts.ranges) next.set(key, range.next);
  const marks = new Map(recorded.deadLetterMarks);
  for (const [key, mark] of opts.deadLetterMarks ?? []) marks.set(key, mark);
  return positionsSummary({
    group: opts.group, source: opts.source, commitId: opts.commitId, counts: opts.counts,
    positions: mergePositions(recorded.positions, next), deadLetterMarks: marks,
  });
}
