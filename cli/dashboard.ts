import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { LakehouseError } from '../core/errors.ts';
import { CAMPAIGN_EVENTS_TABLE } from '../domain/campaign-events.ts';
import { CAMPAIGN_METRICS_TABLE } from '../domain/campaign-metrics-table.ts';
import { type CatalogSettings, DEFAULT_PORT, type ServerInfo, defaultStateDir, down, status, up } from '../dashboard/superset.ts';
import { type GlobalOptions, catalogConfig, globalOptions, tableId, withCatalog } from './context.ts';
import { port } from './options.ts';
import { printJson } from './output.ts';

/**
 * `lakehouse dashboard up|down|status`: Apache Superset over the Iceberg tables (dashboard/superset.ts).
 */
interface DashboardCliOptions {
  port: number;
  stateDir?: string;
  table: string;
  events: string;
  databaseUri?: string;
}

function stateOption(cmd: Command): Command {
  return cmd.option('--state-dir <dir>', 'Superset\'s state folder (metadata DB, generated secrets); default <warehouse>-superset beside a local warehouse');
}

export function dashboardCommand(): Command {
  const dashboard = new Command('dashboard');

  dashboard.addCommand(stateOption(new Command('up'))
    .description('install Apache Superset once, import the "Campaign Performance" and "Pipeline health" dashboards, start it on 127.0.0.1 and print the URL')
    .addOption(new Option('--port <port>', 'port on 127.0.0.1').default(DEFAULT_PORT).argParser(port('--port')))
    .option('-t, --table <name>', 'metrics table the dashboards read, [namespace.]table', CAMPAIGN_METRICS_TABLE)
    .option('--events <name>', 'events table the health dashboard reads, [namespace.]table', CAMPAIGN_EVENTS_TABLE)
    .option('--database-uri <uri>', 'the engine the dashboards query instead of DuckDB inside Superset: Trino\'s Iceberg catalog, trino://<user>@<host>:<port>/<catalog>')
    .addHelpText('after', `
The first run installs Superset 6.1.0 into a venv cached in $LAKEHOUSE_CACHE/superset (a few minutes) and
generates a SECRET_KEY and the passwords of the users admin and viewer into <state>/secrets.json (mode 0600).
Every run imports the dashboards again (nothing changes when they did not). Each chart query reads the
tables at the catalog's current snapshot; nothing is copied.

Examples:
  $ lakehouse dashboard up                         http://127.0.0.1:8088, log in as admin (password in the file printed)
  $ lakehouse dashboard up --port 8089 --json      {"url": ..., "user": "admin", "password_file": ...}
  $ lakehouse --warehouse /data/wh --catalog-uri sqlite:////data/wh/catalog.db dashboard up
  $ lakehouse --catalog rest dashboard up --database-uri trino://lakehouse@127.0.0.1:18080/iceberg

With --database-uri trino://..., the same dashboards read the tables through that Trino (whose Iceberg
catalog must be the REST catalog the lakehouse writes to): each dataset becomes Trino SQL over
<catalog>.<namespace>.<table>, with the columns the tables have when \`up\` runs.`)
    .action(async (o: DashboardCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const catalog = await catalogSettings(g, o);
      const stateDir = o.stateDir ?? defaultStateDir(catalog.type === 'sql' ? catalog.warehouse : undefined);
      const info = await up({
        stateDir, port: o.port, catalog, databaseUri: o.databaseUri,
        onStep: g.json ? undefined : (s) => process.stderr.write(`${s}...\n`),
      });
      if (g.json) printJson(jsonInfo(info, catalog.metricsMissing));
      else {
        process.stdout.write(`Superset is running: ${info.url}\n`);
        for (const d of info.dashboards) process.stdout.write(`  ${d.title}: ${d.url}\n`);
        process.stdout.write(`Log in as ${info.user} (or ${info.viewerUser}, read-only); the passwords are in ${info.passwordFile}.\n`);
        if (catalog.metricsMissing) {
          process.stdout.write(`${o.table} does not exist yet: the dashboard shows no data until \`lakehouse metrics run\` creates it.\n`);
        }
        process.stdout.write('Stop it with `lakehouse dashboard down`.\n');
      }
    }));

  dashboard.addCommand(stateOption(new Command('down'))
    .description('stop the Superset started by `dashboard up` (its state stays for the next up)')
    .addHelpText('after', `
Examples:
  $ lakehouse dashboard down`)
    .action(async (o: { stateDir?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const stateDir = o.stateDir ?? (await stateDirOf(g));
      const stopped = await down(stateDir);
      if (g.json) printJson({ stopped, state_dir: stateDir });
      else process.stdout.write(stopped ? 'Superset stopped.\n' : `No dashboard is running for ${stateDir}.\n`);
    }));

  dashboard.addCommand(stateOption(new Command('status'))
    .description('whether the dashboard runs, where, and which tables it reads (exit 1 when it does not run)')
    .addHelpText('after', `
Examples:
  $ lakehouse dashboard status
  $ lakehouse dashboard status --json`)
    .action(async (o: { stateDir?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const stateDir = o.stateDir ?? (await stateDirOf(g));
      const s = await status(stateDir);
      if (g.json) printJson({ running: s.running, healthy: s.healthy, ...(s.server && s.running ? jsonInfo(s.server) : { state_dir: stateDir }) });
      else if (!s.running) process.stdout.write(`No dashboard is running for ${stateDir}; start it with \`lakehouse dashboard up\`.\n`);
      else {
        const srv = s.server!;
        process.stdout.write(`Superset runs on ${srv.url} (pid ${srv.pid}${s.healthy ? '' : ', not answering /health'}).\n`);
        process.stdout.write(`It reads ${srv.reads.tables.join(' and ')} from the ${srv.reads.catalog} catalog through ${srv.databaseUri}.\n`);
        for (const d of srv.dashboards) process.stdout.write(`  ${d.title}: ${d.url}\n`);
      }
      if (!s.running) process.exitCode = 1;
    }));
  return dashboard;
}

/** The default state folder of the configured catalog: beside its warehouse when that is local. */
async function stateDirOf(g: GlobalOptions): Promise<string> {
  const { properties } = await catalogConfig(g);
  return defaultStateDir(properties.type === 'sql' ? properties.warehouse : undefined);
}

function jsonInfo(info: ServerInfo, metricsMissing?: boolean): Record<string, unknown> {
  return {
    url: info.url, user: info.user, password_file: info.passwordFile, viewer_user: info.viewerUser, pid: info.pid,
    port: info.port, state_dir: info.stateDir, dashboards: info.dashboards, reads: info.reads, database_uri: info.databaseUri,
    ...(metricsMissing === undefined ? {} : { metrics_table_exists: !metricsMissing }),
  };
}

/**
 * What Superset's views need to find the tables, checked with our own catalog client first: a missing
 * warehouse or refused credentials fail here with the catalog's sentence, not inside a chart later.
 */
async function catalogSettings(g: GlobalOptions, o: DashboardCliOptions): Promise<CatalogSettings & { metricsMissing: boolean }> {
  const { name, properties } = await catalogConfig(g);
  const type = properties.type;
  if (type !== 'sql' && type !== 'rest') {
    throw new LakehouseError('UNSUPPORTED', `The dashboard reads SQLite and REST catalogs; catalog '${name}' is ${type}. Serve its tables through an Iceberg REST catalog, or point --database-uri at an engine (Trino) that reads it.`);
  }
  const uri = properties.uri ?? '';
  if (type === 'sql') {
    if (!uri.startsWith('sqlite:')) {
      throw new LakehouseError('UNSUPPORTED', `The dashboard reads SQL catalogs on SQLite; catalog '${name}' is at ${uri.split(':')[0]}. Use a REST catalog in front of it, or --database-uri with an engine that reads it.`);
    }
    const file = uri.replace(/^sqlite:\/\//, '').replace(/^\/(?=\/)/, '');
    if (!existsSync(file)) {
      throw new LakehouseError('NOT_FOUND', `No warehouse here: the catalog ${file} does not exist. Create one with \`lakehouse demo\` or \`lakehouse ingest --create-table\`, or point --warehouse and --catalog-uri at an existing one.`);
    }
  }
  const metrics = tableId(o.table);
  const events = tableId(o.events);
  if (metrics.namespace.join('.') !== events.namespace.join('.')) {
    throw new LakehouseError('INVALID_ARGUMENT', `--table and --events must be in one namespace (got ${metrics.namespace.join('.')} and ${events.namespace.join('.')}).`);
  }
  const metricsMissing = await withCatalog(g, async (catalog) => {
    await catalog.listTables(metrics.namespace);
    return !(await catalog.tableExists(metrics));
  });
  const s3: Record<string, string> = {};
  for (const [k, v] of Object.entries(properties)) if (k.startsWith('s3.')) s3[k] = v;
  return {
    name, type, uri, warehouse: properties.warehouse, namespace: metrics.namespace.join('.'), metricsTable: metrics.name,
    eventsTable: events.name, token: properties.token, properties: s3, metricsMissing,
  };
}
