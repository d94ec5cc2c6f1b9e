import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { identifierToString, partitionSpecToText, parsePartitionText, UNPARTITIONED, Schema, currentSchema, defaultSpec, specById, typeToString, type NestedField, formatValue, partitionType, type PrimitiveType } from '../iceberg/index.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { parseJson } from '../core/json.ts';
import { campaignEventsSchema, campaignEventsSpec, CAMPAIGN_EVENTS_TABLE } from '../domain/campaign-events.ts';
import { parseTime } from '../core/time.ts';
import { collect, parseProperties } from './options.ts';
import { offsetKeysToRetain } from '../domain/ingest-summary-keys.ts';
import { DEFAULT_NAMESPACE, globalOptions, openTable, tableId, withCatalog } from './context.ts';
import { formatBytes, printJson, printTable } from './output.ts';

/** Built-in schemas `--schema` accepts by name. */
const BUILTIN_SCHEMAS: Record<string, { schema: Schema; partition: string }> = {
  [CAMPAIGN_EVENTS_TABLE]: { schema: campaignEventsSchema, partition: partitionSpecToText(campaignEventsSpec, campaignEventsSchema) },
};

function loadSchemaArg(arg: string): { schema: Schema; partition?: string } {
  const builtin = BUILTIN_SCHEMAS[arg];
  if (builtin) return builtin;
  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch (e) {
    throw new LakehouseError('INVALID_ARGUMENT', `--schema ${arg}: not a built-in schema (${Object.keys(BUILTIN_SCHEMAS).join(', ')}) and the file cannot be read (${errorMessage(e)}).`);
  }
  return { schema: Schema.fromJSON(parseJson(text, `schema file ${arg}`)) };
}

function describeFields(fields: NestedField[], indent = ''): string[][] {
  return fields.map((f) => [String(f.id), indent + f.name, typeToString(f.type), f.required ? 'required' : 'optional', f.doc ?? '']);
}

export function tablesCommand(): Command {
  const tables = new Command('tables').exitOverride();

  tables.command('create')
    .description('create a table (and its namespace if missing)')
    .argument('<table>', 'table name, [namespace.]table; the namespace defaults to "lakehouse"')
    .requiredOption('-s, --schema <file|name>', `Iceberg schema JSON file, or a built-in schema: ${Object.keys(BUILTIN_SCHEMAS).join(', ')}`)
    .option('-p, --partition <spec>', 'partitioning, e.g. "day(event_time), event_type, bucket(16, user_id)"; "none" for unpartitioned (default: the built-in schema\'s)')
    .option('--property <key=value>', 'table property (repeatable)', collect)
    .option('--location <uri>', 'table location (default: <warehouse>/<namespace>.db/<table>)')
    .option('--if-not-exists', 'succeed quietly when the table already exists')
    .addHelpText('after', '\nExample:\n  $ lakehouse tables create lakehouse.campaign_events --schema campaign_events')
    .action(async (name: string, o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const id = tableId(name);
        const { schema, partition } = loadSchemaArg(o.schema);
        const partText = o.partition ?? partition ?? 'none';
        const spec = partText === 'none' ? UNPARTITIONED : parsePartitionText(partText, schema);
        if (!(await catalog.namespaceExists(id.namespace))) await catalog.createNamespace(id.namespace);
        if (o.ifNotExists && (await catalog.tableExists(id))) {
          if (g.json) printJson({ table: identifierToString(id), created: false });
          else process.stdout.write(`Table ${identifierToString(id)} already exists.\n`);
          return;
        }
        const loaded = await catalog.createTable(id, { schema, partitionSpec: spec, location: o.location, properties: parseProperties(o.property) });
        if (g.json) printJson({ table: identifierToString(id), created: true, location: loaded.metadata.location, metadataLocation: loaded.metadataLocation });
        else process.stdout.write(`Created ${identifierToString(id)} at ${loaded.metadata.location}\n`);
      });
    });

  tables.command('list')
    .description('list the tables of a namespace')
    .argument('[namespace]', 'namespace', DEFAULT_NAMESPACE.join('.'))
    .action(async (ns: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const ids = await catalog.listTables(ns.split('.'));
        if (g.json) printJson(ids.map(identifierToString));
        else if (ids.length === 0) process.stdout.write(`No tables in namespace ${ns}.\n`);
        else for (const id of ids) process.stdout.write(identifierToString(id) + '\n');
      });
    });

  tables.command('describe')
    .description('schema, partitioning, sort order, properties and current snapshot of a table')
    .argument('<table>', 'table name')
    .action(async (name: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const t = await openTable(catalog, name);
        const m = t.metadata;
        const schema = currentSchema(m);
        const snap = t.currentSnapshot();
        if (g.json) {
          printJson({
            table: t.name, location: m.location, metadataLocation: t.metadataLocation, formatVersion: m.formatVersion, tableUuid: m.tableUuid,
            schema: schema.toJSON(), partitionSpec: defaultSpec(m), properties: m.properties,
            currentSnapshot: snap ? { snapshotId: snap.snapshotId, timestampMs: snap.timestampMs, summary: snap.summary } : null,
          });
          return;
        }
        process.stdout.write(`Table       ${t.name}\nLocation    ${m.location}\nMetadata    ${t.metadataLocation}\nFormat      v${m.formatVersion}   uuid ${m.tableUuid}\nPartition   ${partitionSpecToText(defaultSpec(m), schema)}\n`);
        process.stdout.write(`Snapshot    ${snap ? `${snap.snapshotId} (${new Date(snap.timestampMs).toISOString()}, ${snap.summary.operation}, ${snap.summary['total-records'] ?? '?'} rows in ${snap.summary['total-data-files'] ?? '?'} files)` : 'none (empty table)'}\n\nSchema (id ${schema.schemaId}):\n`);
        printTable(['id', 'name', 'type', 'nullability', 'doc'], describeFields(schema.fields));
        const props = Object.entries(m.properties);
        if (props.length > 0) {
          process.stdout.write('\nProperties:\n');
          printTable(['key', 'value'], props.map(([k, v]) => [k, v]));
        }
      });
    });

  tables.command('snapshots')
    .description('snapshot history: id, parent, time, operation, records added and total')
    .argument('<table>', 'table name')
    .action(async (name: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const t = await openTable(catalog, name);
        const current = t.currentSnapshot()?.snapshotId;
        const snaps = [...t.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber || a.timestampMs - b.timestampMs);
        if (g.json) {
          printJson(snaps.map((s) => ({ snapshotId: s.snapshotId, parentSnapshotId: s.parentSnapshotId ?? null, sequenceNumber: s.sequenceNumber, timestampMs: s.timestampMs, current: s.snapshotId === current, manifestList: s.manifestList, summary: s.summary })));
          return;
        }
        printTable(['snapshot_id', 'parent', 'seq', 'committed_at', 'operation', 'added_records', 'deleted_records', 'total_records', 'total_files'],
          snaps.map((s) => [
            (s.snapshotId === current ? '*' : '') + s.snapshotId.toString(), s.parentSnapshotId?.toString() ?? '', String(s.sequenceNumber), new Date(s.timestampMs).toISOString(),
            s.summary.operation, s.summary['added-records'] ?? '0', s.summary['deleted-records'] ?? '0', s.summary['total-records'] ?? '?', s.summary['total-data-files'] ?? '?',
          ]));
      });
    });

  tables.command('files')
    .description('data files of a snapshot (current by default), pruned by an optional filter')
    .argument('<table>', 'table name')
    .option('--snapshot-id <id>', 'read this snapshot')
    .option('--as-of <time>', 'read the snapshot current at this time (ISO-8601 or epoch ms)')
    .option('-w, --where <filter>', `row filter used for pruning, e.g. "event_type = 'click' AND event_time >= '2026-11-01T00:00:00Z'"`)
    .action(async (name: string, o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const t = await openTable(catalog, name);
        const plan = await t.planFiles({
          snapshotId: o.snapshotId === undefined ? undefined : BigInt(o.snapshotId),
          asOfMs: o.asOf === undefined ? undefined : parseTime(o.asOf, '--as-of'),
          filter: o.where,
        });
        const partText = (specId: number, values: unknown[]) => {
          const spec = specById(t.metadata, specId);
          const types = partitionType(spec, plan.schema).fields.map((f) => f.type as PrimitiveType);
          return spec.fields.map((f, i) => `${f.name}=${values[i] === null ? 'null' : formatValue(types[i]!, values[i] as never)}`).join('/');
        };
        if (g.json) {
          printJson({ snapshotId: plan.snapshot?.snapshotId ?? null, metrics: plan.metrics, files: plan.files.map((f) => ({ path: f.filePath, partition: partText(f.specId, f.partition), recordCount: f.recordCount, fileSizeInBytes: f.fileSizeInBytes, specId: f.specId })) });
          return;
        }
        printTable(['file', 'partition', 'records', 'size'], plan.files.map((f) => [f.filePath, partText(f.specId, f.partition), String(f.recordCount), formatBytes(f.fileSizeInBytes)]));
        const m = plan.metrics;
        process.stdout.write(`\n${plan.files.length} file(s), ${plan.files.reduce((a, f) => a + f.recordCount, 0)} records; pruned ${m.manifestsSkipped}/${m.manifestsTotal} manifests and ${m.filesSkipped}/${m.filesTotal} files.\n`);
      });
    });

  tables.command('drop')
    .description('drop a table from the catalog; --purge also deletes its data and metadata files')
    .argument('<table>', 'table name')
    .option('--purge', 'delete every file of the table too')
    .option('--dry-run', 'say what would be dropped, change nothing')
    .action(async (name: string, o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const t = await openTable(catalog, name);
        if (o.dryRun) {
          process.stdout.write(`Would drop ${t.name}${o.purge ? ` and delete its files under ${t.location}` : ' (files kept)'}.\n`);
          return;
        }
        await catalog.dropTable(t.identifier, { purge: Boolean(o.purge) });
        if (g.json) printJson({ table: t.name, dropped: true, purged: Boolean(o.purge) });
        else process.stdout.write(`Dropped ${t.name}${o.purge ? ' and deleted its files' : ''}.\n`);
      });
    });

  tables.command('expire')
    .description('expire old snapshots and delete the files only they referenced; the newest snapshot recording each ingest group\'s offsets (lakehouse.offsets.<group>) is kept, with the history after it')
    .argument('<table>', 'table name')
    .option('--older-than <time>', 'expire snapshots committed before this time (ISO-8601 or epoch ms; default: now - history.expire.max-snapshot-age-ms)')
    .addOption(new Option('--retain-last <n>', 'always keep this many of the newest snapshots').argParser((v) => Number(v)))
    .option('--dry-run', 'list what would be expired and deleted, change nothing')
    .action(async (name: string, o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const t = await openTable(catalog, name);
        const r = await t.expireSnapshots({
          olderThanMs: o.olderThan === undefined ? undefined : parseTime(o.olderThan, '--older-than'), retainLast: o.retainLast, dryRun: Boolean(o.dryRun),
          // An ingest resumes from the newest snapshot recording its group's offsets (pipeline/offsets.ts).
          retainSummaryKeyPrefixes: offsetKeysToRetain(t.metadata),
        });
        if (g.json) { printJson({ dryRun: Boolean(o.dryRun), ...r }); return; }
        process.stdout.write(`${o.dryRun ? 'Would expire' : 'Expired'} ${r.expiredSnapshotIds.length} snapshot(s); ${o.dryRun ? 'would delete' : 'deleted'} ${r.deletedDataFiles.length} data file(s), ${r.deletedManifests.length} manifest(s), ${r.deletedManifestLists.length} manifest list(s).\n`);
      });
    });

  return tables;
}
