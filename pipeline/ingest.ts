import { randomUUID } from 'node:crypto';
import type * as arrow from 'apache-arrow';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { CommitStateUnknownError } from '../iceberg/index.ts';
import type { DataFile, Schema, Snapshot, Table } from '../iceberg/index.ts';
import { campaignEventsColumnIds } from '../domain/campaign-events.ts';
import { backoffMs } from '../core/retry.ts';
import { FLUSH_CRASH_POINTS as CRASH, crashPoint } from './crash-points.ts';
import type { DeadLetterSink } from './dead-letters.ts';
import { EventBuffer } from './event-buffer.ts';
import { DEFAULT_DEDUP_HORIZON_MS, DEFAULT_DEDUP_MAX_IDS } from './dedup-index.ts';
import { TableDedup } from './dedup-table.ts';
import { type Rejection, decodeEvent, isRejection } from './event-decoder.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import { type IngestMetrics, createIngestMetrics } from './prometheus.ts';
import { AlreadyCommittedError, OffsetsAppend, OffsetsFencedError, type PositionRange, type RecordedOffsets, fenceFor, findRecordedOffsets, offsetsKey, parsePositionKey } from './offsets.ts';
import { type Positions, type Source, type SourceBatch, recordBatches } from './source.ts';

/**
 * The ingest loop: poll -> decode -> buffer (or dead-letter) -> flush -> commit, the same for every
 * source. A flush is, in this order (so that a crash between any two steps loses nothing and
 * duplicates nothing):
 *   1. the dead-letter sink is flushed, so every rejected record of the flush is durable;
 *   2. the buffer's rows are written as Parquet data files (nothing visible yet);
 *   3. one Iceberg append commits the files and, in its summary, the next position of every partition
 *      read (pipeline/offsets.ts); a retry replays this list of files, never the stream;
 *   4. only then are the positions committed to the source (Kafka consumer-group offsets).
 * A crash before 3 lands replays the records from the table's recorded positions (files written by the
 * lost flush are orphans no snapshot references); a crash after 3 skips them. So rows are exactly once.
 * Dead letters are too, with a sink that can read itself back (pipeline/dead-letters.ts): step 3 also
 * records the sink's mark, and on start and after each rebalance the sink reads what it already holds
 * past the recorded positions, so the replayed records' letters are not sent again.
 *
 * Each event_id is stored once within the de-duplication horizon (pipeline/dedup-index.ts,
 * pipeline/dedup-table.ts): an event whose id is in the buffer, in the flush in flight, or in a row
 * committed within the horizon is dropped and counted as a duplicate. The index is loaded from the
 * table when run() starts (so a restart after kill -9 knows exactly the committed ids), a flush's ids
 * join it only once its commit landed, and rows other writers committed are read in after each of our
 * commits and after a rebalance.
 *
 * One flush at a time is in flight while the next buffer fills; memory = buffer + flush in flight. Over
 * the budget the source is paused until a flush completes (backpressure instead of running out of memory).
 */
export interface IngestorOptions {
  table: Table;
  source: Source;
  /** Consumer group; its positions are recorded under `lakehouse.offsets.<group>`. */
  group: string;
  deadLetters: DeadLetterSink;
  /** Flush when the buffer holds this many rows; default 100 000. */
  flushRows?: number;
  /** Flush when the buffer holds this many bytes; default 64 MiB. */
  flushBytes?: number;
  /** Flush when the oldest record not yet flushed was read this long ago (ms); default 5 000. */
  flushIntervalMs?: number;
  /** Pause the source while buffer + flush in flight exceed this (bytes); default 256 MiB. */
  memoryBudgetBytes?: number;
  /** Records asked for per poll; default 10 000. */
  pollMaxRecords?: number;
  /** Longest wait of one poll (ms); bounds how late an abort is noticed. Default min(250, flushIntervalMs). */
  pollWaitMs?: number;
  /** Attempts to commit one flush after the first, for failures that left nothing in the table; default 3. */
  commitRetries?: number;
  metrics?: IngestMetrics;
  log?: Logger;
  /** Clock in ms since epoch (decode checks, ages, processed_at); default Date.now. */
  now?: () => number;
  /**
   * Start from the source's default (earliest/latest) when the snapshots that recorded this group's
   * positions were expired. Off by default: guessing would duplicate or skip events.
   */
  resetPositions?: boolean;
  /**
   * Drop an event whose event_id was stored within this long (ms of processing time, measured from the
   * first copy's processed_at); default 7 days, 0 turns the check off (then only duplicates within one
   * flush are dropped).
   */
  dedupHorizonMs?: number;
  /** Most event_ids the de-duplication index holds (12-24 bytes each); default 10 M. */
  dedupMaxIds?: number;
  /**
   * A de-duplication index made by the caller instead of the one dedupHorizonMs/dedupMaxIds describe:
   * a backfill's, scoped to the event times its source touches (pipeline/backfill.ts).
   */
  dedup?: TableDedup;
}

export const DEFAULT_FLUSH_ROWS = 100_000;
export const DEFAULT_FLUSH_BYTES = 64 * 1024 * 1024;
export const DEFAULT_FLUSH_INTERVAL_MS = 5_000;
export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;
export const DEFAULT_POLL_MAX_RECORDS = 10_000;
export const DEFAULT_COMMIT_RETRIES = 3;
const BYTES_CHECK_EVERY = 64;
/** Fences in a row (no commit between) after which the run stops: something else keeps writing our partitions. */
const MAX_RESEEKS_IN_A_ROW = 3;

/**
 * Counts of what committed snapshots cover. For every run, consumed = written + deadLettered +
 * duplicates (records read but not yet committed when a run fails are in none of them).
 */
export interface IngestStats {
  consumed: number;
  written: number;
  deadLettered: number;
  duplicates: number;
  deadLetteredByReason: Record<string, number>;
  /** Snapshots committed by this run. */
  commits: number;
  lastSnapshotId: bigint | null;
  /** Positions recorded in the table when the run started, and after its last commit. */
  resumedFrom: Positions;
  positions: Positions;
  /** Times the source was paused for the memory budget. */
  pauses: number;
  /**
   * Flushes refused because another writer of the group had committed part of their range (a member
   * that joined while the previous owner's flush was in flight); the source was sought to the table again.
   */
  reseeks: number;
  stoppedBy: 'end' | 'abort';
}

/** What has been read since the last flush started. */
interface Pending {
  consumed: number;
  rows: number;
  deadLettered: number;
  duplicates: number;
  byReason: Record<string, number>;
  ranges: Map<string, PositionRange>;
  firstReadAtMs: number;
}

function newPending(): Pending {
  return { consumed: 0, rows: 0, deadLettered: 0, duplicates: 0, byReason: {}, ranges: new Map(), firstReadAtMs: 0 };
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) throw new LakehouseError('INVALID_ARGUMENT', `Ingest option ${name} must be a positive whole number, got ${v}.`);
  return v;
}

export class Ingestor {
  private readonly table: Table;
  private readonly source: Source;
  private readonly group: string;
  private readonly deadLetters: DeadLetterSink;
  private readonly flushRows: number;
  private readonly flushBytes: number;
  private readonly flushIntervalMs: number;
  private readonly memoryBudgetBytes: number;
  private readonly pollMaxRecords: number;
  private readonly pollWaitMs: number;
  private readonly commitRetries: number;
  readonly metrics: IngestMetrics;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly resetPositions: boolean;
  private readonly dedup: TableDedup | null;

  private buffer!: EventBuffer;
  private pending: Pending = newPending();
  private inflight: Promise<void> | null = null;
  private inflightBytes = 0;
  private inflightOldestEventMs: number | null = null;
  private failure: unknown = null;
  private running = false;
  /** Bumped when uncommitted records are discarded (a rebalance), so records of an older poll are dropped. */
  private epoch = 0;
  /** Set while a rebalanced source is seeking to the positions positionsFor() gave: start no flush. */
  private holdFlushes = false;
  private stats!: IngestStats;
  /**
   * The dead-letter sink's resume() started with the source's start, so reading the sink overlaps the
   * group join; the first positionsFor() uses it when the table has not moved meanwhile.
   */
  private firstResume: { snapshotId: bigint | null; done: Promise<void> } | null = null;
  /**
   * Set at start and by every (re)assignment: the first flush after it checks against the table that no
   * other writer committed part of its range before it writes anything, dead letters included. A member
   * that joined while the previous owner's flush was in flight sought to positions that flush then moved.
   */
  private fenceCheckDue = true;
  private reseeksInARow = 0;

  constructor(opts: IngestorOptions) {
    if (!opts.table) throw new LakehouseError('INVALID_ARGUMENT', 'Ingest option table is required.');
    if (!opts.source) throw new LakehouseError('INVALID_ARGUMENT', 'Ingest option source is required.');
    if (!opts.deadLetters) throw new LakehouseError('INVALID_ARGUMENT', 'Ingest option deadLetters is required (a sink for invalid records).');
    offsetsKey(opts.group); // validates the group name
    this.table = opts.table;
    this.source = opts.source;
    this.group = opts.group;
    this.deadLetters = opts.deadLetters;
    this.flushRows = positiveInt('flushRows', opts.flushRows ?? DEFAULT_FLUSH_ROWS);
    this.flushBytes = positiveInt('flushBytes', opts.flushBytes ?? DEFAULT_FLUSH_BYTES);
    this.flushIntervalMs = positiveInt('flushIntervalMs', opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
    this.memoryBudgetBytes = positiveInt('memoryBudgetBytes', opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES);
    this.pollMaxRecords = positiveInt('pollMaxRecords', opts.pollMaxRecords ?? DEFAULT_POLL_MAX_RECORDS);
    this.pollWaitMs = positiveInt('pollWaitMs', opts.pollWaitMs ?? Math.min(250, this.flushIntervalMs));
    const retries = opts.commitRetries ?? DEFAULT_COMMIT_RETRIES;
    if (!Number.isSafeInteger(retries) || retries < 0) throw new LakehouseError('INVALID_ARGUMENT', `Ingest option commitRetries must be a whole number >= 0, got ${retries}.`);
    this.commitRetries = retries;
    this.resetPositions = opts.resetPositions ?? false;
    const horizon = opts.dedupHorizonMs ?? DEFAULT_DEDUP_HORIZON_MS;
    if (!Number.isSafeInteger(horizon) || horizon < 0) throw new LakehouseError('INVALID_ARGUMENT', `Ingest option dedupHorizonMs must be a whole number of milliseconds >= 0 (0 = off), got ${horizon}.`);
    this.dedup = opts.dedup ?? (horizon === 0 ? null : new TableDedup({ horizonMs: horizon, maxIds: positiveInt('dedupMaxIds', opts.dedupMaxIds ?? DEFAULT_DEDUP_MAX_IDS) }));
    this.metrics = opts.metrics ?? createIngestMetrics();
    this.log = (opts.log ?? silentLogger).child({ component: 'ingest', table: opts.table.name, group: opts.group, source: opts.source.description });
    this.now = opts.now ?? Date.now;
  }

  /**
   * Reads until the source ends or `signal` aborts, then flushes and commits what it holds and returns.
   * The caller owns the source and the dead-letter sink: close them after run() settles. On an error the
   * flush in flight is awaited, nothing more is committed, and the error is thrown; a new run resumes
   * from the table.
   */
  async run(signal: AbortSignal = new AbortController().signal): Promise<IngestStats> {
    if (this.running) throw new LakehouseError('INTERNAL', 'Ingestor.run() is already running.');
    this.running = true;
    try {
      await this.table.refresh();
      const recorded = findRecordedOffsets(this.table.metadata, this.group);
      if (recorded.truncated) {
        if (!this.resetPositions) {
          throw new LakehouseError('VALIDATION_FAILED', `Table ${this.table.name} no longer has the snapshot that recorded where group "${this.group}" stopped (${offsetsKey(this.group)}): its history was expired past it. Starting from the source's default could duplicate or skip events, so ingest stops. If you know the source's earliest (or, with --from-latest, latest) position is right, rerun with --reset-positions.`);
        }
        this.log.warn('no recorded offsets in the table\'s remaining history, which was expired; --reset-positions: starting from the source default', { key: offsetsKey(this.group) });
      }
      this.stats = {
        consumed: 0, written: 0, deadLettered: 0, duplicates: 0, deadLetteredByReason: {}, commits: 0,
        lastSnapshotId: recorded.snapshot?.snapshotId ?? null, resumedFrom: recorded.positions, positions: new Map(recorded.positions),
        pauses: 0, reseeks: 0, stoppedBy: 'end',
      };
      this.fenceCheckDue = true;
      this.reseeksInARow = 0;
      if (this.dedup) {
        this.dedup.index.dropStaged();
        const loaded = await this.dedup.load(this.table, this.now());
        this.log.info('de-duplication index loaded', { ...loaded, horizonMs: this.dedup.index.horizonMs, bytes: this.dedup.index.bytes });
      }
      this.buffer = this.newBuffer();
      // A failed earlier run of this Ingestor left what it had read uncommitted: that is read again.
      this.pending = newPending();
      this.log.info('starting', { resumeFrom: recorded.positions, recordedIn: recorded.snapshot?.snapshotId ?? null });
      const done = this.resumeDeadLetters(recorded);
      done.catch(() => {}); // awaited below or by positionsFor()
      this.firstResume = { snapshotId: recorded.snapshot?.snapshotId ?? null, done };
      await this.source.start(recorded.positions);
      // A source without positionsFor (a file) reads from `recorded`: the sink must be read before the loop.
      await this.firstResume?.done;
      this.firstResume = null;
      try {
        await this.loop(signal);
      } catch (e) {
        await this.inflight?.catch(() => {});
        throw e;
      }
      this.log.info('stopped', { by: this.stats.stoppedBy, consumed: this.stats.consumed, written: this.stats.written, deadLettered: this.stats.deadLettered, duplicates: this.stats.duplicates, commits: this.stats.commits });
      return this.stats;
    } finally {
      this.running = false;
      this.failure = null;
      this.inflight = null;
      this.firstResume = null;
    }
  }

  /**
   * A buffer for the table's current schema: known fields into the columns with their field ids (also
   * after a rename), extra optional columns from the event keys of their names.
   */
  private newBuffer(): EventBuffer {
    return new EventBuffer({
      schema: this.table.schema(), columnIds: campaignEventsColumnIds(this.table.metadata),
      ...(this.dedup ? { seen: this.dedup.index } : {}),
    });
  }

  /**
   * Lets the dead-letter sink read what it already holds past the recorded positions (a run that died
   * before its commit sent those letters), so that none is sent twice. Sources that can say which
   * partitions have records past their position narrow the read to those.
   */
  private async resumeDeadLetters(recorded: RecordedOffsets): Promise<void> {
    if (!this.deadLetters.resume) return;
    const ends = await this.source.ends?.();
    const uncommitted = ends && [...ends].filter(([key, end]) => end > (recorded.positions.get(key) ?? 0n)).map(([key]) => key);
    const started = performance.now();
    const { found } = await this.deadLetters.resume({ group: this.group, positions: recorded.positions, marks: recorded.deadLetterMarks, ...(uncommitted ? { uncommitted } : {}) });
    this.log.info('dead-letter sink read back past the recorded positions', { lettersAlreadySent: found, uncommittedPartitions: uncommitted ?? 'unknown', seconds: Number(((performance.now() - started) / 1000).toFixed(3)) });
  }

  /**
   * The table's recorded positions, for a source that seeks after a rebalance (KafkaSourceOptions
   * positionsFor). Waits for the flush in flight, so the answer includes its commit, and starts no new
   * flush until discardUncommitted() (the source's onAssignment) drops what was read before the seek.
   */
  async positionsFor(): Promise<Positions> {
    this.holdFlushes = true;
    await this.inflight?.catch(() => {});
    await this.table.refresh();
    // The partitions we get may have been another process's: its commits join our index first.
    await this.followOthers();
    const recorded = findRecordedOffsets(this.table.metadata, this.group);
    // Records read before the seek are read again: their letters not yet written are dropped, and what
    // the sink holds past the positions (ours, or a previous owner's) is read back.
    const first = this.firstResume;
    this.firstResume = null;
    if (first && first.snapshotId === (recorded.snapshot?.snapshotId ?? null)) await first.done;
    else {
      await first?.done.catch(() => {});
      await this.resumeDeadLetters(recorded);
    }
    return recorded.positions;
  }

  /**
   * Drops every record read but not yet handed to a flush: after a rebalance the source seeks each
   * partition to the table's position, so they will be read again (by us or the partition's new owner).
   * positionsFor() already dropped their dead letters not yet written.
   */
  discardUncommitted(reason = 'rebalance'): void {
    this.epoch++;
    this.holdFlushes = false;
    this.fenceCheckDue = true;
    if (!this.buffer) return;
    const dropped = this.pending.consumed;
    this.buffer.drain();
    this.pending = newPending();
    this.updateGauges();
    if (dropped > 0) this.log.info('discarded uncommitted records', { reason, records: dropped });
  }

  private async loop(signal: AbortSignal): Promise<void> {
    for (;;) {
      this.throwIfFailed();
      if (signal.aborted) {
        this.stats.stoppedBy = 'abort';
        break;
      }
      const batches = await this.poll();
      const epoch = this.epoch;
      let polled = 0;
      for (const b of batches) {
        polled += b.values.length;
        // Discarded mid-poll, or a seek is coming: the rest is read again after it.
        if (!(await this.consumeBatch(b, epoch))) break;
      }
      const ended = polled === 0 && this.source.ended();
      if (this.pending.consumed > 0) {
        // An empty poll is not a trigger: a fetch still in flight looks the same as a quiet topic, and
        // flushing on it made many small snapshots under load. A quiet topic commits at the interval.
        const due = ended || signal.aborted
          || this.buffer.rows >= this.flushRows || this.buffer.bytes >= this.flushBytes
          || performance.now() - this.pending.firstReadAtMs >= this.flushIntervalMs;
        if (due) await this.startFlush();
      }
      if (this.memoryInUse() > this.memoryBudgetBytes) await this.backpressure();
      this.updateGauges();
      if (ended) break;
    }
    await this.startFlush();
    await this.awaitInflight();
    this.updateGauges();
  }

  /**
   * One poll, as batches per partition. It waits at most until the buffer's interval is up, so a quiet
   * moment does not make the flush late by a whole poll wait; at least 1 ms, so that a loop with nothing
   * to read always lets timers and I/O run (a held flush waits for the seek's I/O, kafkajs for its fetch).
   */
  private async poll(): Promise<SourceBatch[]> {
    let waitMs = this.pollWaitMs;
    if (this.pending.consumed > 0 && !this.holdFlushes) {
      waitMs = Math.max(1, Math.min(waitMs, Math.ceil(this.pending.firstReadAtMs + this.flushIntervalMs - performance.now())));
    }
    if (this.source.pollBatches) return this.source.pollBatches(this.pollMaxRecords, waitMs);
    return recordBatches(await this.source.poll(this.pollMaxRecords, waitMs));
  }

  /**
   * Decodes one batch into the buffer, with the batch's clock reading and the position range kept per
   * run of records rather than per record. A run ends where something must be awaited (a dead letter the
   * sink holds back, a flush, backpressure), so the pending range always covers exactly the records read.
   * False when the records read were discarded meanwhile (a rebalance or a coming seek): stop reading.
   */
  private async consumeBatch(b: SourceBatch, epoch: number): Promise<boolean> {
    // Set while the poll waited: a seek is coming, and a record read now could send a dead letter after
    // positionsFor() dropped the unwritten ones (it would then be sent twice).
    if (this.epoch !== epoch || this.holdFlushes) return false;
    const values = b.values;
    const n = values.length;
    const nowMs = this.now();
    const processedAt = BigInt(nowMs) * 1000n;
    let i = 0;
    while (i < n) {
      const p = this.pending;
      const buffer = this.buffer;
      // Buffer age is wall time passing here, not the injectable clock (which decodes and stamps events).
      if (p.consumed === 0) p.firstReadAtMs = performance.now();
      const from = i;
      let letter: Promise<void> | undefined;
      let flush = false;
      let checkBytes = false;
      while (i < n) {
        const value = values[i]!;
        // addMessage reads the common message shape straight into the columns (≈2x decodeEvent + add) and
        // falls back to decodeEvent for anything else, so rejections are identical either way.
        const added = value === null ? decodeEvent(null, nowMs) : buffer.addMessage(value, nowMs, processedAt);
        i++;
        if (added === true) p.rows++;
        else if (added === false) p.duplicates++;
        else if (isRejection(added)) {
          letter = this.deadLetter(b, i - 1, added, nowMs);
          if (letter) break;
        }
        // Size triggers inside a batch, so a flush holds at most flushRows rows. Bytes are summed over the
        // buffer's arrays, so they are looked at every BYTES_CHECK_EVERY records only.
        if (buffer.rows >= this.flushRows) { flush = true; break; }
        if ((i - from) % BYTES_CHECK_EVERY === 0) { checkBytes = true; break; }
      }
      p.consumed += i - from;
      this.extendRange(p, b, from, i);
      if (letter) await letter;
      if (checkBytes) {
        if (buffer.bytes >= this.flushBytes) flush = true;
        else if (this.memoryInUse() > this.memoryBudgetBytes) {
          await this.backpressure();
          if (this.epoch !== epoch || this.holdFlushes) return false;
        }
      }
      if (flush) await this.startFlush();
      if (this.epoch !== epoch || this.holdFlushes) return false;
    }
    return true;
  }

  /** Widens the pending range of b's partition by records from..to-1 (two offsets, whatever the count). */
  private extendRange(p: Pending, b: SourceBatch, from: number, to: number): void {
    if (to === from) return;
    const first = b.offset(from);
    const next = b.offset(to - 1) + 1n;
    const range = p.ranges.get(b.key);
    if (!range) p.ranges.set(b.key, { first, next });
    else {
      if (first < range.first) range.first = first;
      if (next > range.next) range.next = next;
    }
  }

  /** Counts a rejected record and hands it to the dead-letter sink; the sink's promise when it holds it back. */
  private deadLetter(b: SourceBatch, i: number, rejection: Rejection, nowMs: number): Promise<void> | undefined {
    const p = this.pending;
    p.deadLettered++;
    p.byReason[rejection.reason] = (p.byReason[rejection.reason] ?? 0) + 1;
    const r = b.record(i);
    const sent = this.deadLetters.send({
      value: r.value, key: r.key ?? null, headers: r.headers ?? {}, reason: rejection.reason, detail: rejection.detail,
      topic: r.topic, partition: r.partition, offset: r.offset, timeMs: nowMs, group: this.group,
      ...(r.timestampMs === undefined ? {} : { sourceTimestampMs: r.timestampMs }),
    });
    return sent ?? undefined;
  }

  /** Over budget: pause the source until the next flush completes (starting one if none is running). */
  private async backpressure(): Promise<void> {
    this.source.pause();
    this.stats.pauses++;
    this.metrics.paused.set(1);
    this.log.warn('memory budget exceeded: source paused until the next flush completes', { bytes: this.memoryInUse(), budget: this.memoryBudgetBytes });
    try {
      if (!this.inflight) await this.startFlush();
      await this.awaitInflight();
    } finally {
      this.source.resume();
      this.metrics.paused.set(0);
    }
  }

  private memoryInUse(): number {
    return this.buffer.bytes + this.inflightBytes;
  }

  /** Waits for the flush in flight, then hands the buffer to a new one (no-op when nothing was read). */
  private async startFlush(): Promise<void> {
    await this.awaitInflight();
    if (this.pending.consumed === 0 || this.holdFlushes) return;
    const pending = this.pending;
    const oldest = this.buffer.oldestEventTimeMs;
    const bytes = this.buffer.bytes;
    const builtFor = this.buffer.tableSchema;
    const drained = this.buffer.drainBatch();
    const batch = drained?.batch ?? null;
    // The table's schema changed since the buffer was made (an alter, seen in the last commit's
    // metadata): these rows are written with the schema they were built for, later ones with the new one.
    if (this.table.schema().schemaId !== builtFor.schemaId) {
      this.buffer = this.newBuffer();
      this.log.info('table schema changed: rows read from now on are written with the new schema', { from: builtFor.schemaId, to: this.table.schema().schemaId });
    }
    this.pending = newPending();
    const rows = batch?.numRows ?? 0;
    if (rows !== pending.rows) {
      throw new LakehouseError('INTERNAL', `The event buffer drained ${rows} rows but accepted ${pending.rows}; refusing to commit positions that would not match the rows written.`);
    }
    this.inflightBytes = bytes;
    this.inflightOldestEventMs = oldest ?? null;
    // From here the flush's ids count as seen; they become committed ids only if its commit lands.
    if (drained && this.dedup) this.dedup.index.stage(drained.lo, drained.hi, rows);
    // The sink's marks are taken here, as the buffer is handed over, not after the flush's first await: the
    // loop reads on meanwhile, and a record past this flush whose letter the sink already holds (a replay)
    // is met and forgotten then, so a mark taken later would no longer be held back before that letter;
    // a restart reading the sink from it would miss the letter and send it again. Taken before this
    // flush's letters are written: every letter of a record past this flush lies past them.
    const marks = new Map<string, string>();
    for (const key of pending.ranges.keys()) {
      const mark = this.deadLetters.mark?.(key);
      if (mark !== undefined) marks.set(key, mark);
    }
    this.inflight = this.flush(pending, batch, builtFor, marks).catch((e) => {
      this.dedup?.index.dropStaged();
      if (!this.reseekAfterFence(e)) this.failure ??= e;
    }).finally(() => {
      this.inflightBytes = 0;
      this.inflightOldestEventMs = null;
    });
  }

  /**
   * A fenced flush committed nothing (verified), so instead of ending the run the source seeks its
   * partitions to the table's positions again; what was read since is discarded there and read again.
   * False when the source cannot seek again or fences keep coming: then the fence ends the run.
   */
  private reseekAfterFence(e: unknown): boolean {
    if (!(e instanceof OffsetsFencedError) || !this.source.reseek || this.reseeksInARow >= MAX_RESEEKS_IN_A_ROW) return false;
    this.reseeksInARow++;
    this.stats.reseeks++;
    // No flush until the seek's onAssignment (discardUncommitted) has dropped what was read before it.
    this.holdFlushes = true;
    this.log.warn('another writer of the group committed part of this flush\'s range; nothing was committed, seeking to the table\'s positions again', { error: errorMessage(e), ...e.context });
    this.source.reseek();
    return true;
  }

  private async awaitInflight(): Promise<void> {
    if (this.inflight) {
      await this.inflight;
      this.inflight = null;
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }

  private async flush(p: Pending, batch: arrow.RecordBatch | null, schema: Schema, marks: Map<string, string>): Promise<void> {
    const started = performance.now();
    if (this.fenceCheckDue) {
      // Refused here, before anything is written, rather than by the commit after the dead letters went out.
      await this.table.refresh();
      const fenced = fenceFor(findRecordedOffsets(this.table.metadata, this.group), this.group, p.ranges);
      if (fenced) throw fenced;
    }
    await this.deadLetters.flush();
    crashPoint(CRASH.deadLettersFlushed);
    const files = batch ? await this.table.writeDataFiles([batch], { schema }) : [];
    crashPoint(CRASH.filesWritten);
    const commitStarted = performance.now();
    const snapshot = await this.commit(files, p, marks);
    this.fenceCheckDue = false;
    this.reseeksInARow = 0;
    this.dedup?.committed(snapshot.snapshotId, this.now());
    crashPoint(CRASH.tableCommitted);
    this.metrics.commitSeconds.observe((performance.now() - commitStarted) / 1000);

    const positions: Positions = new Map();
    for (const [k, r] of p.ranges) positions.set(k, r.next);
    try {
      await this.source.commit(positions);
    } catch (e) {
      // The table already records these positions and a restart resumes from it: a failed source commit
      // only makes the source's own view (Kafka lag tools) lag behind.
      this.log.warn('source commit failed after the table commit landed; the table keeps the positions', { error: errorMessage(e) });
    }
    crashPoint(CRASH.sourceCommitted);

    const s = this.stats;
    s.consumed += p.consumed;
    s.written += p.rows;
    s.deadLettered += p.deadLettered;
    s.duplicates += p.duplicates;
    for (const [reason, n] of Object.entries(p.byReason)) s.deadLetteredByReason[reason] = (s.deadLetteredByReason[reason] ?? 0) + n;
    s.commits++;
    s.lastSnapshotId = snapshot.snapshotId;
    for (const [k, v] of positions) s.positions.set(k, v);
    const m = this.metrics;
    m.consumed.inc(p.consumed);
    m.written.inc(p.rows);
    m.duplicates.inc(p.duplicates);
    for (const [reason, n] of Object.entries(p.byReason)) m.deadLettered.inc(n, { reason });
    m.commits.inc();
    m.flushSeconds.observe((performance.now() - started) / 1000);
    this.log.info('committed', {
      snapshotId: snapshot.snapshotId, files: files.length, consumed: p.consumed, written: p.rows, deadLettered: p.deadLettered,
      duplicates: p.duplicates, positions, seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    });
    await this.followOthers();
  }

  /**
   * Reads into the de-duplication index the rows other writers committed since it last looked (the
   * table as last loaded or committed). A failure only leaves their ids out (their copies would be
   * stored again, for the metrics job to drop), so it is logged, and the next call tries again.
   */
  private async followOthers(): Promise<void> {
    if (!this.dedup) return;
    try {
      const read = await this.dedup.follow(this.table, this.now());
      if (read) this.log.info('de-duplication index read rows committed by other writers', { ...read });
    } catch (e) {
      this.log.warn('de-duplication index could not read rows committed by other writers; their ids are not checked until the next try', { error: errorMessage(e) });
    }
  }

  /**
   * One append of `files` with the positions of `p`. Failures that left nothing in the table are retried
   * with the same files; after an unknown outcome the table is reloaded and searched for our commit id
   * first, so a flush is never applied twice.
   */
  private async commit(files: DataFile[], p: Pending, deadLetterMarks: Map<string, string>): Promise<Snapshot> {
    const commitId = randomUUID();
    const retry = { retries: this.commitRetries, minWaitMs: 100, maxWaitMs: 10_000, factor: 2 };
    for (let attempt = 0; ; attempt++) {
      try {
        return await new OffsetsAppend(this.table, {
          group: this.group, source: this.source.description, ranges: p.ranges, commitId,
          counts: { consumed: p.consumed, deadLettered: p.deadLettered, duplicates: p.duplicates, deadLetteredByReason: p.byReason }, deadLetterMarks,
        }).appendFiles(files).commit();
      } catch (e) {
        if (e instanceof AlreadyCommittedError) return e.snapshot;
        if (e instanceof OffsetsFencedError) {
          // Verified not landed (our commit id is absent from the base that fenced us): the files are ours alone.
          await this.table.io.deleteMany(files.map((f) => f.filePath)).catch(() => {});
          throw e;
        }
        const retryable = e instanceof CommitStateUnknownError || (e instanceof LakehouseError && (e.code === 'COMMIT_FAILED' || e.retryable));
        if (!retryable || attempt >= retry.retries) {
          const topics = [...new Set([...p.ranges.keys()].map((k) => parsePositionKey(k).topic))].join(', ');
          const outcome = e instanceof CommitStateUnknownError
            ? `Its outcome is unknown: look for a snapshot with summary lakehouse.commit-id=${commitId}; either way a restart resumes correctly from the table's recorded offsets.`
            : 'Nothing was committed; a restart resumes from the table\'s recorded offsets.';
          throw new LakehouseError('COMMIT_FAILED', `Ingest could not commit ${files.length} file(s) holding ${p.consumed} record(s) of ${topics} to ${this.table.name} after ${attempt + 1} attempt(s): ${errorMessage(e)} ${outcome}`, { cause: e, context: { commitId } });
        }
        const wait = backoffMs(attempt, retry);
        this.log.warn('commit failed, retrying with the same files', { attempt: attempt + 1, waitMs: wait, error: errorMessage(e) });
        await new Promise((r) => setTimeout(r, wait));
        // The next OffsetsAppend reloads nothing by itself: refresh so it applies to the newest table and
        // sees our commit id if the failed attempt landed after all.
        await this.table.refresh().catch((re) => this.log.warn('table reload failed before a commit retry', { error: errorMessage(re) }));
      }
    }
  }

  private updateGauges(): void {
    const m = this.metrics;
    m.bufferedBytes.set(this.memoryInUse());
    m.bufferedRows.set(this.buffer.rows);
    if (this.dedup) {
      const index = this.dedup.index;
      m.dedupIds.set(index.size);
      m.dedupBytes.set(index.bytes);
      m.dedupHorizonSeconds.set(index.effectiveHorizonMs(this.now()) / 1000);
    }
    const oldest = [this.buffer.oldestEventTimeMs, this.inflightOldestEventMs].filter((x): x is number => typeof x === 'number');
    m.freshnessSeconds.set(oldest.length === 0 ? 0 : Math.max(0, (this.now() - Math.min(...oldest)) / 1000));
  }
}
