import { type Message, Partitioners } from 'kafkajs';
import { LakehouseError } from '../core/errors.ts';
import { type KafkaConnectionOptions, createKafkaClient, kafkaError, positiveInteger, validateBrokers } from './kafka-client.ts';
import { validateTopicName } from './kafka-topics.ts';
import { silentLogger } from '../core/log.ts';

/**
 * Messages (e.g. pipeline/event-generator.ts generateMessages) produced to a Kafka topic, as the apps
 * would send them: `lakehouse produce --to kafka`, demos and tests.
 *
 * The producer is idempotent with acks=-1 (every in-sync replica), one request in flight, so a retried
 * batch is neither duplicated nor reordered within a partition. Messages are keyed (the user id), so the
 * default (Java-compatible murmur2) partitioner keeps one key on one partition. They are sent in batches
 * of `batchSize`; `ratePerSecond` paces them, in slices of at most 1/10 s.
 */
export interface ProduceMessagesOptions extends KafkaConnectionOptions {
  topic: string;
  messages: Iterable<ProducedMessage> | AsyncIterable<ProducedMessage>;
  /** Messages per second at most; default as fast as the broker takes them. */
  ratePerSecond?: number;
  /** Messages per send request; default 1000. */
  batchSize?: number;
}

export interface ProducedMessage {
  key: string | Uint8Array | null;
  value: Uint8Array | null;
  headers?: Record<string, string>;
}

export interface ProduceResult {
  sent: number;
}

function toBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function toMessage(m: ProducedMessage): Message {
  const out: Message = {
    key: m.key === null || m.key === undefined ? null : typeof m.key === 'string' ? m.key : toBuffer(m.key),
    value: m.value === null ? null : toBuffer(m.value),
  };
  if (m.headers) out.headers = { ...m.headers };
  return out;
}

export async function produceMessages(opts: ProduceMessagesOptions): Promise<ProduceResult> {
  const brokers = validateBrokers(opts.brokers);
  const topic = validateTopicName(opts.topic);
  const batchSize = positiveInteger(opts.batchSize, 1000, 'batchSize');
  const rate = opts.ratePerSecond === undefined ? undefined : positiveInteger(opts.ratePerSecond, 1, 'ratePerSecond');
  const log = (opts.log ?? silentLogger).child({ producer: topic });
  // With a rate, a batch is at most 1/10 s of messages, so the output stays smooth.
  const perSend = rate === undefined ? batchSize : Math.max(1, Math.min(batchSize, Math.ceil(rate / 10)));

  const producer = createKafkaClient({ ...opts, brokers, log }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // A misspelt topic must fail, not be created with the broker's defaults.
    allowAutoTopicCreation: false,
    // Bounded (kafkajs' idempotent default is unbounded): a dead broker fails the run with a sentence.
    retry: { retries: opts.retries ?? 5, initialRetryTime: 300, maxRetryTime: 5000 },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await producer.connect();
  } catch (e) {
    throw kafkaError('Connecting the producer', brokers, e);
  }

  let sent = 0;
  const started = performance.now();
  let batch: Message[] = [];
  const send = async () => {
    if (batch.length === 0) return;
    const messages = batch;
    batch = [];
    try {
      await producer.send({ topic, acks: -1, messages });
    } catch (e) {
      if (/UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition/i.test(String((e as Error)?.message)) || (e as { type?: string })?.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
        throw new LakehouseError('NOT_FOUND', `Kafka topic ${topic} does not exist on ${brokers.join(', ')}; create it first (lakehouse ingest creates it), or check the topic name. ${sent} message(s) were sent before.`, { cause: e, context: { brokers, topic, sent } });
      }
      throw kafkaError(`Producing ${messages.length} message(s) to ${topic} (after ${sent} sent)`, brokers, e);
    }
    sent += messages.length;
    log.debug('produced batch', { messages: messages.length, sent });
  };
  try {
    for await (const m of opts.messages) {
      batch.push(toMessage(m));
      if (batch.length >= perSend) {
        await send();
        if (rate !== undefined) {
          const wait = started + (sent / rate) * 1000 - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      }
    }
    await send();
  } finally {
    await producer.disconnect().catch(() => {});
  }
  log.info('produced', { topic, sent, seconds: Number(((performance.now() - started) / 1000).toFixed(2)) });
  return { sent };
}
