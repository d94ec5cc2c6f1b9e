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
 * through this private factory; its public admin has no way to send a LeaveGroup for another member.
 */
const CREATE_CLUSTER = 'private:Kafka:createCluster';

interface KafkaJsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(args: { groupId: string }): Promise<{ leaveGroup(args: { groupId: string; memberId: string }): Promise<unknown> }>;
}

/**
 * Removes `memberIds` from `groupId` with LeaveGroup requests on their behalf (members of processes that
 * died without leaving: pipeline/kafka-group-members.ts says which, and why the broker allows it).
 * Returns the ids removed; a member already gone (its session ended meanwhile, or another restart removed
 * it) is not an error. Throws when kafkajs no longer has the factory this relies on, or the coordinator
 * cannot be reached.
 */
export async function removeGroupMembers(kafka: Kafka, groupId: string, memberIds: readonly string[], log: Logger): Promise<string[]> {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
  const factory = symbol && (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function') throw new Error(`this kafkajs version has no ${CREATE_CLUSTER}, so members of other processes cannot be removed`);
  const cluster = (factory as (opts: object) => KafkaJsCluster)({});
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
