import { Command, Option } from 'commander';
import { type LogLevel, createLogger } from '../core/log.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { Table, bindFilter, identifierToString } from '../iceberg/index.ts';
import { createMaintenanceMetrics } from '../maintenance/maintenance-metrics.ts';
import { type MaintenancePass, allTables, maintainEvery, maintainOnce, maintenanceSteps, resolveTables } from '../maintenance/maintain.ts';
import { startMetricsServer } from '../pipeline/prometheus.ts';
import { type CompactCliOptions, compactionOptions } from './compact.ts';
import { globalOptions, tableId, withCatalog } from './context.ts';
import { handleExitPaths } from './exit-paths.ts';
import { duration, port, positiveInt, time } from './options.ts';
import { printTable } from './output.ts';
import { stringifyJson } from '../core/json.ts';

/**
 * `lakehouse maintain [table...]`: the maintenance steps (maintenance/maintain.ts) on one table, several or
 * all, once or every --every; Prometheus metrics with --metrics-port; the first SIGINT/SIGTERM/SIGHUP lets the
 * step in progress finish or abandon its work before its commit, then exits 0.
 */
interface MaintainCliOptions extends Omit<CompactCliOptions, 'dryRun'> {
  every?: number;
  olderThan?: number;
  retainLast?: number;
  orphanAge: number;
  dryRun?: boolean;
  metricsPort?: number;
  metricsHost: string;
  logLevel: LogLevel;
}

export function maintainCommand(): Command {
  return compactionOptions(new Command('maintain'))
    .description('compact small files, rewrite manifests, expire old snapshots (keeping what ingest and the metrics job need) and remove orphan files, on one table, several or all, once or on a schedule')
    .argument('[tables...]', 'tables to maintain, [namespace.]table (default: every table of every namespace)')
    .addOption(new Option('--every <duration>', 'keep running: a pass every <duration> (e.g. 10m) until SIGINT/SIGTERM').argParser(duration('--every')))
    .addOption(new Option('--older-than <time>', 'expire snapshots committed before this time (default: now - history.expire.max-snapshot-age-ms, 5 days unless set)').argParser(time('--older-than')))
    .addOption(new Option('--retain-last <n>', 'always keep this many of the newest snapshots (default: history.expire.min-snapshots-to-keep)').argParser(positiveInt('--retain-last')))
    .addOption(new Option('--orphan-age <duration>', 'delete only orphan files and unused event index files older than this (files of a commit in flight are younger)').default(3 * 24 * 3600_000, '3d').argParser(duration('--orphan-age')))
    .option('--dry-run', 'plan every step and report it, change nothing')
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on http://<host>:<port>/metrics').argParser(port('--metrics-port')))
    .option('--metrics-host <host>', 'address the metrics server listens on', '127.0.0.1')
    .addOption(new Option('--log-level <level>', 'JSON logs on stderr from this level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText('after', `
Steps, in order, on each table: compact (as lakehouse compact), rewrite-manifests (as lakehouse tables
rewrite-manifests), expire (as lakehouse tables expire: the newest snapshot recording each ingest group's
positions and the snapshot each metrics table is current with are kept, with the history after them),
remove-event-index (metrics tables: event index files no kept snapshot points at, older than --orphan-age),
remove-orphans (as lakehouse tables remove-orphans, files older than --orphan-age). Each step commits on its own; a step that fails is logged and
counted and the others go on. Safe beside ingest and the metrics job. The exit code is 1 when a step of a
single pass failed.

Examples:
  $ lakehouse maintain --dry-run                         what one pass over every table would do
  $ lakehouse maintain campaign_events                   one pass over one table
  $ lakehouse maintain --every 10m --metrics-port 9465   forever, every 10 minutes, with /metrics
  $ lakehouse maintain campaign_events --older-than 2026-11-01 --max-bytes 4GiB --json`)
    .action(async (names: string[], o: MaintainCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const json = Boolean(g.json);
      const log = createLogger({ level: o.logLevel });
      await withCatalog(g, async (catalog) => {
        const tables = await resolveTables(catalog, names.map(tableId));
        // A --where must fit every table maintained, checked before anything runs: a typo writes nothing.
        if (o.where !== undefined) {
          for (const id of tables.length > 0 ? tables : await allTables(catalog)) {
            const t = new Table(catalog, await catalog.loadTable(id));
            try {
              bindFilter(t.schema(), o.where);
            } catch (e) {
              throw new LakehouseError('INVALID_ARGUMENT', `--where does not fit table ${t.name}: ${errorMessage(e)} Name the tables it fits, or leave --where out.`, { cause: e });
            }
          }
        }
        const steps = maintenanceSteps({
          compaction: { filter: o.where, minFileSizeBytes: o.minFileSize, targetFileSizeBytes: o.targetFileSize, maxBytes: o.maxBytes, maxFiles: o.maxFiles, sort: o.sort === false ? false : undefined },
          expire: { olderThanMs: o.olderThan, retainLast: o.retainLast },
          orphanAgeMs: o.orphanAge,
        });
        const metrics = createMaintenanceMetrics();
        if (o.metricsPort !== undefined) metrics.registry.collectProcessMetrics();
        const server = o.metricsPort === undefined ? null : await startMetricsServer(metrics.registry, o.metricsPort, o.metricsHost);
        if (server) log.info('serving Prometheus metrics', { url: server.url });
        const abort = new AbortController();
        const removeHandlers = handleExitPaths({
          log,
          stop: () => abort.abort(),
          release: async () => { await server?.close(); },
        });
        const base = { catalog, tables, steps, dryRun: Boolean(o.dryRun), signal: abort.signal, log, metrics };
        try {
          if (o.every === undefined) {
            const pass = await maintainOnce(base);
            printPass(pass, json);
            if (pass.steps.some((s) => s.outcome === 'failed')) process.exitCode = 1;
          } else {
            await maintainEvery({ ...base, everyMs: o.every, onPass: (p) => printPass(p, json) });
          }
        } finally {
          removeHandlers();
          await server?.close();
        }
        log.debug('maintain done', { tables: tables.map(identifierToString) });
      });
    });
}

function printPass(pass: MaintenancePass, json: boolean): void {
  if (json) {
    // One JSON document per pass, on one line, so a scheduled run's output is JSON lines.
    process.stdout.write(stringifyJson(pass) + '\n');
    return;
  }
  const brief = (r: Record<string, unknown> | undefined) => Object.entries(r ?? {})
    .filter(([, v]) => v !== 0 && v !== false && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.length : typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
  process.stdout.write(`${pass.dryRun ? 'Dry run (nothing changed): ' : ''}maintenance pass at ${pass.startedAt}, ${pass.seconds.toFixed(1)} s${pass.stopped ? ', stopped early' : ''}\n`);
  printTable(['table', 'step', 'outcome', 'seconds', 'what'], pass.steps.map((s) => [
    s.table, s.step, s.outcome, s.seconds.toFixed(2), s.error ? s.error.message : brief(s.report),
  ]));
}

