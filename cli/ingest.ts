import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { Catalog } from '../catalog/catalog.ts';
import { identifierToString, type TableIdentifier, Table } from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { CAMPAIGN_EVENTS_TABLE, campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { type DeadLetterSink, NdjsonDeadLetterFile } from '../pipeline/dead-letters.ts';
import { FileSource } from '../pipeline/file-source.ts';
import { DEFAULT_DEDUP_HORIZON_MS, DEFAULT_DEDUP_MAX_IDS } from '../pipeline/dedup-index.ts';
import { DEFAULT_FLUSH_BYTES, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_FLUSH_ROWS, DEFAULT_MEMORY_BUDGET_BYTES, Ingestor, type IngestStats } from '../pipeline/ingest.ts';
import { type LogLevel, type Logger, createLogger, isLogLevel } from '../core/log.ts';
import { type IngestMetrics, createIngestMetrics, startMetricsServer } from '../pipeline/prometheus.ts';
import type { KafkaConnectionOptions } from '../pipeline/kafka-client.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_REBALANCE_TIMEOUT_MS, DEFAULT_SESSION_TIMEOUT_MS, groupTimings } from '../pipeline/kafka-group-members.ts';
import type { Positions, Source } from '../pipeline/source.ts';
import { catalogConfig, globalOptions, tableId, withCatalog } from './context.ts';
import { handleExitPaths } from './exit-paths.ts';
import { printJson } from './output.ts';
import { byteSize, duration, durationOrOff, fileSourceLocation, port, positiveInt } from './options.ts';

/**
 * `lakehouse ingest`: one source -> the campaign_events table, exactly once (pipeline/ingest.ts). Runs
 * until a bounded source (a file) ends, or until SIGINT/SIGTERM/SIGHUP, then flushes, commits and exits 0.
 * Every exit it can catch leaves the Kafka consumer group first (cli/exit-paths.ts).
 */
export const DEFAULT_GROUP = 'lakehouse-ingest';
export const DEFAULT_DEAD_LETTER_FILE = 'dead-letters.ndjson';

interface IngestCliOptions extends KafkaSecurityFlags {
  source: string;
  table: string;
  createTable?: boolean;
  group: string;
  flushRows: number;
  flushBytes: number;
  flushInterval: number;
  memoryBudget: number;
  deadLetterFile?: string;
  metricsPort?: number;
  metricsHost: string;
  logLevel: LogLevel;
  brokers?: string;
  topic: string;
  fromLatest?: boolean;
  sessionTimeout: number;
  heartbeatInterval: number;
  rebalanceTimeout: number;
  dlqTopic?: string;
  resetPositions?: boolean;
  dedupHorizon: number;
  dedupMaxIds: number;
  createTopics: boolean;
}

export function ingestCommand(): Command {
  return kafkaSecurityFlags(new Command('ingest')
    .requiredOption('-s, --source <source>', 'file:PATH (NDJSON, local), file:///abs/path, s3://bucket/key.ndjson, or kafka')
    .option('-t, --table <name>', 'table name, [namespace.]table', CAMPAIGN_EVENTS_TABLE)
    .option('--create-table', 'create the table (and its namespace) with the campaign_events schema if it does not exist')
    .option('-g, --group <name>', 'consumer group: its positions are recorded in the table as lakehouse.offsets.<group>', DEFAULT_GROUP)
    .addOption(new Option('--flush-rows <n>', 'flush when the buffer holds this many rows').default(DEFAULT_FLUSH_ROWS).argParser(positiveInt('--flush-rows')))
    .addOption(new Option('--flush-bytes <size>', 'flush when the buffer holds this many bytes (e.g. 64MiB)').default(DEFAULT_FLUSH_BYTES, '64MiB').argParser(byteSize('--flush-bytes')))
    .addOption(new Option('--flush-interval <duration>', 'flush at least this often while events arrive (e.g. 5s, 500ms, 1m)').default(DEFAULT_FLUSH_INTERVAL_MS, '5s').argParser(duration('--flush-interval')))
    .addOption(new Option('--memory-budget <size>', 'pause reading while buffered + flushing bytes exceed this (e.g. 256MiB)').default(DEFAULT_MEMORY_BUDGET_BYTES, '256MiB').argParser(byteSize('--memory-budget')))
    .option('--dead-letter-file <path>', `append invalid events to this NDJSON file (default for file sources: ./${DEFAULT_DEAD_LETTER_FILE}; for kafka: the dead-letter topic)`)
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on http://<metrics-host>:<port>/metrics (0 = any free port)').argParser(port('--metrics-port')))
    .option('--metrics-host <host>', 'address the metrics server listens on', '127.0.0.1')
    .addOption(new Option('--log-level <level>', 'JSON logs on stderr from this level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--brokers <list>', 'kafka: comma-separated host:port list (default $KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--topic <name>', 'kafka: topic to read', CAMPAIGN_EVENTS_TABLE)
    .option('--from-latest', 'kafka: partitions without a recorded position start at the end instead of the beginning')
    .addOption(new Option('--session-timeout <duration>', 'kafka: a member silent this long is dropped from the group and its partitions move (the broker allows 6s-30m by default)').default(DEFAULT_SESSION_TIMEOUT_MS, seconds(DEFAULT_SESSION_TIMEOUT_MS)).argParser(duration('--session-timeout')))
    .addOption(new Option('--heartbeat-interval <duration>', 'kafka: heartbeat this often; at most a third of --session-timeout').default(DEFAULT_HEARTBEAT_INTERVAL_MS, seconds(DEFAULT_HEARTBEAT_INTERVAL_MS)).argParser(duration('--heartbeat-interval')))
    .addOption(new Option('--rebalance-timeout <duration>', 'kafka: how long a rebalance waits for the members to join again').default(DEFAULT_REBALANCE_TIMEOUT_MS, seconds(DEFAULT_REBALANCE_TIMEOUT_MS)).argParser(duration('--rebalance-timeout')))
    .option('--dlq-topic <name>', 'kafka: dead-letter topic (default dead_letter_queue)')
    .option('--no-create-topics', 'kafka: fail when the topic or dead-letter topic is missing instead of creating it (3 partitions / 24 h, DLQ 1 partition / 7 days)')
    .addOption(new Option('--dedup-horizon <duration>', 'drop an event whose event_id was stored this recently (processing time, e.g. 7d, 12h); 0 or off: only duplicates within one flush').default(DEFAULT_DEDUP_HORIZON_MS, '7d').argParser(durationOrOff('--dedup-horizon')))
    .addOption(new Option('--dedup-max-ids <n>', 'most event_ids the de-duplication index holds (12-24 bytes each); past it the oldest go first').default(DEFAULT_DEDUP_MAX_IDS, '10000000').argParser(positiveInt('--dedup-max-ids')))
    .option('--reset-positions', 'when the snapshots recording this group\'s positions were expired, start from the source default instead of stopping')
    .addHelpText('after', `
Each flush writes Parquet files, then commits one Iceberg snapshot whose summary records the next
position per source partition (lakehouse.offsets.<group>), then commits the source. A restart resumes
from the table, so a crash anywhere neither loses nor duplicates an event. SIGINT/SIGTERM/SIGHUP stop
reading, flush, commit, leave the consumer group and exit 0; a second one exits at once (after leaving).
A restart after kill -9 on the same host removes the dead run's group membership instead of waiting for
its session timeout. An event whose event_id the table already holds
from the last --dedup-horizon (7 days by default) is dropped and counted as a duplicate; the first copy stays.

Examples:
  $ lakehouse produce --to file:events.ndjson --events 100000 --invalid-rate 0.01
  $ lakehouse ingest --source file:events.ndjson --create-table
  $ lakehouse ingest --source kafka --brokers 127.0.0.1:9092 --group ingest --metrics-port 9464
  $ KAFKA_SASL_PASSWORD=... lakehouse ingest --source kafka --brokers b1:9096 --ssl --sasl-mechanism scram-sha-512 --sasl-username ingest`)
    .action(async (o: IngestCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      // Before any connection: a bad combination of the group timings is a sentence naming the flags.
      if (isKafkaSource(o.source)) groupTimings({ sessionTimeoutMs: o.sessionTimeout, heartbeatIntervalMs: o.heartbeatInterval, rebalanceTimeoutMs: o.rebalanceTimeout });
      if (!isLogLevel(o.logLevel)) throw new LakehouseError('INVALID_ARGUMENT', `--log-level must be debug, info, warn or error, got "${o.logLevel}".`);
      const log = createLogger({ level: o.logLevel });
      // FileIO settings (s3.endpoint, keys) of the catalog also open an s3:// source file.
      const ioProperties = (await catalogConfig(g)).properties;
      await withCatalog(g, async (catalog) => {
        const table = await openOrCreateTable(catalog, tableId(o.table), Boolean(o.createTable));
        const metrics = createIngestMetrics();
        if (o.metricsPort !== undefined) metrics.registry.collectProcessMetrics();
        const server = o.metricsPort === undefined ? null : await startMetricsServer(metrics.registry, o.metricsPort, o.metricsHost);
        if (server) log.info('serving metrics', { url: server.url });
        try {
          const started = performance.now();
          const stats = await runIngest({ table, metrics, log, options: o, ioProperties });
          printStats(stats, table, (performance.now() - started) / 1000, Boolean(g.json));
        } finally {
          await server?.close();
        }
      });
    }));
}

async function openOrCreateTable(catalog: Catalog, id: TableIdentifier, create: boolean): Promise<Table> {
  if (await catalog.tableExists(id)) return new Table(catalog, await catalog.loadTable(id));
  if (!create) {
    throw new LakehouseError('TABLE_NOT_FOUND', `Table ${identifierToString(id)} does not exist. Run again with --create-table to create it with the campaign_events schema, or create it first: lakehouse tables create ${identifierToString(id)} --schema campaign_events`);
  }
  if (!(await catalog.namespaceExists(id.namespace))) await catalog.createNamespace(id.namespace);
  return new Table(catalog, await catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
}

interface RunIngestArgs {
  table: Table;
  metrics: IngestMetrics;
  log: Logger;
  options: IngestCliOptions;
  ioProperties: Record<string, string>;
}

/**
 * Wires source, dead letters and Ingestor. A stop signal aborts gracefully; a second one, an uncaught
 * exception or an unhandled rejection close the source (leave the consumer group) and exit at once.
 */
async function runIngest({ table, metrics, log, options: o, ioProperties }: RunIngestArgs): Promise<IngestStats> {
  let ingestor: Ingestor | undefined;
  const { source, deadLetters } = await openSource(o, ioProperties, log, {
    positionsFor: () => ingestor!.positionsFor(),
    onAssignment: () => ingestor!.discardUncommitted('rebalance'),
  });
  ingestor = new Ingestor({
    table, source, group: o.group, deadLetters, metrics, log,
    flushRows: o.flushRows, flushBytes: o.flushBytes, flushIntervalMs: o.flushInterval, memoryBudgetBytes: o.memoryBudget, resetPositions: o.resetPositions,
    dedupHorizonMs: o.dedupHorizon, dedupMaxIds: o.dedupMaxIds,
  });
  const controller = new AbortController();
  const removeExitPaths = handleExitPaths({ stop: () => controller.abort(), release: () => source.close(), log });
  const lagTimer = startLagReporting(source, metrics);
  try {
    return await ingestor.run(controller.signal);
  } finally {
    if (lagTimer) clearInterval(lagTimer);
    try {
      await source.close().catch((e) => log.warn('closing the source failed', { error: e }));
      await deadLetters.close();
    } finally {
      // Only now: a second signal while the source closes still exits at once, after the same close.
      removeExitPaths();
    }
  }
}

interface RebalanceHooks {
  positionsFor: () => Promise<Positions>;
  onAssignment: () => void;
}

async function openSource(o: IngestCliOptions, ioProperties: Record<string, string>, log: Logger, hooks: RebalanceHooks): Promise<{ source: Source; deadLetters: DeadLetterSink }> {
  if (isKafkaSource(o.source)) return openKafka(o, log, hooks);
  const location = fileSourceLocation(o.source);
  const source = new FileSource({ location, ioProperties });
  return { source, deadLetters: new NdjsonDeadLetterFile(o.deadLetterFile ?? DEFAULT_DEAD_LETTER_FILE) };
}

// ---- Kafka ---------------------------------------------------------------------------------------

function isKafkaSource(source: string): boolean {
  return source === 'kafka' || source.startsWith('kafka:');
}

/** A default in the help as the flags take it: 10000 -> "10s". */
function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** TLS and SASL settings from the flags; the password comes from $KAFKA_SASL_PASSWORD when not given. */
/** The Kafka TLS and SASL flags, shared by every command that talks to a broker. */
export interface KafkaSecurityFlags {
  ssl?: boolean;
  sslCa?: string;
  saslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  saslUsername?: string;
  saslPassword?: string;
}

/** Adds the flags of KafkaSecurityFlags to `cmd`. */
export function kafkaSecurityFlags(cmd: Command): Command {
  return cmd
    .option('--ssl', 'kafka: connect with TLS (system CAs)')
    .option('--ssl-ca <file>', 'kafka: connect with TLS trusting this PEM CA file')
    .addOption(new Option('--sasl-mechanism <mechanism>', 'kafka: SASL authentication').choices(['plain', 'scram-sha-256', 'scram-sha-512']))
    .option('--sasl-username <user>', 'kafka: SASL user name')
    .option('--sasl-password <password>', 'kafka: SASL password (prefer $KAFKA_SASL_PASSWORD: flags show in process lists)');
}

export function kafkaSecurity(o: KafkaSecurityFlags): Pick<KafkaConnectionOptions, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConnectionOptions, 'ssl' | 'sasl'> = {};
  if (o.sslCa) out.ssl = { ca: [readFileSync(o.sslCa, 'utf8')] };
  else if (o.ssl) out.ssl = true;
  if (o.saslMechanism) {
    const password = o.saslPassword ?? process.env.KAFKA_SASL_PASSWORD;
    if (!o.saslUsername || !password) {
      throw new LakehouseError('INVALID_ARGUMENT', `--sasl-mechanism ${o.saslMechanism} needs --sasl-username and a password (--sasl-password or $KAFKA_SASL_PASSWORD).`);
    }
    out.sasl = { mechanism: o.saslMechanism, username: o.saslUsername, password } as KafkaConnectionOptions['sasl'];
  }
  return out;
}

async function openKafka(o: IngestCliOptions, log: Logger, hooks: RebalanceHooks): Promise<{ source: Source; deadLetters: DeadLetterSink }> {
  const topic = o.source.startsWith('kafka:') ? o.source.slice('kafka:'.length) : o.topic;
  const brokers = (o.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  const security = kafkaSecurity(o);
  // kafkajs loads only when the source is Kafka.
  const [{ CAMPAIGN_EVENTS_TOPIC, DEAD_LETTER_TOPIC, ensureTopics }, { createKafkaSource }, { KafkaDeadLetterSink }] = await Promise.all([
    import('../pipeline/kafka-topics.ts'), import('../pipeline/kafka-source.ts'), import('../pipeline/kafka-dead-letters.ts'),
  ]);
  const dlqTopic = o.dlqTopic ?? DEAD_LETTER_TOPIC.topic;
  // The topics are created as the design describes them when missing (campaign_events 3
  // partitions / 24 h, dead_letter_queue 1 partition / 7 days); --no-create-topics makes a missing one an error.
  const specs = [{ ...CAMPAIGN_EVENTS_TOPIC, topic }, ...(o.deadLetterFile ? [] : [{ ...DEAD_LETTER_TOPIC, topic: dlqTopic }])];
  const ensured = await ensureTopics(brokers, specs, { ...security, log, create: o.createTopics });
  if (ensured.created.length > 0) log.info('created topics', { topics: ensured.created });
  const source = createKafkaSource({
    brokers, topic, group: o.group, fromBeginning: !o.fromLatest, log, ...security, ...hooks,
    sessionTimeoutMs: o.sessionTimeout, heartbeatIntervalMs: o.heartbeatInterval, rebalanceTimeoutMs: o.rebalanceTimeout,
  });
  const deadLetters: DeadLetterSink = o.deadLetterFile
    ? new NdjsonDeadLetterFile(o.deadLetterFile)
    : new KafkaDeadLetterSink({ brokers, topic: dlqTopic, log, ...security });
  return { source, deadLetters };
}

/** Copies a source's per-partition lag (when it reports one, as the Kafka source does) into the lag gauge. */
function startLagReporting(source: Source, metrics: IngestMetrics): NodeJS.Timeout | null {
  const withLag = source as Source & { lag?: () => Map<string, bigint> };
  if (typeof withLag.lag !== 'function') return null;
  const timer = setInterval(() => {
    for (const [key, lag] of withLag.lag!()) {
      const i = key.lastIndexOf(':');
      metrics.lag.set(Number(lag), { topic: key.slice(0, i), partition: key.slice(i + 1) });
    }
  }, 5_000);
  timer.unref();
  return timer;
}

function printStats(stats: IngestStats, table: Table, seconds: number, json: boolean): void {
  const positions = Object.fromEntries([...stats.positions].map(([k, v]) => [k, v.toString()]));
  const summary = {
    table: table.name, consumed: stats.consumed, written: stats.written, deadLettered: stats.deadLettered, duplicates: stats.duplicates,
    deadLetteredByReason: stats.deadLetteredByReason, commits: stats.commits, snapshotId: stats.lastSnapshotId, positions,
    stoppedBy: stats.stoppedBy, pauses: stats.pauses, seconds: Number(seconds.toFixed(2)),
  };
  if (json) { printJson(summary); return; }
  const n = (x: number) => x.toLocaleString('en-US');
  process.stdout.write(`${stats.stoppedBy === 'abort' ? 'Stopped' : 'Done'}: consumed ${n(stats.consumed)} events in ${seconds.toFixed(1)} s: ${n(stats.written)} written to ${table.name}, ${n(stats.deadLettered)} dead-lettered, ${n(stats.duplicates)} duplicates dropped; ${stats.commits} snapshot(s) committed.\n`);
  for (const [k, v] of Object.entries(positions)) process.stdout.write(`  next position ${k} = ${v}\n`);
}
