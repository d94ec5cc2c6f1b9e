import { Command, CommanderError } from 'commander';
import { reportError } from './output.ts';

/**
 * The commands, each loaded only when it runs: `lakehouse --help` must not pay for DuckDB, kafkajs,
 * the AWS SDK, Arrow and parquet-wasm, and `lakehouse tables list` must not load Kafka. The summary is
 * what the top-level help lists; the loaded command keeps it as its description.
 */
const COMMANDS: { name: string; summary: string; load: () => Promise<Command> }[] = [
  { name: 'tables', summary: 'create, list, inspect and alter Iceberg tables (schema and partition evolution)', load: async () => (await import('./tables.ts')).tablesCommand() },
  { name: 'namespaces', summary: 'create, list, describe and drop namespaces (the folders of a catalog that hold tables)', load: async () => (await import('./namespaces.ts')).namespacesCommand() },
  { name: 'demo', summary: 'the whole path on a local warehouse (SQLite catalog): generated events (some invalid, late, duplicated) through the ingest path into lakehouse.campaign_events, then lakehouse.campaign_metrics with DuckDB, a top-campaigns table and an HTML report', load: async () => (await import('./demo.ts')).demoCommand() },
  { name: 'produce', summary: 'generate campaign events (with optional invalid, late and duplicate ones) into an NDJSON file or Kafka', load: async () => (await import('./produce.ts')).produceCommand() },
  { name: 'ingest', summary: 'read events from a source into the campaign_events Iceberg table, exactly once: invalid events go to dead letters, positions are recorded in each snapshot', load: async () => (await import('./ingest.ts')).ingestCommand() },
  { name: 'compact', summary: 'bin-pack the small data files of a table\'s partitions into files of the target size (one replace snapshot; safe beside ingest and the metrics job)', load: async () => (await import('./compact.ts')).compactCommand() },
  { name: 'maintain', summary: 'table maintenance once or on a schedule: compaction, manifest rewrite, snapshot expiry (keeping what ingest and the metrics job need) and orphan removal, with Prometheus metrics', load: async () => (await import('./maintain.ts')).maintainCommand() },
  { name: 'sql', summary: 'query the catalog\'s Iceberg tables by name with DuckDB (read-only; current snapshot or --as-of / --snapshot-id; table, csv, json or parquet; an interactive prompt without a query)', load: async () => (await import('./sql.ts')).sqlCommand() },
  { name: 'backfill', summary: 're-ingest history (an NDJSON file, plain or gzip, an S3 prefix of them, or a Kafka offset or time range) into campaign_events, each event_id once, then update campaign_metrics', load: async () => (await import('./backfill.ts')).backfillCommand() },
  { name: 'dlq', summary: 'dead letters: counts by reason, field and source (stats), the letters with reason and position (show), export to NDJSON, and replay through the ingest path after a fix, each event_id once', load: async () => (await import('./dlq.ts')).dlqCommand() },
  { name: 'dashboard', summary: 'Apache Superset dashboards over the Iceberg tables (Campaign Performance, Pipeline health): up, down, status', load: async () => (await import('./dashboard.ts')).dashboardCommand() },
  { name: 'stack', summary: 'the whole system live on one machine (make up): Kafka, MinIO, the REST catalog, Trino, and supervised producer, ingest, metrics job and Superset: up, down, status', load: async () => (await import('./stack.ts')).stackCommand() },
  { name: 'metrics', summary: 'materialize campaign_metrics (windowed impressions, clicks, conversions, revenue, CTR, CVR per campaign) from campaign_events with DuckDB', load: async () => (await import('./campaign-metrics.ts')).metricsCommand() },
];

/**
 * `lakehouse`: the only place that wires concrete pieces together: dependencies
 * point one way, cli -> pipeline | sql -> domain -> catalog -> iceberg -> core.
 */
/** The program for `argv`: the command named in it is loaded in full, the others are listed by summary. */
export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('lakehouse')
    .description('Streaming lakehouse: Kafka -> Arrow -> Parquet -> Apache Iceberg.\n\nConfiguration merges, later wins: config file (--config, $LAKEHOUSE_CONFIG or ./lakehouse.config.json) < environment (LAKEHOUSE_CATALOG__<NAME>__<KEY>) < flags. With nothing configured, the catalog is SQLite at ./warehouse/catalog.db with the warehouse in ./warehouse.')
    .option('-c, --catalog <name>', 'catalog name from the config', undefined)
    .option('--config <file>', 'config file (JSON)')
    .option('--warehouse <path>', 'warehouse location (path, file:// or s3:// URI); overrides the config')
    .option('--catalog-uri <uri>', 'catalog URI, e.g. sqlite:///abs/path/catalog.db; overrides the config')
    .option('--json', 'print machine-readable JSON instead of tables')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const args = new Set(argv.slice(2));
  for (const c of COMMANDS) {
    program.addCommand(args.has(c.name) ? (await c.load()).description(c.summary) : new Command(c.name).description(c.summary));
  }
  // addCommand does not copy settings: every (sub)command must throw instead of exiting and show help on errors.
  const configure = (c: Command) => {
    c.exitOverride().showHelpAfterError('(run with --help for usage)');
    c.commands.forEach(configure);
  };
  configure(program);
  program.addHelpText('after', `
Examples:
  $ lakehouse demo                                   create ./warehouse and fill lakehouse.campaign_events
  $ lakehouse produce --to file:events.ndjson --invalid-rate 0.01
  $ lakehouse ingest --source file:events.ndjson --create-table
  $ lakehouse backfill --source file:history.ndjson.gz --dry-run
  $ lakehouse dlq stats --since 2026-11-01           dead letters by reason, field and source
  $ lakehouse dlq replay --reason out_of_range       after the fix: the dead letters into the table, once
  $ lakehouse metrics run                            bring lakehouse.campaign_metrics up to date
  $ lakehouse sql "SELECT * FROM lakehouse.campaign_metrics LIMIT 10"
  $ lakehouse dashboard up                           Superset dashboards on http://127.0.0.1:8088
  $ lakehouse stack up                               the whole system live (make up); stack status, stack down
  $ lakehouse tables list                            tables in the default namespace (lakehouse)
  $ lakehouse tables describe campaign_events        schema, partitioning, properties, current snapshot
  $ lakehouse tables files campaign_events --where "event_type = 'click'"
  $ lakehouse compact campaign_events --dry-run       the groups of small files a compaction would merge
  $ lakehouse tables remove-orphans campaign_events --older-than 3d --dry-run
  $ lakehouse tables alter campaign_events add-column campaign_name string`);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? 0 : 2;
    }
    return reportError(e, argv.includes('--json'));
  }
}

// `lakehouse tables list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv).then((code) => { process.exitCode = code; });
