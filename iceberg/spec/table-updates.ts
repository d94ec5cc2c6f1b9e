import { LakehouseError } from '../../core/errors.ts';
import { partitionSpecFromJson, partitionSpecToJson, type PartitionSpec } from './partition-spec.ts';
import { Schema } from './schema.ts';
import { sortOrderFromJson, sortOrderToJson, type SortOrder } from './sort-order.ts';
import {
  snapshotFromJson, snapshotRefFromJson, snapshotRefToJson, snapshotToJson, type Snapshot, type SnapshotRef,
} from './table-metadata.ts';

/**
 * Metadata changes as data (after iceberg-rust `ActionCommit { updates, requirements }`):
 * an operation returns the updates it wants and the requirements it relies on; a catalog checks the
 * requirements against its current metadata and applies the updates (`table-metadata-builder.ts`),
 * or sends both to a REST catalog. The JSON shapes are the REST OpenAPI `TableUpdate` and
 * `TableRequirement` schemas.
 */
export type TableUpdate =
  | { action: 'assign-uuid'; uuid: string }
  | { action: 'upgrade-format-version'; formatVersion: number }
  /** `lastColumnId` is deprecated in the REST spec; when absent the applier computes it. */
  | { action: 'add-schema'; schema: Schema; lastColumnId?: number }
  /** -1 = the schema added by this commit (REST "last added"). */
  | { action: 'set-current-schema'; schemaId: number }
  | { action: 'add-spec'; spec: PartitionSpec }
  /** -1 = the spec added by this commit. */
  | { action: 'set-default-spec'; specId: number }
  | { action: 'add-sort-order'; sortOrder: SortOrder }
  /** -1 = the sort order added by this commit. */
  | { action: 'set-default-sort-order'; sortOrderId: number }
  | { action: 'add-snapshot'; snapshot: Snapshot }
  | { action: 'set-snapshot-ref'; refName: string; ref: SnapshotRef }
  | { action: 'remove-snapshots'; snapshotIds: bigint[] }
  | { action: 'remove-snapshot-ref'; refName: string }
  | { action: 'set-location'; location: string }
  | { action: 'set-properties'; updates: Record<string, string> }
  | { action: 'remove-properties'; removals: string[] };

export type TableRequirement =
  | { type: 'assert-create' }
  | { type: 'assert-table-uuid'; uuid: string }
  /** `snapshotId: null` = the ref must not exist (a new table's main, a new branch). */
  | { type: 'assert-ref-snapshot-id'; ref: string; snapshotId: bigint | null }
  | { type: 'assert-last-assigned-field-id'; lastAssignedFieldId: number }
  | { type: 'assert-current-schema-id'; currentSchemaId: number }
  | { type: 'assert-last-assigned-partition-id'; lastAssignedPartitionId: number }
  | { type: 'assert-default-spec-id'; defaultSpecId: number }
  | { type: 'assert-default-sort-order-id'; defaultSortOrderId: number };

export type TableUpdateAction = TableUpdate['action'];
export type TableRequirementType = TableRequirement['type'];

export function updateToJson(u: TableUpdate): Record<string, unknown> {
  switch (u.action) {
    case 'assign-uuid': return { action: u.action, uuid: u.uuid };
    case 'upgrade-format-version': return { action: u.action, 'format-version': u.formatVersion };
    case 'add-schema': {
      const out: Record<string, unknown> = { action: u.action, schema: u.schema.toJSON() };
      if (u.lastColumnId !== undefined) out['last-column-id'] = u.lastColumnId;
      return out;
    }
    case 'set-current-schema': return { action: u.action, 'schema-id': u.schemaId };
    case 'add-spec': return { action: u.action, spec: partitionSpecToJson(u.spec) };
    case 'set-default-spec': return { action: u.action, 'spec-id': u.specId };
    case 'add-sort-order': return { action: u.action, 'sort-order': sortOrderToJson(u.sortOrder) };
    case 'set-default-sort-order': return { action: u.action, 'sort-order-id': u.sortOrderId };
    case 'add-snapshot': return { action: u.action, snapshot: snapshotToJson(u.snapshot) };
    // SetSnapshotRefUpdate is allOf(BaseUpdate, SnapshotReference): the ref's fields sit at top level.
    case 'set-snapshot-ref': return { action: u.action, 'ref-name': u.refName, ...snapshotRefToJson(u.ref) };
    case 'remove-snapshots': return { action: u.action, 'snapshot-ids': [...u.snapshotIds] };
    case 'remove-snapshot-ref': return { action: u.action, 'ref-name': u.refName };
    case 'set-location': return { action: u.action, location: u.location };
    case 'set-properties': return { action: u.action, updates: { ...u.updates } };
    case 'remove-properties': return { action: u.action, removals: [...u.removals] };
  }
}

type Obj = Record<string, unknown>;

function bad(message: string): never {
  throw new LakehouseError('INVALID_ARGUMENT', message);
}

function field(o: Obj, key: string, what: string): unknown {
  if (o[key] === undefined) bad(`${what} is missing required field "${key}".`);
  return o[key];
}

function intField(o: Obj, key: string, what: string): number {
  const v = field(o, key, what);
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(`${what} field "${key}" must be an integer, got ${JSON.stringify(String(v))}.`);
  return v;
}

function strField(o: Obj, key: string, what: string): string {
  const v = field(o, key, what);
  if (typeof v !== 'string') bad(`${what} field "${key}" must be a string, got ${JSON.stringify(String(v))}.`);
  return v;
}

function longOrNull(v: unknown, what: string): bigint | null {
  if (v === null) return null;
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v))) return BigInt(v);
  return bad(`${what} must be an integer or null, got ${JSON.stringify(String(v))}.`);
}

function objectOf(j: unknown, what: string): Obj {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) bad(`${what} must be a JSON object.`);
  return j as Obj;
}

/** Reads one REST `TableUpdate`; actions this project does not apply are UNSUPPORTED. */
export function updateFromJson(j: unknown): TableUpdate {
  const o = objectOf(j, 'A table update');
  const action = strField(o, 'action', 'A table update');
  const w = `Table update "${action}"`;
  switch (action) {
    case 'assign-uuid': return { action, uuid: strField(o, 'uuid', w) };
    case 'upgrade-format-version': return { action, formatVersion: intField(o, 'format-version', w) };
    case 'add-schema': {
      const u: TableUpdate = { action, schema: Schema.fromJSON(field(o, 'schema', w)) };
      if (o['last-column-id'] !== undefined && o['last-column-id'] !== null) u.lastColumnId = intField(o, 'last-column-id', w);
      return u;
    }
    case 'set-current-schema': return { action, schemaId: intField(o, 'schema-id', w) };
    case 'add-spec': return { action, spec: partitionSpecFromJson(field(o, 'spec', w)) };
    case 'set-default-spec': return { action, specId: intField(o, 'spec-id', w) };
    case 'add-sort-order': return { action, sortOrder: sortOrderFromJson(field(o, 'sort-order', w)) };
    case 'set-default-sort-order': return { action, sortOrderId: intField(o, 'sort-order-id', w) };
    case 'add-snapshot': return { action, snapshot: snapshotFromJson(field(o, 'snapshot', w)) };
    case 'set-snapshot-ref': {
      const refName = strField(o, 'ref-name', w);
      return { action, refName, ref: snapshotRefFromJson(o, refName) };
    }
    case 'remove-snapshots': {
      const ids = field(o, 'snapshot-ids', w);
      if (!Array.isArray(ids)) bad(`${w} field "snapshot-ids" must be a list.`);
      return {
        action,
        snapshotIds: ids.map((x) => longOrNull(x, `${w} snapshot id`) ?? bad(`${w} field "snapshot-ids" must not contain null.`)),
      };
    }
    case 'remove-snapshot-ref': return { action, refName: strField(o, 'ref-name', w) };
    case 'set-location': return { action, location: strField(o, 'location', w) };
    case 'set-properties': {
      const updates = objectOf(field(o, 'updates', w), `${w} field "updates"`);
      for (const [k, v] of Object.entries(updates)) if (typeof v !== 'string') bad(`${w} property "${k}" must be a string.`);
      return { action, updates: { ...(updates as Record<string, string>) } };
    }
    case 'remove-properties': {
      const removals = field(o, 'removals', w);
      if (!Array.isArray(removals) || removals.some((x) => typeof x !== 'string')) bad(`${w} field "removals" must be a list of strings.`);
      return { action, removals: [...(removals as string[])] };
    }
    default:
      throw new LakehouseError('UNSUPPORTED', `Table update action "${action}" is not supported by lakehouse; supported actions are assign-uuid, upgrade-format-version, add-schema, set-current-schema, add-spec, set-default-spec, add-sort-order, set-default-sort-order, add-snapshot, set-snapshot-ref, remove-snapshots, remove-snapshot-ref, set-location, set-properties and remove-properties.`);
  }
}

export function requirementToJson(r: TableRequirement): Record<string, unknown> {
  switch (r.type) {
    case 'assert-create': return { type: r.type };
    case 'assert-table-uuid': return { type: r.type, uuid: r.uuid };
    // The OpenAPI makes "snapshot-id" required even when null (null = the ref must not exist).
    case 'assert-ref-snapshot-id': return { type: r.type, ref: r.ref, 'snapshot-id': r.snapshotId };
    case 'assert-last-assigned-field-id': return { type: r.type, 'last-assigned-field-id': r.lastAssignedFieldId };
    case 'assert-current-schema-id': return { type: r.type, 'current-schema-id': r.currentSchemaId };
    case 'assert-last-assigned-partition-id': return { type: r.type, 'last-assigned-partition-id': r.lastAssignedPartitionId };
    case 'assert-default-spec-id': return { type: r.type, 'default-spec-id': r.defaultSpecId };
    case 'assert-default-sort-order-id': return { type: r.type, 'default-sort-order-id': r.defaultSortOrderId };
  }
}

export function requirementFromJson(j: unknown): TableRequirement {
  const o = objectOf(j, 'A table requirement');
  const type = strField(o, 'type', 'A table requirement');
  const w = `Table requirement "${type}"`;
  switch (type) {
    case 'assert-create': return { type };
    case 'assert-table-uuid': return { type, uuid: strField(o, 'uuid', w) };
    case 'assert-ref-snapshot-id':
      // PyIceberg reads a missing snapshot-id as null; accept that too.
      return { type, ref: strField(o, 'ref', w), snapshotId: longOrNull(o['snapshot-id'] ?? null, `${w} field "snapshot-id"`) };
    case 'assert-last-assigned-field-id': return { type, lastAssignedFieldId: intField(o, 'last-assigned-field-id', w) };
    case 'assert-current-schema-id': return { type, currentSchemaId: intField(o, 'current-schema-id', w) };
    case 'assert-last-assigned-partition-id': return { type, lastAssignedPartitionId: intField(o, 'last-assigned-partition-id', w) };
    case 'assert-default-spec-id': return { type, defaultSpecId: intField(o, 'default-spec-id', w) };
    case 'assert-default-sort-order-id': return { type, defaultSortOrderId: intField(o, 'default-sort-order-id', w) };
    default:
      throw new LakehouseError('UNSUPPORTED', `Table requirement type "${type}" is not supported by lakehouse.`);
  }
}

/** What a requirement demands, as a clause for commit-conflict messages. */
export function describeRequirement(r: TableRequirement): string {
  switch (r.type) {
    case 'assert-create': return 'the table must not exist yet';
    case 'assert-table-uuid': return `the table uuid must be ${r.uuid}`;
    case 'assert-ref-snapshot-id':
      return r.snapshotId === null
        ? `branch or tag "${r.ref}" must not exist yet`
        : `branch or tag "${r.ref}" must point at snapshot ${r.snapshotId}`;
    case 'assert-last-assigned-field-id': return `the last assigned column id must be ${r.lastAssignedFieldId}`;
    case 'assert-current-schema-id': return `the current schema id must be ${r.currentSchemaId}`;
    case 'assert-last-assigned-partition-id': return `the last assigned partition field id must be ${r.lastAssignedPartitionId}`;
    case 'assert-default-spec-id': return `the default partition spec id must be ${r.defaultSpecId}`;
    case 'assert-default-sort-order-id': return `the default sort order id must be ${r.defaultSortOrderId}`;
  }
}
