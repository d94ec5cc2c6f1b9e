import { Command } from 'commander';
import { namespaceToString } from '../catalog/index.ts';
import { printJson, printTable } from './output.ts';
import { globalOptions, withCatalog } from './context.ts';
import { collect, parseProperties } from './options.ts';

/**
 * `lakehouse namespaces`: the folders of a catalog that hold tables (Glue databases, REST namespaces,
 * rows of the SQL catalog). `tables create` makes the namespace of its table when missing; these
 * commands are for creating one ahead, with properties (e.g. a `location` for its tables), and for
 * inspecting and removing them.
 */
const parseNamespace = (text: string): string[] => text.split('.').map((p) => p.trim());

export function namespacesCommand(): Command {
  const namespaces = new Command('namespaces').exitOverride();

  namespaces.command('create')
    .description('create a namespace')
    .argument('<namespace>', 'namespace, e.g. lakehouse or analytics.marketing (nested levels split on dots)')
    .option('--property <key=value>', 'namespace property (repeatable), e.g. location=s3://bucket/analytics', collect)
    .option('--if-not-exists', 'succeed quietly when the namespace already exists')
    .action(async (name: string, o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const ns = parseNamespace(name);
        const exists = o.ifNotExists && (await catalog.namespaceExists(ns));
        if (!exists) await catalog.createNamespace(ns, parseProperties(o.property));
        if (g.json) printJson({ namespace: namespaceToString(ns), created: !exists });
        else process.stdout.write(exists ? `Namespace ${namespaceToString(ns)} already exists.\n` : `Created namespace ${namespaceToString(ns)}.\n`);
      });
    });

  namespaces.command('list')
    .description('list the namespaces of the catalog (or the children of one)')
    .argument('[parent]', 'list the children of this namespace instead of the top level')
    .action(async (parent: string | undefined, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const list = (await catalog.listNamespaces(parent === undefined ? undefined : parseNamespace(parent))).map(namespaceToString);
        if (g.json) printJson(list);
        else if (list.length === 0) process.stdout.write('No namespaces.\n');
        else process.stdout.write(list.join('\n') + '\n');
      });
    });

  namespaces.command('describe')
    .description('properties of a namespace')
    .argument('<namespace>', 'namespace')
    .action(async (name: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const ns = parseNamespace(name);
        const properties = await catalog.loadNamespaceProperties(ns);
        if (g.json) printJson({ namespace: namespaceToString(ns), properties });
        else if (Object.keys(properties).length === 0) process.stdout.write(`Namespace ${namespaceToString(ns)} has no properties.\n`);
        else printTable(['key', 'value'], Object.entries(properties));
      });
    });

  namespaces.command('drop')
    .description('drop an empty namespace (its tables must be dropped first)')
    .argument('<namespace>', 'namespace')
    .action(async (name: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      await withCatalog(g, async (catalog) => {
        const ns = parseNamespace(name);
        await catalog.dropNamespace(ns);
        if (g.json) printJson({ namespace: namespaceToString(ns), dropped: true });
        else process.stdout.write(`Dropped namespace ${namespaceToString(ns)}.\n`);
      });
    });

  namespaces.addHelpText('after', '\nExamples:\n  $ lakehouse namespaces create analytics --property location=s3://bucket/analytics\n  $ lakehouse namespaces list\n  $ lakehouse namespaces drop analytics');
  return namespaces;
}
