import { Command, CommanderError } from 'commander';
import { reportError } from './output.ts';
import { tablesCommand } from './tables.ts';
import { demoCommand } from './demo.ts';
import { ingestCommand } from './ingest.ts';
import { produceCommand } from './produce.ts';
import { metricsCommand } from './campaign-metrics.ts';

/**
 * `lakehouse`: the only place that wires concrete pieces together (STYLE layering:
 * cli -> pipeline | sql -> catalog -> iceberg).
 */
export function buildProgram(): Command {
  const program = new Command('lakehouse')
    .description('Streaming lakehouse: Kafka -> Arrow -> Parquet -> Apache Iceberg.\n\nConfiguration merges, later wins: config file (--config, $LAKEHOUSE_CONFIG or ./lakehouse.config.json) < environment (LAKEHOUSE_CATALOG__<NAME>__<KEY>) < flags. With nothing configured, the catalog is SQLite at ./warehouse/catalog.db with the warehouse in ./warehouse.')
    .option('-c, --catalog <name>', 'catalog name from the config', undefined)
    .option('--config <file>', 'config file (JSON)')
    .option('--warehouse <path>', 'warehouse location (path, file:// or s3:// URI); overrides the config')
    .option('--catalog-uri <uri>', 'catalog URI, e.g. sqlite:///abs/path/catalog.db; overrides the config')
    .option('--json', 'print machine-readable JSON instead of tables')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(tablesCommand());
  program.addCommand(demoCommand());
  program.addCommand(produceCommand());
  program.addCommand(ingestCommand());
  program.addCommand(metricsCommand());
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
  $ lakehouse metrics run                            bring lakehouse.campaign_metrics up to date
  $ lakehouse tables list                            tables in the default namespace (lakehouse)
  $ lakehouse tables describe campaign_events        schema, partitioning, properties, current snapshot
  $ lakehouse tables files campaign_events --where "event_type = 'click'"`);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
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
