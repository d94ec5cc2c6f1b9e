/**
 * The small source interface every ingest source implements (Kafka, NDJSON files), so the demo,
 * backfills and `lakehouse ingest` all run the same decode -> buffer -> flush -> commit path.
 *
 * Positions are "next offset to read" per stream partition, keyed `<topic>:<partition>` (a file source
 * uses the file as topic, partition 0, byte offset or line number as offset). They are recorded in the
 * Iceberg snapshot that holds the rows (pipeline/offsets.ts), and only after that commit lands are they
 * committed back to the source (Kafka consumer-group offsets): write files, commit the table, then the
 * source, so that a retry replays a list of written files, never a stream already read.
 */
export interface SourceRecord {
  topic: string;
  partition: number;
  /** Offset of this record; the position after it is offset + 1n. */
  offset: bigint;
  value: Uint8Array | null;
  key?: Uint8Array | null;
  headers?: Record<string, string>;
  /** Broker/append time in ms since epoch, when the source has one. */
  timestampMs?: number;
}

/**
 * Consecutive records of one stream partition, in offset order, as arrays: what ingest's loop reads
 * (Source.pollBatches) without an object, a BigInt or a position key per record. Offsets are asked for
 * only where a range starts or ends (a flush, a poll's end) and for the rare record that needs all of it
 * (a dead letter).
 */
export interface SourceBatch {
  readonly topic: string;
  readonly partition: number;
  /** positionKey(topic, partition), made once per batch. */
  readonly key: string;
  /** The records' values; null for a record without one. */
  readonly values: ReadonlyArray<Uint8Array | null>;
  /** Offset of values[i]; offsets rise with i (not always by one: Kafka may skip some). */
  offset(i: number): bigint;
  /** Record i whole (key, headers, timestamp), for the rare paths. */
  record(i: number): SourceRecord;
}

export type Positions = Map<string, bigint>;

export function positionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

export interface Source {
  /** For logs and snapshot summaries, e.g. `kafka:campaign_events` or `file:/data/events.ndjson`. */
  readonly description: string;
  /**
   * Starts reading at `resume` (next offsets recorded in the table); partitions absent from it start at
   * the source's default (earliest or latest, by configuration).
   */
  start(resume: Positions): Promise<void>;
  /** Up to `max` records, waiting at most `waitMs`; an empty array means the source is quiet. */
  poll(max: number, waitMs: number): Promise<SourceRecord[]>;
  /**
   * poll() as batches per partition (what ingest reads when a source has it): the same records in the
   * same order, without an object per record. A source without it is read through poll().
   */
  pollBatches?(max: number, waitMs: number): Promise<SourceBatch[]>;
  /** True when a bounded source (a file) has nothing more to give. Kafka never ends. */
  ended(): boolean;
  /**
   * The next offset the source will be given per partition (Kafka's high watermarks), when it can say
   * cheaply before start(): a partition whose end is at its recorded position has no records past it.
   */
  ends?(): Promise<Positions>;
  /**
   * Seeks every partition this reader owns to the table's positions again, as after a rebalance (the
   * consumer's positionsFor, then onAssignment): ingest asks for it when another writer of its group
   * committed a range it has read (a fence). A source without it makes a fence end the run.
   */
  reseek?(): void;
  /** Called after the Iceberg commit that covers these positions landed. */
  commit(positions: Positions): Promise<void>;
  /** Backpressure: stop fetching until resume(). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** A poll's records as batches of consecutive records of one partition (for sources without pollBatches). */
export function recordBatches(records: readonly SourceRecord[]): SourceBatch[] {
  const out: SourceBatch[] = [];
  let from = 0;
  for (let i = 1; i <= records.length; i++) {
    const r = records[from]!;
    if (i < records.length && records[i]!.topic === r.topic && records[i]!.partition === r.partition) continue;
    out.push(new RecordArrayBatch(records.slice(from, i)));
    from = i;
  }
  return out;
}

class RecordArrayBatch implements SourceBatch {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly values: ReadonlyArray<Uint8Array | null>;
  constructor(private readonly records: SourceRecord[]) {
    this.topic = records[0]!.topic;
    this.partition = records[0]!.partition;
    this.key = positionKey(this.topic, this.partition);
    this.values = records.map((r) => r.value);
  }
  offset(i: number): bigint { return this.records[i]!.offset; }
  record(i: number): SourceRecord { return this.records[i]!; }
}

/** The records of batches, as poll() gives them (for callers of a batch source's poll()). */
export function batchRecords(batches: readonly SourceBatch[]): SourceRecord[] {
  const out: SourceRecord[] = [];
  for (const b of batches) for (let i = 0; i < b.values.length; i++) out.push(b.record(i));
  return out;
}
