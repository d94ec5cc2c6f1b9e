import { Command, InvalidArgumentError, Option } from 'commander';
import { rowsToRecordBatch } from '../iceberg/arrow-rows.ts';
import { identifierToString } from '../iceberg/catalog-port.ts';
import { Table } from '../iceberg/table.ts';
import { CAMPAIGN_EVENTS_TABLE, campaignEventsSchema, campaignEventsSpec } from '../pipeline/campaign-events.ts';
import { generateEvents } from '../pipeline/event-generator.ts';
import { DEFAULT_NAMESPACE, catalogConfig, globalOptions, withCatalog } from './context.ts';
import { printJson } from './output.ts';

/**
 * `lakehouse demo`: the main job on the embedded default — local warehouse, SQLite catalog, no
 * services. Creates lakehouse.campaign_events and appends generated events, one snapshot per batch.
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('create a local warehouse with the SQLite catalog and fill lakehouse.campaign_events with generated events')
    .addOption(new Option('-n, --events <n>', 'events to generate').default(200_000).argParser(positiveInt('--events')))
    .addOption(new Option('--batch-size <n>', 'events per append (one snapshot each)').default(50_000).argParser(positiveInt('--batch-size')))
    .addOption(new Option('--seed <n>', 'random seed (same seed, same events)').default(42).argParser(positiveInt('--seed')))
    .exitOverride()
    .action(async (o: { events: number; batchSize: number; seed: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const config = await catalogConfig(g);
      await withCatalog(g, async (catalog) => {
        const id = { namespace: DEFAULT_NAMESPACE, name: CAMPAIGN_EVENTS_TABLE };
        if (!(await catalog.namespaceExists(id.namespace))) await catalog.createNamespace(id.namespace, { owner: 'lakehouse demo' });
        const loaded = (await catalog.tableExists(id))
          ? await catalog.loadTable(id)
          : await catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec });
        const table = new Table(catalog, loaded);
        const started = performance.now();
        let batch: Record<string, unknown>[] = [];
        let written = 0;
        const flush = async () => {
          const snap = await table.append([rowsToRecordBatch(table.schema(), batch)], {
            summary: { 'lakehouse.source': 'demo-generator', 'lakehouse.demo.seed': String(o.seed) },
          });
          written += batch.length;
          batch = [];
          if (!g.json) process.stderr.write(`  appended ${written.toLocaleString('en-US')}/${o.events.toLocaleString('en-US')} events (snapshot ${snap.snapshotId})\n`);
        };
        if (!g.json) process.stderr.write(`Writing ${o.events.toLocaleString('en-US')} events to ${identifierToString(id)} at ${table.location}\n`);
        for (const e of generateEvents({ count: o.events, seed: o.seed })) {
          batch.push(e as unknown as Record<string, unknown>);
          if (batch.length >= o.batchSize) await flush();
        }
        if (batch.length > 0) await flush();
        const seconds = (performance.now() - started) / 1000;
        const snap = table.currentSnapshot();
        const summary = {
          table: identifierToString(id), location: table.location, metadataLocation: table.metadataLocation,
          eventsWritten: written, seconds: Number(seconds.toFixed(2)), eventsPerSecond: Math.round(written / seconds),
          totalRecords: Number(snap?.summary['total-records'] ?? 0), totalDataFiles: Number(snap?.summary['total-data-files'] ?? 0),
          snapshots: table.metadata.snapshots.length,
        };
        if (g.json) { printJson(summary); return; }
        process.stdout.write(`
Done: ${written.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s (${summary.eventsPerSecond.toLocaleString('en-US')} events/s).
${summary.table} now holds ${summary.totalRecords.toLocaleString('en-US')} rows in ${summary.totalDataFiles} Parquet files over ${summary.snapshots} snapshots.

Look around:
  bin/lakehouse tables describe campaign_events
  bin/lakehouse tables snapshots campaign_events
  bin/lakehouse tables files campaign_events --where "event_type = 'conversion'"
Other readers open the same table:
  PyIceberg: SqlCatalog("${catalog.name}", uri="${config.properties.uri ?? ''}", warehouse="${config.properties.warehouse ?? ''}")
  DuckDB:    SELECT * FROM iceberg_scan('${table.metadataLocation.replace(/^file:\/\//, '')}')
`);
      });
    });
}

function positiveInt(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive whole number, got "${v}".`);
    return n;
  };
}
