import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/log.ts';

/**
 * The connection settings every Kafka adapter here shares (source, topics, dead-letter producer), and
 * the one place that turns them into a kafkajs client. Only the pipeline/kafka-*.ts files import
 * kafkajs, so a switch of client library stays inside them.
 */
export interface KafkaConnectionOptions {
  /** `host:port` of one or more brokers; the client discovers the rest. */
  brokers: string[];
  /** Shown in broker logs and quotas; default `lakehouse`. */
  clientId?: string;
  /** TLS: `true` for the system CAs, or node:tls options (ca, cert, key, servername, ...). */
  ssl?: boolean | ConnectionOptions;
  /** SASL (plain, scram-sha-256, scram-sha-512, aws, oauthbearer) as kafkajs takes it. */
  sasl?: SASLOptions;
  /** TCP connect timeout per broker; default 3000 ms. */
  connectionTimeoutMs?: number;
  /** Retries of a failed request or connection before giving up; default 5 (about 10 s in all). */
  retries?: number;
  log?: Logger;
}

export const DEFAULT_CLIENT_ID = 'lakehouse';
const DEFAULT_CONNECTION_TIMEOUT_MS = 3000;
const DEFAULT_RETRIES = 5;

const HOST_PORT = /^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

/** Checks `host:port` entries at construction, so a typo fails with the setting's name, not a timeout. */
export function validateBrokers(brokers: unknown, setting = 'brokers'): string[] {
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new LakehouseError('INVALID_CONFIG', `Kafka ${setting}: give at least one broker as host:port (e.g. 127.0.0.1:9092).`);
  }
  for (const b of brokers) {
    if (typeof b !== 'string' || !HOST_PORT.test(b.trim())) {
      throw new LakehouseError('INVALID_CONFIG', `Kafka ${setting}: '${String(b)}' is not host:port (e.g. 127.0.0.1:9092); separate several brokers with commas.`);
    }
  }
  return brokers.map((b: string) => b.trim());
}

export function positiveInteger(value: number | undefined, fallback: number, setting: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new LakehouseError('INVALID_CONFIG', `Kafka option ${setting} must be a positive integer, got ${String(value)}.`);
  }
  return v;
}

/**
 * A rebalance is routine, yet kafkajs logs each refused heartbeat as an ERROR and the rejoin as a WARN;
 * the source logs the revocation and the new assignment itself.
 */
const ROUTINE = /group is rebalancing/;
/**
 * Connection failures are retried by kafkajs and, when the retries run out, reported once by us as a
 * sentence (kafkaUnreachable); each attempt is a warning without kafkajs' stack, not an error.
 */
const RETRIED = /^(Connection error|Failed to connect to seed broker|Connection timeout)/;

/** kafkajs' own log lines go to our JSON log: its INFO (joins, leaves) as debug, its DEBUG dropped. */
function logCreator(log: Logger) {
  return () => (entry: LogEntry) => {
    const { message, stack: _stack, ...fields } = entry.log as LogEntry['log'] & { stack?: unknown };
    const line = { kafkajs: entry.namespace, ...fields };
    if (ROUTINE.test(`${message} ${String(fields.error ?? '')}`)) log.debug(`kafkajs: ${message}`, line);
    else if (RETRIED.test(message)) log.warn(`kafkajs: ${message}`, line);
    else if (entry.level === logLevel.ERROR) log.error(`kafkajs: ${message}`, line);
    // The dead-letter producer limits its retries on purpose (a flush must fail in bounded time, and
    // dead letters are at-least-once anyway), so kafkajs' warning about that is not news.
    else if (entry.level === logLevel.WARN && !/^Limiting retries for the idempotent producer/.test(message)) log.warn(`kafkajs: ${message}`, line);
    else if (entry.level === logLevel.INFO) log.debug(`kafkajs: ${message}`, line);
  };
}

export function createKafkaClient(opts: KafkaConnectionOptions): Kafka {
  const config: KafkaConfig = {
    clientId: opts.clientId ?? DEFAULT_CLIENT_ID,
    brokers: validateBrokers(opts.brokers),
    connectionTimeout: positiveInteger(opts.connectionTimeoutMs, DEFAULT_CONNECTION_TIMEOUT_MS, 'connectionTimeoutMs'),
    retry: { retries: opts.retries ?? DEFAULT_RETRIES, initialRetryTime: 300, maxRetryTime: 5000 },
    logLevel: logLevel.INFO,
    logCreator: logCreator(opts.log ?? silentLogger),
  };
  if (opts.ssl !== undefined) config.ssl = opts.ssl;
  if (opts.sasl !== undefined) config.sasl = opts.sasl;
  return new Kafka(config);
}

/** kafkajs errors that mean "no broker answered" rather than "a broker refused". */
export function isConnectionError(e: unknown): boolean {
  for (let cur: unknown = e; cur instanceof Error; cur = (cur as { cause?: unknown }).cause) {
    if (/KafkaJSConnectionError|KafkaJSNumberOfRetriesExceeded|KafkaJSBrokerNotFound|KafkaJSNoBrokerAvailableError|KafkaJSRequestTimeoutError|KafkaJSConnectionClosedError/.test(cur.name)) return true;
    if (/ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|Connection timeout|Closed connection/.test(cur.message)) return true;
  }
  return false;
}

/** The sentence for a broker that cannot be reached, naming what was tried and what to check. */
export function kafkaUnreachable(brokers: string[], cause: unknown): LakehouseError {
  return new LakehouseError(
    'IO_ERROR',
    `Cannot reach Kafka at ${brokers.join(', ')} (${errorMessage(cause)}); check --brokers and that the broker runs ` +
      '(for the test broker: bash infra/services/kafka.sh start).',
    { retryable: true, cause, context: { brokers } },
  );
}

/** Wraps a kafkajs failure: unreachable brokers get the sentence above, anything else says what failed. */
export function kafkaError(what: string, brokers: string[], cause: unknown): LakehouseError {
  if (cause instanceof LakehouseError) return cause;
  if (isConnectionError(cause)) return kafkaUnreachable(brokers, cause);
  const retryable = (cause as { retriable?: unknown })?.retriable === true;
  return new LakehouseError('IO_ERROR', `${what} failed on Kafka at ${brokers.join(', ')}: ${errorMessage(cause)}`, { retryable, cause, context: { brokers } });
}

/**
 * kafkajs builds its cluster connections (with the client's TLS, SASL, retry and logging settings)
 * through this private factory; its public API has no way to send a LeaveGroup for another member, nor
 * to fetch without joining a consumer group.
 */
const CREATE_CLUSTER = 'private:Kafka:createCluster';

export interface KafkaJsBroker {
  leaveGroup(args: { groupId: string; memberId: string }): Promise<unknown>;
  fetch(args: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: KafkaJsFetchedPartition[] }> }>;
}

export interface KafkaJsFetchedPartition {
  partition: number;
  highWatermark: string;
  messages: Array<{ offset: string; headers?: Record<string, Buffer | Buffer[] | string | undefined>; isControlRecord?: boolean; key?: Buffer | null; value?: Buffer | null; timestamp?: string }>;
}

export interface KafkaJsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(args: { groupId: string }): Promise<KafkaJsBroker>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number }>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<KafkaJsBroker>;
  fetchTopicsOffset(topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

/** A connection to the cluster outside kafkajs' consumer, producer and admin (see CREATE_CLUSTER). */
export function privateCluster(kafka: Kafka, what: string): KafkaJsCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
  const factory = symbol && (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function') throw new Error(`this kafkajs version has no ${CREATE_CLUSTER}, so ${what}`);
  return (factory as (opts: object) => KafkaJsCluster)({});
}

/**
 * Removes `memberIds` from `groupId` with LeaveGroup requests on their behalf (members of processes that
 * died without leaving: pipeline/kafka-group-members.ts says which, and why the broker allows it).
 * Returns the ids removed; a member already gone (its session ended meanwhile, or another restart removed
 * it) is not an error. Throws when kafkajs no longer has the factory this relies on, or the coordinator
 * cannot be reached.
 */
export async function removeGroupMembers(kafka: Kafka, groupId: string, memberIds: readonly string[], log: Logger): Promise<string[]> {
  const cluster = privateCluster(kafka, 'members of other processes cannot be removed');
  await cluster.connect();
  try {
    const coordinator = await cluster.findGroupCoordinator({ groupId });
    const removed: string[] = [];
    for (const memberId of memberIds) {
      try {
        await coordinator.leaveGroup({ groupId, memberId });
        removed.push(memberId);
      } catch (e) {
        if ((e as { type?: string }).type !== 'UNKNOWN_MEMBER_ID') throw e;
        log.debug('group member already gone', { memberId, error: errorMessage(e) });
      }
    }
    return removed;
  } finally {
    await cluster.disconnect().catch(() => {});
  }
}

/** A record read by readTopicTail: where it is, and its headers as UTF-8 strings (last value of a repeated one). */
export interface TailRecord {
  partition: number;
  offset: bigint;
  headers: Record<string, string>;
  key: Buffer | null;
  value: Buffer | null;
  /** The record's timestamp (ms since epoch), when the broker gave one. */
  timestampMs?: number;
}

/**
 * Reads every partition of `topic` from `from` (absent: its earliest offset; 'ends': read nothing) up to
 * its high watermark as of the call, without joining a consumer group: a join costs seconds (more on a broker with
 * group.initial.rebalance.delay.ms), a fetch from a known offset a round trip. Returns the high
 * watermarks it read up to (and the partitions with nothing to read).
 */
export async function readTopicTail(kafka: Kafka, topic: string, from: Map<number, bigint> | 'ends', onRecord: (r: TailRecord) => void): Promise<Map<number, bigint>> {
  const cluster = privateCluster(kafka, `${topic} cannot be read without joining a consumer group`);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId }));
    const [[high], [low]] = await Promise.all([
      cluster.fetchTopicsOffset([{ topic, fromBeginning: false, partitions }]),
      cluster.fetchTopicsOffset([{ topic, fromBeginning: true, partitions }]),
    ]);
    const ends = new Map<number, bigint>();
    const next = new Map<number, bigint>();
    for (const { partition, offset } of high?.partitions ?? []) {
      const end = BigInt(offset);
      const earliest = BigInt(low?.partitions.find((p) => p.partition === partition)?.offset ?? '0');
      ends.set(partition, end);
      // Retention may have deleted records past a mark: start at what is left.
      if (from === 'ends') continue;
      let at = from.get(partition) ?? earliest;
      if (at < earliest) at = earliest;
      if (at < end) next.set(partition, at);
    }
    while (next.size > 0) {
      const byLeader = cluster.findLeaderForPartitions(topic, [...next.keys()]);
      await Promise.all(Object.entries(byLeader).map(async ([nodeId, leaderPartitions]) => {
        const broker = await cluster.findBroker({ nodeId });
        const { responses } = await broker.fetch({
          isolationLevel: 0, maxWaitTime: 0, minBytes: 1, maxBytes: 8 << 20,
          topics: [{ topic, partitions: leaderPartitions.map((partition) => ({ partition, fetchOffset: next.get(partition)!.toString(), maxBytes: 4 << 20 })) }],
        });
        for (const { partitions: fetched } of responses) {
          for (const p of fetched) {
            const at = next.get(p.partition);
            if (at === undefined) continue;
            let after = at;
            for (const m of p.messages) {
              const offset = BigInt(m.offset);
              if (offset < at) continue; // a batch fetched whole starts before the offset asked for
              if (offset + 1n > after) after = offset + 1n;
              if (m.isControlRecord || offset >= ends.get(p.partition)!) continue;
              const ts = Number(m.timestamp);
              onRecord({ partition: p.partition, offset, headers: stringHeaders(m.headers), key: m.key ?? null, value: m.value ?? null, ...(Number.isSafeInteger(ts) && ts >= 0 ? { timestampMs: ts } : {}) });
            }
            if (after === at) {
              // Nothing at or past `at` below the high watermark: what is left was removed (compaction, a
              // transaction's aborted records). The end read at the start is where the caller continues.
              next.delete(p.partition);
            } else if (after >= ends.get(p.partition)!) next.delete(p.partition);
            else next.set(p.partition, after);
          }
        }
      }));
    }
    return ends;
  } finally {
    await cluster.disconnect().catch(() => {});
  }
}

function stringHeaders(headers: Record<string, Buffer | Buffer[] | string | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return out;
}

/**
 * The end (high watermark: the next offset to be written) of each partition of `topic`, through the
 * admin client. With the positions a consumer recorded, this gives its lag.
 */
export async function topicEndOffsets(opts: KafkaConnectionOptions, topic: string): Promise<Map<number, bigint>> {
  const brokers = validateBrokers(opts.brokers);
  const admin = createKafkaClient(opts).admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } catch (e) {
    throw kafkaError(`Reading the end offsets of ${topic}`, brokers, e);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
