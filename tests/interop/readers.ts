import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LakehouseError } from '../../core/errors.ts';
import type { Schema } from '../../iceberg/index.ts';
import { canonicalRow, type Canonical } from './canonical.ts';

/**
 * Independent Iceberg readers for the interop tests: PyIceberg (through the same SQLite catalog
 * file) and DuckDB's iceberg extension, both driven by tests/interop/verify.py in the repository's
 * .venv (built by infra/setup-python.sh). Rows come back as sorted canonical JSON lines
 * (see canonical.ts), so a test asserts `expect(await readWithDuckDB(...)).toEqual(canonicalRows(schema, rows))`.
 *
 * The venv is made on first use; if it cannot be made every call rejects, so the suite fails
 * rather than skipping. Creating it takes ~20 s: call `await ensureVenv()` in a `beforeAll` with
 * `VENV_TIMEOUT_MS` so that time is not charged to a single test.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const VENV_PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const VERIFY_PY = join(REPO_ROOT, 'tests', 'interop', 'verify.py');
const SETUP_SCRIPT = join(REPO_ROOT, 'infra', 'setup-python.sh');

/** Generous bound for a `beforeAll(ensureVenv, VENV_TIMEOUT_MS)`: a cold pip install, ~20 s here. */
export const VENV_TIMEOUT_MS = 300_000;

/** Output of a full-table read of a few hundred thousand rows fits; the default 1 MiB does not. */
const MAX_BUFFER = 1 << 30;

/** SQLite catalog URI as SQLAlchemy wants it for an absolute path: `sqlite:////abs/catalog.db`. */
export function sqliteCatalogUri(path: string): string {
  return `sqlite:///${resolve(path)}`;
}

/** Warehouse location for a local directory: `file:///abs/dir` (not percent-encoded; PyIceberg uses the path as is). */
export function warehouseUri(dir: string): string {
  return `file://${resolve(dir)}`;
}

/** Where PyIceberg finds the table: the SqlCatalog tables in `catalogUri`, rows with `catalog_name` = catalogName. */
export interface CatalogTableRef {
  catalogUri: string;
  warehouse: string;
  /** `ns.table` (dotted namespace levels allowed). */
  table: string;
  /** Value of the `catalog_name` column our SQL catalog writes; default "default". */
  catalogName?: string;
  /** Catalog and FileIO properties, e.g. `s3.endpoint` / `s3.access-key-id` / `s3.secret-access-key` for MinIO. */
  properties?: Record<string, string>;
}

export interface TimeTravel {
  snapshotId?: bigint | string;
  /** Milliseconds since epoch; the snapshot current at or before that time. */
  asOfMs?: number | bigint;
}

export interface PyIcebergReadOptions extends CatalogTableRef, TimeTravel {
  /** A PyIceberg row filter string, e.g. `"id > 5 and name == 'a'"`. */
  filter?: string;
}

export interface DuckDBReadOptions extends TimeTravel {
  /** Absolute path of a `*.metadata.json` (a `file://` URI is accepted too), or an `s3://` location. */
  metadata: string;
  /** `s3.*` properties for an `s3://` table (DuckDB's httpfs secret); absent = AWS_* variables. */
  properties?: Record<string, string>;
}

export interface ReadResult {
  reader: 'pyiceberg' | 'duckdb';
  /** The snapshot read (as a string: ids exceed 2^53), null for a table without snapshots. */
  snapshotId: string | null;
  count: number;
  /** Sorted canonical JSON lines. */
  rows: string[];
}

let venvReady: Promise<void> | undefined;

function run(file: string, args: string[], what: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { cwd: REPO_ROOT, maxBuffer: MAX_BUFFER, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolvePromise(stdout);
      const detail = stderr.trim() || err.message;
      reject(new LakehouseError('VALIDATION_FAILED', `${what} failed: ${detail}`, {
        context: { command: [file, ...args].join(' '), stderr },
        cause: err,
      }));
    });
  });
}

/**
 * Makes (or checks) .venv once per process; later calls share the same promise. The script itself
 * is idempotent, hash-stamped and locked, so vitest workers running it in parallel are safe.
 */
export function ensureVenv(): Promise<void> {
  venvReady ??= run('bash', [SETUP_SCRIPT], 'infra/setup-python.sh (building .venv with PyIceberg and DuckDB for the interop tests)')
    .then(() => undefined);
  return venvReady;
}

/** True when a usable interpreter exists: the venv's, or python3 >= 3.10 on PATH to build it with. */
export async function pythonAvailable(): Promise<boolean> {
  const probe = 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)';
  for (const python of [VENV_PYTHON, process.env.PYTHON ?? 'python3']) {
    try {
      await run(python, ['-c', probe], 'python probe');
      return true;
    } catch {
      // try the next candidate
    }
  }
  return false;
}

async function verify(args: string[], what: string): Promise<unknown> {
  await ensureVenv();
  const stdout = await run(VENV_PYTHON, [VERIFY_PY, ...args], what);
  try {
    return JSON.parse(stdout);
  } catch (e) {
    throw new LakehouseError('INTERNAL', `${what}: verify.py printed something that is not JSON: ${stdout.slice(0, 200)}`, { cause: e });
  }
}

function catalogArgs(o: CatalogTableRef): string[] {
  const args = ['--catalog-uri', o.catalogUri, '--warehouse', o.warehouse, '--table', o.table];
  if (o.catalogName !== undefined) args.push('--catalog-name', o.catalogName);
  return [...args, ...propertyArgs(o.properties)];
}

function propertyArgs(properties: Record<string, string> = {}): string[] {
  return Object.entries(properties).flatMap(([k, v]) => ['--catalog-property', `${k}=${v}`]);
}

function timeTravelArgs(o: TimeTravel): string[] {
  const args: string[] = [];
  if (o.snapshotId !== undefined) args.push('--snapshot-id', String(o.snapshotId));
  if (o.asOfMs !== undefined) args.push('--as-of-ms', String(o.asOfMs));
  return args;
}

interface RawRead { reader: 'pyiceberg' | 'duckdb'; snapshot_id: string | null; count: number; rows: string[] }

function toReadResult(raw: unknown): ReadResult {
  const r = raw as RawRead;
  return { reader: r.reader, snapshotId: r.snapshot_id, count: r.count, rows: r.rows };
}

/** Reads the table with PyIceberg (SqlCatalog → load_table → scan → to_arrow), with its snapshot id. */
export async function readDetailedWithPyIceberg(opts: PyIcebergReadOptions): Promise<ReadResult> {
  const args = ['read', '--reader', 'pyiceberg', ...catalogArgs(opts), ...timeTravelArgs(opts)];
  if (opts.filter !== undefined) args.push('--filter', opts.filter);
  return toReadResult(await verify(args, `PyIceberg reading ${opts.table}`));
}

/** Reads the table with DuckDB's `iceberg_scan` on a metadata file, with the snapshot id it resolves to. */
export async function readDetailedWithDuckDB(opts: DuckDBReadOptions): Promise<ReadResult> {
  const metadata = opts.metadata.startsWith('file://') ? fileURLToPath(opts.metadata) : opts.metadata;
  const args = ['read', '--reader', 'duckdb', '--metadata', metadata, ...timeTravelArgs(opts), ...propertyArgs(opts.properties)];
  return toReadResult(await verify(args, `DuckDB iceberg_scan of ${metadata}`));
}

/** Sorted canonical rows as PyIceberg reads them. */
export async function readWithPyIceberg(opts: PyIcebergReadOptions): Promise<string[]> {
  return (await readDetailedWithPyIceberg(opts)).rows;
}

/** Where PyIceberg's RestCatalog finds a table: the catalog's base URI and its properties (s3.*, token, ...). */
export interface PyIcebergRestReadOptions extends TimeTravel {
  uri: string;
  /** `ns.table` (dotted namespace levels allowed). */
  table: string;
  properties?: Record<string, string>;
  filter?: string;
}

/** Reads the table through PyIceberg's RestCatalog (load_table → scan → to_arrow), with its snapshot id. */
export async function readDetailedWithPyIcebergRest(opts: PyIcebergRestReadOptions): Promise<ReadResult> {
  const args = ['read', '--reader', 'pyiceberg', '--rest-uri', opts.uri, '--table', opts.table,
    ...propertyArgs(opts.properties), ...timeTravelArgs(opts)];
  if (opts.filter !== undefined) args.push('--filter', opts.filter);
  return toReadResult(await verify(args, `PyIceberg reading ${opts.table} from the REST catalog at ${opts.uri}`));
}

/** Sorted canonical rows as PyIceberg reads them through the REST catalog. */
export async function readWithPyIcebergRest(opts: PyIcebergRestReadOptions): Promise<string[]> {
  return (await readDetailedWithPyIcebergRest(opts)).rows;
}

/**
 * Sorted canonical rows as DuckDB reads them when ATTACHed to the REST catalog (DuckDB's own REST
 * client; table files from MinIO through httpfs, configured from the s3.* properties). Current snapshot.
 */
export async function readWithDuckDBRest(opts: Omit<PyIcebergRestReadOptions, 'filter' | 'snapshotId' | 'asOfMs'>): Promise<string[]> {
  const args = ['read', '--reader', 'duckdb', '--rest-uri', opts.uri, '--table', opts.table, ...propertyArgs(opts.properties)];
  return toReadResult(await verify(args, `DuckDB reading ${opts.table} from the REST catalog at ${opts.uri}`)).rows;
}

/** Where PyIceberg's GlueCatalog finds a table: the Glue endpoint (moto) and its properties (glue.region, keys, s3.*). */
export interface PyIcebergGlueReadOptions extends TimeTravel {
  endpoint: string;
  /** `db.table`. */
  table: string;
  properties?: Record<string, string>;
}

/** Sorted canonical rows as PyIceberg reads them through its GlueCatalog (boto3 → load_table → scan). */
export async function readWithPyIcebergGlue(opts: PyIcebergGlueReadOptions): Promise<string[]> {
  const args = ['read', '--reader', 'pyiceberg', '--glue-endpoint', opts.endpoint, '--table', opts.table,
    ...propertyArgs(opts.properties), ...timeTravelArgs(opts)];
  return toReadResult(await verify(args, `PyIceberg reading ${opts.table} from the Glue catalog at ${opts.endpoint}`)).rows;
}

/** Sorted canonical rows as DuckDB's iceberg extension reads them. */
export async function readWithDuckDB(opts: DuckDBReadOptions): Promise<string[]> {
  return (await readDetailedWithDuckDB(opts)).rows;
}

/** What PyIceberg sees of one data or delete file of the current snapshot. Counts are strings (longs). */
export interface PyIcebergDataFile {
  content: 'data' | 'position_deletes' | 'equality_deletes';
  file_path: string;
  file_format: string;
  spec_id: number;
  /** Partition values by partition field name, canonical encoding of the transform's result type. */
  partition: Record<string, Canonical>;
  record_count: string;
  file_size_in_bytes: string;
  status: 'existing' | 'added';
  snapshot_id: string | null;
  sequence_number: string | null;
  /** Keyed by field id. Bounds are decoded and canonical; `{undecoded: hex}` where PyIceberg could not. */
  value_counts: Record<string, string> | null;
  null_value_counts: Record<string, string> | null;
  nan_value_counts: Record<string, string> | null;
  lower_bounds: Record<string, Canonical | { undecoded: string }> | null;
  upper_bounds: Record<string, Canonical | { undecoded: string }> | null;
}

export interface PyIcebergSnapshot {
  snapshot_id: string;
  parent_snapshot_id: string | null;
  sequence_number: string | null;
  timestamp_ms: string;
  schema_id: number | null;
  manifest_list: string;
  operation: string | null;
  /** Summary properties other than `operation`. */
  summary: Record<string, string>;
}

/** PyIceberg's view of the table metadata; schema, specs and sort order are in Iceberg JSON form. */
export interface PyIcebergMetadata {
  metadata_location: string;
  format_version: number;
  table_uuid: string;
  location: string;
  /** null in a format v1 table. */
  last_sequence_number: string | null;
  properties: Record<string, string>;
  schema: Record<string, unknown>;
  schemas: Record<string, unknown>[];
  spec: { 'spec-id': number; fields: { 'source-id': number; 'field-id': number; transform: string; name: string }[] };
  specs: Record<string, unknown>[];
  sort_order: Record<string, unknown> | null;
  current_snapshot_id: string | null;
  snapshots: PyIcebergSnapshot[];
  refs: Record<string, { snapshot_id: string; type: 'branch' | 'tag' }>;
  /** Live files of the current snapshot, sorted by path. */
  data_files: PyIcebergDataFile[];
}

/** Metadata as PyIceberg loads it, through the catalog or straight from a metadata file. */
export async function pyicebergMetadata(opts: CatalogTableRef | { metadata: string }): Promise<PyIcebergMetadata> {
  const args = ['metadata', '--reader', 'pyiceberg'];
  let what: string;
  if ('metadata' in opts) {
    args.push('--metadata', opts.metadata.startsWith('file://') ? fileURLToPath(opts.metadata) : opts.metadata);
    what = `PyIceberg loading ${opts.metadata}`;
  } else {
    args.push(...catalogArgs(opts));
    what = `PyIceberg loading ${opts.table}`;
  }
  return (await verify(args, what)) as PyIcebergMetadata;
}

/** Metadata as PyIceberg loads it through an Iceberg REST catalog. */
export async function pyicebergMetadataRest(opts: Pick<PyIcebergRestReadOptions, 'uri' | 'table' | 'properties'>): Promise<PyIcebergMetadata> {
  const args = ['metadata', '--reader', 'pyiceberg', '--rest-uri', opts.uri, '--table', opts.table, ...propertyArgs(opts.properties)];
  return (await verify(args, `PyIceberg loading ${opts.table} from the REST catalog at ${opts.uri}`)) as PyIcebergMetadata;
}

export interface PartitionFieldInput {
  /** Source column name (dotted for nested fields) or field id. */
  source: string | number;
  /** Iceberg transform string: identity, bucket[16], truncate[4], year, month, day, hour, void. */
  transform: string;
  name?: string;
}

export interface PyIcebergWriteOptions extends CatalogTableRef {
  /** Used when PyIceberg creates the table; note PyIceberg re-assigns field ids on create. */
  schema: Schema;
  partition?: PartitionFieldInput[];
  /** Rows in our in-memory representation (iceberg/spec/types.ts), keyed by top-level column name. */
  rows: Record<string, unknown>[];
  mode?: 'append' | 'overwrite';
  formatVersion?: 1 | 2;
  /**
   * Table properties when PyIceberg creates the table. PyIceberg cannot compute column stats for
   * dates/timestamps outside years 1..9999 (OverflowError): use `write.metadata.metrics.default: 'none'`.
   */
  properties?: Record<string, string>;
}

export interface PyIcebergWriteResult {
  created: boolean;
  snapshotId: string | null;
  metadataLocation: string;
  /** The table schema after the write, Iceberg JSON form (field ids as PyIceberg assigned them). */
  schema: Record<string, unknown>;
  spec: Record<string, unknown>;
  rowsWritten: number;
}

/**
 * PyIceberg creates the namespace and table if missing and appends (or overwrites with) the rows:
 * the reverse direction, a table written by someone else for our planner to read.
 */
export async function writeWithPyIceberg(opts: PyIcebergWriteOptions): Promise<PyIcebergWriteResult> {
  const dir = await mkdtemp(join(tmpdir(), 'lakehouse-pywrite-'));
  try {
    const schemaFile = join(dir, 'schema.json');
    const rowsFile = join(dir, 'rows.ndjson');
    await writeFile(schemaFile, JSON.stringify(opts.schema.toJSON()));
    await writeFile(rowsFile, opts.rows.map((r) => JSON.stringify(canonicalRow(opts.schema, r)) + '\n').join(''));
    const args = ['write', ...catalogArgs(opts), '--schema', schemaFile, '--rows', rowsFile,
      '--mode', opts.mode ?? 'append', '--format-version', String(opts.formatVersion ?? 2)];
    if (opts.partition !== undefined) args.push('--partition', JSON.stringify(opts.partition));
    for (const [k, v] of Object.entries(opts.properties ?? {})) args.push('--property', `${k}=${v}`);
    const r = (await verify(args, `PyIceberg writing ${opts.table}`)) as {
      created: boolean; snapshot_id: string | null; metadata_location: string;
      schema: Record<string, unknown>; spec: Record<string, unknown>; rows_written: number;
    };
    return {
      created: r.created, snapshotId: r.snapshot_id, metadataLocation: r.metadata_location,
      schema: r.schema, spec: r.spec, rowsWritten: r.rows_written,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
