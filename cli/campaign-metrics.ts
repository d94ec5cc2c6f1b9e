import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Catalog } from '../catalog/catalog.ts';
import { type TableIdentifier, microsToIso, Table } from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { type LogLevel, type Logger, createLogger } from '../core/log.ts';
import { CAMPAIGN_EVENTS_TABLE } from '../domain/campaign-events.ts';
import { CAMPAIGN_METRICS_TABLE, DEFAULT_WINDOW, METRIC_DIMENSIONS, type MetricDimension, WINDOW_SIZES, type WindowSize } from '../domain/campaign-metrics-table.ts';
import { type MetricsReportModel, buildMetricsReportModel, renderMetricsReport } from '../sql/campaign-metrics-report.ts';
import { DEFAULT_ALLOWED_LATENESS_MS, WINDOW_PROPERTY, type MetricsJobOptions, type MetricsRunResult, MetricsRunner, rebuildMetrics, runMetrics } from '../sql/campaign-metrics-job.ts';
import { globalOptions, tableId, withCatalog } from './context.ts';
import { duration, positiveInt, time } from './options.ts';
import { printJson, printTable } from './output.ts';

/**
 * `lakehouse metrics run|rebuild`: keeps campaign_metrics current with campaign_events (sql/metrics-job.ts).
 */
interface MetricsCliOptions {
  table: string;
  events: string;
  window?: WindowSize;
  dimensions?: MetricDimension[];
  allowedLateness: number;
  cacheDir?: string;
  logLevel: LogLevel;
}

function commonOptions(cmd: Command): Command {
  return cmd
    .option('-t, --table <name>', 'metrics table, [namespace.]table (created on the first run)', CAMPAIGN_METRICS_TABLE)
    .option('--events <name>', 'events table it is computed from, [namespace.]table', CAMPAIGN_EVENTS_TABLE)
    .addOption(new Option('--window <size>', 'tumbling window size for a new table (an existing table keeps its own; default 5m)').choices(Object.keys(WINDOW_SIZES)))
    .addOption(new Option('--dimensions <list>', `extra grouping columns for a new table, comma-separated: ${METRIC_DIMENSIONS.join(', ')}`).argParser(dimensionList))
    .addOption(new Option('--allowed-lateness <duration>', 'watermark = newest event_time minus this; windows ending before it are complete').default(DEFAULT_ALLOWED_LATENESS_MS, '10m').argParser(duration('--allowed-lateness')))
    .option('--cache-dir <dir>', 'local copies of object-store data files for DuckDB (default $LAKEHOUSE_CACHE/data-files)')
    .addOption(new Option('--log-level <level>', 'JSON logs on stderr from this level').choices(['debug', 'info', 'warn', 'error']).default('warn'));
}

export function metricsCommand(): Command {
  const metrics = new Command('metrics');

  metrics.addCommand(commonOptions(new Command('run'))
    .description('bring campaign_metrics up to date: recompute only the windows changed since the last run (late events included), in one snapshot')
    .addOption(new Option('--every <duration>', 'keep running: a run every <duration> (e.g. 10s) until SIGINT/SIGTERM').argParser(duration('--every')))
    .addHelpText('after', `
The metrics table's snapshot summary records the campaign_events snapshot it is current with
(lakehouse.metrics.source-snapshot-id). A run reads the events snapshots added since, finds the windows
their new (or removed) data files touch, recomputes those windows in full with sql/campaign_metrics.sql
and replaces them in one overwrite. Compactions cause no work; a run with nothing new commits nothing.

With --every the process stays up and keeps between runs what never changes: DuckDB, the event_id
index's parsed fingerprint files and the events table's parsed manifests (immutable files, kept by
path), and every window's counts and exact sums. So its runs read only the new rows and add their sums to
their windows'; its first run (and the first after another writer) computes every window once. It still
reads the catalog, the metrics snapshot and the index manifest anew every run, so another writer (a
one-shot run, a rebuild, maintenance) is seen at the next run.

Examples:
  $ lakehouse metrics run
  $ lakehouse metrics run --every 10s --log-level info
  $ lakehouse metrics run --table campaign_metrics_1h --window 1h --dimensions platform,country`)
    .action(async (o: MetricsCliOptions & { every?: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const log = createLogger({ level: o.logLevel });
      await withCatalog(g, async (catalog) => {
        const job = jobOptions(catalog, o, log);
        if (o.every === undefined) {
          report(await runMetrics(job), g.json ?? false);
          return;
        }
        // One runner for every run: it keeps DuckDB, the event index and the manifests between runs.
        const runner = new MetricsRunner(job);
        try {
          await runEvery(o.every, log, async () => report(await runner.run(), g.json ?? false));
        } finally {
          runner.close();
        }
      });
    }));

  metrics.addCommand(commonOptions(new Command('rebuild'))
    .description('recompute every window in a time range from campaign_events (after a backfill or a definition change), in one snapshot')
    .requiredOption('--from <time>', 'start, ISO-8601 (2026-11-01 or 2026-11-01T10:00:00Z; no zone means UTC)', time('--from'))
    .requiredOption('--to <time>', 'end (exclusive), ISO-8601', time('--to'))
    .addHelpText('after', `
Windows overlapping [--from, --to) are recomputed and replaced; windows changed since the last run are
brought up to date in the same snapshot.

Examples:
  $ lakehouse metrics rebuild --from 2026-11-01 --to 2026-11-02
  $ lakehouse metrics rebuild --from 2026-11-01T10:00:00Z --to 2026-11-01T12:00:00Z --json`)
    .action(async (o: MetricsCliOptions & { from: number; to: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const log = createLogger({ level: o.logLevel });
      await withCatalog(g, async (catalog) => {
        report(await rebuildMetrics({ ...jobOptions(catalog, o, log), fromMs: o.from, toMs: o.to }), g.json ?? false);
      });
    }));
  metrics.addCommand(new Command('report')
    .description('write campaign_metrics as a self-contained HTML report (CTR trend, revenue and funnel per campaign) that opens in any browser, no server')
    .option('-t, --table <name>', 'metrics table, [namespace.]table', CAMPAIGN_METRICS_TABLE)
    .option('-o, --out <file>', 'HTML file to write', 'campaign-metrics-report.html')
    .addOption(new Option('--top <n>', 'campaigns per chart').default(8).argParser(positiveInt('--top')))
    .addHelpText('after', `
Examples:
  $ lakehouse metrics report --out report.html && xdg-open report.html
  $ lakehouse metrics report --table campaign_metrics_1h --top 5 --json`)
    .action(async (o: { table: string; out: string; top: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const r = await writeMetricsReport(catalog, tableId(o.table), o.out, o.top);
        if (g.json) printJson({ file: r.file, rows: r.rows, campaigns: r.model.totals.campaigns, windows: r.model.windows.length });
        else {
          printTopCampaigns(r.model);
          process.stdout.write(`\nReport: ${r.file}\n`);
        }
      });
    }));
  return metrics;
}

/** Reads a metrics table and writes its HTML report; returns what the report shows. */
export async function writeMetricsReport(catalog: Catalog, id: TableIdentifier, out: string, top?: number): Promise<{ file: string; rows: number; model: MetricsReportModel }> {
  const table = new Table(catalog, await catalog.loadTable(id));
  const rows = (await table.readRows()) as unknown as Parameters<typeof renderMetricsReport>[0];
  const snapshot = table.currentSnapshot();
  const opts = {
    window: table.metadata.properties[WINDOW_PROPERTY] ?? DEFAULT_WINDOW,
    topCampaigns: top,
    source: `${table.name}${snapshot ? ` snapshot ${snapshot.snapshotId}` : ''}`,
  };
  const file = path.resolve(out);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, renderMetricsReport(rows, opts));
  return { file, rows: rows.length, model: buildMetricsReportModel(rows, opts) };
}

/** The top campaigns by impressions as a plain table on stdout. */
export function printTopCampaigns(model: MetricsReportModel): void {
  const n = (x: number) => x.toLocaleString('en-US');
  const pct = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}%`);
  printTable(
    ['campaign', 'impressions', 'clicks', 'conversions', 'revenue', 'CTR', 'CVR'],
    model.topByImpressions.map((c) => [c.campaign, n(c.impressions), n(c.clicks), n(c.conversions), c.revenue.toFixed(2), pct(c.ctrPercent), pct(c.cvrPercent)]),
  );
}

function jobOptions(catalog: Catalog, o: MetricsCliOptions, log: Logger): MetricsJobOptions {
  return {
    catalog, events: tableId(o.events), metrics: tableId(o.table), window: o.window, dimensions: o.dimensions,
    allowedLatenessMs: o.allowedLateness, cacheDir: o.cacheDir, log,
  };
}

function report(r: MetricsRunResult, json: boolean): void {
  if (json) {
    printJson(r);
    return;
  }
  const wm = r.watermarkMicros === null ? 'none' : microsToIso(r.watermarkMicros, true);
  if (r.mode === 'noop') {
    process.stdout.write(`campaign_metrics is up to date (campaign_events snapshot ${r.sourceSnapshotId ?? 'none'}); nothing committed.\n`);
    return;
  }
  process.stdout.write(`${r.mode}: recomputed ${r.windowsRecomputed} windows${r.addedToKeptSums ? ' (the new rows added to the kept sums)' : ''}, wrote ${r.rowsWritten} rows in snapshot ${r.snapshotId} (current with campaign_events snapshot ${r.sourceSnapshotId}, watermark ${wm}) in ${r.seconds.toFixed(2)} s.\n`);
}

/** Runs `fn` every `everyMs` until SIGINT/SIGTERM; a run in progress finishes first. Errors are logged, not fatal. */
async function runEvery(everyMs: number, log: Logger, fn: () => Promise<void>): Promise<void> {
  let stop = false;
  let wake: (() => void) | null = null;
  const onSignal = () => { stop = true; wake?.(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    while (!stop) {
      const started = Date.now();
      try {
        await fn();
      } catch (e) {
        // A broken setup (missing table, bad grain) will not fix itself: stop with its sentence.
        if (e instanceof LakehouseError && ['TABLE_NOT_FOUND', 'INVALID_ARGUMENT', 'INVALID_METADATA', 'SCHEMA_MISMATCH'].includes(e.code)) throw e;
        log.error('metrics run failed; retrying at the next interval', { error: e instanceof Error ? e.message : String(e) });
      }
      const wait = Math.max(0, everyMs - (Date.now() - started));
      if (!stop) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, wait); });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function dimensionList(v: string): MetricDimension[] {
  const dims = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const d of dims) {
    if (!(METRIC_DIMENSIONS as readonly string[]).includes(d)) throw new InvalidArgumentError(`--dimensions takes ${METRIC_DIMENSIONS.join(', ')} (comma-separated), got "${d}".`);
  }
  return dims as MetricDimension[];
}
