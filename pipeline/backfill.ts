import { type Expr, type Schema, type Table, alwaysFalse, and, gtEq, lt, or } from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import { BACKFILL_GROUP_PREFIX } from '../domain/ingest-summary-keys.ts';
import type { DeadLetterSink } from './dead-letters.ts';
import { FingerprintTable } from './dedup-index.ts';
import { TableDedup } from './dedup-table.ts';
import { EventBuffer } from './event-buffer.ts';
import { decodeEvent, isRejection } from './event-decoder.ts';
import { Ingestor, type IngestStats } from './ingest.ts';
import { findRecordedOffsets } from './offsets.ts';
import { type Positions, type Source, type SourceBatch, type SourceRecord, recordBatches } from './source.ts';

/**
 * A backfill: history re-read into campaign_events through the ingest loop itself (pipeline/ingest.ts:
 * the same decoder, buffer, dead letters, flushes and commits that record the source positions), in two
 * passes over the source:
 *
 * 1. The survey reads the source from the positions the table records for this backfill, through the
 *    same EventBuffer, and keeps only what the second pass needs: the fingerprint of every valid
 *    event_id (12-24 bytes each), the days of their event times, and the counts (records, invalid ones by
 *    reason, repeats). It writes nothing, so an unreadable source (a damaged gzip file, an S3 object it
 *    may not read) fails before anything lands. A dry run stops after it.
 * 2. The run is an Ingestor with a de-duplication index scoped to the survey: the event_ids of the rows
 *    the table holds on the days the source touches (the planner prunes by the day partitions), of any
 *    age, and only those the source also carries. The ingest's own index covers a horizon of processing
 *    time (7 days), which history is older than; this one covers the source's event times instead, so
 *    an event already in the table is never added again however long ago it was stored, and memory
 *    follows the size of the source, not of the table.
 *
 * Progress is the ingest's: each commit records the next position per file or Kafka partition under
 * `lakehouse.offsets.<group>` (a group of the backfill's own, domain/ingest-summary-keys.ts), so a
 * backfill killed at any point resumes where the table says, and running the same backfill again reads
 * nothing. Even from other positions (another group, another copy of the files) nothing is stored twice:
 * the ids are checked against the table.
 */
export interface BackfillOptions {
  table: Table;
  /** Names the positions in the table; BACKFILL_GROUP_PREFIX + an id (backfillGroup()). */
  group: string;
  /** Opens the source afresh (the survey and the run each read it once); Kafka wires the hooks in. */
  openSource: (hooks: SourceHooks) => Source;
  /** Where invalid records go; not used by a dry run. */
  deadLetters?: DeadLetterSink;
  /** Count what would be added, dead-lettered and skipped; write nothing. */
  dryRun?: boolean;
  flushRows?: number;
  flushBytes?: number;
  memoryBudgetBytes?: number;
  log?: Logger;
  now?: () => number;
  /** Stops reading: a survey ends with nothing written, a run flushes and commits what it read. */
  signal?: AbortSignal;
  onProgress?: (p: BackfillProgress) => void;
}

/** What a Kafka source needs from the Ingestor at a rebalance (KafkaSourceOptions). */
export interface SourceHooks {
  positionsFor?: () => Promise<Positions>;
  onAssignment?: () => void;
}

export interface BackfillProgress {
  phase: 'survey' | 'write';
  /** Records read in this phase so far. */
  records: number;
  /** Records the phase will read: known for the run (the survey counted them), not for the survey. */
  total: number | null;
  /** The phase's source, for sources that report bytes or offsets. */
  source: Source;
}

export interface BackfillResult {
  table: string;
  group: string;
  dryRun: boolean;
  stoppedBy: 'end' | 'abort';
  /** Positions the table recorded for the group when the backfill started (a resumed one has some). */
  resumedFrom: Positions;
  /** Records read from those positions on. */
  records: number;
  /** Rows written (or, in a dry run, that would be). */
  added: number;
  deadLettered: number;
  deadLetteredByReason: Record<string, number>;
  /** Valid events not added: their event_id is in the table already, or came earlier in the source. */
  skipped: number;
  alreadyInTable: number;
  repeatedInSource: number;
  /** Event times of the valid records (epoch µs), and the days they fall on. */
  eventTimeMin: bigint | null;
  eventTimeMax: bigint | null;
  days: number;
  commits: number;
  snapshotId: bigint | null;
  positions: Positions;
}

/** Nothing ages out of a backfill's index: it lives for one run and holds only the source's ids. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;
const DAY_US = 86_400_000_000n;
const DAY_MS = 86_400_000;
/** Rows the survey's buffer collects before handing their ids and times over. */
const SURVEY_BATCH_ROWS = 65_536;
/** A filter of more day ranges than this merges the closest ones (planning cost grows with its size). */
const MAX_DAY_RANGES = 64;
const EVENT_TIME_COLUMN = 'event_time';

/** The group a backfill records its positions under, from a stable description of its source. */
export function backfillGroup(sourceIdentity: string): string {
  // FNV-1a 64 over the identity's UTF-16 units: a short, stable name; not a security boundary.
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < sourceIdentity.length; i++) {
    h ^= BigInt(sourceIdentity.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `${BACKFILL_GROUP_PREFIX}${h.toString(16).padStart(16, '0')}`;
}

interface Survey {
  records: number;
  valid: number;
  repeated: number;
  deadLettered: number;
  byReason: Record<string, number>;
  ids: FingerprintTable;
  days: Set<number>;
  min: bigint | null;
  max: bigint | null;
  stoppedBy: 'end' | 'abort';
}

export async function backfill(opts: BackfillOptions): Promise<BackfillResult> {
  const { table, group } = opts;
  const log = (opts.log ?? silentLogger).child({ component: 'backfill', table: table.name, group });
  const now = opts.now ?? Date.now;
  const signal = opts.signal ?? new AbortController().signal;
  if (!opts.dryRun && !opts.deadLetters) throw new LakehouseError('INVALID_ARGUMENT', 'Backfill option deadLetters is required unless it is a dry run.');
  await table.refresh();
  // A history expired past the group's last carrier loses only the shortcut: the ids still keep every
  // event once, so the backfill starts over from the source's start instead of stopping.
  const recorded = findRecordedOffsets(table.metadata, group);
  if (recorded.truncated) log.warn('the snapshots recording this backfill\'s positions were expired; reading the source from its start (event_ids already in the table are skipped)');

  const surveySource = opts.openSource({ positionsFor: async () => recorded.positions });
  const s = await survey(surveySource, recorded.positions, table.schema(), now, signal, (records) => opts.onProgress?.({ phase: 'survey', records, total: null, source: surveySource }));
  log.info('survey done', { records: s.records, valid: s.valid, repeated: s.repeated, deadLettered: s.deadLettered, days: s.days.size });

  const dedup = new TableDedup({ horizonMs: UNBOUNDED, maxIds: UNBOUNDED, scope: { filter: daysFilter([...s.days]), only: s.ids } });
  const result: BackfillResult = {
    table: table.name, group, dryRun: Boolean(opts.dryRun), stoppedBy: s.stoppedBy, resumedFrom: recorded.positions,
    records: s.records, added: 0, deadLettered: s.deadLettered, deadLetteredByReason: s.byReason, skipped: 0, alreadyInTable: 0,
    repeatedInSource: s.repeated, eventTimeMin: s.min, eventTimeMax: s.max, days: s.days.size,
    commits: 0, snapshotId: null, positions: recorded.positions,
  };
  if (s.stoppedBy === 'abort') return result;
  if (opts.dryRun) {
    const loaded = await dedup.load(table, now());
    log.info('event_ids of the table on the source\'s days read', { ...loaded });
    result.alreadyInTable = dedup.index.size;
    result.added = s.valid - result.alreadyInTable;
    result.skipped = s.repeated + result.alreadyInTable;
    return result;
  }
  if (s.records === 0) return result;

  let ingestor: Ingestor | undefined;
  const source = opts.openSource({
    positionsFor: () => ingestor!.positionsFor(),
    onAssignment: () => ingestor!.discardUncommitted('rebalance'),
  });
  ingestor = new Ingestor({
    table, source: new CountingSource(source, (records) => opts.onProgress?.({ phase: 'write', records, total: s.records, source })),
    group, deadLetters: opts.deadLetters!, dedup, resetPositions: true, log: opts.log ?? silentLogger, now,
    ...(opts.flushRows ? { flushRows: opts.flushRows } : {}),
    ...(opts.flushBytes ? { flushBytes: opts.flushBytes } : {}),
    ...(opts.memoryBudgetBytes ? { memoryBudgetBytes: opts.memoryBudgetBytes } : {}),
    // History has no freshness to keep: flush on size (and at the end), not on a clock.
    flushIntervalMs: 3_600_000,
  });
  let stats: IngestStats;
  try {
    stats = await ingestor.run(signal);
  } finally {
    await source.close().catch((e) => log.warn('closing the source failed', { error: e }));
  }
  return {
    ...result, stoppedBy: stats.stoppedBy, records: stats.consumed, added: stats.written, deadLettered: stats.deadLettered,
    deadLetteredByReason: stats.deadLetteredByReason, skipped: stats.duplicates,
    alreadyInTable: Math.max(0, stats.duplicates - s.repeated), commits: stats.commits, snapshotId: stats.lastSnapshotId, positions: stats.positions,
  };
}

/**
 * Pass 1: reads the source from `resume` through an EventBuffer (so valid, invalid and repeated mean
 * exactly what they mean to the run), handing over each batch's ids and event times.
 */
async function survey(source: Source, resume: Positions, schema: Schema, now: () => number, signal: AbortSignal, progress: (records: number) => void): Promise<Survey> {
  const ids = new FingerprintTable();
  const s: Survey = { records: 0, valid: 0, repeated: 0, deadLettered: 0, byReason: {}, ids, days: new Set(), min: null, max: null, stoppedBy: 'end' };
  const buffer = new EventBuffer({ schema, seen: ids });
  const take = () => {
    const drained = buffer.drainBatch();
    if (!drained) return;
    const n = drained.batch.numRows;
    for (let i = 0; i < n; i++) ids.insert(drained.lo[i]!, drained.hi[i]!);
    const times = drained.batch.getChild(EVENT_TIME_COLUMN)!.data[0]!.values as BigInt64Array;
    let lastDay = NaN;
    for (let i = 0; i < n; i++) {
      const us = times[i]!;
      if (s.min === null || us < s.min) s.min = us;
      if (s.max === null || us > s.max) s.max = us;
      const day = Math.floor(Number(us) / 1000 / DAY_MS);
      if (day !== lastDay) { s.days.add(day); lastDay = day; }
    }
  };
  try {
    await source.start(resume);
    for (;;) {
      if (signal.aborted) { s.stoppedBy = 'abort'; break; }
      const batches = source.pollBatches ? await source.pollBatches(10_000, 250) : recordBatches(await source.poll(10_000, 250));
      const nowMs = now();
      const processedAt = BigInt(nowMs) * 1000n;
      let polled = 0;
      for (const { values } of batches) {
        for (let i = 0; i < values.length; i++) {
          const value = values[i]!;
          const added = value === null ? decodeEvent(null, nowMs) : buffer.addMessage(value, nowMs, processedAt);
          if (isRejection(added)) {
            s.deadLettered++;
            s.byReason[added.reason] = (s.byReason[added.reason] ?? 0) + 1;
          } else if (added) s.valid++;
          else s.repeated++;
          if (buffer.rows >= SURVEY_BATCH_ROWS) take();
        }
        polled += values.length;
      }
      s.records += polled;
      progress(s.records);
      if (polled === 0 && source.ended()) break;
    }
    take();
  } finally {
    await source.close();
  }
  return s;
}

/**
 * event_time within the given days (epoch days), as few ranges as possible: runs of consecutive days
 * are one range, and past MAX_DAY_RANGES the closest runs are joined (reading a few more files beats
 * a filter the planner evaluates per manifest entry at great length).
 */
export function daysFilter(days: number[]): Expr {
  if (days.length === 0) return alwaysFalse();
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  let runs: Array<[number, number]> = [];
  for (const d of sorted) {
    const last = runs[runs.length - 1];
    if (last && d === last[1]) last[1] = d + 1;
    else runs.push([d, d + 1]);
  }
  while (runs.length > MAX_DAY_RANGES) {
    let best = 0;
    for (let i = 1; i < runs.length - 1; i++) if (runs[i + 1]![0] - runs[i]![1] < runs[best + 1]![0] - runs[best]![1]) best = i;
    runs = [...runs.slice(0, best), [runs[best]![0], runs[best + 1]![1]], ...runs.slice(best + 2)];
  }
  const ranges = runs.map(([lo, hi]) => and(gtEq(EVENT_TIME_COLUMN, BigInt(lo) * DAY_US), lt(EVENT_TIME_COLUMN, BigInt(hi) * DAY_US)));
  return ranges.length === 1 ? ranges[0]! : or(ranges[0]!, ...ranges.slice(1));
}

/** Reports the records polled so far; everything else is the inner source's. */
class CountingSource implements Source {
  private n = 0;
  constructor(private readonly inner: Source, private readonly onRecords: (records: number) => void) {}
  get description(): string { return this.inner.description; }
  start(resume: Positions): Promise<void> { return this.inner.start(resume); }
  async poll(max: number, waitMs: number): Promise<SourceRecord[]> {
    const got = await this.inner.poll(max, waitMs);
    this.n += got.length;
    this.onRecords(this.n);
    return got;
  }
  async pollBatches(max: number, waitMs: number): Promise<SourceBatch[]> {
    const got = this.inner.pollBatches ? await this.inner.pollBatches(max, waitMs) : recordBatches(await this.inner.poll(max, waitMs));
    for (const b of got) this.n += b.values.length;
    this.onRecords(this.n);
    return got;
  }
  ended(): boolean { return this.inner.ended(); }
  commit(positions: Positions): Promise<void> { return this.inner.commit(positions); }
  pause(): void { this.inner.pause(); }
  resume(): void { this.inner.resume(); }
  close(): Promise<void> { return this.inner.close(); }
}
