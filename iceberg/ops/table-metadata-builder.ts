import { randomUUID } from 'node:crypto';
import { LakehouseError } from '../../core/errors.ts';
import { CommitConflictError } from '../errors.ts';
import { PARTITION_DATA_ID_START, specsCompatible, type PartitionField, type PartitionSpec } from '../spec/partition-spec.ts';
import { Schema, assignFreshIds } from '../spec/schema.ts';
import { UNSORTED, type SortOrder } from '../spec/sort-order.ts';
import { fieldToJson } from '../spec/types.ts';
import {
  currentSchema, defaultSpec, MAIN_BRANCH, refsEqual, snapshotById, sortOrderById, stripTrailingSlash,
  SUPPORTED_FORMAT_VERSIONS, validateTableMetadata,
  type SnapshotLogEntry, type SnapshotRef, type TableMetadata,
} from '../spec/table-metadata.ts';
import {
  FORMAT_VERSION, FORMAT_VERSION_DEFAULT, intProperty, METADATA_PREVIOUS_VERSIONS_MAX, METADATA_PREVIOUS_VERSIONS_MAX_DEFAULT,
} from '../spec/table-properties.ts';
import { describeRequirement, type TableRequirement, type TableUpdate } from '../spec/table-updates.ts';

/**
 * Building table metadata: a new table, checking a commit's requirements, and applying its updates.
 * Behaviour follows Java's TableMetadata.Builder (the reference for what other engines will accept),
 * with the differences noted where they occur.
 */

export interface NewTableOptions {
  /** Field ids are ignored and reassigned 1..N (Java `TypeUtil.assignFreshIds`). */
  schema: Schema;
  /** Source ids refer to `schema` as given; they are remapped by column name. */
  spec?: PartitionSpec;
  sortOrder?: SortOrder;
  location: string;
  properties?: Record<string, string>;
  /** Wins over a `format-version` property; default 2. */
  formatVersion?: 1 | 2;
  tableUuid?: string;
  nowMs?: number;
}

function invalidArgument(message: string): never {
  throw new LakehouseError('INVALID_ARGUMENT', message);
}

/**
 * Metadata for a table that does not exist yet, as Java's `TableMetadata.newTableMetadata` builds it:
 * fresh column ids, spec id 0 with partition field ids from 1000, sort order id 1 (0 when unsorted).
 * The `format-version` property chooses the version and is not stored, as it is reserved in Java.
 */
export function newTableMetadata(opts: NewTableOptions): TableMetadata {
  const properties = { ...(opts.properties ?? {}) };
  const fromProperty = properties[FORMAT_VERSION];
  delete properties[FORMAT_VERSION];
  const formatVersion = opts.formatVersion ?? (fromProperty === undefined ? FORMAT_VERSION_DEFAULT : Number(fromProperty));
  if (!SUPPORTED_FORMAT_VERSIONS.includes(formatVersion)) {
    throw new LakehouseError('UNSUPPORTED', `Table property "${FORMAT_VERSION}" is ${JSON.stringify(String(fromProperty ?? formatVersion))}; lakehouse creates format version 1 or 2 tables.`);
  }
  if (opts.location.trim() === '') invalidArgument('A new table needs a location; got an empty string.');

  const given = opts.schema;
  const fresh = assignFreshIds(given.fields);
  const renumbered = new Schema(fresh.fields);
  const remap = (id: number, what: string): number => {
    const name = given.findColumnName(id);
    if (name === undefined) invalidArgument(`${what} refers to column id ${id}, which is not in the table schema.`);
    return renumbered.field(name).id;
  };
  const freshSchema = new Schema(fresh.fields, 0, given.identifierFieldIds.map((id) => remap(id, 'An identifier field')));

  const spec: PartitionSpec = {
    specId: 0,
    fields: (opts.spec?.fields ?? []).map((f, i): PartitionField => ({
      sourceId: remap(f.sourceId, `Partition field "${f.name}"`),
      fieldId: PARTITION_DATA_ID_START + i,
      name: f.name,
      transform: f.transform,
    })),
  };
  const sortFields = opts.sortOrder?.fields ?? [];
  const sortOrder: SortOrder = sortFields.length === 0
    ? UNSORTED
    : { orderId: 1, fields: sortFields.map((f) => ({ ...f, sourceId: remap(f.sourceId, `Sort field ${f.transform}`) })) };

  return {
    formatVersion: formatVersion as 1 | 2,
    tableUuid: opts.tableUuid ?? randomUUID(),
    location: stripTrailingSlash(opts.location),
    lastSequenceNumber: 0,
    lastUpdatedMs: opts.nowMs ?? Date.now(),
    lastColumnId: fresh.lastId,
    schemas: [freshSchema],
    currentSchemaId: 0,
    partitionSpecs: [spec],
    defaultSpecId: 0,
    // An unpartitioned spec's last assigned id is 999 (Java `PartitionSpec.unpartitioned()`).
    lastPartitionId: PARTITION_DATA_ID_START - 1 + spec.fields.length,
    properties,
    currentSnapshotId: null,
    snapshots: [],
    snapshotLog: [],
    metadataLog: [],
    sortOrders: [sortOrder],
    defaultSortOrderId: sortOrder.orderId,
    refs: {},
    statistics: [],
    partitionStatistics: [],
  };
}

/**
 * The starting point for applying `createTableUpdates` (Java `TableMetadata.buildFromEmpty`): nothing
 * but defaults, not valid on its own until a schema, spec and sort order have been added.
 */
export function emptyTableMetadata(): TableMetadata {
  return {
    formatVersion: 1,
    tableUuid: '',
    location: '',
    lastSequenceNumber: 0,
    lastUpdatedMs: 0,
    lastColumnId: 0,
    schemas: [],
    currentSchemaId: -1,
    partitionSpecs: [],
    defaultSpecId: -1,
    lastPartitionId: PARTITION_DATA_ID_START - 1,
    properties: {},
    currentSnapshotId: null,
    snapshots: [],
    snapshotLog: [],
    metadataLog: [],
    sortOrders: [],
    defaultSortOrderId: -1,
    refs: {},
    statistics: [],
    partitionStatistics: [],
  };
}

/**
 * The updates that build `m` from nothing, in the order Java's REST client sends them for a create
 * (RESTSessionCatalog `createChanges`), followed by any snapshots and refs `m` already has.
 */
export function createTableUpdates(m: TableMetadata): TableUpdate[] {
  const updates: TableUpdate[] = [
    { action: 'assign-uuid', uuid: m.tableUuid },
    { action: 'upgrade-format-version', formatVersion: m.formatVersion },
    { action: 'add-schema', schema: currentSchema(m) },
    { action: 'set-current-schema', schemaId: -1 },
    { action: 'add-spec', spec: defaultSpec(m) },
    { action: 'set-default-spec', specId: -1 },
    { action: 'add-sort-order', sortOrder: sortOrderById(m, m.defaultSortOrderId) },
    { action: 'set-default-sort-order', sortOrderId: -1 },
    { action: 'set-location', location: m.location },
  ];
  if (Object.keys(m.properties).length > 0) updates.push({ action: 'set-properties', updates: { ...m.properties } });
  for (const snapshot of m.snapshots) updates.push({ action: 'add-snapshot', snapshot });
  for (const [refName, ref] of Object.entries(m.refs)) updates.push({ action: 'set-snapshot-ref', refName, ref: { ...ref } });
  return updates;
}

/**
 * A random positive 63-bit snapshot id, the way Java makes them (Appendix F "Assignment of Snapshot
 * IDs"): the two halves of a v4 UUID XORed, masked to Long.MAX_VALUE. Zero is skipped because some
 * readers treat it as "no snapshot".
 */
export function generateSnapshotId(): bigint {
  for (;;) {
    const hex = randomUUID().replace(/-/g, '');
    const id = (BigInt(`0x${hex.slice(0, 16)}`) ^ BigInt(`0x${hex.slice(16)}`)) & 0x7fffffffffffffffn;
    if (id !== 0n) return id;
  }
}

// ---------------------------------------------------------------------------------------------
// Requirements (REST "TableRequirement"; spec "Commit Conflict Resolution and Retry")
// ---------------------------------------------------------------------------------------------

/** What the table actually has, for the second half of a conflict message. */
function found(base: TableMetadata, r: TableRequirement): string | null {
  switch (r.type) {
    case 'assert-create': return 'it already exists';
    case 'assert-table-uuid':
      return base.tableUuid === r.uuid ? null : `it is ${base.tableUuid || 'unset'} (the table was dropped and re-created)`;
    case 'assert-ref-snapshot-id': {
      const ref = base.refs[r.ref];
      if (r.snapshotId === null) return ref ? `it was created concurrently and points at snapshot ${ref.snapshotId}` : null;
      if (!ref) return 'it does not exist';
      return ref.snapshotId === r.snapshotId ? null : `it points at snapshot ${ref.snapshotId}`;
    }
    case 'assert-last-assigned-field-id':
      return base.lastColumnId === r.lastAssignedFieldId ? null : `it is ${base.lastColumnId}`;
    case 'assert-current-schema-id':
      return base.currentSchemaId === r.currentSchemaId ? null : `it is ${base.currentSchemaId}`;
    case 'assert-last-assigned-partition-id':
      return base.lastPartitionId === r.lastAssignedPartitionId ? null : `it is ${base.lastPartitionId}`;
    case 'assert-default-spec-id':
      return base.defaultSpecId === r.defaultSpecId ? null : `it is ${base.defaultSpecId}`;
    case 'assert-default-sort-order-id':
      return base.defaultSortOrderId === r.defaultSortOrderId ? null : `it is ${base.defaultSortOrderId}`;
  }
}

/**
 * Checks a commit's requirements against the catalog's current metadata (`null` = no such table).
 * The first failure is a CommitConflictError: nothing landed, reload and retry.
 */
export function checkRequirements(base: TableMetadata | null, reqs: TableRequirement[]): void {
  for (const r of reqs) {
    const problem = base === null ? (r.type === 'assert-create' ? null : 'the table does not exist') : found(base, r);
    if (problem !== null) {
      throw new CommitConflictError(
        `Commit conflict: ${describeRequirement(r)}, but ${problem}. Another writer changed the table; reload it and retry.`,
        { context: { requirement: r.type } },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------------

export interface ApplyOptions {
  /** The metadata file `base` was read from; recorded in metadata-log (spec "metadata-log"). */
  previousMetadataLocation?: string;
  nowMs?: number;
}

function rejected(message: string): never {
  throw new LakehouseError('VALIDATION_FAILED', `Cannot apply table update: ${message}`);
}

/** Java `Schema.sameSchema`: same fields (docs included) and identifier fields; the id does not count. */
function sameSchema(a: Schema, b: Schema): boolean {
  const key = (s: Schema) => JSON.stringify([s.identifierFieldIds, s.fields.map(fieldToJson)]);
  return key(a) === key(b);
}

function sameOrder(a: SortOrder, b: SortOrder): boolean {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => {
    const g = b.fields[i]!;
    return f.transform === g.transform && f.sourceId === g.sourceId && f.direction === g.direction && f.nullOrder === g.nullOrder;
  });
}

/** Ids added in this commit, for the REST "-1 = last added" convention and the snapshot log. */
interface Context {
  lastAddedSchemaId: number | null;
  lastAddedSpecId: number | null;
  lastAddedOrderId: number | null;
  addedSnapshotIds: Set<bigint>;
  /** Snapshot-log entries appended by this commit for main. */
  appendedLog: SnapshotLogEntry[];
  nowMs: number;
}

/**
 * Applies a commit's updates to `base` and returns new metadata; `base` is not modified. Validation
 * failures are VALIDATION_FAILED, except a snapshot whose sequence number is not newer than the
 * table's, which means another commit landed first: CommitConflictError (Java RetryableValidationException).
 *
 * Differences from Java's builder, each on purpose:
 * - add-schema / add-spec / add-sort-order that match an existing one reuse its id, and "-1" then
 *   refers to it (Java refuses "-1" after a reused schema).
 * - last-sequence-number never goes down (Java sets it to the added snapshot's number).
 * - remove-snapshots ignores ids that are already gone, so a retried expiry is harmless.
 * - every call produces a new version (lastUpdatedMs, metadata-log) even when nothing changed.
 */
export function applyUpdates(base: TableMetadata, updates: TableUpdate[], opts: ApplyOptions = {}): TableMetadata {
  const ctx: Context = {
    lastAddedSchemaId: null, lastAddedSpecId: null, lastAddedOrderId: null,
    addedSnapshotIds: new Set(), appendedLog: [], nowMs: opts.nowMs ?? Date.now(),
  };
  let m: TableMetadata = {
    ...base,
    schemas: [...base.schemas],
    partitionSpecs: [...base.partitionSpecs],
    sortOrders: [...base.sortOrders],
    properties: { ...base.properties },
    snapshots: [...base.snapshots],
    snapshotLog: [...base.snapshotLog],
    metadataLog: [...base.metadataLog],
    refs: { ...base.refs },
    statistics: [...(base.statistics ?? [])],
    partitionStatistics: [...(base.partitionStatistics ?? [])],
  };
  for (const u of updates) m = applyOne(m, u, ctx);

  // Java `intermediateSnapshotIdSet`: when one commit moves main more than once, only the final
  // position is history; the intermediate snapshots were never visible to readers.
  const intermediate = new Set(ctx.appendedLog.filter((e) => e.snapshotId !== m.currentSnapshotId && ctx.addedSnapshotIds.has(e.snapshotId)));
  if (intermediate.size > 0) m.snapshotLog = m.snapshotLog.filter((e) => !intermediate.has(e));

  // A v1 table read without a uuid gets one on its first commit, as Java's SnapshotProducer does.
  if (m.tableUuid === '') m.tableUuid = randomUUID();
  m.lastUpdatedMs = ctx.nowMs;
  if (opts.previousMetadataLocation !== undefined) {
    const max = Math.max(1, intProperty(m.properties, METADATA_PREVIOUS_VERSIONS_MAX, METADATA_PREVIOUS_VERSIONS_MAX_DEFAULT));
    // The entry's time is when the previous file became current: its own last-updated-ms.
    m.metadataLog = [...m.metadataLog, { metadataFile: opts.previousMetadataLocation, timestampMs: base.lastUpdatedMs }].slice(-max);
  }
  validateTableMetadata(m, 'VALIDATION_FAILED');
  return m;
}

function applyOne(m: TableMetadata, u: TableUpdate, ctx: Context): TableMetadata {
  switch (u.action) {
    case 'assign-uuid':
      if (u.uuid.trim() === '') rejected('assign-uuid needs a non-empty uuid.');
      m.tableUuid = u.uuid;
      return m;

    case 'upgrade-format-version':
      if (!SUPPORTED_FORMAT_VERSIONS.includes(u.formatVersion)) {
        throw new LakehouseError('UNSUPPORTED', `Cannot upgrade the table to format version ${u.formatVersion}: lakehouse supports versions 1 and 2.`);
      }
      if (u.formatVersion < m.formatVersion) rejected(`cannot downgrade a v${m.formatVersion} table to v${u.formatVersion}.`);
      m.formatVersion = u.formatVersion as 1 | 2;
      return m;

    case 'add-schema': {
      const highest = u.schema.highestFieldId();
      const lastColumnId = u.lastColumnId ?? Math.max(m.lastColumnId, highest);
      if (lastColumnId < m.lastColumnId) rejected(`last-column-id ${lastColumnId} is lower than the table's ${m.lastColumnId}; column ids must never be reused.`);
      if (lastColumnId < highest) rejected(`last-column-id ${lastColumnId} is lower than the schema's highest field id ${highest}.`);
      const existing = m.schemas.find((s) => sameSchema(s, u.schema));
      let id: number;
      if (existing) {
        id = existing.schemaId;
      } else {
        // Java `reuseOrCreateNewSchemaId`: one more than the highest id; the id the client chose is ignored.
        id = m.schemas.length === 0 ? 0 : Math.max(...m.schemas.map((s) => s.schemaId)) + 1;
        m.schemas = [...m.schemas, u.schema.withSchemaId(id)];
      }
      m.lastColumnId = lastColumnId;
      ctx.lastAddedSchemaId = id;
      return m;
    }

    case 'set-current-schema': {
      const id = u.schemaId === -1 ? ctx.lastAddedSchemaId ?? rejected('set-current-schema -1 means "the schema added by this commit", but no schema was added.') : u.schemaId;
      if (!m.schemas.some((s) => s.schemaId === id)) rejected(`set-current-schema refers to schema ${id}, which does not exist.`);
      m.currentSchemaId = id;
      return m;
    }

    case 'add-spec': {
      const schema = m.schemas.find((s) => s.schemaId === m.currentSchemaId);
      for (const f of u.spec.fields) {
        if (schema && !schema.findField(f.sourceId)) rejected(`partition field "${f.name}" refers to column id ${f.sourceId}, which is not in the current schema.`);
      }
      const existing = m.partitionSpecs.find((s) => specsCompatible(s, u.spec));
      let id: number;
      if (existing) {
        id = existing.specId;
      } else {
        id = m.partitionSpecs.length === 0 ? 0 : Math.max(...m.partitionSpecs.map((s) => s.specId)) + 1;
        m.partitionSpecs = [...m.partitionSpecs, { specId: id, fields: u.spec.fields.map((f) => ({ ...f })) }];
        m.lastPartitionId = Math.max(m.lastPartitionId, ...u.spec.fields.map((f) => f.fieldId));
      }
      ctx.lastAddedSpecId = id;
      return m;
    }

    case 'set-default-spec': {
      const id = u.specId === -1 ? ctx.lastAddedSpecId ?? rejected('set-default-spec -1 means "the spec added by this commit", but no spec was added.') : u.specId;
      if (!m.partitionSpecs.some((s) => s.specId === id)) rejected(`set-default-spec refers to partition spec ${id}, which does not exist.`);
      m.defaultSpecId = id;
      return m;
    }

    case 'add-sort-order': {
      const schema = m.schemas.find((s) => s.schemaId === m.currentSchemaId);
      for (const f of u.sortOrder.fields) {
        if (schema && !schema.findField(f.sourceId)) rejected(`sort field ${f.transform} refers to column id ${f.sourceId}, which is not in the current schema.`);
      }
      let id: number;
      if (u.sortOrder.fields.length === 0) {
        // Order id 0 is reserved for "unsorted" (spec "Sorting").
        id = UNSORTED.orderId;
        if (!m.sortOrders.some((o) => o.orderId === id)) m.sortOrders = [...m.sortOrders, UNSORTED];
      } else {
        const existing = m.sortOrders.find((o) => o.orderId !== 0 && sameOrder(o, u.sortOrder));
        if (existing) {
          id = existing.orderId;
        } else {
          id = Math.max(0, ...m.sortOrders.map((o) => o.orderId)) + 1;
          m.sortOrders = [...m.sortOrders, { orderId: id, fields: u.sortOrder.fields.map((f) => ({ ...f })) }];
        }
      }
      ctx.lastAddedOrderId = id;
      return m;
    }

    case 'set-default-sort-order': {
      const id = u.sortOrderId === -1
        ? ctx.lastAddedOrderId ?? rejected('set-default-sort-order -1 means "the sort order added by this commit", but none was added.')
        : u.sortOrderId;
      if (!m.sortOrders.some((o) => o.orderId === id)) rejected(`set-default-sort-order refers to sort order ${id}, which does not exist.`);
      m.defaultSortOrderId = id;
      return m;
    }

    case 'add-snapshot': {
      const s = u.snapshot;
      if (m.schemas.length === 0 || m.partitionSpecs.length === 0 || m.sortOrders.length === 0) {
        rejected(`snapshot ${s.snapshotId} was added before the table had a schema, a partition spec and a sort order.`);
      }
      if (snapshotById(m, s.snapshotId)) rejected(`snapshot ${s.snapshotId} already exists.`);
      if (m.formatVersion === 1) {
        if (s.sequenceNumber !== 0) rejected(`snapshot ${s.snapshotId} has sequence number ${s.sequenceNumber}, but format v1 tables have no sequence numbers.`);
      } else if (s.sequenceNumber <= m.lastSequenceNumber && s.parentSnapshotId != null) {
        // spec "Sequence Numbers": each commit gets the next number; an older one means another
        // commit landed after this snapshot was built, so the writer must rebase (reassign and retry).
        throw new CommitConflictError(
          `Commit conflict: snapshot ${s.snapshotId} has sequence number ${s.sequenceNumber}, but the table's last sequence number is already ${m.lastSequenceNumber}. Another writer committed first; reload the table and retry.`,
          { context: { snapshotId: s.snapshotId.toString(), sequenceNumber: s.sequenceNumber, lastSequenceNumber: m.lastSequenceNumber } },
        );
      }
      m.snapshots = [...m.snapshots, s];
      m.lastSequenceNumber = Math.max(m.lastSequenceNumber, s.sequenceNumber);
      ctx.addedSnapshotIds.add(s.snapshotId);
      return m;
    }

    case 'set-snapshot-ref': {
      const ref: SnapshotRef = { ...u.ref };
      const existing = m.refs[u.refName];
      if (existing && refsEqual(existing, ref)) return m;
      const snapshot = snapshotById(m, ref.snapshotId);
      if (!snapshot) rejected(`cannot point "${u.refName}" at snapshot ${ref.snapshotId}, which does not exist.`);
      if (u.refName === MAIN_BRANCH && ref.type !== 'branch') rejected(`"${MAIN_BRANCH}" must be a branch, not a tag.`);
      if (u.refName === MAIN_BRANCH) {
        m.currentSnapshotId = ref.snapshotId;
        // Java `setRef`: a new snapshot enters history at its own timestamp; a rollback to an
        // existing one at the time of this change.
        const entry = { snapshotId: ref.snapshotId, timestampMs: ctx.addedSnapshotIds.has(ref.snapshotId) ? snapshot.timestampMs : ctx.nowMs };
        m.snapshotLog = [...m.snapshotLog, entry];
        ctx.appendedLog.push(entry);
      }
      m.refs = { ...m.refs, [u.refName]: ref };
      return m;
    }

    case 'remove-snapshots': {
      const drop = new Set(u.snapshotIds);
      m.snapshots = m.snapshots.filter((s) => !drop.has(s.snapshotId));
      const remaining = new Set(m.snapshots.map((s) => s.snapshotId));
      for (const [name, ref] of Object.entries(m.refs)) {
        if (!remaining.has(ref.snapshotId)) m = applyOne(m, { action: 'remove-snapshot-ref', refName: name }, ctx);
      }
      // spec "snapshot-log": entries before an expired snapshot are removed too, so the log never
      // claims a later snapshot was current during the gap (Java `updateSnapshotLog`).
      const log: SnapshotLogEntry[] = [];
      for (const e of m.snapshotLog) {
        if (remaining.has(e.snapshotId)) log.push(e);
        else log.length = 0;
      }
      m.snapshotLog = log;
      const keepStats = (x: unknown) => {
        const id = (x as Record<string, unknown> | null)?.['snapshot-id'];
        return !((typeof id === 'bigint' || typeof id === 'number') && drop.has(BigInt(id)));
      };
      m.statistics = (m.statistics ?? []).filter(keepStats);
      m.partitionStatistics = (m.partitionStatistics ?? []).filter(keepStats);
      return m;
    }

    case 'remove-snapshot-ref': {
      if (!(u.refName in m.refs)) return m;
      const refs = { ...m.refs };
      delete refs[u.refName];
      m.refs = refs;
      if (u.refName === MAIN_BRANCH) m.currentSnapshotId = null;
      return m;
    }

    case 'set-location':
      if (u.location.trim() === '') rejected('set-location needs a non-empty location.');
      m.location = stripTrailingSlash(u.location);
      return m;

    case 'set-properties':
      m.properties = { ...m.properties, ...u.updates };
      return m;

    case 'remove-properties': {
      const properties = { ...m.properties };
      for (const k of u.removals) delete properties[k];
      m.properties = properties;
      return m;
    }
  }
}
