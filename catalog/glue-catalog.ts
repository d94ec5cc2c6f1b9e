import {
  CreateDatabaseCommand,
  CreateTableCommand,
  DeleteDatabaseCommand,
  DeleteTableCommand,
  GetDatabaseCommand,
  GetDatabasesCommand,
  GetTableCommand,
  GetTablesCommand,
  GlueClient,
  UpdateDatabaseCommand,
  UpdateTableCommand,
  type Column,
  type Database,
  type DatabaseInput,
  type Table as GlueTable,
  type TableInput,
} from '@aws-sdk/client-glue';
import * as path from 'node:path';
import { identifierToString, type LoadedTable, type Namespace, type TableIdentifier, readTableMetadata, type TableMetadata, checkRequirements, type TableRequirement, type TableUpdate, isPrimitive, type IcebergType, type NestedField, CommitConflictError, CommitStateUnknownError } from '../iceberg/index.ts';
import { type FileIO, isLocalLocation, toFileUri, CLIENT_REGION, resolveFileIO, classifyS3Error } from '../iceberg/io/index.ts';
import { LakehouseError, errorMessage, type ErrorCode } from '../core/errors.ts';
import { withRetry, type RetryOptions } from '../core/retry.ts';
import { purgeDroppedTable, writeNewTableMetadata, writeNextMetadata, type Catalog, type CreateTableOptions, type DropTableOptions, type PropertiesUpdateSummary } from './catalog.ts';

/**
 * An Iceberg catalog on AWS Glue (or a Glue-compatible endpoint such as moto), laid out as Java's
 * `GlueCatalog` and PyIceberg's `glue.py` do, so Athena, EMR, Spark and PyIceberg see the same tables.
 * The only file that imports `@aws-sdk/client-glue` (STYLE habit 8).
 *
 * - A namespace is a Glue database: one level only. Namespace properties are the database's
 *   Parameters, except `location` (LocationUri) and `Description` (Description), as PyIceberg maps them.
 * - An Iceberg table is a Glue table with TableType EXTERNAL_TABLE and the Parameters `table_type`
 *   = ICEBERG (compared case-insensitively), `metadata_location` and `previous_metadata_location`.
 *   Its StorageDescriptor carries the table location and columns derived from the schemas
 *   (PyIceberg `_to_columns`), for the Glue and Athena consoles only: readers use the metadata file.
 * - A commit reads the Glue table and its VersionId, builds the next metadata file from the metadata
 *   that table points at, writes it, and calls UpdateTable with that VersionId: Glue refuses the update
 *   with ConcurrentModificationException if anyone changed the table in between (optimistic locking,
 *   Java PR #4166). That refusal is a conflict (nothing landed); a 5xx or a lost connection during
 *   UpdateTable leaves the outcome unknown and the new metadata file is kept.
 *
 * Retries are ours (`withRetry`), not the SDK's (`maxAttempts: 1`), as in S3FileIO: reads are retried
 * on throttling, 5xx and network errors; writes only on throttling, which AWS answers before doing
 * anything. So a ConcurrentModificationException always belongs to our one UpdateTable request and
 * never to a retry of a request that had already landed.
 */

// ---- catalog properties (PyIceberg / Java spelling) ----

export const WAREHOUSE = 'warehouse';
export const GLUE_REGION = 'glue.region';
export const GLUE_ENDPOINT = 'glue.endpoint';
/** The Glue Data Catalog's id: the AWS account id owning it (cross-account catalogs). */
export const GLUE_ID = 'glue.id';
export const GLUE_ACCESS_KEY_ID = 'glue.access-key-id';
export const GLUE_SECRET_ACCESS_KEY = 'glue.secret-access-key';
export const GLUE_SESSION_TOKEN = 'glue.session-token';
/** PyIceberg's fallbacks for every AWS client when the glue.* key is absent. */
export const CLIENT_ACCESS_KEY_ID = 'client.access-key-id';
export const CLIENT_SECRET_ACCESS_KEY = 'client.secret-access-key';
export const CLIENT_SESSION_TOKEN = 'client.session-token';
/**
 * UpdateTable's SkipArchive. Glue otherwise keeps every old table version, and an account has a
 * limit on them that streaming commits reach quickly; Java and PyIceberg default it to true.
 */
export const GLUE_SKIP_ARCHIVE = 'glue.skip-archive';
export const GLUE_SKIP_ARCHIVE_DEFAULT = true;
/** Java's name check (lower-case letters, digits, `_`; Glue lower-cases names and Athena needs them so). */
export const GLUE_SKIP_NAME_VALIDATION = 'glue.skip-name-validation';
export const GLUE_SKIP_NAME_VALIDATION_DEFAULT = false;
/** Retries of a read after throttling, 5xx or a network error (our retry helper, 100 ms .. 5 s). */
export const GLUE_MAX_RETRIES = 'glue.max-retries';
export const GLUE_MAX_RETRIES_DEFAULT = 4;

/** A hung endpoint must not hang a pipeline: connect within 5 s, answer within 60 s. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

// ---- what Glue stores (Java BaseMetastoreTableOperations / IcebergToGlueConverter) ----

export const TABLE_TYPE_PARAM = 'table_type';
export const ICEBERG_TABLE_TYPE = 'ICEBERG';
export const METADATA_LOCATION_PARAM = 'metadata_location';
export const PREVIOUS_METADATA_LOCATION_PARAM = 'previous_metadata_location';
/** Hive's EXTERNAL_TABLE: dropping the entry in Hive-aware engines leaves the files alone. */
export const EXTERNAL_TABLE_TYPE = 'EXTERNAL_TABLE';
export const ICEBERG_FIELD_ID = 'iceberg.field.id';
export const ICEBERG_FIELD_OPTIONAL = 'iceberg.field.optional';
export const ICEBERG_FIELD_CURRENT = 'iceberg.field.current';
/** Namespace properties stored in Database fields rather than Parameters (PyIceberg's keys). */
export const NAMESPACE_LOCATION = 'location';
export const NAMESPACE_DESCRIPTION = 'Description';
/** Java's table property for the Glue table Description. */
export const TABLE_COMMENT = 'comment';

const DATABASE_NAME = /^[a-z0-9_]{1,252}$/;
const TABLE_NAME = /^[a-z0-9_]{1,255}$/;

/** The part of the SDK client this class uses; unit tests pass an object that scripts the answers. */
export interface GlueClientLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  send(command: any): Promise<any>;
  destroy?(): void;
}

export interface GlueCatalogOptions {
  name: string;
  /**
   * Root of default table locations, `<warehouse>/<db>.db/<table>` (the Hive layout Java and PyIceberg
   * use for Glue). May be absent when every database has a LocationUri or tables get explicit locations.
   */
  warehouse?: string;
  /** Default: glue.region / client.region, then AWS_REGION / AWS_DEFAULT_REGION, then the SDK's profile. */
  region?: string;
  /** e.g. `http://127.0.0.1:5000` for moto; default: glue.endpoint, AWS_ENDPOINT_URL_GLUE, AWS_ENDPOINT_URL, AWS. */
  endpoint?: string;
  /** Static credentials; default: glue.* / client.* properties, AWS_* variables, then the SDK default chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Default: glue.id. */
  catalogId?: string;
  /** All catalog properties: glue.* settings above, and s3.* for the FileIO of table files. */
  properties?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** Replaces the FileIO chosen by location scheme (tests, custom stores). */
  io?: FileIO;
  /** A ready client instead of one built from the options (unit tests). */
  client?: GlueClientLike;
  /** Base for a relative warehouse path; default the working directory. */
  cwd?: string;
  /** Replaces the retry wait (unit tests). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The catalog named `name` from flat properties (`warehouse`, `glue.region` or `client.region`,
 * `glue.endpoint`, `glue.id`, `glue.access-key-id`, `glue.secret-access-key`, `glue.session-token`,
 * `s3.*`), the form `loadCatalog` merges from file, environment and flags.
 */
export function createGlueCatalog(name: string, props: Record<string, string>, env: NodeJS.ProcessEnv = process.env): Promise<GlueCatalog> {
  return GlueCatalog.open({ ...glueOptionsFromProperties(props), name, properties: props, env });
}

/** The typed options a set of flat catalog properties stands for (without name, env and properties). */
export function glueOptionsFromProperties(props: Record<string, string>): Omit<GlueCatalogOptions, 'name'> {
  const first = (...keys: string[]) => keys.map((k) => props[k]).find((v) => v !== undefined && v !== '');
  const opts: Omit<GlueCatalogOptions, 'name'> = {};
  const set = <K extends Exclude<keyof GlueCatalogOptions, 'name'>>(key: K, value: GlueCatalogOptions[K] | undefined) => {
    if (value !== undefined) opts[key] = value;
  };
  set('warehouse', first(WAREHOUSE));
  set('region', first(GLUE_REGION, CLIENT_REGION));
  set('endpoint', first(GLUE_ENDPOINT));
  set('catalogId', first(GLUE_ID));
  set('accessKeyId', first(GLUE_ACCESS_KEY_ID, CLIENT_ACCESS_KEY_ID));
  set('secretAccessKey', first(GLUE_SECRET_ACCESS_KEY, CLIENT_SECRET_ACCESS_KEY));
  set('sessionToken', first(GLUE_SESSION_TOKEN, CLIENT_SESSION_TOKEN));
  return opts;
}

export class GlueCatalog implements Catalog {
  readonly name: string;
  /** `file:///abs` or `s3://bucket/prefix`, no trailing slash; undefined when not configured. */
  readonly warehouse: string | undefined;
  /** The endpoint requests go to, for messages: the configured URL or AWS's regional one. */
  readonly endpointLabel: string;
  private readonly glue: GlueClientLike;
  private readonly catalogId: string | undefined;
  private readonly props: Record<string, string>;
  private readonly env: NodeJS.ProcessEnv;
  private readonly ioOverride: FileIO | undefined;
  private readonly ios = new Map<string, FileIO>();
  private readonly cwd: string;
  private readonly skipArchive: boolean;
  private readonly skipNameValidation: boolean;
  private readonly readRetry: RetryOptions;
  private readonly writeRetry: RetryOptions;
  /** Credential values, masked in any server message we repeat. */
  private readonly secrets: string[];

  /** Builds the client; no request is made until the first operation. */
  static async open(options: GlueCatalogOptions): Promise<GlueCatalog> {
    return new GlueCatalog(options);
  }

  private constructor(o: GlueCatalogOptions) {
    if (!o.name) throw new LakehouseError('INVALID_CONFIG', 'A Glue catalog needs a name.');
    this.name = o.name;
    this.props = o.properties ?? {};
    this.env = o.env ?? process.env;
    this.cwd = o.cwd ?? process.cwd();
    this.ioOverride = o.io;
    const pick = (...values: Array<string | undefined>) => values.find((v) => v !== undefined && v !== '');
    const fromProps = glueOptionsFromProperties(this.props);

    const warehouse = pick(o.warehouse, fromProps.warehouse);
    this.warehouse = warehouse === undefined ? undefined : absoluteLocation(warehouse, this.cwd);
    // Fail at start-up, not at the first table, when the warehouse scheme has no FileIO.
    if (this.warehouse !== undefined) this.ioFor(this.warehouse);

    const endpoint = pick(o.endpoint, fromProps.endpoint, this.env.AWS_ENDPOINT_URL_GLUE, this.env.AWS_ENDPOINT_URL);
    if (endpoint !== undefined && !/^https?:\/\/[^/]/i.test(endpoint)) {
      throw new LakehouseError('INVALID_CONFIG', `Catalog '${this.name}': ${GLUE_ENDPOINT} "${endpoint}" is not an http(s) URL; write e.g. http://127.0.0.1:5000.`);
    }
    // A custom endpoint (moto, a proxy) ignores the region but the signer needs one.
    const region = pick(o.region, fromProps.region, this.env.AWS_REGION, this.env.AWS_DEFAULT_REGION) ?? (endpoint ? 'us-east-1' : undefined);
    this.endpointLabel = endpoint ?? (region ? `https://glue.${region}.amazonaws.com` : 'AWS Glue (region from the AWS profile)');
    this.catalogId = pick(o.catalogId, fromProps.catalogId);

    // Keys come as a pair from one source, as in resolveFileIO: an id from one place with a secret
    // from another can never sign correctly.
    const given = o.accessKeyId !== undefined || o.secretAccessKey !== undefined;
    const viaProps = fromProps.accessKeyId !== undefined || fromProps.secretAccessKey !== undefined;
    const fromEnv = {
      accessKeyId: pick(this.env.AWS_ACCESS_KEY_ID),
      secretAccessKey: pick(this.env.AWS_SECRET_ACCESS_KEY),
      sessionToken: pick(this.env.AWS_SESSION_TOKEN),
    };
    // Neither: the SDK's default chain (profile files, SSO, instance roles) finds them at the first call.
    const source = given ? o : viaProps ? fromProps : fromEnv;
    if ((source.accessKeyId === undefined) !== (source.secretAccessKey === undefined)) {
      throw new LakehouseError(
        'INVALID_CONFIG',
        `Catalog '${this.name}' has half of its Glue credentials: give both ${GLUE_ACCESS_KEY_ID} and ${GLUE_SECRET_ACCESS_KEY}, or neither to use the AWS default chain.`,
      );
    }
    this.secrets = [source.accessKeyId, source.secretAccessKey, source.sessionToken].filter((s): s is string => !!s);

    this.skipArchive = boolProperty(this.props, GLUE_SKIP_ARCHIVE, GLUE_SKIP_ARCHIVE_DEFAULT);
    this.skipNameValidation = boolProperty(this.props, GLUE_SKIP_NAME_VALIDATION, GLUE_SKIP_NAME_VALIDATION_DEFAULT);
    const retries = countProperty(this.props, GLUE_MAX_RETRIES, GLUE_MAX_RETRIES_DEFAULT);
    const base = { retries, minWaitMs: 100, maxWaitMs: 5_000, factor: 2, ...(o.sleep ? { sleep: o.sleep } : {}) };
    this.readRetry = { ...base, isRetryable: (e) => classifyGlueError(e).retryable };
    this.writeRetry = { ...base, isRetryable: (e) => classifyGlueError(e).kind === 'throttled' };

    this.glue =
      o.client ??
      new GlueClient({
        ...(endpoint ? { endpoint } : {}),
        ...(region ? { region } : {}),
        ...(source.accessKeyId !== undefined && source.secretAccessKey !== undefined
          ? {
              credentials: {
                accessKeyId: source.accessKeyId,
                secretAccessKey: source.secretAccessKey,
                ...(source.sessionToken ? { sessionToken: source.sessionToken } : {}),
              },
            }
          : {}),
        maxAttempts: 1,
        requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
      });
  }

  // ---- namespaces ----

  async createNamespace(namespace: Namespace, properties: Record<string, string> = {}): Promise<void> {
    const db = this.databaseName(namespace);
    try {
      await this.write(new CreateDatabaseCommand({ ...this.catalog(), DatabaseInput: glueDatabaseInput(db, properties) }));
    } catch (e) {
      if (errorName(e) === 'AlreadyExistsException') {
        throw new LakehouseError('ALREADY_EXISTS', `Namespace ${db} already exists in Glue catalog '${this.name}'.`, { cause: e });
      }
      throw this.failure(e, `create database ${db}`);
    }
  }

  async listNamespaces(parent: Namespace = []): Promise<Namespace[]> {
    if (parent.length > 0) {
      // Databases have no children; a parent that exists simply has none (Java).
      await this.requireDatabase(this.databaseName(parent));
      return [];
    }
    const out: Namespace[] = [];
    let token: string | undefined;
    do {
      const page = await this.read(new GetDatabasesCommand({ ...this.catalog(), ...(token ? { NextToken: token } : {}) }), 'list databases');
      for (const d of (page.DatabaseList ?? []) as Database[]) if (d.Name) out.push([d.Name]);
      token = page.NextToken || undefined;
    } while (token);
    return out.sort((a, b) => compare(a[0]!, b[0]!));
  }

  async loadNamespaceProperties(namespace: Namespace): Promise<Record<string, string>> {
    return namespacePropertiesOf(await this.requireDatabase(this.databaseName(namespace)));
  }

  /**
   * Read-modify-write of the whole database definition (UpdateDatabase replaces it); Glue has no
   * version guard for databases, so two concurrent updates of one database can lose one of them.
   */
  async updateNamespaceProperties(namespace: Namespace, removals: string[], updates: Record<string, string>): Promise<PropertiesUpdateSummary> {
    const db = this.databaseName(namespace);
    const overlap = removals.filter((k) => k in updates);
    if (overlap.length > 0) {
      throw new LakehouseError('INVALID_ARGUMENT', `Properties ${overlap.join(', ')} are both removed and updated; pick one.`);
    }
    const current = namespacePropertiesOf(await this.requireDatabase(db));
    const removed = removals.filter((k) => k in current);
    const missing = removals.filter((k) => !(k in current));
    const next = { ...current, ...updates };
    for (const k of removed) delete next[k];
    try {
      await this.write(new UpdateDatabaseCommand({ ...this.catalog(), Name: db, DatabaseInput: glueDatabaseInput(db, next) }));
    } catch (e) {
      if (errorName(e) === 'EntityNotFoundException') throw this.namespaceNotFound(db, e);
      throw this.failure(e, `update database ${db}`);
    }
    return { removed, updated: Object.keys(updates), missing };
  }

  /**
   * Refuses while the database holds any table, Iceberg or not: Glue's DeleteDatabase would delete
   * every table in it (Java and PyIceberg check the same way).
   */
  async dropNamespace(namespace: Namespace): Promise<void> {
    const db = this.databaseName(namespace);
    await this.requireDatabase(db);
    const page = await this.read(new GetTablesCommand({ ...this.catalog(), DatabaseName: db, MaxResults: 1 }), `list tables of database ${db}`).catch((e: unknown) => {
      throw errorName(e) === 'EntityNotFoundException' ? this.namespaceNotFound(db, e) : e;
    });
    const first = ((page.TableList ?? []) as GlueTable[])[0];
    if (first) {
      const kind = isIcebergGlueTable(first) ? 'Iceberg tables' : `tables that are not Iceberg tables (e.g. ${first.Name})`;
      throw new LakehouseError('NAMESPACE_NOT_EMPTY', `Namespace ${db} is not empty: it still holds ${kind}; drop them first.`);
    }
    try {
      await this.write(new DeleteDatabaseCommand({ ...this.catalog(), Name: db }));
    } catch (e) {
      if (errorName(e) === 'EntityNotFoundException') throw this.namespaceNotFound(db, e);
      throw this.failure(e, `delete database ${db}`);
    }
  }

  async namespaceExists(namespace: Namespace): Promise<boolean> {
    return (await this.findDatabase(this.databaseName(namespace))) !== undefined;
  }

  // ---- tables ----

  async createTable(identifier: TableIdentifier, options: CreateTableOptions): Promise<LoadedTable> {
    const { db, table } = this.names(identifier);
    const database = await this.requireDatabase(db);
    // Any Glue table occupies the name, Iceberg or not; checked before files are written.
    if (await this.findGlueTable(db, table)) throw this.tableExistsError(identifier);

    const location = options.location ? absoluteLocation(options.location, this.cwd) : this.defaultTableLocation(database, table);
    const { metadata, metadataLocation, io } = await writeNewTableMetadata(options, location, (l) => this.ioFor(l));
    await this.createGlueEntry(identifier, icebergTableInput({ name: table, metadata, metadataLocation }), metadataLocation, io);
    return { identifier, metadataLocation, metadata, io };
  }

  async loadTable(identifier: TableIdentifier): Promise<LoadedTable> {
    const glueTable = await this.requireIcebergTable(identifier);
    const metadataLocation = glueTable.Parameters![METADATA_LOCATION_PARAM]!;
    const io = this.ioFor(metadataLocation);
    const metadata = await readTableMetadata(io, metadataLocation);
    return { identifier, metadataLocation, metadata, io };
  }

  /** Iceberg tables only: other Glue tables of the database (Hive, Delta, views) are not listed. */
  async listTables(namespace: Namespace): Promise<TableIdentifier[]> {
    const db = this.databaseName(namespace);
    const names: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.read(new GetTablesCommand({ ...this.catalog(), DatabaseName: db, ...(token ? { NextToken: token } : {}) }), `list tables of database ${db}`);
      } catch (e) {
        if (errorName(e) === 'EntityNotFoundException') throw this.namespaceNotFound(db, e);
        throw e;
      }
      for (const t of (page.TableList ?? []) as GlueTable[]) if (t.Name && isIcebergGlueTable(t)) names.push(t.Name);
      token = page.NextToken || undefined;
    } while (token);
    return names.sort(compare).map((name) => ({ namespace: [db], name }));
  }

  async tableExists(identifier: TableIdentifier): Promise<boolean> {
    const { db, table } = this.names(identifier);
    const t = await this.findGlueTable(db, table);
    return t !== undefined && isIcebergGlueTable(t);
  }

  async dropTable(identifier: TableIdentifier, options: DropTableOptions = {}): Promise<void> {
    const { db, table } = this.names(identifier);
    const glueTable = await this.requireIcebergTable(identifier);
    let last: LoadedTable | undefined;
    if (options.purge) {
      // Read what to purge before the entry goes; an unreadable table is still dropped (Java does the same).
      const metadataLocation = glueTable.Parameters![METADATA_LOCATION_PARAM]!;
      const io = this.ioFor(metadataLocation);
      last = await readTableMetadata(io, metadataLocation).then(
        (metadata) => ({ identifier, metadataLocation, metadata, io }),
        () => undefined,
      );
    }
    try {
      await this.write(new DeleteTableCommand({ ...this.catalog(), DatabaseName: db, Name: table }));
    } catch (e) {
      if (errorName(e) === 'EntityNotFoundException') throw this.tableNotFound(identifier, e);
      throw this.failure(e, `delete table ${db}.${table}`);
    }
    if (!last) return;
    await purgeDroppedTable(`Glue catalog '${this.name}'`, last);
  }

  /**
   * Glue cannot rename: the entry is copied under the new name (same Parameters, so the same metadata
   * file), then the old one is deleted. A commit to the old name between the copy and the delete would
   * be lost, so the old entry is read again after the copy and the rename is undone if it moved. If the
   * delete fails the copy is removed again, unless someone already committed to it.
   */
  async renameTable(from: TableIdentifier, to: TableIdentifier): Promise<void> {
    const src = this.names(from);
    const dst = this.names(to);
    if (src.db === dst.db && src.table === dst.table) return;
    const original = await this.requireIcebergTable(from);
    await this.requireDatabase(dst.db);
    const copy = renamedTableInput(original, dst.table);
    const copiedLocation = original.Parameters![METADATA_LOCATION_PARAM]!;
    try {
      await this.write(new CreateTableCommand({ ...this.catalog(), DatabaseName: dst.db, TableInput: copy }));
    } catch (e) {
      if (errorName(e) === 'AlreadyExistsException') throw this.tableExistsError(to, e);
      if (errorName(e) === 'EntityNotFoundException') throw this.namespaceNotFound(dst.db, e);
      throw this.failure(e, `create table ${dst.db}.${dst.table} (the new name of ${src.db}.${src.table}); check whether it exists before retrying`);
    }

    const undo = async (why: string, code: ErrorCode, cause?: unknown): Promise<never> => {
      // The copy goes again only while it still points where the original did: a commit to it since
      // would otherwise be thrown away. null = could not tell.
      const copyNow = await this.findGlueTable(dst.db, dst.table).catch(() => null);
      let gone = copyNow === undefined;
      if (copyNow && copyNow.Parameters?.[METADATA_LOCATION_PARAM] === copiedLocation) {
        gone = await this.write(new DeleteTableCommand({ ...this.catalog(), DatabaseName: dst.db, Name: dst.table })).then(
          () => true,
          () => false,
        );
      }
      throw new LakehouseError(
        code,
        `Cannot rename ${identifierToString(from)} to ${identifierToString(to)} in Glue catalog '${this.name}': ${why}. ` +
          (gone ? 'Nothing was renamed.' : `The new entry ${identifierToString(to)} may exist as well now; check both names and drop one.`),
        { ...(cause === undefined ? {} : { cause }) },
      );
    };

    const again = await this.findGlueTable(src.db, src.table).catch(() => undefined);
    if (!again) return undo(`${identifierToString(from)} disappeared during the rename`, 'TABLE_NOT_FOUND');
    if (!sameGlueVersion(original, again)) {
      return undo(`${identifierToString(from)} was committed to during the rename; retry`, 'COMMIT_CONFLICT');
    }
    try {
      await this.write(new DeleteTableCommand({ ...this.catalog(), DatabaseName: src.db, Name: src.table }));
    } catch (e) {
      const kind = classifyGlueError(e);
      if (kind.applied === 'maybe' && (await this.findGlueTable(src.db, src.table).catch(() => again)) === undefined) return;
      if (errorName(e) === 'EntityNotFoundException') return undo(`${identifierToString(from)} was dropped during the rename`, 'TABLE_NOT_FOUND', e);
      return undo(`deleting the old entry failed: ${this.failure(e, `delete table ${src.db}.${src.table}`).message}`, 'IO_ERROR', e);
    }
  }

  async registerTable(identifier: TableIdentifier, metadataLocation: string): Promise<LoadedTable> {
    const { db, table } = this.names(identifier);
    await this.requireDatabase(db);
    if (await this.findGlueTable(db, table)) throw this.tableExistsError(identifier);
    // Read first: registering a pointer to a file that is not table metadata would break every reader.
    const io = this.ioFor(metadataLocation);
    const metadata = await readTableMetadata(io, metadataLocation);
    await this.createGlueEntry(identifier, icebergTableInput({ name: table, metadata, metadataLocation }), metadataLocation);
    return { identifier, metadataLocation, metadata, io };
  }

  /**
   * Read the Glue table (metadata location + VersionId), check requirements against the metadata it
   * points at, write the next metadata file, then UpdateTable guarded by the VersionId.
   */
  async commitTable(identifier: TableIdentifier, requirements: TableRequirement[], updates: TableUpdate[]): Promise<LoadedTable> {
    const { db, table } = this.names(identifier);
    const current = await this.requireIcebergTable(identifier);
    const baseLocation = current.Parameters![METADATA_LOCATION_PARAM]!;
    const baseIo = this.ioFor(baseLocation);
    const base = await readTableMetadata(baseIo, baseLocation);
    checkRequirements(base, requirements);
    if (updates.length === 0) return { identifier, metadataLocation: baseLocation, metadata: base, io: baseIo };
    if (!current.VersionId) {
      // Without it UpdateTable cannot refuse a concurrent change and a commit could silently replace another.
      throw new LakehouseError(
        'UNSUPPORTED',
        `Glue endpoint ${this.endpointLabel} returned table ${db}.${table} without a VersionId, so a commit cannot be guarded against concurrent writers; nothing was committed.`,
      );
    }

    const { next, nextLocation, io } = await writeNextMetadata(identifier, base, baseLocation, updates, (l) => this.ioFor(l));

    const input = icebergTableInput({
      name: table,
      metadata: next,
      metadataLocation: nextLocation,
      previousMetadataLocation: baseLocation,
      existing: current,
      previousProperties: base.properties,
    });
    try {
      await this.write(
        new UpdateTableCommand({ ...this.catalog(), DatabaseName: db, TableInput: input, VersionId: current.VersionId, SkipArchive: this.skipArchive }),
      );
    } catch (e) {
      const kind = classifyGlueError(e);
      if (kind.kind === 'concurrent') {
        await io.delete(nextLocation).catch(() => undefined);
        throw new CommitConflictError(
          `Table ${identifierToString(identifier)} was changed by another writer since Glue version ${current.VersionId} (${baseLocation}) was read; nothing was committed. Reload and retry.`,
          { cause: e, context: { expected: baseLocation, versionId: current.VersionId } },
        );
      }
      if (kind.applied === 'maybe') {
        // It may have landed: the file may be referenced now, so it stays.
        throw new CommitStateUnknownError(
          `Commit to ${identifierToString(identifier)} failed during Glue UpdateTable at ${this.endpointLabel} (${this.describe(e)}); it may or may not have landed. ` +
            `Reload the table and look for the snapshot before retrying; ${nextLocation} was kept.`,
          { cause: e },
        );
      }
      await io.delete(nextLocation).catch(() => undefined);
      if (kind.kind === 'not-found') throw this.tableNotFound(identifier, e);
      throw this.failure(e, `update table ${db}.${table} (nothing was committed)`);
    }
    return { identifier, metadataLocation: nextLocation, metadata: next, io };
  }

  async close(): Promise<void> {
    this.glue.destroy?.();
    for (const io of this.ios.values()) (io as { close?: () => void }).close?.();
    this.ios.clear();
  }

  // ---- helpers ----

  private catalog(): { CatalogId?: string } {
    return this.catalogId ? { CatalogId: this.catalogId } : {};
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private read(command: unknown, what: string): Promise<any> {
    return withRetry(() => this.glue.send(command), this.readRetry).catch((e: unknown) => {
      // Expected answers (not found, already exists) are decided by the caller from the raw error.
      if (classifyGlueError(e).kind === 'not-found') throw e;
      throw this.failure(e, what);
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private write(command: unknown): Promise<any> {
    return withRetry(() => this.glue.send(command), this.writeRetry);
  }

  private async findDatabase(db: string): Promise<Database | undefined> {
    try {
      return (await this.read(new GetDatabaseCommand({ ...this.catalog(), Name: db }), `read database ${db}`)).Database as Database;
    } catch (e) {
      if (errorName(e) === 'EntityNotFoundException') return undefined;
      throw e;
    }
  }

  private async requireDatabase(db: string): Promise<Database> {
    const database = await this.findDatabase(db);
    if (!database) throw this.namespaceNotFound(db);
    return database;
  }

  /** The Glue table, or undefined when it or its database does not exist. */
  private async findGlueTable(db: string, table: string): Promise<GlueTable | undefined> {
    try {
      return (await this.read(new GetTableCommand({ ...this.catalog(), DatabaseName: db, Name: table }), `read table ${db}.${table}`)).Table as GlueTable;
    } catch (e) {
      if (errorName(e) === 'EntityNotFoundException') return undefined;
      throw e;
    }
  }

  /** The Glue table if it is an Iceberg table with a metadata location; TABLE_NOT_FOUND otherwise. */
  private async requireIcebergTable(identifier: TableIdentifier): Promise<GlueTable> {
    const { db, table } = this.names(identifier);
    const t = await this.findGlueTable(db, table);
    if (!t) throw this.tableNotFound(identifier);
    if (!isIcebergGlueTable(t)) {
      const type = t.Parameters?.[TABLE_TYPE_PARAM];
      throw new LakehouseError(
        'TABLE_NOT_FOUND',
        `Glue table ${db}.${table} is not an Iceberg table (${TABLE_TYPE_PARAM}=${type === undefined ? 'absent' : JSON.stringify(type)}); this catalog reads only Iceberg tables.`,
        { context: { catalog: this.name, table: `${db}.${table}` } },
      );
    }
    if (!t.Parameters?.[METADATA_LOCATION_PARAM]) {
      throw new LakehouseError(
        'INVALID_METADATA',
        `Glue table ${db}.${table} is marked as Iceberg but has no ${METADATA_LOCATION_PARAM} parameter; drop it and register its metadata file again.`,
      );
    }
    return t;
  }

  /**
   * CreateTable for a metadata file that exists. A refusal removes our file (when we wrote it); an
   * error that may hide a success is settled by reading the entry back, and the file stays unless the
   * entry does not point at it.
   */
  private async createGlueEntry(identifier: TableIdentifier, input: TableInput, metadataLocation: string, ownFile?: FileIO): Promise<void> {
    const { db, table } = this.names(identifier);
    const discard = async () => {
      if (ownFile) await ownFile.delete(metadataLocation).catch(() => undefined);
    };
    try {
      await this.write(new CreateTableCommand({ ...this.catalog(), DatabaseName: db, TableInput: input }));
      return;
    } catch (e) {
      const kind = classifyGlueError(e);
      if (kind.applied === 'maybe') {
        const entry = await this.findGlueTable(db, table).catch(() => null);
        if (entry?.Parameters?.[METADATA_LOCATION_PARAM] === metadataLocation) return;
        if (entry !== null) await discard();
        throw new LakehouseError(
          'IO_ERROR',
          `Creating Glue table ${db}.${table} failed at ${this.endpointLabel} (${this.describe(e)}); ` +
            (entry === null ? `whether it was created is unknown; check before retrying (${metadataLocation} was kept).` : 'it was not created. Retry.'),
          { cause: e, retryable: entry !== null },
        );
      }
      await discard();
      if (kind.kind === 'already-exists') throw this.tableExistsError(identifier, e);
      if (kind.kind === 'not-found') throw this.namespaceNotFound(db, e);
      throw this.failure(e, `create table ${db}.${table}`);
    }
  }

  /** Java and PyIceberg for Glue (the Hive layout): `<LocationUri>/<table>`, else `<warehouse>/<db>.db/<table>`. */
  private defaultTableLocation(database: Database, table: string): string {
    if (database.LocationUri) return `${absoluteLocation(database.LocationUri, this.cwd)}/${table}`;
    if (this.warehouse) return `${this.warehouse}/${database.Name}.db/${table}`;
    throw new LakehouseError(
      'INVALID_CONFIG',
      `Cannot choose a location for table ${database.Name}.${table}: Glue catalog '${this.name}' has no ${WAREHOUSE} and database ${database.Name} has no LocationUri. ` +
        `Set "${WAREHOUSE}" (e.g. s3://bucket/warehouse), give the namespace a "${NAMESPACE_LOCATION}" property, or pass a table location.`,
    );
  }

  /** One FileIO per storage kind, created on first use and shared by every table. */
  private ioFor(location: string): FileIO {
    if (this.ioOverride) return this.ioOverride;
    const kind = isLocalLocation(location) ? 'file' : location.slice(0, location.indexOf(':')).toLowerCase();
    let io = this.ios.get(kind);
    if (!io) {
      io = resolveFileIO(location, this.props, this.env);
      this.ios.set(kind, io);
    }
    return io;
  }

  private databaseName(namespace: Namespace): string {
    if (namespace.length !== 1) {
      throw new LakehouseError(
        'INVALID_ARGUMENT',
        namespace.length === 0
          ? 'A namespace needs a name, e.g. "lakehouse".'
          : `Namespace ${namespace.join('.')} has ${namespace.length} levels, but Glue databases are a single level; use one name such as "${namespace.join('_')}".`,
      );
    }
    const db = namespace[0]!;
    if (!this.skipNameValidation && !DATABASE_NAME.test(db)) {
      throw new LakehouseError(
        'INVALID_ARGUMENT',
        `Namespace "${db}" is not a valid Glue database name: use 1-252 lower-case letters, digits and underscores (Glue lower-cases names; set ${GLUE_SKIP_NAME_VALIDATION}=true to skip this check).`,
      );
    }
    return db;
  }

  private names(identifier: TableIdentifier): { db: string; table: string } {
    const db = this.databaseName(identifier.namespace);
    const table = identifier.name;
    if (!this.skipNameValidation ? !TABLE_NAME.test(table) : table.trim() === '') {
      throw new LakehouseError(
        'INVALID_ARGUMENT',
        `Table name "${table}" in ${identifierToString(identifier)} is not a valid Glue table name: use 1-255 lower-case letters, digits and underscores.`,
      );
    }
    return { db, table };
  }

  /** `Name: message` of an SDK error with credentials masked; auth failures say only their name. */
  private describe(e: unknown): string {
    const c = classifyGlueError(e);
    const name = errorName(e) ?? 'Error';
    if (c.kind === 'auth') return name;
    return `${name}: ${redact(errorMessage(e), this.secrets)}`;
  }

  private failure(e: unknown, what: string): LakehouseError {
    return describeGlueFailure(e, { catalog: this.name, endpoint: this.endpointLabel, what, secrets: this.secrets });
  }

  private namespaceNotFound(db: string, cause?: unknown): LakehouseError {
    return new LakehouseError(
      'NAMESPACE_NOT_FOUND',
      `Namespace ${db} does not exist in Glue catalog '${this.name}' (no such database at ${this.endpointLabel}); create it with \`lakehouse namespaces create ${db}\` or check the name.`,
      { ...(cause === undefined ? {} : { cause }), context: { catalog: this.name, namespace: db } },
    );
  }

  private tableNotFound(identifier: TableIdentifier, cause?: unknown): LakehouseError {
    const id = identifierToString(identifier);
    return new LakehouseError('TABLE_NOT_FOUND', `Table ${id} does not exist in Glue catalog '${this.name}'; create it with \`lakehouse tables create\` or check the name.`, {
      ...(cause === undefined ? {} : { cause }),
      context: { catalog: this.name, table: id },
    });
  }

  private tableExistsError(identifier: TableIdentifier, cause?: unknown): LakehouseError {
    const id = identifierToString(identifier);
    return new LakehouseError('ALREADY_EXISTS', `Table ${id} already exists in Glue catalog '${this.name}'; pick another name or drop it first.`, {
      ...(cause === undefined ? {} : { cause }),
      context: { catalog: this.name, table: id },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Pure mapping between Iceberg and Glue (exported for unit tests)
// ---------------------------------------------------------------------------------------------

/** `table_type` = ICEBERG in any case, as Java and PyIceberg compare it. */
export function isIcebergGlueTable(table: Pick<GlueTable, 'Parameters'>): boolean {
  return (table.Parameters?.[TABLE_TYPE_PARAM] ?? '').toUpperCase() === ICEBERG_TABLE_TYPE;
}

/** The Hive type string Glue and Athena display for an Iceberg type (PyIceberg `_IcebergSchemaToGlueType`). */
export function glueTypeString(t: IcebergType): string {
  if (isPrimitive(t)) {
    switch (t.kind) {
      case 'long':
        return 'bigint';
      case 'time':
      case 'uuid':
        return 'string';
      case 'timestamptz':
        return 'timestamp';
      case 'fixed':
        return 'binary';
      case 'decimal':
        return `decimal(${t.precision},${t.scale})`;
      default:
        // boolean, int, float, double, date, string, timestamp, binary: same name in Hive.
        return t.kind;
    }
  }
  if (t.kind === 'struct') return `struct<${t.fields.map((f) => `${f.name}:${glueTypeString(f.type)}`).join(',')}>`;
  if (t.kind === 'list') return `array<${glueTypeString(t.element)}>`;
  return `map<${glueTypeString(t.key)},${glueTypeString(t.value)}>`;
}

/**
 * Glue columns for the console (PyIceberg `_to_columns`, Java `toColumns`): the current schema's
 * top-level fields first (`iceberg.field.current` true), then fields of older schemas whose name is
 * not taken yet (false). The field's doc is the comment; without one, an existing column's comment of
 * the same name is kept, as Java does, so comments added in the console survive commits.
 */
export function glueColumns(metadata: TableMetadata, existing: Column[] = []): Column[] {
  const comments = new Map<string, string>();
  for (const c of existing) if (c.Name && c.Comment && !comments.has(c.Name)) comments.set(c.Name, c.Comment);
  const out: Column[] = [];
  const seen = new Set<string>();
  const add = (f: NestedField, current: boolean) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    const comment = f.doc || comments.get(f.name);
    out.push({
      Name: f.name,
      Type: glueTypeString(f.type),
      ...(comment ? { Comment: comment } : {}),
      Parameters: { [ICEBERG_FIELD_ID]: String(f.id), [ICEBERG_FIELD_OPTIONAL]: String(!f.required), [ICEBERG_FIELD_CURRENT]: String(current) },
    });
  };
  const current = metadata.schemas.find((s) => s.schemaId === metadata.currentSchemaId);
  for (const f of current?.fields ?? []) add(f, true);
  for (const s of metadata.schemas) if (s.schemaId !== metadata.currentSchemaId) for (const f of s.fields) add(f, false);
  return out;
}

export interface IcebergTableInputArgs {
  name: string;
  metadata: TableMetadata;
  metadataLocation: string;
  previousMetadataLocation?: string;
  /** The Glue table being updated: its other Parameters, Owner and Description are kept. */
  existing?: GlueTable;
  /** Table properties of the metadata being replaced: those no longer set are removed from Parameters. */
  previousProperties?: Record<string, string>;
}

/**
 * The TableInput for an Iceberg table. Table properties are copied into Parameters as PyIceberg does
 * (Athena shows them); the pointer parameters are set last, so a table property can never shadow them.
 */
export function icebergTableInput(a: IcebergTableInputArgs): TableInput {
  const parameters: Record<string, string> = { ...(a.existing?.Parameters ?? {}) };
  for (const k of Object.keys(a.previousProperties ?? {})) if (!(k in a.metadata.properties)) delete parameters[k];
  Object.assign(parameters, a.metadata.properties);
  parameters[TABLE_TYPE_PARAM] = ICEBERG_TABLE_TYPE;
  parameters[METADATA_LOCATION_PARAM] = a.metadataLocation;
  if (a.previousMetadataLocation) parameters[PREVIOUS_METADATA_LOCATION_PARAM] = a.previousMetadataLocation;
  else delete parameters[PREVIOUS_METADATA_LOCATION_PARAM];
  const description = a.metadata.properties[TABLE_COMMENT] ?? a.existing?.Description;
  return {
    Name: a.name,
    TableType: EXTERNAL_TABLE_TYPE,
    ...(a.existing?.Owner ? { Owner: a.existing.Owner } : {}),
    ...(description ? { Description: description } : {}),
    Parameters: parameters,
    StorageDescriptor: { Location: a.metadata.location, Columns: glueColumns(a.metadata, a.existing?.StorageDescriptor?.Columns ?? []) },
  };
}

/** The same entry under another name (Java/PyIceberg rename): the output Table's input fields, renamed. */
export function renamedTableInput(table: GlueTable, name: string): TableInput {
  return {
    Name: name,
    ...(table.TableType ? { TableType: table.TableType } : {}),
    ...(table.Owner ? { Owner: table.Owner } : {}),
    ...(table.Description ? { Description: table.Description } : {}),
    ...(table.Retention !== undefined ? { Retention: table.Retention } : {}),
    ...(table.PartitionKeys ? { PartitionKeys: table.PartitionKeys } : {}),
    ...(table.Parameters ? { Parameters: { ...table.Parameters } } : {}),
    ...(table.StorageDescriptor ? { StorageDescriptor: table.StorageDescriptor } : {}),
  };
}

/** Namespace properties as a DatabaseInput (PyIceberg `_construct_database_input`). */
export function glueDatabaseInput(name: string, properties: Record<string, string>): DatabaseInput {
  const parameters: Record<string, string> = {};
  const input: DatabaseInput = { Name: name };
  for (const [k, v] of Object.entries(properties)) {
    if (k === NAMESPACE_DESCRIPTION) input.Description = v;
    else if (k === NAMESPACE_LOCATION) input.LocationUri = v;
    else parameters[k] = v;
  }
  input.Parameters = parameters;
  return input;
}

/** A database's namespace properties (PyIceberg `load_namespace_properties`). */
export function namespacePropertiesOf(database: Database): Record<string, string> {
  const props: Record<string, string> = { ...(database.Parameters ?? {}) };
  if (database.LocationUri) props[NAMESPACE_LOCATION] = database.LocationUri;
  if (database.Description) props[NAMESPACE_DESCRIPTION] = database.Description;
  return props;
}

/** Same Glue version: VersionId when the endpoint gives one, else the metadata pointer. */
function sameGlueVersion(a: GlueTable, b: GlueTable): boolean {
  if (a.VersionId && b.VersionId) return a.VersionId === b.VersionId;
  return a.Parameters?.[METADATA_LOCATION_PARAM] === b.Parameters?.[METADATA_LOCATION_PARAM];
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export type GlueErrorKind =
  | 'not-found'
  | 'already-exists'
  | 'concurrent'
  | 'invalid-input'
  | 'auth'
  | 'access-denied'
  | 'no-credentials'
  | 'no-region'
  | 'throttled'
  | 'server'
  | 'network'
  | 'unreachable'
  | 'client';

export interface GlueErrorClass {
  kind: GlueErrorKind;
  /** Worth repeating as is (reads): throttling, 5xx, timeouts, connection resets. */
  retryable: boolean;
  /** Whether a failed mutating request may still have been applied: only when no answer was an error from Glue itself. */
  applied: 'no' | 'maybe';
}

/** Names AWS's JSON protocol uses when the signature or the keys are wrong (not when permissions are). */
const AUTH_NAMES = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'InvalidToken',
]);

function errorName(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { name?: unknown; __type?: unknown };
  const name = typeof o.name === 'string' && o.name !== 'Error' ? o.name : typeof o.__type === 'string' ? o.__type : undefined;
  return name?.replace(/^.*#/, '');
}

/**
 * Sorts an SDK or socket error into what to do about it. An answer from Glue with a 4xx status is a
 * definite refusal (nothing was applied); a 5xx, a timeout or a dropped connection may hide a success.
 */
export function classifyGlueError(e: unknown): GlueErrorClass {
  const name = errorName(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const refused = (kind: GlueErrorKind): GlueErrorClass => ({ kind, retryable: false, applied: 'no' });
  switch (name) {
    case 'EntityNotFoundException':
      return refused('not-found');
    case 'AlreadyExistsException':
      return refused('already-exists');
    case 'ConcurrentModificationException':
      return refused('concurrent');
    case 'InvalidInputException':
    case 'ValidationException':
      return refused('invalid-input');
    case 'AccessDeniedException':
      return refused('access-denied');
    case 'CredentialsProviderError':
      return refused('no-credentials');
  }
  if (name && AUTH_NAMES.has(name)) return refused('auth');
  if (/region is missing/i.test(errorMessage(e))) return refused('no-region');
  const transport = classifyS3Error(e);
  switch (transport.kind) {
    case 'throttled':
      // AWS throttles before doing anything.
      return { kind: 'throttled', retryable: true, applied: 'no' };
    case 'server':
      return { kind: 'server', retryable: true, applied: 'maybe' };
    case 'network':
      return { kind: 'network', retryable: true, applied: 'maybe' };
    case 'unreachable':
      // No connection was made, so nothing was sent.
      return { kind: 'unreachable', retryable: false, applied: 'no' };
    case 'access-denied':
      return refused(status === 403 ? 'access-denied' : 'auth');
  }
  if (status !== undefined && status >= 400 && status < 500) return refused('client');
  // No answer from Glue that we understand: whatever it was, it may have been applied.
  return { kind: 'client', retryable: false, applied: 'maybe' };
}

export interface GlueFailureContext {
  catalog: string;
  /** The endpoint URL tried. */
  endpoint: string;
  /** What was attempted, e.g. `read table db.t`. */
  what: string;
  /** Credential values that must not appear in the message. */
  secrets?: string[];
}

/**
 * A sentence for a failed Glue call: what was attempted, where, and how to fix it. Credentials are
 * never repeated; for signature errors not even the server's message is, since some of those echo the
 * access key id from the request.
 */
export function describeGlueFailure(e: unknown, ctx: GlueFailureContext): LakehouseError {
  const c = classifyGlueError(e);
  const name = errorName(e) ?? 'Error';
  const detail = redact(errorMessage(e), ctx.secrets ?? []);
  const at = `Glue catalog '${ctx.catalog}' could not ${ctx.what} at ${ctx.endpoint}`;
  const opts = { cause: e, retryable: c.retryable, context: { catalog: ctx.catalog, endpoint: ctx.endpoint, glueError: name } };
  switch (c.kind) {
    case 'unreachable':
      return new LakehouseError(
        'IO_ERROR',
        `${at}: cannot connect (${(e as { code?: string }).code ?? name}). Check ${GLUE_ENDPOINT} (or the region) and that the service is running.`,
        opts,
      );
    case 'auth':
      return new LakehouseError(
        'INVALID_CONFIG',
        `${at}: the endpoint rejected the credentials (${name}). Check ${GLUE_ACCESS_KEY_ID}, ${GLUE_SECRET_ACCESS_KEY} and ${GLUE_SESSION_TOKEN} (or the AWS_* variables / profile in use).`,
        opts,
      );
    case 'no-credentials':
      return new LakehouseError(
        'INVALID_CONFIG',
        `${at}: no AWS credentials were found. Set ${GLUE_ACCESS_KEY_ID} and ${GLUE_SECRET_ACCESS_KEY}, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile.`,
        opts,
      );
    case 'no-region':
      return new LakehouseError('INVALID_CONFIG', `${at}: no AWS region is configured. Set ${GLUE_REGION} (or AWS_REGION).`, opts);
    case 'access-denied':
      return new LakehouseError('INVALID_CONFIG', `${at}: access denied (${detail}). Grant the identity the Glue permission for this call.`, opts);
    case 'invalid-input':
      return new LakehouseError('INVALID_ARGUMENT', `${at}: Glue rejected the request (${name}: ${detail}).`, opts);
    case 'throttled':
    case 'server':
    case 'network':
      return new LakehouseError('IO_ERROR', `${at}: ${name}: ${detail} (still failing after retries; try again later).`, opts);
    default:
      return new LakehouseError('IO_ERROR', `${at}: ${name}: ${detail}.`, opts);
  }
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}

// ---------------------------------------------------------------------------------------------

/** A warehouse or location without trailing slashes; a local path becomes an absolute `file:///` URI. */
function absoluteLocation(location: string, cwd: string): string {
  const trimmed = location.trim().replace(/\/+$/, '');
  if (!isLocalLocation(trimmed)) return trimmed;
  return toFileUri(/^file:/i.test(trimmed) ? trimmed : path.resolve(cwd, trimmed));
}

function boolProperty(props: Record<string, string>, key: string, dflt: boolean): boolean {
  const v = props[key];
  if (v === undefined || v === '') return dflt;
  const s = v.trim().toLowerCase();
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw new LakehouseError('INVALID_CONFIG', `Property ${key} must be true or false, got "${v}".`);
}

function countProperty(props: Record<string, string>, key: string, dflt: number): number {
  const v = props[key];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new LakehouseError('INVALID_CONFIG', `Property ${key} must be a non-negative integer, got "${v}".`);
  return n;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
