import { Command, Option } from 'commander';
import type { Catalog } from '../catalog/catalog.ts';
import { identifierToString, microsToIso, parseIdentifier, Table, type TableIdentifier } from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { type LogLevel, type Logger, createLogger } from '../core/log.ts';
import { CAMPAIGN_EVENTS_TABLE } from '../domain/campaign-events.ts';
import { CAMPAIGN_METRICS_TABLE } from '../domain/campaign-metrics-table.ts';
import { type BackfillProgress, type BackfillResult, type SourceHooks, backfill, backfillGroup } from '../pipeline/backfill.ts';
import { type DeadLetterSink, NdjsonDeadLetterFile } from '../pipeline/dead-letters.ts';
import { FileSource } from '../pipeline/file-source.ts';
import { FileSetSource, listSourceFiles } from '../pipeline/file-set-source.ts';
import { DEFAULT_FLUSH_ROWS, DEFAULT_MEMORY_BUDGET_BYTES } from '../pipeline/ingest.ts';
import type { KafkaConnectionOptions } from '../pipeline/kafka-client.ts';
import type { KafkaRangeSpec, KafkaRangeSource, PartitionRange } from '../pipeline/kafka-range-source.ts';
import type { Source } from '../pipeline/source.ts';
import { resolveFileIO } from '../iceberg/io/index.ts';
import { catalogConfig, globalOptions, tableId, withCatalog } from './context.ts';
import { handleExitPaths } from './exit-paths.ts';
import { DEFAULT_DEAD_LETTER_FILE, type KafkaSecurityFlags, kafkaSecurity, kafkaSecurityFlags } from './ingest.ts';
import { byteSize, duration, fileSourceLocation, positiveInt, time } from './options.ts';
import { printJson } from './output.ts';
import { type Progress, progress } from './progress.ts';

/**
 * `lakehouse backfill`: history from an NDJSON file (plain or gzip), every such file under an S3 prefix
 * or directory, or a range of a Kafka topic into campaign_events, through the ingest path
 * (pipeline/backfill.ts), each event_id once; then campaign_metrics brought up to date, which is what an
 * incremental metrics run does: it recomputes exactly the windows of the rows added since its last run
 * (and of the other copies of their ids), so the backfill just runs it.
 */
interface BackfillCliOptions extends KafkaSecurityFlags {
  source: string;
  table: string;
  group?: string;
  dryRun?: boolean;
  metrics: boolean;
  metricsTable?: string;
  allowedLateness: number;
  cacheDir?: string;
  flushRows: number;
  memoryBudget: number;
  deadLetterFile?: string;
  logLevel: LogLevel;
  progress: boolean;
  brokers?: string;
  topic: string;
  fromOffset?: string;
  toOffset?: string;
  fromTime?: number;
  toTime?: number;
  dlqTopic?: string;
}

export function backfillCommand(): Command {
  return kafkaSecurityFlags(new Command('backfill')
    .requiredOption('-s, --source <source>', 'file:PATH or s3://bucket/key (one NDJSON file, plain or gzip), a directory or s3://bucket/prefix/ (every file under it), or kafka (a range of --topic)')
    .option('-t, --table <name>', 'events table, [namespace.]table', CAMPAIGN_EVENTS_TABLE)
    .option('--dry-run', 'count what would be added, dead-lettered and skipped; write nothing')
    .option('--no-metrics', 'do not bring campaign_metrics up to date afterwards')
    .option('--metrics-table <name>', `metrics table to bring up to date (default: ${CAMPAIGN_METRICS_TABLE} in the events table's namespace)`)
    .addOption(new Option('--allowed-lateness <duration>', 'for the metrics run: watermark = newest event_time minus this').default(10 * 60_000, '10m').argParser(duration('--allowed-lateness')))
    .option('--cache-dir <dir>', 'for the metrics run: local copies of object-store data files (default $LAKEHOUSE_CACHE/data-files)')
    .option('-g, --group <name>', 'the name its positions are recorded under in the table (default: backfill-<hash of the source and range>, so the same backfill run again resumes or reads nothing)')
    .addOption(new Option('--flush-rows <n>', 'rows per commit').default(DEFAULT_FLUSH_ROWS).argParser(positiveInt('--flush-rows')))
    .addOption(new Option('--memory-budget <size>', 'pause reading while buffered + flushing bytes exceed this (e.g. 256MiB)').default(DEFAULT_MEMORY_BUDGET_BYTES, '256MiB').argParser(byteSize('--memory-budget')))
    .option('--dead-letter-file <path>', `append invalid events to this NDJSON file (default for files: ./${DEFAULT_DEAD_LETTER_FILE}; for kafka: the dead-letter topic)`)
    .option('--no-progress', 'no progress bar (it is drawn on stderr on a terminal, as plain lines elsewhere, never with --json)')
    .addOption(new Option('--log-level <level>', 'JSON logs on stderr from this level').choices(['debug', 'info', 'warn', 'error']).default('warn'))
    .option('--brokers <list>', 'kafka: comma-separated host:port list (default $KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--topic <name>', 'kafka: topic to read', CAMPAIGN_EVENTS_TABLE)
    .option('--from-offset <offsets>', 'kafka: first offset, for every partition (1000) or per partition (0:1000,1:950; only those partitions are read); default the earliest')
    .option('--to-offset <offsets>', 'kafka: end offset (exclusive), same forms; default the end of each partition now')
    .addOption(new Option('--from-time <time>', 'kafka: start at the first record with a broker timestamp at or after this (ISO-8601 or epoch ms)').argParser(time('--from-time')))
    .addOption(new Option('--to-time <time>', 'kafka: end before the first record at or after this; not in the future').argParser(time('--to-time')))
    .option('--dlq-topic <name>', 'kafka: dead-letter topic (default dead_letter_queue)')
    .addHelpText('after', `
Events go through the ingest path (decode, validation, dead letters, Parquet, one Iceberg append per
--flush-rows), each event_id once: an event whose event_id the table already holds on the days the source
covers is skipped, however old; so is a repeat within the source. The source is read twice: first to
count and collect its event_ids and days (nothing written; a dry run stops here), then to write. Each
commit records how far every file or partition was read, so a backfill that was killed resumes where it
stopped, and the same backfill run again reads nothing. Afterwards an incremental metrics run recomputes
the windows the added events fall in (skipped when there is no metrics table yet, or with --no-metrics).

Examples:
  $ lakehouse backfill --source file:history-2026-10.ndjson.gz --dry-run
  $ lakehouse backfill --source s3://exports/campaign-events/2026/10/ --json
  $ lakehouse backfill --source kafka --topic campaign_events --from-time 2026-11-01T00:00:00Z --to-time 2026-11-02T00:00:00Z
  $ lakehouse backfill --source kafka --topic campaign_events --from-offset 0:0,1:0 --to-offset 0:5000,1:4800 --no-metrics`)
    .action(async (o: BackfillCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const log = createLogger({ level: o.logLevel });
      const ioProperties = (await catalogConfig(g)).properties;
      const started = performance.now();
      await withCatalog(g, async (catalog) => {
        const id = tableId(o.table);
        if (!(await catalog.tableExists(id))) {
          throw new LakehouseError('TABLE_NOT_FOUND', `Table ${identifierToString(id)} does not exist, so there is nothing to backfill into. Create it first (lakehouse tables create ${identifierToString(id)} --schema campaign_events, or lakehouse ingest --create-table), or check --table and --catalog.`);
        }
        const table = new Table(catalog, await catalog.loadTable(id));
        const plan = await planSource(o, ioProperties, log);
        const group = o.group ?? backfillGroup(plan.identity);
        const bar = new PhaseProgress(Boolean(g.json) || !o.progress, plan);
        const deadLetters = o.dryRun ? undefined : await plan.deadLetters();
        const controller = new AbortController();
        // A second signal exits at once: the source open then (a Kafka consumer) leaves its group first.
        let open: Source | null = null;
        const openSource = (hooks: SourceHooks) => (open = plan.open(hooks));
        const removeExitPaths = handleExitPaths({ stop: () => controller.abort(), release: async () => { await open?.close(); }, log });
        let result: BackfillResult;
        try {
          result = await backfill({
            table, group, openSource, dryRun: o.dryRun, flushRows: o.flushRows, memoryBudgetBytes: o.memoryBudget,
            log, signal: controller.signal, onProgress: (p) => bar.update(p),
            ...(deadLetters ? { deadLetters } : {}),
          });
          bar.finish(result);
        } finally {
          await deadLetters?.close();
          removeExitPaths();
        }
        const metrics = await updateMetrics(catalog, id, o, result, log);
        report(result, plan.description, metrics, (performance.now() - started) / 1000, Boolean(g.json));
      });
    }));
}

/** A source as the backfill needs it: opened afresh per pass, described, named for its group. */
interface SourcePlan {
  description: string;
  /** Stable text the default group is a hash of. */
  identity: string;
  open: (hooks: SourceHooks) => Source;
  deadLetters: () => Promise<DeadLetterSink>;
  /** What the survey's progress counts: listed bytes, or offsets in the range. */
  surveyUnit: 'bytes' | 'count';
  surveyTotal: number;
}

async function planSource(o: BackfillCliOptions, ioProperties: Record<string, string>, log: Logger): Promise<SourcePlan> {
  const kafkaFlags = [o.fromOffset, o.toOffset, o.fromTime, o.toTime].some((v) => v !== undefined);
  if (o.source === 'kafka' || o.source.startsWith('kafka:')) return planKafka(o, log);
  if (kafkaFlags) throw new LakehouseError('INVALID_ARGUMENT', '--from-offset, --to-offset, --from-time and --to-time select a range of a Kafka topic; use them with --source kafka.');
  const location = fileSourceLocation(o.source);
  const io = resolveFileIO(location, ioProperties);
  const files = await listSourceFiles(io, location);
  const description = files.length === 1 ? `file:${files[0]!.location}` : `files:${location} (${files.length} files)`;
  return {
    description,
    identity: `files:${location.replace(/\/+$/, '')}`,
    open: () => new FileSetSource({ description, files, open: (loc) => new FileSource({ location: loc, io }) }),
    deadLetters: async () => new NdjsonDeadLetterFile(o.deadLetterFile ?? DEFAULT_DEAD_LETTER_FILE),
    surveyUnit: 'bytes',
    surveyTotal: files.reduce((n, f) => n + f.size, 0),
  };
}

async function planKafka(o: BackfillCliOptions, log: Logger): Promise<SourcePlan> {
  const topic = o.source.startsWith('kafka:') ? o.source.slice('kafka:'.length) : o.topic;
  const brokers = (o.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  const conn: KafkaConnectionOptions = { brokers, log, ...kafkaSecurity(o) };
  // kafkajs loads only when the source is Kafka.
  const { KafkaRangeSource, parseOffsets, resolveKafkaRange } = await import('../pipeline/kafka-range-source.ts');
  const spec: KafkaRangeSpec = {};
  if (o.fromOffset !== undefined) spec.fromOffsets = parseOffsets(o.fromOffset, '--from-offset');
  if (o.toOffset !== undefined) spec.toOffsets = parseOffsets(o.toOffset, '--to-offset');
  if (o.fromTime !== undefined) spec.fromTimeMs = o.fromTime;
  if (o.toTime !== undefined) spec.toTimeMs = o.toTime;
  const ranges: PartitionRange[] = await resolveKafkaRange(conn, topic, spec);
  const identity = `kafka:${topic}:from=${o.fromOffset ?? (o.fromTime !== undefined ? new Date(o.fromTime).toISOString() : 'earliest')}:to=${o.toOffset ?? (o.toTime !== undefined ? new Date(o.toTime).toISOString() : 'end')}`;
  const group = `lakehouse-${o.group ?? backfillGroup(identity)}`;
  const description = `kafka:${topic} ${ranges.filter((r) => r.to > r.from).map((r) => `${r.partition}:[${r.from},${r.to})`).join(' ') || '(empty range)'}`;
  return {
    description,
    identity,
    open: (hooks) => new KafkaRangeSource({ ...conn, topic, group, ranges, ...hooks }),
    deadLetters: async () => {
      if (o.deadLetterFile) return new NdjsonDeadLetterFile(o.deadLetterFile);
      const [{ DEAD_LETTER_TOPIC, ensureTopics }, { KafkaDeadLetterSink }] = await Promise.all([import('../pipeline/kafka-topics.ts'), import('../pipeline/kafka-dead-letters.ts')]);
      const dlqTopic = o.dlqTopic ?? DEAD_LETTER_TOPIC.topic;
      await ensureTopics(brokers, [{ ...DEAD_LETTER_TOPIC, topic: dlqTopic }], { ...kafkaSecurity(o), log });
      return new KafkaDeadLetterSink({ brokers, topic: dlqTopic, log, ...kafkaSecurity(o) });
    },
    surveyUnit: 'count',
    surveyTotal: Number(ranges.reduce((n, r) => n + (r.to - r.from), 0n)),
  };
}

/** One bar per pass: the survey (bytes of the files, or offsets of the range), then the write (records). */
class PhaseProgress {
  private bar: Progress | null = null;
  private phase: BackfillProgress['phase'] | null = null;
  constructor(private readonly off: boolean, private readonly plan: SourcePlan) {}

  update(p: BackfillProgress): void {
    if (this.off) return;
    if (p.phase !== this.phase) {
      this.bar?.finish();
      this.phase = p.phase;
      this.bar = p.phase === 'survey'
        ? progress({ label: 'backfill: reading the source', total: this.plan.surveyTotal, unit: this.plan.surveyUnit })
        : progress({ label: 'backfill: writing', total: p.total ?? 0, unit: 'count' });
    }
    if (p.phase === 'write') this.bar!.update(p.records);
    else if (p.source instanceof FileSetSource) this.bar!.update(p.source.bytesRead);
    else this.bar!.update(Number((p.source as KafkaRangeSource).done ?? p.records));
  }

  finish(r: BackfillResult): void {
    this.bar?.finish(r.dryRun ? '(dry run)' : `${r.added.toLocaleString('en-US')} added`);
  }
}

export interface MetricsOutcome {
  ran: boolean;
  reason?: string;
  mode?: string;
  windowsRecomputed?: number;
  rowsWritten?: number;
  snapshotId?: bigint | null;
}

/**
 * An incremental metrics run: it recomputes the windows of every events snapshot since its last run, so
 * also those of an earlier backfill run that was killed before getting here. A run with nothing new
 * commits nothing.
 */
export async function updateMetrics(catalog: Catalog, events: TableIdentifier, o: Pick<BackfillCliOptions, 'metrics' | 'metricsTable' | 'allowedLateness' | 'cacheDir'>, r: Pick<BackfillResult, 'dryRun' | 'stoppedBy'>, log: Logger): Promise<MetricsOutcome> {
  if (r.dryRun) return { ran: false, reason: 'dry run' };
  if (!o.metrics) return { ran: false, reason: '--no-metrics' };
  if (r.stoppedBy === 'abort') return { ran: false, reason: 'stopped before the end' };
  const metricsId = o.metricsTable ? parseIdentifier(o.metricsTable, events.namespace) : { namespace: events.namespace, name: CAMPAIGN_METRICS_TABLE };
  if (!(await catalog.tableExists(metricsId))) return { ran: false, reason: `no table ${identifierToString(metricsId)} yet (lakehouse metrics run creates it)` };
  const { runMetrics } = await import('../sql/campaign-metrics-job.ts');
  const m = await runMetrics({ catalog, events, metrics: metricsId, allowedLatenessMs: o.allowedLateness, ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}), log });
  return { ran: true, mode: m.mode, windowsRecomputed: m.windowsRecomputed, rowsWritten: m.rowsWritten, snapshotId: m.snapshotId };
}

function report(r: BackfillResult, source: string, metrics: MetricsOutcome, seconds: number, json: boolean): void {
  if (json) {
    printJson({
      ...r, source, resumedFrom: Object.fromEntries([...r.resumedFrom].map(([k, v]) => [k, v.toString()])),
      positions: Object.fromEntries([...r.positions].map(([k, v]) => [k, v.toString()])),
      eventTimeMin: r.eventTimeMin === null ? null : microsToIso(r.eventTimeMin, true),
      eventTimeMax: r.eventTimeMax === null ? null : microsToIso(r.eventTimeMax, true),
      metrics, seconds: Number(seconds.toFixed(2)),
    });
    return;
  }
  const n = (x: number) => x.toLocaleString('en-US');
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const skipped = `${n(r.skipped)} skipped (${n(r.alreadyInTable)} already in the table, ${n(r.repeatedInSource)} repeated in the source)`;
  const resumed = r.resumedFrom.size > 0 ? ' (resumed where an earlier run of this backfill stopped)' : '';
  if (r.dryRun) out(`Dry run of ${source} into ${r.table}: of ${n(r.records)} records${resumed}, ${n(r.added)} would be added, ${skipped}, ${n(r.deadLettered)} dead-lettered. Nothing was written.`);
  else out(`${r.stoppedBy === 'abort' ? 'Stopped' : 'Done'}: ${source} into ${r.table}: ${n(r.records)} records read${resumed}, ${n(r.added)} added, ${skipped}, ${n(r.deadLettered)} dead-lettered; ${r.commits} snapshot(s) in ${seconds.toFixed(1)} s.`);
  if (r.eventTimeMin !== null && r.eventTimeMax !== null) out(`  event times ${microsToIso(r.eventTimeMin, true)} .. ${microsToIso(r.eventTimeMax, true)} (${r.days} day(s))`);
  if (Object.keys(r.deadLetteredByReason).length > 0) out(`  dead letters by reason: ${Object.entries(r.deadLetteredByReason).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.records === 0 && !r.dryRun) out('  Nothing new to read: this backfill was already done (its positions are in the table).');
  if (metrics.ran) out(`  campaign_metrics: ${metrics.mode === 'noop' ? 'already up to date' : `${metrics.mode} run recomputed ${metrics.windowsRecomputed} window(s), ${metrics.rowsWritten} row(s), snapshot ${metrics.snapshotId}`}`);
  else out(`  campaign_metrics not updated: ${metrics.reason}`);
}
