import { LakehouseError } from '../core/errors.ts';
import { type KafkaConnectionOptions, createKafkaClient, kafkaError, positiveInteger, validateBrokers } from './kafka-client.ts';
import { silentLogger } from '../core/log.ts';

/**
 * The Kafka topics ingest reads and writes, created when missing as the design describes them
 * (`campaign_events` 3 partitions, 24 h retention; `dead_letter_queue` 1 partition, 7 days). Existing topics are left as they are: a
 * different partition count or retention was someone's decision, so it is reported, never altered.
 */
export interface TopicSpec {
  topic: string;
  partitions: number;
  /** `retention.ms` of the topic. */
  retentionMs: number;
  /** Default: the broker's `default.replication.factor`. */
  replicationFactor?: number;
}

const HOUR_MS = 3_600_000;

export const CAMPAIGN_EVENTS_TOPIC: TopicSpec = { topic: 'campaign_events', partitions: 3, retentionMs: 24 * HOUR_MS };
export const DEAD_LETTER_TOPIC: TopicSpec = { topic: 'dead_letter_queue', partitions: 1, retentionMs: 7 * 24 * HOUR_MS };
export const DEFAULT_TOPICS: readonly TopicSpec[] = [CAMPAIGN_EVENTS_TOPIC, DEAD_LETTER_TOPIC];

export interface EnsureTopicsOptions extends Omit<KafkaConnectionOptions, 'brokers'> {
  /** Create missing topics (default true). When false, a missing topic is an error. */
  create?: boolean;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Existing topics whose partition count differs from the spec (left unchanged). */
  differing: Array<{ topic: string; partitions: number; expected: number }>;
}

/** Kafka topic names: 1-249 of [a-zA-Z0-9._-] (kafka.common.Topic). */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function validateTopicName(topic: unknown, setting = 'topic'): string {
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    throw new LakehouseError('INVALID_CONFIG', `Kafka ${setting} '${String(topic)}' is not a valid topic name (1-249 characters of a-z, A-Z, 0-9, '.', '_', '-').`);
  }
  return topic;
}

function validateSpec(s: TopicSpec): TopicSpec {
  validateTopicName(s.topic);
  positiveInteger(s.partitions, 1, `partitions of ${s.topic}`);
  positiveInteger(s.retentionMs, 1, `retentionMs of ${s.topic}`);
  if (s.replicationFactor !== undefined) positiveInteger(s.replicationFactor, 1, `replicationFactor of ${s.topic}`);
  return s;
}

export async function ensureTopics(brokers: string[], specs: readonly TopicSpec[], opts: EnsureTopicsOptions = {}): Promise<EnsureTopicsResult> {
  const list = validateBrokers(brokers);
  specs.forEach(validateSpec);
  const log = opts.log ?? silentLogger;
  const admin = createKafkaClient({ ...opts, brokers: list }).admin();
  try {
    try {
      await admin.connect();
    } catch (e) {
      throw kafkaError('Connecting', list, e);
    }
    const result: EnsureTopicsResult = { created: [], existing: [], differing: [] };
    let present: Set<string>;
    try {
      present = new Set(await admin.listTopics());
    } catch (e) {
      throw kafkaError('Listing topics', list, e);
    }
    const missing = specs.filter((s) => !present.has(s.topic));
    const existing = specs.filter((s) => present.has(s.topic));

    if (existing.length > 0) {
      const meta = await admin.fetchTopicMetadata({ topics: existing.map((s) => s.topic) }).catch((e) => {
        throw kafkaError('Describing topics', list, e);
      });
      for (const s of existing) {
        result.existing.push(s.topic);
        const partitions = meta.topics.find((t) => t.name === s.topic)?.partitions.length ?? 0;
        if (partitions !== s.partitions) {
          result.differing.push({ topic: s.topic, partitions, expected: s.partitions });
          log.warn('Kafka topic exists with a different partition count; left as it is', { topic: s.topic, partitions, expected: s.partitions });
        }
      }
    }

    if (missing.length > 0 && opts.create === false) {
      const names = missing.map((s) => s.topic).join(', ');
      throw new LakehouseError(
        'NOT_FOUND',
        `Kafka topic ${names} does not exist on ${list.join(', ')} and topic creation is disabled; create it ` +
          `(${missing.map((s) => `${s.topic}: ${s.partitions} partition(s)`).join(', ')}) or let lakehouse ingest create it (drop --no-create-topics).`,
        { context: { brokers: list, topics: missing.map((s) => s.topic) } },
      );
    }

    for (const s of missing) {
      try {
        const made = await admin.createTopics({
          waitForLeaders: true,
          topics: [{
            topic: s.topic,
            numPartitions: s.partitions,
            replicationFactor: s.replicationFactor ?? -1,
            configEntries: [{ name: 'retention.ms', value: String(s.retentionMs) }],
          }],
        });
        // false: it already existed (another process created it between our list and create).
        if (made) {
          result.created.push(s.topic);
          log.info('Kafka topic created', { topic: s.topic, partitions: s.partitions, retentionMs: s.retentionMs });
        } else {
          result.existing.push(s.topic);
        }
      } catch (e) {
        if (/already exists/i.test(String((e as Error)?.message)) || hasErrorType(e, 'TOPIC_ALREADY_EXISTS')) {
          result.existing.push(s.topic);
          continue;
        }
        throw kafkaError(`Creating topic ${s.topic} (${s.partitions} partitions)`, list, e);
      }
    }
    return result;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** The sentence for a topic the consumer needs but the broker does not have. */
export function missingTopicError(topic: string, brokers: string[]): LakehouseError {
  return new LakehouseError(
    'NOT_FOUND',
    `Kafka topic ${topic} does not exist on ${brokers.join(', ')} (the broker does not create topics on first use); ` +
      'create it first (ingest does, unless topic creation is turned off), or check the topic name.',
    { context: { brokers, topic } },
  );
}

/** True if the kafkajs error, or one it wraps (createTopics batches them), has this protocol error type. */
function hasErrorType(e: unknown, type: string): boolean {
  const err = e as { type?: string; errors?: unknown[]; cause?: unknown } | undefined;
  if (!err) return false;
  if (err.type === type) return true;
  if (Array.isArray(err.errors) && err.errors.some((x) => hasErrorType(x, type))) return true;
  return err.cause !== undefined && hasErrorType(err.cause, type);
}
