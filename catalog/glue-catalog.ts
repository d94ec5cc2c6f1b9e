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
  type Database,
  type DatabaseInput,
  type Table as GlueTable,
  type TableInput,
} from '@aws-sdk/client-glue';
import { identifierToString, type LoadedTable, type Namespace, type TableIdentifier, readTableMetadata, type TableMetadata } from '../iceberg/index.ts';
import type { FileIO } from '../iceberg/io/index.ts';
import { LakehouseError, errorMessage, type ErrorCode } from '../core/errors.ts';
import { withRetry, type RetryOptions } from '../core/retry.ts';
import {
  byCodePoint,
  namespaceExistsError,
  namespaceNotFoundError,
  tableExistsError,
  tableNotFoundError,
  type Catalog,
  type CreateTableOptions,
  type PropertiesUpdateSummary,
} from './catalog.ts';
import { glueColumns } from './glue-columns.ts';
import { classifyGlueError, describeGlueFailure, errorName } from './glue-errors.ts';
import { GLUE_SKIP_NAME_VALIDATION, firstSet, glueOptionsFromProperties, glueSettings, type GlueCatalogOptions, type GlueClientLike } from './glue-options.ts';
import { PointerCatalog, checkPropertyUpdates, updatedProperties, type MetadataPointer, type NextMetadata, type SwapFailure } from './pointer-catalog.ts';
import { redactSecrets } from './redact.ts';

/**
 * An Iceberg catalog on AWS Glue (or a Glue-compatible endpoint such as moto), laid out as Java's
 * `GlueCatalog` and PyIceberg's `glue.py` do, so Athena, EMR, Spark and PyIceberg see the same tables.
 * Its settings are in glue-options.ts, the schema-to-columns mapping in glue-columns.ts and the error
 * classification in glue-errors.ts; this file and glue-columns.ts (for types) are the only ones that
 * import `@aws-sdk/client-glue`.
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
 *   UpdateTable leaves the outcome unknown and the new metadata file is kept. The steps around the
 *   UpdateTable are PointerCatalog's, shared with the SQL catalog.
 *
 * Retries are ours (`withRetry`), not the SDK's (`maxAttempts: 1`), as in S3FileIO: reads are retried
 * on throttling, 5xx and network errors; writes only on throttling, which AWS answers before doing
 * anything. So a ConcurrentModificationException always belongs to our one UpdateTable request and
 * never to a retry of a request that had already landed.
 */

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
/** Namespace properties stored in Database fields rather than Parameters (PyIceberg's keys). */
export const NAMESPACE_LOCATION = 'location';
export const NAMESPACE_DESCRIPTION = 'Description';
/** Java's table property for the Glue table Description. */
export const TABLE_COMMENT = 'comment';

const DATABASE_NAME = /^[a-z0-9_]{1,252}$/;
const TABLE_NAME = /^[a-z0-9_]{1,255}$/;

/** An Iceberg table's Glue entry, as read for a commit: its VersionId guards the UpdateTable. */
interface GluePointer extends MetadataPointer {
  table: GlueTable;
}

/**
 * The catalog named `name` from flat properties (`warehouse`, `glue.region` or `client.region`,
 * `glue.endpoint`, `glue.id`, `glue.access-key-id`, `glue.secret-access-key`, `glue.session-token`,
 * `s3.*`), the form `loadCatalog` merges from file, environment and flags.
 */
export function createGlueCatalog(name: string, props: Record<string, string>, env: NodeJS.ProcessEnv = process.env): Promise<GlueCatalog> {
  return GlueCatalog.open({ ...glueOptionsFromProperties(props), name, properties: props, env });
}

export class GlueCatalog extends PointerCatalog<GluePointer> implements Catalog {
  /** The endpoint requests go to, for messages: the configured URL or AWS's regional one. */
  readonly endpointLabel: string;
  private readonly glue: GlueClientLike;
  private readonly catalogId: string | undefined;
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
    const properties = o.properties ?? {};
    super({
      name: o.name,
      label: `Glue catalog '${o.name}'`,
      warehouse: firstSet(o.warehouse, glueOptionsFromProperties(properties).warehouse),
      properties,
      env: o.env ?? process.env,
      io: o.io,
      cwd: o.cwd ?? process.cwd(),
    });
    const settings = glueSettings(o, this.props, this.env);
    this.endpointLabel = settings.endpointLabel;
    this.catalogId = settings.catalogId;
    this.secrets = settings.secrets;
    this.skipArchive = settings.skipArchive;
    this.skipNameValidation = settings.skipNameValidation;
    const base = { retries: settings.maxRetries, minWaitMs: 100, maxWaitMs: 5_000, factor: 2, ...(o.sleep ? { sleep: o.sleep } : {}) };
    this.readRetry = { ...base, isRetryable: (e) => classifyGlueError(e).retryable };
    this.writeRetry = { ...base, isRetryable: (e) => classifyGlueError(e).kind === 'throttled' };

    this.glue =
      o.client ??
      new GlueClient({
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        ...(settings.region ? { region: settings.region } : {}),
        ...(settings.credentials ? { credentials: settings.credentials } : {}),
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
      if (errorName(e) === 'AlreadyExistsException') throw namespaceExistsError(this.ref, [db], { cause: e });
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
    return out.sort((a, b) => byCodePoint(a[0]!, b[0]!));
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
    checkPropertyUpdates(removals, updates);
    const current = namespacePropertiesOf(await this.requireDatabase(db));
    const { properties, summary } = updatedProperties(current, removals, updates);
    try {
      await this.write(new UpdateDatabaseCommand({ ...this.catalog(), Name: db, DatabaseInput: glueDatabaseInput(db, properties) }));
    } catch (e) {
      if (errorName(e) === 'EntityNotFoundException') throw this.namespaceNotFound(db, e);
      throw this.failure(e, `update database ${db}`);
    }
    return summary;
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
    if (await this.findGlueTable(db, table)) throw tableExistsError(this.ref, identifier);

    // Java's and PyIceberg's layout for Glue (Hive's): the namespace directory is `<database>.db`.
    const location = options.location
      ? this.normalizeLocation(options.location)
      : this.defaultTableLocation([database.Name ?? db], database.LocationUri, `${database.Name}.db`, table);
    const { metadata, metadataLocation, io } = await this.writeFirstMetadata(options, location);
    await this.createGlueEntry(identifier, icebergTableInput({ name: table, metadata, metadataLocation }), metadataLocation, io);
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
    return names.sort(byCodePoint).map((name) => ({ namespace: [db], name }));
  }

  async tableExists(identifier: TableIdentifier): Promise<boolean> {
    const { db, table } = this.names(identifier);
    const t = await this.findGlueTable(db, table);
    return t !== undefined && isIcebergGlueTable(t);
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
      if (errorName(e) === 'AlreadyExistsException') throw tableExistsError(this.ref, to, { cause: e });
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
        `Cannot rename ${identifierToString(from)} to ${identifierToString(to)} in ${this.ref.label}: ${why}. ` +
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
    if (await this.findGlueTable(db, table)) throw tableExistsError(this.ref, identifier);
    // Read first: registering a pointer to a file that is not table metadata would break every reader.
    const io = this.ioFor(metadataLocation);
    const metadata = await readTableMetadata(io, metadataLocation);
    await this.createGlueEntry(identifier, icebergTableInput({ name: table, metadata, metadataLocation }), metadataLocation);
    return { identifier, metadataLocation, metadata, io };
  }

  // ---- the pointer: the Glue table's metadata_location parameter, guarded by its VersionId ----

  protected async readPointer(identifier: TableIdentifier): Promise<GluePointer> {
    const table = await this.requireIcebergTable(identifier);
    return { table, metadataLocation: table.Parameters![METADATA_LOCATION_PARAM]! };
  }

  protected override checkCommittable(identifier: TableIdentifier, pointer: GluePointer): void {
    if (!pointer.table.VersionId) {
      // Without it UpdateTable cannot refuse a concurrent change and a commit could silently replace another.
      const { db, table } = this.names(identifier);
      throw new LakehouseError(
        'UNSUPPORTED',
        `Glue endpoint ${this.endpointLabel} returned table ${db}.${table} without a VersionId, so a commit cannot be guarded against concurrent writers; nothing was committed.`,
      );
    }
  }

  /**
   * UpdateTable with the VersionId read: Glue refuses it with ConcurrentModificationException if
   * anyone changed the table in between, so it never answers "not swapped" but throws.
   */
  protected async swapPointer(identifier: TableIdentifier, pointer: GluePointer, next: NextMetadata): Promise<boolean> {
    const { db, table } = this.names(identifier);
    const input = icebergTableInput({
      name: table,
      metadata: next.metadata,
      metadataLocation: next.location,
      previousMetadataLocation: pointer.metadataLocation,
      existing: pointer.table,
      previousProperties: next.base.properties,
    });
    await this.write(
      new UpdateTableCommand({ ...this.catalog(), DatabaseName: db, TableInput: input, VersionId: pointer.table.VersionId, SkipArchive: this.skipArchive }),
    );
    return true;
  }

  protected classifySwapFailure(identifier: TableIdentifier, pointer: GluePointer, e: unknown, nextLocation: string): SwapFailure {
    const kind = classifyGlueError(e);
    if (kind.kind === 'concurrent') return { landed: 'no', error: this.commitConflict(identifier, pointer, e) };
    if (kind.applied === 'maybe') {
      const how = `during Glue UpdateTable at ${this.endpointLabel} (${this.describe(e)})`;
      return { landed: 'maybe', error: this.commitStateUnknown(identifier, how, nextLocation, e) };
    }
    if (kind.kind === 'not-found') return { landed: 'no', error: tableNotFoundError(this.ref, identifier, { cause: e }) };
    const { db, table } = this.names(identifier);
    return { landed: 'no', error: this.failure(e, `update table ${db}.${table} (nothing was committed)`) };
  }

  protected override describePointer(pointer: GluePointer): string {
    return `Glue version ${pointer.table.VersionId} (${pointer.metadataLocation})`;
  }

  protected override pointerContext(pointer: GluePointer): Record<string, unknown> {
    return { versionId: pointer.table.VersionId };
  }

  /** Only an Iceberg table's entry: other Glue tables of the database are not this catalog's to drop. */
  protected async deleteEntry(identifier: TableIdentifier): Promise<void> {
    const { db, table } = this.names(identifier);
    await this.requireIcebergTable(identifier);
    try {
      await this.write(new DeleteTableCommand({ ...this.catalog(), DatabaseName: db, Name: table }));
    } catch (e) {
      if (errorName(e) === 'EntityNotFoundException') throw tableNotFoundError(this.ref, identifier, { cause: e });
      throw this.failure(e, `delete table ${db}.${table}`);
    }
  }

  protected async closeStore(): Promise<void> {
    this.glue.destroy?.();
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
    if (!t) throw tableNotFoundError(this.ref, identifier);
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
      if (kind.kind === 'already-exists') throw tableExistsError(this.ref, identifier, { cause: e });
      if (kind.kind === 'not-found') throw this.namespaceNotFound(db, e);
      throw this.failure(e, `create table ${db}.${table}`);
    }
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
    return `${name}: ${redactSecrets(errorMessage(e), this.secrets)}`;
  }

  private failure(e: unknown, what: string): LakehouseError {
    return describeGlueFailure(e, { catalog: this.name, endpoint: this.endpointLabel, what, secrets: this.secrets });
  }

  private namespaceNotFound(db: string, cause?: unknown): LakehouseError {
    return namespaceNotFoundError(this.ref, [db], { cause, where: `no such database at ${this.endpointLabel}` });
  }
}
// ---------------------------------------------------------------------------------------------
// Pure mapping between Iceberg and Glue (exported for unit tests)
// ---------------------------------------------------------------------------------------------

/** `table_type` = ICEBERG in any case, as Java and PyIceberg compare it. */
export function isIcebergGlueTable(table: Pick<GlueTable, 'Parameters'>): boolean {
  return (table.Parameters?.[TABLE_TYPE_PARAM] ?? '').toUpperCase() === ICEBERG_TABLE_TYPE;
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
