import kafkajs, { type Admin, type Message, type Producer, Partitioners } from 'kafkajs';
import { LakehouseError } from '../core/errors.ts';
import { DLQ_HEADERS, type DeadLetter, type DeadLetterResume, type DeadLetterSink, DeadLetterSkips, type SinkPositions, encodeMark, resumeReadPlan } from './dead-letters.ts';

// The header names live beside the letter they describe, so readers load them without kafkajs.
export { DLQ_HEADERS };
import { type StoredDeadLetter, letterFromTopicRecord } from './dead-letter-reader.ts';
import { type KafkaConnectionOptions, createKafkaClient, kafkaError, positiveInteger, readTopicTail, validateBrokers } from './kafka-client.ts';
import { DEAD_LETTER_TOPIC, validateTopicName } from './kafka-topics.ts';

/**
 * Dead letters produced to a Kafka topic (`dead_letter_queue` by default): the record's original bytes
 * as value, its original key and headers, and these headers saying why and from where, all UTF-8 strings:
 *
 *   lakehouse.reason            machine-readable reason, e.g. `bad_json`
 *   lakehouse.detail            a sentence for people
 *   lakehouse.source.topic      where the record was read
 *   lakehouse.source.partition
 *   lakehouse.source.offset     decimal
 *   lakehouse.source.timestamp  the record's own time (ISO-8601), when it had one
 *   lakehouse.time              when it was dead-lettered (ISO-8601)
 *   lakehouse.group             the ingest group that dead-lettered it
 *
 *   lakehouse.truncated-from    set when the letter was cut to fit (below): the original value's length
 *
 * Sizes: a Kafka topic refuses a record batch larger than its `max.message.bytes` (the broker default is
 * about 1 MiB), and a refused batch would fail every flush and so stop ingest for good. The sink reads the
 * topic's limit when it connects, sends letters in requests that stay under it, and cuts the value of a
 * letter that alone would not fit (keeping its first bytes and saying so in `lakehouse.truncated-from`),
 * as the file source does with an over-long line. A bad record can never stall the good ones behind it.
 *
 * An original header with one of these names is replaced (a dead letter re-read from the DLQ must not
 * keep the first rejection's reason). The producer is idempotent with acks=-1, so `flush()` returns only
 * when every letter is on all in-sync replicas; ingest flushes before its Iceberg commit.
 *
 * Exactly once per source position (pipeline/dead-letters.ts says how): a mark is an offset per partition
 * of the dead-letter topic, and resume() reads the topic from the marks to its high watermark with plain
 * fetches (readTopicTail), not a consumer group, so a restart does not wait for a second group join.
 */

/** Kafka's broker default for `message.max.bytes` / a topic's `max.message.bytes` (1 MiB + 12). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/**
 * Room left for what our size estimate does not count exactly: the record batch header (61 bytes), each
 * record's varint lengths and attributes (up to ~20 bytes), and per-header framing.
 */
const BATCH_OVERHEAD_BYTES = 1024;
const RECORD_OVERHEAD_BYTES = 32;

export interface KafkaDeadLetterOptions extends KafkaConnectionOptions {
  /** Default `dead_letter_queue`. */
  topic?: string;
  /** Letters held before `send` starts producing them without waiting for `flush`; default 1000. */
  batchSize?: number;
  /**
   * Largest record batch the topic accepts; default: the topic's `max.message.bytes`, read when the sink
   * connects (the broker default when it cannot be read). Requests and single letters stay under it.
   */
  maxMessageBytes?: number;
}

/** Bytes one message takes in a record batch, near enough to stay under a limit with BATCH_OVERHEAD_BYTES. */
export function messageBytes(m: Message): number {
  let n = RECORD_OVERHEAD_BYTES + (m.key ? Buffer.byteLength(m.key as Buffer) : 0) + (m.value ? Buffer.byteLength(m.value as Buffer) : 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + 8 + (v === undefined ? 0 : Buffer.byteLength(v as Buffer | string));
  return n;
}

/**
 * The message cut to fit `limit` bytes: the value keeps its first bytes and `lakehouse.truncated-from`
 * says how long it was; when the key and headers alone are too large (absurd, but possible), the original
 * key and headers go too, so the reason and position headers always arrive.
 */
export function fitMessage(m: Message, limit: number): Message {
  const budget = limit - BATCH_OVERHEAD_BYTES;
  if (messageBytes(m) <= budget) return m;
  const value = m.value as Buffer | null;
  const headers = { ...(m.headers as Record<string, string>), [DLQ_HEADERS.truncatedFrom]: String(value?.length ?? 0) };
  let cut: Message = { key: m.key, value: Buffer.alloc(0), headers };
  const room = budget - messageBytes(cut);
  if (room > 0 && value) return { ...cut, value: value.subarray(0, room) };
  const ours = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('lakehouse.')));
  cut = { key: null, value: Buffer.alloc(0), headers: ours };
  const left = budget - messageBytes(cut);
  return left > 0 && value ? { ...cut, value: value.subarray(0, left) } : cut;
}

/**
 * Through the default export: Node's ESM loader finds only the names kafkajs lists before its first
 * `a: b.c` export entry, so `import { ConfigResourceTypes }` fails outside a bundler (tsx, dist/).
 */
const CONFIG_RESOURCE_TYPES = kafkajs.ConfigResourceTypes;

/** The topic's `max.message.bytes`, or undefined when the broker does not say (no describe rights). */
async function topicMaxMessageBytes(admin: Admin, topic: string): Promise<number | undefined> {
  const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: CONFIG_RESOURCE_TYPES.TOPIC, name: topic, configNames: ['max.message.bytes'] }] });
  const value = res.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > BATCH_OVERHEAD_BYTES ? n : undefined;
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
  if (letter.group !== undefined) headers[DLQ_HEADERS.group] = letter.group;
  else delete headers[DLQ_HEADERS.group];
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
  private readonly admin: Admin;
  private readonly client: ReturnType<typeof createKafkaClient>;
  /**
   * Per partition of the topic, an offset every letter produced from now on lies at or past: the high
   * watermark read by resume(), raised by the base offset of each of our produce responses.
   */
  private known?: SinkPositions;
  private skips?: DeadLetterSkips;
  private maxMessageBytes: number;
  private readonly maxMessageBytesGiven: boolean;
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
    this.maxMessageBytesGiven = opts.maxMessageBytes !== undefined;
    this.maxMessageBytes = positiveInteger(opts.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes');
    const client = createKafkaClient(opts);
    this.client = client;
    this.admin = client.admin();
    this.producer = client.producer({
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
    this.connected ??= this.connectAndSize().catch((e) => {
      this.connected = undefined;
      throw kafkaError('Connecting the dead-letter producer', this.brokers, e);
    });
    return this.connected;
  }

  /** The largest batch the topic takes, in bytes (after `connect`). */
  get messageByteLimit(): number {
    return this.maxMessageBytes;
  }

  private async connectAndSize(): Promise<void> {
    await this.producer.connect();
    if (this.maxMessageBytesGiven) return;
    try {
      await this.admin.connect();
      this.maxMessageBytes = (await topicMaxMessageBytes(this.admin, this.topic)) ?? this.maxMessageBytes;
    } catch {
      // Without rights to describe the topic the broker default stands; it is also the common limit.
    } finally {
      await this.admin.disconnect().catch(() => {});
    }
  }

  /** How marks name this sink: a mark of another dead-letter topic is not used. */
  get sinkName(): string {
    return `kafka:${this.topic}`;
  }

  send(letter: DeadLetter): void | Promise<void> {
    if (this.closed) throw new LakehouseError('INVALID_ARGUMENT', `Dead-letter sink for ${this.topic} is closed; no more letters can be sent.`);
    if (this.skips?.take(letter)) return;
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
    let done = 0;
    try {
      await this.connect();
      for (const request of this.requests(messages)) {
        const results = await this.producer.send({ topic: this.topic, acks: -1, messages: request });
        done += request.length;
        if (this.known) {
          for (const r of results) {
            const base = BigInt(r.baseOffset ?? '-1');
            if (base >= 0n && base > (this.known.get(r.partition) ?? -1n)) this.known.set(r.partition, base);
          }
        }
      }
    } catch (e) {
      // What was not produced is kept for the next flush, ahead of anything sent meanwhile; this flush
      // fails, so ingest does not commit the positions these letters cover.
      this.pending = messages.slice(done).concat(this.pending);
      throw kafkaError(`Producing ${messages.length - done} dead letter(s) to ${this.topic}`, this.brokers, e);
    }
  }

  /** The letters in order, each cut to fit, grouped into requests that stay under the topic's limit. */
  private *requests(messages: Message[]): Generator<Message[]> {
    const budget = this.maxMessageBytes - BATCH_OVERHEAD_BYTES;
    let request: Message[] = [];
    let bytes = 0;
    for (const original of messages) {
      const m = fitMessage(original, this.maxMessageBytes);
      const size = messageBytes(m);
      if (request.length > 0 && bytes + size > budget) {
        yield request;
        request = [];
        bytes = 0;
      }
      request.push(m);
      bytes += size;
    }
    if (request.length > 0) yield request;
  }

  async resume(state: DeadLetterResume): Promise<{ found: number }> {
    this.sent -= this.pending.length;
    this.pending = [];
    await this.chain;
    const plan = resumeReadPlan(this.sinkName, state);
    const skips = new DeadLetterSkips(state, plan.keys);
    const H = DLQ_HEADERS;
    let ends: Map<number, bigint>;
    try {
      // With 'nothing' to read it still learns the high watermarks, for mark().
      ends = await readTopicTail(this.client, this.topic, plan.from === 'nothing' ? 'ends' : plan.from, (r) => {
        const offset = r.headers[H.offset];
        const partition = Number(r.headers[H.partition]);
        const topic = r.headers[H.topic];
        if (topic === undefined || offset === undefined || !/^\d+$/.test(offset) || !Number.isSafeInteger(partition)) return;
        skips.note(r.headers[H.group], topic, partition, BigInt(offset), r.partition, r.offset);
      });
    } catch (e) {
      throw kafkaError(`Reading dead letters already in ${this.topic} (so that none is sent twice)`, this.brokers, e);
    }
    this.skips = skips;
    this.known = new Map(ends);
    return { found: skips.size };
  }

  mark(key: string): string | undefined {
    if (!this.known || !this.skips) return undefined;
    return encodeMark(this.sinkName, this.skips.hold(key, this.known));
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

/**
 * Calls `onLetter` with every letter of the dead-letter topic `topic` up to its end now, partition by
 * partition in offset order (per partition; partitions interleave), with plain fetches like resume():
 * reading the dead letters joins no consumer group and commits nothing.
 */
export async function readDeadLetterTopic(opts: KafkaConnectionOptions & { topic: string }, onLetter: (l: StoredDeadLetter) => void): Promise<void> {
  const brokers = validateBrokers(opts.brokers);
  const topic = validateTopicName(opts.topic, 'dead-letter topic');
  const client = createKafkaClient(opts);
  const admin = client.admin();
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(topic)) {
      throw new LakehouseError('NOT_FOUND', `There is no dead-letter topic ${topic} on ${brokers.join(',')}. Check --topic (ingest's --dlq-topic; default ${DEAD_LETTER_TOPIC.topic}) and --brokers, or read a dead-letter file with --file.`);
    }
    await readTopicTail(client, topic, new Map(), (r) => onLetter(letterFromTopicRecord(topic, r)));
  } catch (e) {
    if (e instanceof LakehouseError) throw e;
    throw kafkaError(`Reading the dead letters of ${topic}`, brokers, e);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
