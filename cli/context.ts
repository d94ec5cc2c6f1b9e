import type { Command } from 'commander';
import type { Catalog } from '../catalog/catalog.ts';
import { type ResolvedCatalogConfig, loadCatalog, resolveCatalogConfig } from '../catalog/load-catalog.ts';
import { type TableIdentifier, parseIdentifier, Table } from '../iceberg/index.ts';

/** Options every command accepts; config merges file < environment < these flags. */
export interface GlobalOptions {
  catalog?: string;
  config?: string;
  warehouse?: string;
  catalogUri?: string;
  json?: boolean;
}

export const DEFAULT_NAMESPACE = ['lakehouse'];

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

function loadOptions(opts: GlobalOptions) {
  const overrides: Record<string, string> = {};
  if (opts.warehouse) overrides.warehouse = opts.warehouse;
  if (opts.catalogUri) overrides.uri = opts.catalogUri;
  return { name: opts.catalog, configFile: opts.config, env: process.env, overrides };
}

export async function openCatalog(opts: GlobalOptions): Promise<Catalog> {
  return loadCatalog(loadOptions(opts));
}

/** The merged catalog settings, e.g. to tell the user which database file other tools should open. */
export async function catalogConfig(opts: GlobalOptions): Promise<ResolvedCatalogConfig> {
  return resolveCatalogConfig(loadOptions(opts));
}

export function tableId(name: string): TableIdentifier {
  return parseIdentifier(name, DEFAULT_NAMESPACE);
}

export async function openTable(catalog: Catalog, name: string): Promise<Table> {
  return new Table(catalog, await catalog.loadTable(tableId(name)));
}

/** Runs a command body with a catalog that is always closed. */
export async function withCatalog<T>(opts: GlobalOptions, fn: (c: Catalog) => Promise<T>): Promise<T> {
  const catalog = await openCatalog(opts);
  try {
    return await fn(catalog);
  } finally {
    await catalog.close();
  }
}
