import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { identifierToString, Table } from '../iceberg/index.ts';
import { CAMPAIGN_EVENTS_TABLE, campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { NdjsonDeadLetterFile } from '../pipeline/dead-letters.ts';
import { generateMessages } from '../pipeline/event-generator.ts';
import { FileSource } from '../pipeline/file-source.ts';
import { Ingestor } from '../pipeline/ingest.ts';
import { type LogFields, type Logger, silentLogger } from '../core/log.ts';
import { DEFAULT_NAMESPACE, catalogConfig, globalOptions, withCatalog } from './context.ts';
import { fraction, positiveInt } from './options.ts';
import { printJson } from './output.ts';
import { printTopCampaigns, writeMetricsReport } from './campaign-metrics.ts';
import { CAMPAIGN_METRICS_TABLE } from '../domain/campaign-metrics-table.ts';
import { runMetrics } from '../sql/campaign-metrics-job.ts';
import { writeMessagesToFile } from './produce.ts';

/**
 * `lakehouse demo`: the main job on the embedded default (local warehouse, SQLite catalog, no services),
 * through the same path as production: generated messages, some of them invalid, late or duplicated,
 * go to an NDJSON file in the warehouse, and the file source feeds the Ingestor (decode, dead letters,
 * buffer, one snapshot per flush with its positions recorded).
 */
export const DEMO_GROUP = 'lakehouse-demo';

export function demoCommand(): Command {
  return new Command('demo')
    .addOption(new Option('-n, --events <n>', 'messages to generate').default(200_000).argParser(positiveInt('--events')))
    .addOption(new Option('--batch-size <n>', 'rows per flush (one snapshot each)').default(50_000).argParser(positiveInt('--batch-size')))
    .addOption(new Option('--seed <n>', 'random seed (same seed, same events)').default(42).argParser(positiveInt('--seed')))
    .addOption(new Option('--invalid-rate <fraction>', 'share of invalid messages (they become dead letters)').default(0.01).argParser(fraction('--invalid-rate')))
    .addOption(new Option('--late-rate <fraction>', 'share of events arriving hours late').default(0.02).argParser(fraction('--late-rate')))
    .addOption(new Option('--duplicate-rate <fraction>', 'share of messages re-sent (written once per flush)').default(0.01).argParser(fraction('--duplicate-rate')))
    .action(async (o: { events: number; batchSize: number; seed: number; invalidRate: number; lateRate: number; duplicateRate: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const config = await catalogConfig(g);
      await withCatalog(g, async (catalog) => {
        const id = { namespace: DEFAULT_NAMESPACE, name: CAMPAIGN_EVENTS_TABLE };
        if (!(await catalog.namespaceExists(id.namespace))) await catalog.createNamespace(id.namespace, { owner: 'lakehouse demo' });
        const loaded = (await catalog.tableExists(id))
          ? await catalog.loadTable(id)
          : await catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec });
        const table = new Table(catalog, loaded);
        const files = demoFiles(config.properties.warehouse ?? table.location);
        const say = (text: string) => { if (!g.json) process.stderr.write(text); };

        say(`Generating ${o.events.toLocaleString('en-US')} messages into ${files.events}\n`);
        const produced = await writeMessagesToFile(files.events, generateMessages({
          count: o.events, seed: o.seed, invalidRate: o.invalidRate, lateRate: o.lateRate, duplicateRate: o.duplicateRate,
          // Event times a few days back from today, so a machine whose clock is behind the generator's
          // default start does not see them as "absurd" future times. Same day, same seed: same events.
          startMs: Math.min(Date.UTC(2026, 10, 1), Math.floor(Date.now() / 86_400_000) * 86_400_000 - 3 * 86_400_000),
        }), { ioProperties: config.properties });

        say(`Ingesting it into ${identifierToString(id)} at ${table.location}\n`);
        const source = new FileSource({ location: files.events, ioProperties: config.properties });
        const deadLetters = new NdjsonDeadLetterFile(files.deadLetters);
        const ingestor = new Ingestor({
          table, source, group: DEMO_GROUP, deadLetters, flushRows: o.batchSize, log: g.json ? silentLogger : progressLogger(),
          // A file is read as fast as it goes: flush by rows (and at the end), not by time.
          flushIntervalMs: 3_600_000,
        });
        const started = performance.now();
        let stats;
        try {
          stats = await ingestor.run();
        } finally {
          await source.close();
          await deadLetters.close();
        }
        const seconds = (performance.now() - started) / 1000;
        await table.refresh();
        const snap = table.currentSnapshot();

        const metricsId = { namespace: DEFAULT_NAMESPACE, name: CAMPAIGN_METRICS_TABLE };
        say(`Materializing ${identifierToString(metricsId)} with DuckDB\n`);
        const metrics = await runMetrics({ catalog, events: id, metrics: metricsId });
        const report = await writeMetricsReport(catalog, metricsId, files.report);
        const summary = {
          table: identifierToString(id), location: table.location, metadataLocation: table.metadataLocation,
          eventsWritten: stats.written, consumed: stats.consumed, deadLettered: stats.deadLettered, duplicates: stats.duplicates,
          deadLetteredByReason: stats.deadLetteredByReason, generated: produced,
          seconds: Number(seconds.toFixed(2)), eventsPerSecond: Math.round(stats.consumed / seconds),
          totalRecords: Number(snap?.summary['total-records'] ?? 0), totalDataFiles: Number(snap?.summary['total-data-files'] ?? 0),
          snapshots: table.metadata.snapshots.length, eventsFile: files.events, deadLetterFile: files.deadLetters,
          metrics: { table: identifierToString(metricsId), mode: metrics.mode, snapshotId: metrics.snapshotId, windowsRecomputed: metrics.windowsRecomputed, rowsWritten: metrics.rowsWritten, seconds: Number(metrics.seconds.toFixed(2)) },
          report: report.file,
        };
        if (g.json) { printJson(summary); return; }
        const n = (x: number) => x.toLocaleString('en-US');
        process.stdout.write(`
Done: consumed ${n(stats.consumed)} messages in ${seconds.toFixed(1)} s (${n(summary.eventsPerSecond)} messages/s):
  ${n(stats.written)} written, ${n(stats.deadLettered)} dead-lettered (${files.deadLetters}), ${n(stats.duplicates)} duplicates dropped.${stats.written === 0 && stats.duplicates > 0 ? `
  (Every event_id was already in the table: the same seed generates the same events, and ingest stores each
  event_id once. Run with --seed ${o.seed + 1} for new events, or delete ./warehouse to start over.)` : ''}
${summary.table} now holds ${n(summary.totalRecords)} rows in ${summary.totalDataFiles} Parquet files over ${summary.snapshots} snapshots.
${summary.metrics.table}: ${metrics.mode} run, ${n(metrics.windowsRecomputed)} windows recomputed, ${n(metrics.rowsWritten)} rows written in ${metrics.seconds.toFixed(1)} s.

Top campaigns by impressions (all windows):
`);
        printTopCampaigns(report.model);
        process.stdout.write(`
Report (opens in any browser, no server): ${report.file}

Look around:
  bin/lakehouse tables describe campaign_events
  bin/lakehouse tables snapshots campaign_events      (lakehouse.offsets.${DEMO_GROUP} records the file position)
  bin/lakehouse tables files campaign_events --where "event_type = 'conversion'"
  bin/lakehouse metrics run                           (nothing new: commits nothing)
  duckdb -c ".read sql/campaign_metrics.sql"          (the metric SQL; see its header to run it by hand)
Other readers open the same table:
  PyIceberg: SqlCatalog("${catalog.name}", uri="${config.properties.uri ?? ''}", warehouse="${config.properties.warehouse ?? ''}")
  DuckDB:    SELECT * FROM iceberg_scan('${table.metadataLocation.replace(/^file:\/\//, '')}')

Dashboards (Apache Superset, live over these tables; the first run installs Superset, a few minutes):
  bin/lakehouse dashboard up                          (prints the URL and where the admin password is)
`);
      });
    });
}

/**
 * Where a demo run keeps its input and dead letters: a new events file per run (so a rerun ingests what
 * it generated, not nothing), dead letters appended to one local file.
 */
function demoFiles(warehouse: string): { events: string; deadLetters: string; report: string } {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const name = `events-${stamp}-${process.pid}.ndjson`;
  if (/^s3[an]?:\/\//.test(warehouse)) {
    return { events: `${warehouse.replace(/\/+$/, '')}/demo/${name}`, deadLetters: path.resolve('demo-dead-letters.ndjson'), report: path.resolve('campaign-metrics-report.html') };
  }
  // `file:/abs` (Hadoop's form) and `file:///abs` both parse as file URLs.
  const local = warehouse.startsWith('file:') ? fileURLToPath(warehouse) : path.resolve(warehouse);
  return { events: path.join(local, 'demo', name), deadLetters: path.join(local, 'demo', 'dead-letters.ndjson'), report: path.join(local, 'demo', 'campaign-metrics-report.html') };
}

/** Progress for people: one line per committed flush on stderr; other log lines are dropped. */
function progressLogger(): Logger {
  const n = (x: unknown) => Number(x).toLocaleString('en-US');
  const logger: Logger = {
    debug() {}, warn() {}, error() {},
    info(msg: string, f?: LogFields) {
      if (msg === 'committed' && f) process.stderr.write(`  committed ${n(f.written)} rows, ${n(f.deadLettered)} dead letters, ${n(f.duplicates)} duplicates dropped (snapshot ${f.snapshotId})\n`);
    },
    child() { return logger; },
  };
  return logger;
}
