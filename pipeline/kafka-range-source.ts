import { LakehouseError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import { type KafkaConnectionOptions, createKafkaClient, kafkaError, validateBrokers } from './kafka-client.ts';
import { type KafkaSource, createKafkaSource } from './kafka-source.ts';
import { missingTopicError, validateTopicName } from './kafka-topics.ts';
import { type Positions, type Source, type SourceRecord, positionKey } from './source.ts';

/**
 * A bounded slice of a Kafka topic as a source, for backfills: per partition the offsets [from, to),
 * given as offsets or found from two timestamps. It ends when every partition of the slice was read to
 * its end, so the ingest loop flushes, commits and returns as it does at the end of a file.
 *
 * Reading goes through the ordinary Kafka source (pipeline/kafka-source.ts) in a consumer group of its
 * own, sought to the positions the table records for the backfill (never before `from`); records outside
 * the slice (past `to`, or of partitions not in it) are dropped here before the ingest loop sees them, so
 * the positions recorded never pass the slice's end. No offsets are committed to Kafka: the table is the
 * only record of a backfill's progress.
 */

/** Offsets for every partition (`all`), or per partition number. */
export type OffsetsByPartition = { all: bigint } | Map<number, bigint>;

export interface KafkaRangeSpec {
  /** Start: offsets (inclusive), or the first offset whose timestamp is >= fromTimeMs. Default: the earliest offset. */
  fromOffsets?: OffsetsByPartition;
  fromTimeMs?: number;
  /** End: offsets (exclusive), or the first offset whose timestamp is >= toTimeMs. Default: the end of the log now. */
  toOffsets?: OffsetsByPartition;
  toTimeMs?: number;
}

/** One partition's slice: offsets from..to-1. */
export interface PartitionRange {
  partition: number;
  from: bigint;
  to: bigint;
}

/** `12`, or `0:12,1:40` (partition:offset pairs; only those partitions are read). */
export function parseOffsets(text: string, flag: string): OffsetsByPartition {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { all: BigInt(t) };
  const out = new Map<number, bigint>();
  for (const part of t.split(',')) {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(part);
    if (!m) throw new LakehouseError('INVALID_ARGUMENT', `${flag} must be an offset (e.g. 1000) or partition:offset pairs (e.g. 0:1000,1:950), got "${text}".`);
    if (out.has(Number(m[1]))) throw new LakehouseError('INVALID_ARGUMENT', `${flag} names partition ${m[1]} twice ("${text}").`);
    out.set(Number(m[1]), BigInt(m[2]!));
  }
  return out;
}

function offsetFor(o: OffsetsByPartition, partition: number): bigint | undefined {
  return o instanceof Map ? o.get(partition) : o.all;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The slice of `topic` that `spec` names, one range per partition of the topic (an empty one at the
 * log's end for a partition the offsets leave out), checked against the log as it is now: a
 * start before the earliest offset still held (deleted by retention), an end past the log's end, a
 * start after the end, a time range in the wrong order or ending in the future, and partitions that do
 * not exist are each a sentence, before anything is read.
 */
export async function resolveKafkaRange(conn: KafkaConnectionOptions, topic: string, spec: KafkaRangeSpec, nowMs = Date.now()): Promise<PartitionRange[]> {
  const brokers = validateBrokers(conn.brokers);
  validateTopicName(topic);
  if (spec.fromOffsets && spec.fromTimeMs !== undefined) throw new LakehouseError('INVALID_ARGUMENT', 'Give the start of the range as --from-offset or --from-time, not both.');
  if (spec.toOffsets && spec.toTimeMs !== undefined) throw new LakehouseError('INVALID_ARGUMENT', 'Give the end of the range as --to-offset or --to-time, not both.');
  if (spec.fromTimeMs !== undefined && spec.toTimeMs !== undefined && spec.fromTimeMs >= spec.toTimeMs) {
    throw new LakehouseError('INVALID_ARGUMENT', `--from-time ${iso(spec.fromTimeMs)} is not before --to-time ${iso(spec.toTimeMs)}; the range would be empty.`);
  }
  if (spec.toTimeMs !== undefined && spec.toTimeMs > nowMs) {
    throw new LakehouseError('INVALID_ARGUMENT', `--to-time ${iso(spec.toTimeMs)} is in the future (now ${iso(nowMs)}): the range is past the end of the topic, and records up to then have not all arrived. Give a time up to now, or leave --to-time out to read to the current end.`);
  }
  const admin = createKafkaClient({ ...conn, brokers }).admin();
  try {
    await admin.connect().catch((e) => { throw kafkaError('Connecting', brokers, e); });
    const topics = await admin.listTopics().catch((e) => { throw kafkaError('Listing topics', brokers, e); });
    if (!topics.includes(topic)) throw missingTopicError(topic, brokers);
    const watermarks = await admin.fetchTopicOffsets(topic).catch((e) => { throw kafkaError(`Reading the offsets of ${topic}`, brokers, e); });
    const byTime = async (ms: number) => new Map((await admin.fetchTopicOffsetsByTimestamp(topic, ms).catch((e) => {
      throw kafkaError(`Finding the offsets of ${topic} at ${iso(ms)}`, brokers, e);
    })).map((o) => [o.partition, BigInt(o.offset)]));
    const fromTimes = spec.fromTimeMs === undefined ? null : await byTime(spec.fromTimeMs);
    const toTimes = spec.toTimeMs === undefined ? null : await byTime(spec.toTimeMs);

    const existing = new Set(watermarks.map((w) => w.partition));
    for (const o of [spec.fromOffsets, spec.toOffsets]) {
      if (!(o instanceof Map)) continue;
      for (const p of o.keys()) {
        if (!existing.has(p)) throw new LakehouseError('INVALID_ARGUMENT', `Topic ${topic} has no partition ${p} (it has ${[...existing].sort((a, b) => a - b).join(', ')}).`);
      }
    }
    const chosen = (o: OffsetsByPartition | undefined, p: number) => !(o instanceof Map) || o.has(p);
    const ranges: PartitionRange[] = [];
    for (const w of [...watermarks].sort((a, b) => a.partition - b.partition)) {
      const p = w.partition;
      const low = BigInt(w.low);
      const high = BigInt(w.high);
      // A partition left out is an empty range at its end: it is sought there, so nothing of it is fetched.
      if (!chosen(spec.fromOffsets, p) || !chosen(spec.toOffsets, p)) {
        ranges.push({ partition: p, from: high, to: high });
        continue;
      }
      const from = (spec.fromOffsets ? offsetFor(spec.fromOffsets, p) : fromTimes?.get(p)) ?? low;
      const to = (spec.toOffsets ? offsetFor(spec.toOffsets, p) : toTimes?.get(p)) ?? high;
      if (to > high) {
        throw new LakehouseError('INVALID_ARGUMENT', `The range is past the end of partition ${p} of ${topic}: it ends at offset ${to}, but the partition's next offset is ${high} (offsets ${low}..${high - 1n} exist). Give --to-offset ${high} or less, or leave it out to read to the current end. Nothing was read.`);
      }
      if (from < low) {
        throw new LakehouseError('INVALID_ARGUMENT', `The range starts at offset ${from} of partition ${p} of ${topic}, but the partition now starts at ${low}: earlier records were deleted (retention). Start at ${low} or later; the deleted records cannot be backfilled from Kafka.`);
      }
      if (from > to) {
        throw new LakehouseError('INVALID_ARGUMENT', `The range of partition ${p} of ${topic} starts at offset ${from}, after its end ${to}; give a start before the end.`);
      }
      ranges.push({ partition: p, from, to });
    }
    return ranges;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export interface KafkaRangeSourceOptions extends KafkaConnectionOptions {
  topic: string;
  /** The consumer group it reads in (its own: a live ingest's group must not be joined). */
  group: string;
  ranges: readonly PartitionRange[];
  /** The table's positions at each assignment (the Ingestor's positionsFor); default: start()'s. */
  positionsFor?: () => Promise<Positions>;
  onAssignment?: () => void;
  /** Longest a fetch waits for data (ms); default 100, so the end of a slice is noticed soon. */
  maxWaitTimeMs?: number;
  /**
   * How long polls may return nothing for an unfinished partition whose log ends at or before its `to`
   * before the offsets left are taken for ones that hold no record (transaction markers, records removed
   * by compaction); default 5 000 ms. Its position stays where the last record was, so if records did
   * arrive late, running the backfill again reads them.
   */
  idleEndMs?: number;
  log?: Logger;
}

export class KafkaRangeSource implements Source {
  readonly description: string;
  private readonly opts: KafkaRangeSourceOptions;
  private readonly ranges = new Map<number, PartitionRange>();
  /** Next offset to give per partition of the slice; a partition is done when it reaches its `to`. */
  private readonly next = new Map<number, bigint>();
  private inner: KafkaSource | null = null;
  private resumeAt: Positions = new Map();
  private paused = false;
  /** When polls started returning nothing (performance.now()), or null while records come. */
  private idleSince: number | null = null;

  constructor(opts: KafkaRangeSourceOptions) {
    this.opts = opts;
    validateTopicName(opts.topic);
    for (const r of opts.ranges) this.ranges.set(r.partition, r);
    this.description = `kafka:${opts.topic}[${opts.ranges.filter((r) => r.to > r.from).map((r) => `${r.partition}:${r.from}-${r.to}`).join(',')}]`;
  }

  /** Records in the slice in all, and how many of them are behind us (skipped on resume or read). */
  get total(): bigint {
    let n = 0n;
    for (const r of this.ranges.values()) n += r.to - r.from;
    return n;
  }

  get done(): bigint {
    let n = 0n;
    for (const r of this.ranges.values()) n += (this.next.get(r.partition) ?? r.from) - r.from;
    return n;
  }

  async start(resume: Positions): Promise<void> {
    this.resumeAt = resume;
    for (const r of this.ranges.values()) this.next.set(r.partition, this.seekPosition(r, resume));
    if (this.ended()) return; // nothing left: no connection at all
    this.inner = createKafkaSource({
      brokers: this.opts.brokers, topic: this.opts.topic, group: this.opts.group, fromBeginning: true,
      maxWaitTimeMs: this.opts.maxWaitTimeMs ?? 100,
      ...(this.opts.clientId ? { clientId: this.opts.clientId } : {}),
      ...(this.opts.ssl !== undefined ? { ssl: this.opts.ssl } : {}),
      ...(this.opts.sasl !== undefined ? { sasl: this.opts.sasl } : {}),
      log: this.opts.log ?? silentLogger,
      positionsFor: async () => this.seekPositions(this.opts.positionsFor ? await this.opts.positionsFor() : this.resumeAt),
      ...(this.opts.onAssignment ? { onAssignment: this.opts.onAssignment } : {}),
    });
    await this.inner.start(resume);
  }

  /** Where a partition of the slice is read from: the table's position, never before the slice. */
  private seekPosition(r: PartitionRange, recorded: Positions): bigint {
    const at = recorded.get(positionKey(this.opts.topic, r.partition));
    return at === undefined || at < r.from ? r.from : at > r.to ? r.to : at;
  }

  /**
   * Seek targets for every partition of the slice (resolveKafkaRange gives each partition of the topic
   * one, empty at the log's end for those left out): the table's position, a finished one at its end.
   * Records fetched past an end are dropped.
   */
  private seekPositions(recorded: Positions): Positions {
    const out: Positions = new Map();
    for (const r of this.ranges.values()) {
      const at = this.seekPosition(r, recorded);
      out.set(positionKey(this.opts.topic, r.partition), at);
      this.next.set(r.partition, at);
    }
    return out;
  }

  async poll(max: number, waitMs: number): Promise<SourceRecord[]> {
    if (this.inner === null || this.ended()) return [];
    const got = await this.inner.poll(max, waitMs);
    if (got.length === 0 && !this.paused) await this.endAtGaps();
    else this.idleSince = null;
    const out: SourceRecord[] = [];
    for (const rec of got) {
      const r = this.ranges.get(rec.partition);
      if (!r) continue;
      const next = this.next.get(rec.partition)!;
      if (rec.offset < next || rec.offset >= r.to) {
        // A record past the end tells us the slice's end is reached even if offsets before it were gaps.
        if (rec.offset >= r.to) this.next.set(rec.partition, r.to);
        continue;
      }
      out.push(rec);
      this.next.set(rec.partition, rec.offset + 1n);
    }
    return out;
  }

  ended(): boolean {
    for (const r of this.ranges.values()) if ((this.next.get(r.partition) ?? r.from) < r.to) return false;
    return true;
  }

  /** Nothing to commit to Kafka: the table records the backfill's positions. */
  async commit(_positions: Positions): Promise<void> {}

  /**
   * After idleEndMs without a record: a partition whose log now ends at or before its `to` has nothing
   * more to give in the slice (kafkajs skips offsets without a record, such as transaction markers, and
   * gives no record for them), so it is finished where it is.
   */
  private async endAtGaps(): Promise<void> {
    const now = performance.now();
    this.idleSince ??= now;
    if (now - this.idleSince < (this.opts.idleEndMs ?? 5_000) || this.inner === null) return;
    this.idleSince = now;
    await this.inner.refreshLag();
    const lag = this.inner.lag();
    for (const r of this.ranges.values()) {
      const next = this.next.get(r.partition)!;
      const left = lag.get(positionKey(this.opts.topic, r.partition));
      if (next >= r.to || left === undefined || next + left > r.to) continue;
      (this.opts.log ?? silentLogger).warn('no records in the rest of a partition\'s range: taking the offsets left for ones without a record (transaction markers, compacted records); run the backfill again if records arrive there later', {
        topic: this.opts.topic, partition: r.partition, next: next.toString(), to: r.to.toString(), logEnd: (next + left).toString(),
      });
      this.next.set(r.partition, r.to);
    }
  }

  pause(): void { this.paused = true; this.inner?.pause(); }
  resume(): void { this.paused = false; this.inner?.resume(); }

  async close(): Promise<void> {
    await this.inner?.close();
  }
}
