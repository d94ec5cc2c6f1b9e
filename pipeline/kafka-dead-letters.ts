import { type Message, type Producer, Partitioners } from 'kafkajs';
import { LakehouseError } from '../core/errors.ts';
import type { DeadLetter, DeadLetterSink } from './dead-letters.ts';
import { type KafkaConnectionOptions, createKafkaClient, kafkaError, positiveInteger, validateBrokers } from './kafka-client.ts';
import { DEAD_LETTER_TOPIC, validateTopicName } from './kafka-topics.ts';

/**
 * Dead letters produced to a Kafka topic (`dead_letter_queue` by default): the record's original bytes
 * as value, its original key and headers, and these headers saying why and from where, all UTF-8 strings:
 *
 *   lakehouse.reason            machine-readable reason, e.g. `invalid_json`
 *   lakehouse.detail            a sentence for people
 *   lakehouse.source.topic      where the record was read
 *   lakehouse.source.partition
 *   lakehouse.source.offset     decimal
 *   lakehouse.source.timestamp  the record's own time (ISO-8601), when it had one
 *   lakehouse.time              when it was dead-lettered (ISO-8601)
 *
 * An original header with one of these names is replaced (a dead letter re-read from the DLQ must not
 * keep the first rejection's reason). The producer is idempotent with acks=-1, so `flush()` returns only
 * when every letter is on all in-sync replicas; ingest flushes before its Iceberg commit (see
 * pipeline/dead-letters.ts for why that makes the sink at-least-once).
 */
export const DLQ_HEADERS = {
  reason: 'lakehouse.reason',
  detail: 'lakehouse.detail',
  topic: 'lakehouse.source.topic',
  partition: 'lakehouse.source.partition',
  offset: 'lakehouse.source.offset',
  sourceTimestamp: 'lakehouse.source.timestamp',
  time: 'lakehouse.time',
} as const;

export interface KafkaDeadLetterOptions extends KafkaConnectionOptions {
  /** Default `dead_letter_queue`. */
  topic?: string;
  /** Letters held before `send` starts producing them without waiting for `flush`; default 1000. */
  batchSize?: number;
}

function toBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** The Kafka message for one dead letter (exported for the tests and for anyone reading the DLQ). */
export function deadLetterMessage(letter: DeadLetter): Message {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(letter.headers ?? {})) headers[k] = v;
  headers[DLQ_HEADERS.reason] = letter.reason;
  headers[DLQ_HEADERS.detail] = letter.detail;
  headers[DLQ_HEADERS.topic] = letter.topic;
  headers[DLQ_HEADERS.partition] = String(letter.partition);
  headers[DLQ_HEADERS.offset] = letter.offset.toString();
  if (letter.sourceTimestampMs !== undefined) headers[DLQ_HEADERS.sourceTimestamp] = new Date(letter.sourceTimestampMs).toISOString();
  else delete headers[DLQ_HEADERS.sourceTimestamp];
  headers[DLQ_HEADERS.time] = new Date(letter.timeMs).toISOString();
  return {
    key: letter.key ? toBuffer(letter.key) : null,
    value: letter.value === null ? null : toBuffer(letter.value),
    headers,
  };
}

export class KafkaDeadLetterSink implements DeadLetterSink {
  readonly topic: string;
  private readonly brokers: string[];
  private readonly batchSize: number;
  private readonly producer: Producer;
  private connected?: Promise<void>;
  private pending: Message[] = [];
  /** Flushes run one after another, so letters reach the topic in the order they were sent. */
  private chain: Promise<void> = Promise.resolve();
  private sent = 0;
  private closed = false;

  constructor(opts: KafkaDeadLetterOptions) {
    this.brokers = validateBrokers(opts.brokers);
    this.topic = validateTopicName(opts.topic ?? DEAD_LETTER_TOPIC.topic, 'dead-letter topic');
    this.batchSize = positiveInteger(opts.batchSize, 1000, 'batchSize');
    this.producer = createKafkaClient(opts).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Bounded (kafkajs' idempotent default is unbounded): a flush against a dead broker must fail, so
      // ingest does not commit positions whose dead letters are not durable.
      retry: { retries: opts.retries ?? 5, initialRetryTime: 300, maxRetryTime: 5000 },
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  get count(): number {
    return this.sent;
  }

  /** Connects now rather than at the first flush, so a wrong address fails at start-up. */
  connect(): Promise<void> {
    this.connected ??= this.producer.connect().catch((e) => {
      this.connected = undefined;
      throw kafkaError('Connecting the dead-letter producer', this.brokers, e);
    });
    return this.connected;
  }

  send(letter: DeadLetter): void | Promise<void> {
    if (this.closed) throw new LakehouseError('INVALID_ARGUMENT', `Dead-letter sink for ${this.topic} is closed; no more letters can be sent.`);
    this.pending.push(deadLetterMessage(letter));
    this.sent++;
    if (this.pending.length >= this.batchSize) return this.flush();
  }

  flush(): Promise<void> {
    const run = this.chain.then(() => this.producePending());
    // A failed flush must not poison the next one; the caller of this flush sees the failure.
    this.chain = run.catch(() => {});
    return run;
  }

  private async producePending(): Promise<void> {
    if (this.pending.length === 0) return;
    const messages = this.pending;
    this.pending = [];
    try {
      await this.connect();
      await this.producer.send({ topic: this.topic, acks: -1, messages });
    } catch (e) {
      // Kept for the next flush, ahead of anything sent meanwhile; this one fails, so ingest does not
      // commit the positions these letters cover.
      this.pending = messages.concat(this.pending);
      throw kafkaError(`Producing ${messages.length} dead letter(s) to ${this.topic}`, this.brokers, e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.connected) await this.producer.disconnect().catch(() => {});
    }
  }
}
