import { Command } from 'commander';
import {
  currentSchema, defaultSpec, parsePrimitive, partitionSpecToText, planPartitionChange, planPropertyChange, planSchemaChange,
  typeToString, type NestedField, type PartitionChange, type PropertyChange, type SchemaChange, type TableMetadata,
} from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { globalOptions, openTable, withCatalog } from './context.ts';
import { printJson, printTable } from './output.ts';

/**
 * `lakehouse tables alter <table> <action> [args]`: one schema, partition or property change per run,
 * checked against the table's current metadata and committed through the catalog with the requirements
 * it relies on (a concurrent change makes it plan again). A refused change commits nothing.
 */

type Change = { what: 'schema'; change: SchemaChange } | { what: 'spec'; change: PartitionChange } | { what: 'properties'; change: PropertyChange };

const ACTIONS: Record<string, { args: string[]; help: string }> = {
  'add-column': { args: ['NAME', 'TYPE'], help: 'add an optional column (nested: parent.name); TYPE is an Iceberg primitive: string, int, long, float, double, boolean, date, timestamptz, decimal(P,S), ... [--after COL | --first] [--doc TEXT] [--required: only while the table holds no rows]' },
  'rename-column': { args: ['NAME', 'NEW_NAME'], help: 'rename a column; it keeps its field id, so old files read under the new name' },
  'widen-column': { args: ['NAME', 'TYPE'], help: 'promote a column\'s type: int -> long, float -> double, decimal(P,S) -> decimal(P2,S) with P2 > P' },
  'drop-column': { args: ['NAME'], help: 'drop a column (not an identifier field or a partition source); its id is never reused' },
  'make-optional': { args: ['NAME'], help: 'allow nulls in a required column' },
  'set-property': { args: ['KEY', 'VALUE'], help: 'set a table property' },
  'unset-property': { args: ['KEY'], help: 'remove a table property' },
  'add-partition-field': { args: ['TERM'], help: 'partition new data also by TERM, e.g. "hour(event_time)", "bucket(16, user_id)", country [--name NAME]' },
  'drop-partition-field': { args: ['FIELD'], help: 'stop partitioning new data by FIELD (a partition field name such as event_time_day, or its term day(event_time))' },
  'replace-partition-field': { args: ['FIELD', 'TERM'], help: 'one new spec with FIELD replaced by TERM, e.g. event_time_day "hour(event_time)" [--name NAME]' },
};

function usage(action: string, args: string[]): never {
  const a = ACTIONS[action]!;
  throw new LakehouseError('INVALID_ARGUMENT', `tables alter ... ${action} takes ${a.args.join(' ')}, got ${args.length === 0 ? 'nothing' : args.map((x) => JSON.stringify(x)).join(' ')}.`);
}

/** The change an action and its arguments ask for. */
export function parseAlterAction(action: string, args: string[], o: { after?: string; first?: boolean; doc?: string; required?: boolean; name?: string }): Change {
  const spec = ACTIONS[action];
  if (!spec) throw new LakehouseError('INVALID_ARGUMENT', `Unknown alter action "${action}"; choose one of: ${Object.keys(ACTIONS).join(', ')}.`);
  if (args.length !== spec.args.length) usage(action, args);
  const [a, b] = args as [string, string];
  switch (action) {
    case 'add-column': return { what: 'schema', change: { kind: 'add-column', name: a, type: parsePrimitive(b), after: o.after, first: o.first, doc: o.doc, required: o.required } };
    case 'rename-column': return { what: 'schema', change: { kind: 'rename-column', name: a, newName: b } };
    case 'widen-column': return { what: 'schema', change: { kind: 'widen-column', name: a, type: parsePrimitive(b) } };
    case 'drop-column': return { what: 'schema', change: { kind: 'drop-column', name: a } };
    case 'make-optional': return { what: 'schema', change: { kind: 'make-optional', name: a } };
    case 'set-property': return { what: 'properties', change: { kind: 'set-property', key: a, value: b } };
    case 'unset-property': return { what: 'properties', change: { kind: 'unset-property', key: a } };
    case 'add-partition-field': return { what: 'spec', change: { kind: 'add-partition-field', term: a, name: o.name } };
    case 'drop-partition-field': return { what: 'spec', change: { kind: 'drop-partition-field', field: a } };
    default: return { what: 'spec', change: { kind: 'replace-partition-field', field: a, term: b, name: o.name } };
  }
}

function planner(c: Change): (m: TableMetadata) => ReturnType<typeof planSchemaChange> {
  if (c.what === 'schema') return (m) => planSchemaChange(m, c.change);
  if (c.what === 'spec') return (m) => planPartitionChange(m, c.change);
  return (m) => planPropertyChange(m, c.change);
}

function fieldRows(fields: NestedField[]): string[][] {
  return fields.map((f) => [String(f.id), f.name, typeToString(f.type), f.required ? 'required' : 'optional', f.doc ?? '']);
}

export function alterCommand(): Command {
  return new Command('alter')
    .description('change a table\'s schema, partitioning or properties, one change per run (the actions are listed under <action>)')
    .argument('<table>', 'table name, [namespace.]table')
    .argument('<action>', Object.entries(ACTIONS).map(([k, v]) => `\n  ${k} ${v.args.join(' ')}: ${v.help}`).join(''))
    .argument('[args...]', 'the action\'s arguments')
    .option('--after <column>', 'add-column: place the new column after this one')
    .option('--first', 'add-column: place the new column first')
    .option('--doc <text>', 'add-column: the column\'s documentation')
    .option('--required', 'add-column: a required column (refused when the table holds rows)')
    .option('--name <name>', 'add/replace-partition-field: the partition field\'s name (default: column_transform, e.g. event_time_hour)')
    .option('--dry-run', 'show the resulting schema, partitioning or properties and commit nothing')
    .addHelpText('after', `
Examples:
  $ lakehouse tables alter campaign_events add-column campaign_name string --after campaign_id --doc "Display name"
  $ lakehouse tables alter campaign_events rename-column country country_code
  $ lakehouse tables alter campaign_events replace-partition-field event_time_day "hour(event_time)" --dry-run
  $ lakehouse tables alter campaign_events set-property write.target-file-size-bytes 134217728

Old data files are never rewritten: readers match columns by field id, so a renamed column reads under its
new name, an added column reads as null in older files, and files keep the partitioning they were written with.`)
    .action(async (name: string, action: string, args: string[], o, cmd: Command) => {
      const g = globalOptions(cmd);
      const change = parseAlterAction(action, args, o);
      await withCatalog(g, async (catalog) => {
        const t = await openTable(catalog, name);
        const before = t.metadata;
        const r = await t.alter(planner(change), { dryRun: Boolean(o.dryRun) });
        const m = r.metadata;
        const schema = currentSchema(m);
        const spec = defaultSpec(m);
        if (g.json) {
          printJson({
            table: t.name, action, dryRun: Boolean(o.dryRun), committed: r.committed, unchanged: r.unchanged ?? null,
            metadataLocation: t.metadataLocation, schemaId: schema.schemaId, lastColumnId: m.lastColumnId, schema: schema.toJSON(),
            specId: spec.specId, lastPartitionId: m.lastPartitionId, partitionSpec: spec, properties: m.properties,
          });
          return;
        }
        if (r.unchanged !== undefined) {
          process.stdout.write(`Nothing to change: ${r.unchanged}\n`);
          return;
        }
        const verb = o.dryRun ? 'Would change' : 'Changed';
        if (change.what === 'schema') {
          process.stdout.write(`${verb} ${t.name}: schema ${schema.schemaId} ${o.dryRun ? 'would be' : 'is'} current (was ${before.currentSchemaId}); last column id ${m.lastColumnId}.\n\n`);
          printTable(['id', 'name', 'type', 'nullability', 'doc'], fieldRows(schema.fields));
        } else if (change.what === 'spec') {
          process.stdout.write(`${verb} ${t.name}: partition spec ${spec.specId} ${o.dryRun ? 'would be' : 'is'} the default (was ${before.defaultSpecId}): ${partitionSpecToText(spec, schema)}; last partition id ${m.lastPartitionId}.\nFiles written before keep their spec and stay readable.\n\n`);
          printTable(['field_id', 'name', 'transform', 'source'], spec.fields.map((f) => [String(f.fieldId), f.name, f.transform, schema.findColumnName(f.sourceId) ?? `#${f.sourceId}`]));
        } else {
          process.stdout.write(`${verb} ${t.name} properties:\n\n`);
          printTable(['key', 'value'], Object.entries(m.properties).map(([k, v]) => [k, v]));
        }
        if (!o.dryRun) process.stdout.write(`\nMetadata ${t.metadataLocation}\n`);
      });
    });
}
