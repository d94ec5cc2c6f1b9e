import * as path from 'node:path';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { LocalFileIO } from '../iceberg/io/index.ts';
import type { Catalog } from './catalog.ts';
import { redactConfig } from './redact.ts';

/**
 * Catalog configuration, merged file < environment < flags like PyIceberg's `load_catalog`, so the
 * most specific source wins. JSON instead of YAML so no parser dependency is needed:
 *
 *   { "default-catalog": "default",
 *     "catalogs": { "default": { "type": "sql", "uri": "sqlite:////abs/catalog.db", "warehouse": "file:///abs/warehouse" } } }
 *
 * Environment: `LAKEHOUSE_CATALOG__<NAME>__<KEY>` with PyIceberg's spelling rules (`__` -> `.`,
 * `_` -> `-`, case-insensitive), so `LAKEHOUSE_CATALOG__DEFAULT__S3__ACCESS_KEY_ID` sets
 * `s3.access-key-id`; `LAKEHOUSE_DEFAULT_CATALOG` picks the catalog; `LAKEHOUSE_CONFIG` names the file.
 * Relative paths in `uri` and `warehouse` are relative to the working directory, as in PyIceberg.
 */
export const CONFIG_FILE_ENV = 'LAKEHOUSE_CONFIG';
export const DEFAULT_CATALOG_ENV = 'LAKEHOUSE_DEFAULT_CATALOG';
export const CATALOG_ENV_PREFIX = 'lakehouse_catalog__';
/** Looked for in the working directory when neither a file option nor LAKEHOUSE_CONFIG is given. */
export const DEFAULT_CONFIG_FILE = 'lakehouse.config.json';
export const DEFAULT_CATALOG_NAME = 'default';
/** Catalog types this build can open. */
export const SUPPORTED_CATALOG_TYPES = ['sql', 'rest', 'glue'] as const;

export const TYPE = 'type';
export const URI = 'uri';
export const WAREHOUSE = 'warehouse';

export interface LoadCatalogOptions {
  /** Catalog to load; default `LAKEHOUSE_DEFAULT_CATALOG`, the file's `default-catalog`, then "default". */
  name?: string;
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Highest precedence, e.g. from command-line flags: `{ warehouse: 's3://b/wh' }`. */
  overrides?: Record<string, string>;
  /** Base for relative paths and for finding lakehouse.config.json; default the working directory. */
  cwd?: string;
}

export interface ResolvedCatalogConfig {
  name: string;
  properties: Record<string, string>;
  /** The config file read, if any (for messages). */
  configFile?: string;
}

export async function loadCatalog(options: LoadCatalogOptions = {}): Promise<Catalog> {
  const resolved = await resolveCatalogConfig(options);
  const { name, properties } = resolved;
  const type = properties[TYPE];
  switch (type) {
    case 'sql': {
      if (!properties[URI]) {
        throw new LakehouseError(
          'INVALID_CONFIG',
          `Catalog '${name}' of type sql has no uri; set it, e.g. "uri": "sqlite:////abs/path/catalog.db" or "postgresql://user:password@host:5432/db". Configuration: ${JSON.stringify(redactConfig(properties))}.`,
        );
      }
      if (!properties[WAREHOUSE]) {
        throw new LakehouseError(
          'INVALID_CONFIG',
          `Catalog '${name}' has no warehouse; set it to a folder or s3://bucket/prefix. Configuration: ${JSON.stringify(redactConfig(properties))}.`,
        );
      }
      // Each catalog type loads only when configured: the SQL drivers, the REST client and the AWS SDK
      // for Glue are not start-up costs of every command.
      const { SqlCatalog } = await import('./sql-catalog.ts');
      return SqlCatalog.open({
        name,
        uri: properties[URI],
        warehouse: properties[WAREHOUSE],
        properties,
        ...(options.env ? { env: options.env } : {}),
        ...(options.cwd ? { cwd: options.cwd } : {}),
      });
    }
    case 'rest': {
      const { createRestCatalog } = await import('./rest-catalog.ts');
      return createRestCatalog(name, properties, options.env ?? process.env);
    }
    case 'glue': {
      if (!properties[WAREHOUSE]) {
        throw new LakehouseError('INVALID_CONFIG', `Catalog '${name}' of type glue has no warehouse; set it to s3://bucket/prefix where new tables are written. Configuration: ${JSON.stringify(redactConfig(properties))}.`);
      }
      const { createGlueCatalog } = await import('./glue-catalog.ts');
      return createGlueCatalog(name, properties, options.env ?? process.env);
    }
    default:
      throw new LakehouseError(
        'INVALID_CONFIG',
        `Catalog '${name}' has type "${type ?? '(none)'}", which this version cannot open; supported: ${SUPPORTED_CATALOG_TYPES.join(', ')}. ` +
          `Configuration: ${JSON.stringify(redactConfig(properties))}.`,
      );
  }
}

/** The merged properties of one catalog, without opening it; what `loadCatalog` opens. */
export async function resolveCatalogConfig(options: LoadCatalogOptions = {}): Promise<ResolvedCatalogConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = await readConfigFile(options.configFile ?? nonEmpty(env[CONFIG_FILE_ENV]), cwd);
  const envConfig = fromEnvironment(env);

  // Looked up case-insensitively like PyIceberg, but kept as given: it is the catalog_name column.
  const name = options.name ?? nonEmpty(env[DEFAULT_CATALOG_ENV]) ?? file?.defaultCatalog ?? DEFAULT_CATALOG_NAME;
  const key = name.toLowerCase();
  const fromFile = file?.catalogs[key];
  const fromEnv = envConfig[key];
  const overrides = options.overrides ?? {};
  const configured = fromFile !== undefined || fromEnv !== undefined || Object.keys(overrides).length > 0;

  if (!configured && key !== DEFAULT_CATALOG_NAME) {
    const known = [...new Set([...Object.keys(file?.catalogs ?? {}), ...Object.keys(envConfig)])];
    throw new LakehouseError(
      'INVALID_CONFIG',
      `Catalog '${name}' is not configured${file ? ` in ${file.path}` : ''} or in LAKEHOUSE_CATALOG__${name.toUpperCase()}__* variables; ` +
        (known.length > 0 ? `configured catalogs: ${known.join(', ')}.` : 'no catalogs are configured.'),
    );
  }

  // Only the catalog named "default" falls back to a local SQLite catalog; a typo in another name must not.
  const defaults: Record<string, string> =
    key === DEFAULT_CATALOG_NAME
      ? { [TYPE]: 'sql', [URI]: 'sqlite:///' + path.resolve(cwd, 'warehouse', 'catalog.db'), [WAREHOUSE]: path.resolve(cwd, 'warehouse') }
      : {};
  const properties: Record<string, string> = { ...defaults, ...(fromFile ?? {}), ...(fromEnv ?? {}), ...overrides };
  if (!properties[TYPE] && properties[URI]) {
    const inferred = inferType(properties[URI]);
    if (inferred) properties[TYPE] = inferred;
  }
  return { name, properties, ...(file ? { configFile: file.path } : {}) };
}

/** PyIceberg infers the type from the uri when none is given: http(s) is REST, anything else SQL. */
function inferType(uri: string): string | undefined {
  if (/^https?:\/\//i.test(uri)) return 'rest';
  if (/^(sqlite|jdbc:sqlite|postgres|jdbc:postgresql)/i.test(uri)) return 'sql';
  return undefined;
}

interface ConfigFile {
  path: string;
  defaultCatalog?: string;
  catalogs: Record<string, Record<string, string>>;
}

async function readConfigFile(explicit: string | undefined, cwd: string): Promise<ConfigFile | undefined> {
  const io = new LocalFileIO();
  const file = path.resolve(cwd, explicit ?? DEFAULT_CONFIG_FILE);
  if (!(await io.exists(file))) {
    if (explicit === undefined) return undefined;
    throw new LakehouseError('INVALID_CONFIG', `Config file ${file} does not exist; check --config / ${CONFIG_FILE_ENV}.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await io.read(file)));
  } catch (e) {
    throw new LakehouseError('INVALID_CONFIG', `Config file ${file} is not valid JSON: ${errorMessage(e)}.`, { cause: e });
  }
  if (!isObject(json)) throw new LakehouseError('INVALID_CONFIG', `Config file ${file} must hold a JSON object with a "catalogs" object.`);
  const top = lowerKeys(json);
  const catalogsRaw = top['catalogs'] ?? {};
  if (!isObject(catalogsRaw)) {
    throw new LakehouseError('INVALID_CONFIG', `"catalogs" in ${file} must be an object of catalog name -> properties.`);
  }
  const catalogs: ConfigFile['catalogs'] = {};
  for (const [name, conf] of Object.entries(catalogsRaw)) {
    if (!isObject(conf)) throw new LakehouseError('INVALID_CONFIG', `catalogs.${name} in ${file} must be an object of properties.`);
    catalogs[name.toLowerCase()] = flatten(conf, '', `catalogs.${name}`, file);
  }
  const dflt = top['default-catalog'];
  if (dflt !== undefined && typeof dflt !== 'string') {
    throw new LakehouseError('INVALID_CONFIG', `"default-catalog" in ${file} must be a catalog name (a string).`);
  }
  return { path: file, catalogs, ...(dflt ? { defaultCatalog: dflt } : {}) };
}

/** `{ "s3": { "endpoint": "x" } }` -> `{ "s3.endpoint": "x" }`; numbers and booleans become strings. */
function flatten(o: Record<string, unknown>, prefix: string, where: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    const key = prefix + k.toLowerCase();
    if (isObject(v)) Object.assign(out, flatten(v, key + '.', where, file));
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
    else if (v !== null) throw new LakehouseError('INVALID_CONFIG', `${where}.${key} in ${file} must be a string, number or boolean.`);
  }
  return out;
}

/** `LAKEHOUSE_CATALOG__PROD__S3__ACCESS_KEY_ID=x` -> { prod: { 's3.access-key-id': 'x' } }, as PyIceberg does. */
function fromEnvironment(env: NodeJS.ProcessEnv): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [rawKey, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const key = rawKey.toLowerCase();
    if (!key.startsWith(CATALOG_ENV_PREFIX)) continue;
    const rest = key.slice(CATALOG_ENV_PREFIX.length);
    const sep = rest.indexOf('__');
    if (sep <= 0 || sep + 2 >= rest.length) continue;
    const name = rest.slice(0, sep).replace(/_/g, '-');
    const prop = rest
      .slice(sep + 2)
      .split('__')
      .map((p) => p.replace(/_/g, '-'))
      .join('.');
    (out[name] ??= {})[prop] = value;
  }
  return out;
}

function lowerKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
