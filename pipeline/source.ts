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
