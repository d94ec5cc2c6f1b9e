import { errorMessage, LakehouseError, type ErrorCode } from '../../core/errors.ts';
import { parseJson, stringifyJson } from '../../core/json.ts';
import { Schema } from './schema.ts';
import type { NestedField } from './types.ts';
import { PARTITION_DATA_ID_START, partitionSpecFromJson, partitionSpecToJson, type PartitionSpec } from './partition-spec.ts';
import { sortOrderFromJson, sortOrderToJson, UNSORTED, type SortOrder } from './sort-order.ts';

/**
 * Table metadata (spec "Table Metadata"), in memory. Field names are the camelCase of the JSON keys.
 * Snapshot ids are bigint because they are random 63-bit longs.
 */
export interface Snapshot {
  snapshotId: bigint;
  parentSnapshotId?: bigint | null;
  /** v2: required; v1 files read as 0. */
  sequenceNumber: number;
  timestampMs: number;
  manifestList: string;
  /** `operation` plus string properties (added-records, total-data-files, ...). */
  summary: Record<string, string> & { operation: SnapshotOperation };
  schemaId?: number | null;
}

export type SnapshotOperation = 'append' | 'replace' | 'overwrite' | 'delete';

export interface SnapshotRef {
  snapshotId: bigint;
  type: 'branch' | 'tag';
  minSnapshotsToKeep?: number | null;
  maxSnapshotAgeMs?: number | null;
  maxRefAgeMs?: number | null;
}

export interface SnapshotLogEntry {
  snapshotId: bigint;
  timestampMs: number;
}

export interface MetadataLogEntry {
  metadataFile: string;
  timestampMs: number;
}

export interface TableMetadata {
  formatVersion: 1 | 2;
  tableUuid: string;
  location: string;
  lastSequenceNumber: number;
  lastUpdatedMs: number;
  lastColumnId: number;
  schemas: Schema[];
  currentSchemaId: number;
  partitionSpecs: PartitionSpec[];
  defaultSpecId: number;
  lastPartitionId: number;
  properties: Record<string, string>;
  currentSnapshotId: bigint | null;
  snapshots: Snapshot[];
  snapshotLog: SnapshotLogEntry[];
  metadataLog: MetadataLogEntry[];
  sortOrders: SortOrder[];
  defaultSortOrderId: number;
  refs: Record<string, SnapshotRef>;
  /** Statistics / partition-statistics files are carried through untouched (JSON as read). */
  statistics?: unknown[];
  partitionStatistics?: unknown[];
}

export const MAIN_BRANCH = 'main';

// ---------------------------------------------------------------------------------------------
// JSON (spec "Appendix C: JSON serialization" → "Table Metadata and Snapshots")
// ---------------------------------------------------------------------------------------------

/** Format versions this project reads and writes; v3 needs row lineage and new types (not yet). */
export const SUPPORTED_FORMAT_VERSIONS: readonly number[] = [1, 2];

type Obj = Record<string, unknown>;

function invalid(message: string): never {
  throw new LakehouseError('INVALID_METADATA', message);
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  return JSON.stringify(v) ?? String(v);
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) invalid(`${what} must be a JSON object, got ${show(v)}.`);
  return v;
}

function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) invalid(`${what} must be a JSON list, got ${show(v)}.`);
  return v;
}

/** `null` counts as missing: the Java parser treats a null required field as absent too. */
function has(o: Obj, key: string): boolean {
  return o[key] !== undefined && o[key] !== null;
}

function req(o: Obj, key: string, owner: string): unknown {
  if (!has(o, key)) invalid(`${owner} is missing required field "${key}".`);
  return o[key];
}

function int(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return invalid(`${what} must be an integer, got ${show(v)}.`);
}

/** Millisecond timestamps and sequence numbers are longs in the spec but stay far below 2^53. */
function longNumber(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'bigint') invalid(`${what} is ${v}, larger than this implementation can hold exactly (2^53).`);
  return invalid(`${what} must be an integer, got ${show(v)}.`);
}

function longId(v: unknown, what: string): bigint {
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v))) return BigInt(v);
  return invalid(`${what} must be an integer, got ${show(v)}.`);
}

function str(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  return invalid(`${what} must be a string, got ${show(v)}.`);
}

function stringMap(v: unknown, what: string): Record<string, string> {
  const o = obj(v, what);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) out[k] = str(x, `${what} "${k}"`);
  return out;
}

/** Re-throws a nested parser's error with the place in the metadata it came from. */
function within<R>(where: string, f: () => R): R {
  try {
    return f();
  } catch (e) {
    if (e instanceof LakehouseError) throw new LakehouseError(e.code, `${where}: ${e.message}`, { cause: e, context: e.context });
    throw new LakehouseError('INVALID_METADATA', `${where}: ${errorMessage(e)}`, { cause: e });
  }
}

export function stripTrailingSlash(location: string): string {
  let end = location.length;
  while (end > 0 && location[end - 1] === '/' && !location.slice(0, end).endsWith('://')) end--;
  return location.slice(0, end);
}

const OPERATIONS: readonly string[] = ['append', 'replace', 'overwrite', 'delete'];

export function snapshotFromJson(j: unknown): Snapshot {
  const o = obj(j, 'A snapshot');
  const id = longId(req(o, 'snapshot-id', 'A snapshot'), 'Snapshot field "snapshot-id"');
  const owner = `Snapshot ${id}`;
  if (!has(o, 'manifest-list')) {
    if (has(o, 'manifests')) {
      throw new LakehouseError('UNSUPPORTED', `${owner} lists its manifests inline ("manifests", a format v1 option) instead of a "manifest-list" file; lakehouse only reads manifest lists. Rewrite the table's manifests with a recent Iceberg release (for example Spark's rewrite_manifests procedure) and try again.`);
    }
    invalid(`${owner} is missing required field "manifest-list".`);
  }
  // Java defaults a summary without an operation to "overwrite", the choice that promises least.
  const summaryJson = has(o, 'summary') ? obj(o.summary, `${owner} field "summary"`) : {};
  const operation = summaryJson.operation === undefined ? 'overwrite' : str(summaryJson.operation, `${owner} summary "operation"`);
  if (!OPERATIONS.includes(operation)) {
    invalid(`${owner} summary "operation" is ${JSON.stringify(operation)}; expected one of ${OPERATIONS.join(', ')}.`);
  }
  const summary = { operation } as Snapshot['summary'];
  for (const [k, v] of Object.entries(summaryJson)) {
    if (k !== 'operation') summary[k] = str(v, `${owner} summary "${k}"`);
  }
  const s: Snapshot = {
    snapshotId: id,
    // spec "Version 2" → reading v1 metadata: a missing sequence-number is 0.
    sequenceNumber: has(o, 'sequence-number') ? longNumber(o['sequence-number'], `${owner} field "sequence-number"`) : 0,
    timestampMs: longNumber(req(o, 'timestamp-ms', owner), `${owner} field "timestamp-ms"`),
    manifestList: str(o['manifest-list'], `${owner} field "manifest-list"`),
    summary,
  };
  if (has(o, 'parent-snapshot-id')) s.parentSnapshotId = longId(o['parent-snapshot-id'], `${owner} field "parent-snapshot-id"`);
  if (has(o, 'schema-id')) s.schemaId = int(o['schema-id'], `${owner} field "schema-id"`);
  return s;
}

/**
 * Snapshot JSON in Java's key order. `sequence-number` is required in v2 and must not be written in
 * v1 (spec "Version 2"); REST updates carry no format version, so by default it is written when
 * positive, as Java's SnapshotParser does.
 */
export function snapshotToJson(s: Snapshot, writeSequenceNumber = s.sequenceNumber > 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (writeSequenceNumber) out['sequence-number'] = s.sequenceNumber;
  out['snapshot-id'] = s.snapshotId;
  if (s.parentSnapshotId !== undefined && s.parentSnapshotId !== null) out['parent-snapshot-id'] = s.parentSnapshotId;
  out['timestamp-ms'] = s.timestampMs;
  const summary: Record<string, string> = { operation: s.summary.operation };
  for (const [k, v] of Object.entries(s.summary)) if (k !== 'operation') summary[k] = v;
  out.summary = summary;
  out['manifest-list'] = s.manifestList;
  if (s.schemaId !== undefined && s.schemaId !== null) out['schema-id'] = s.schemaId;
  return out;
}

/** A snapshot reference; also the body of a REST `set-snapshot-ref` update (minus its name). */
export function snapshotRefFromJson(j: unknown, name: string): SnapshotRef {
  const owner = `Snapshot reference "${name}"`;
  const o = obj(j, owner);
  const type = str(req(o, 'type', owner), `${owner} field "type"`).toLowerCase();
  if (type !== 'branch' && type !== 'tag') invalid(`${owner} field "type" is ${JSON.stringify(type)}; expected "branch" or "tag".`);
  const ref: SnapshotRef = { snapshotId: longId(req(o, 'snapshot-id', owner), `${owner} field "snapshot-id"`), type };
  if (has(o, 'min-snapshots-to-keep')) ref.minSnapshotsToKeep = int(o['min-snapshots-to-keep'], `${owner} field "min-snapshots-to-keep"`);
  if (has(o, 'max-snapshot-age-ms')) ref.maxSnapshotAgeMs = longNumber(o['max-snapshot-age-ms'], `${owner} field "max-snapshot-age-ms"`);
  if (has(o, 'max-ref-age-ms')) ref.maxRefAgeMs = longNumber(o['max-ref-age-ms'], `${owner} field "max-ref-age-ms"`);
  return ref;
}

export function snapshotRefToJson(ref: SnapshotRef): Record<string, unknown> {
  const out: Record<string, unknown> = { 'snapshot-id': ref.snapshotId, type: ref.type };
  if (ref.minSnapshotsToKeep != null) out['min-snapshots-to-keep'] = ref.minSnapshotsToKeep;
  if (ref.maxSnapshotAgeMs != null) out['max-snapshot-age-ms'] = ref.maxSnapshotAgeMs;
  if (ref.maxRefAgeMs != null) out['max-ref-age-ms'] = ref.maxRefAgeMs;
  return out;
}

export function refsEqual(a: SnapshotRef, b: SnapshotRef): boolean {
  return a.snapshotId === b.snapshotId && a.type === b.type
    && (a.minSnapshotsToKeep ?? null) === (b.minSnapshotsToKeep ?? null)
    && (a.maxSnapshotAgeMs ?? null) === (b.maxSnapshotAgeMs ?? null)
    && (a.maxRefAgeMs ?? null) === (b.maxRefAgeMs ?? null);
}

/**
 * Reads v1 and v2 table metadata (spec "Table Metadata Fields"; v1 defaults per "Version 2" →
 * "Reading v1 metadata for v2"). Throws INVALID_METADATA naming the field that is missing or wrong,
 * UNSUPPORTED for format versions above 2 and for v1 snapshots with inline manifest lists.
 */
export function tableMetadataFromJson(j: unknown): TableMetadata {
  const T = 'Table metadata';
  const o = obj(j, T);
  const formatVersion = int(req(o, 'format-version', T), `${T} field "format-version"`);
  if (!SUPPORTED_FORMAT_VERSIONS.includes(formatVersion)) {
    // The spec requires readers to fail on versions they do not know ("format-version").
    throw new LakehouseError('UNSUPPORTED', `Table format version ${formatVersion} is not supported: lakehouse reads and writes format versions 1 and 2.`);
  }
  const v1 = formatVersion === 1;
  const f = (key: string) => `${T} field "${key}"`;

  // v1 tables may lack a uuid; Java assigns one on their next commit, and so does applyUpdates.
  const tableUuid = v1 && !has(o, 'table-uuid') ? '' : str(req(o, 'table-uuid', T), f('table-uuid'));
  const location = stripTrailingSlash(str(req(o, 'location', T), f('location')));
  const lastSequenceNumber = v1 ? 0 : longNumber(req(o, 'last-sequence-number', T), f('last-sequence-number'));
  const lastUpdatedMs = longNumber(req(o, 'last-updated-ms', T), f('last-updated-ms'));
  const lastColumnId = int(req(o, 'last-column-id', T), f('last-column-id'));

  let schemas: Schema[];
  let currentSchemaId: number;
  if (has(o, 'schemas') || !v1) {
    schemas = arr(req(o, 'schemas', T), f('schemas')).map((s, i) => within(`${f('schemas')} entry ${i}`, () => Schema.fromJSON(s)));
    currentSchemaId = int(req(o, 'current-schema-id', T), f('current-schema-id'));
  } else {
    const schema = within(f('schema'), () => Schema.fromJSON(req(o, 'schema', T)));
    schemas = [schema];
    currentSchemaId = schema.schemaId;
  }

  let partitionSpecs: PartitionSpec[];
  let defaultSpecId: number;
  if (has(o, 'partition-specs') || !v1) {
    partitionSpecs = arr(req(o, 'partition-specs', T), f('partition-specs')).map((s, i) =>
      within(`${f('partition-specs')} entry ${i}`, () => partitionSpecFromJson(s)));
    defaultSpecId = int(req(o, 'default-spec-id', T), f('default-spec-id'));
  } else {
    partitionSpecs = [within(f('partition-spec'), () => partitionSpecFromJson(arr(req(o, 'partition-spec', T), f('partition-spec')), 0))];
    defaultSpecId = 0;
  }
  const lastPartitionId = has(o, 'last-partition-id') || !v1
    ? int(req(o, 'last-partition-id', T), f('last-partition-id'))
    : Math.max(PARTITION_DATA_ID_START - 1, ...partitionSpecs.flatMap((s) => s.fields.map((x) => x.fieldId)));

  let sortOrders: SortOrder[];
  let defaultSortOrderId: number;
  if (has(o, 'sort-orders') || !v1) {
    sortOrders = arr(req(o, 'sort-orders', T), f('sort-orders')).map((s, i) => within(`${f('sort-orders')} entry ${i}`, () => sortOrderFromJson(s)));
    defaultSortOrderId = int(req(o, 'default-sort-order-id', T), f('default-sort-order-id'));
  } else {
    sortOrders = [UNSORTED];
    defaultSortOrderId = UNSORTED.orderId;
  }

  const properties = has(o, 'properties') ? stringMap(o.properties, f('properties')) : {};
  // Appendix F: Java writes -1 for "no current snapshot" in v1/v2; -1, null and absent all mean none.
  const rawCurrent = has(o, 'current-snapshot-id') ? longId(o['current-snapshot-id'], f('current-snapshot-id')) : -1n;
  const currentSnapshotId = rawCurrent === -1n ? null : rawCurrent;

  const snapshots = has(o, 'snapshots') ? arr(o.snapshots, f('snapshots')).map(snapshotFromJson) : [];

  const refs: Record<string, SnapshotRef> = {};
  if (has(o, 'refs')) {
    for (const [name, r] of Object.entries(obj(o.refs, f('refs')))) refs[name] = snapshotRefFromJson(r, name);
  }
  // spec "refs": there is always a main branch pointing at current-snapshot-id, even without refs.
  if (currentSnapshotId !== null && refs[MAIN_BRANCH] === undefined) {
    refs[MAIN_BRANCH] = { snapshotId: currentSnapshotId, type: 'branch' };
  }

  const snapshotLog = has(o, 'snapshot-log')
    ? arr(o['snapshot-log'], f('snapshot-log')).map((e, i) => {
      const w = `${f('snapshot-log')} entry ${i}`;
      const x = obj(e, w);
      return { snapshotId: longId(req(x, 'snapshot-id', w), `${w} "snapshot-id"`), timestampMs: longNumber(req(x, 'timestamp-ms', w), `${w} "timestamp-ms"`) };
    })
    : [];
  const metadataLog = has(o, 'metadata-log')
    ? arr(o['metadata-log'], f('metadata-log')).map((e, i) => {
      const w = `${f('metadata-log')} entry ${i}`;
      const x = obj(e, w);
      return { metadataFile: str(req(x, 'metadata-file', w), `${w} "metadata-file"`), timestampMs: longNumber(req(x, 'timestamp-ms', w), `${w} "timestamp-ms"`) };
    })
    : [];

  const m: TableMetadata = {
    formatVersion: formatVersion as 1 | 2,
    tableUuid,
    location,
    lastSequenceNumber,
    lastUpdatedMs,
    lastColumnId,
    schemas,
    currentSchemaId,
    partitionSpecs,
    defaultSpecId,
    lastPartitionId,
    properties,
    currentSnapshotId,
    snapshots,
    snapshotLog,
    metadataLog,
    sortOrders,
    defaultSortOrderId,
    refs,
    statistics: has(o, 'statistics') ? arr(o.statistics, f('statistics')) : [],
    partitionStatistics: has(o, 'partition-statistics') ? arr(o['partition-statistics'], f('partition-statistics')) : [],
  };
  validateTableMetadata(m);
  return m;
}

/**
 * The cross-field rules Java's TableMetadata constructor enforces: the current schema, default spec
 * and default sort order exist; the current snapshot and every ref's snapshot exist; `main` agrees with
 * current-snapshot-id; v2 sequence numbers do not exceed last-sequence-number; v2 has a uuid.
 */
export function validateTableMetadata(m: TableMetadata, code: ErrorCode = 'INVALID_METADATA'): void {
  const fail = (message: string): never => {
    throw new LakehouseError(code, `Table metadata is not valid: ${message}`);
  };
  if (m.formatVersion > 1 && m.tableUuid === '') fail(`format version ${m.formatVersion} requires a "table-uuid".`);
  const list = (ids: number[]) => (ids.length === 0 ? 'none' : ids.join(', '));
  if (!m.schemas.some((s) => s.schemaId === m.currentSchemaId)) {
    fail(`current-schema-id ${m.currentSchemaId} is not one of the schema ids (${list(m.schemas.map((s) => s.schemaId))}).`);
  }
  if (!m.partitionSpecs.some((s) => s.specId === m.defaultSpecId)) {
    fail(`default-spec-id ${m.defaultSpecId} is not one of the partition spec ids (${list(m.partitionSpecs.map((s) => s.specId))}).`);
  }
  if (!m.sortOrders.some((s) => s.orderId === m.defaultSortOrderId)) {
    fail(`default-sort-order-id ${m.defaultSortOrderId} is not one of the sort order ids (${list(m.sortOrders.map((s) => s.orderId))}).`);
  }
  const byId = new Set(m.snapshots.map((s) => s.snapshotId));
  if (m.currentSnapshotId !== null && !byId.has(m.currentSnapshotId)) fail(`current-snapshot-id ${m.currentSnapshotId} is not in the snapshot list.`);
  for (const [name, ref] of Object.entries(m.refs)) {
    if (!byId.has(ref.snapshotId)) fail(`reference "${name}" points at snapshot ${ref.snapshotId}, which is not in the snapshot list.`);
  }
  const main = m.refs[MAIN_BRANCH];
  if (main && main.type !== 'branch') fail(`reference "${MAIN_BRANCH}" must be a branch, not a tag.`);
  if ((main?.snapshotId ?? null) !== m.currentSnapshotId) {
    fail(`current-snapshot-id ${m.currentSnapshotId ?? -1} does not match the "${MAIN_BRANCH}" branch (${main?.snapshotId ?? 'absent'}).`);
  }
  if (m.formatVersion === 1 && m.lastSequenceNumber !== 0) fail('format version 1 has no sequence numbers, but last-sequence-number is not 0.');
  for (const s of m.snapshots) {
    if (s.sequenceNumber > m.lastSequenceNumber) {
      fail(`snapshot ${s.snapshotId} has sequence number ${s.sequenceNumber}, greater than last-sequence-number ${m.lastSequenceNumber}.`);
    }
  }
}

/**
 * Table metadata JSON with the keys in Java's TableMetadataParser order, so files diff cleanly against
 * ones Java writes. v1 also writes the deprecated `schema` and `partition-spec` for old readers and
 * leaves out sequence numbers (spec "Version 2" → "Writing v1 metadata").
 */
export function tableMetadataToJson(m: TableMetadata): Record<string, unknown> {
  const v1 = m.formatVersion === 1;
  const out: Record<string, unknown> = { 'format-version': m.formatVersion };
  if (m.tableUuid !== '') out['table-uuid'] = m.tableUuid;
  out.location = m.location;
  if (!v1) out['last-sequence-number'] = m.lastSequenceNumber;
  out['last-updated-ms'] = m.lastUpdatedMs;
  out['last-column-id'] = m.lastColumnId;
  if (v1) out.schema = currentSchema(m).toJSON();
  out['current-schema-id'] = m.currentSchemaId;
  out.schemas = m.schemas.map((s) => s.toJSON());
  if (v1) out['partition-spec'] = partitionSpecToJson(defaultSpec(m)).fields;
  out['default-spec-id'] = m.defaultSpecId;
  out['partition-specs'] = m.partitionSpecs.map(partitionSpecToJson);
  out['last-partition-id'] = m.lastPartitionId;
  out['default-sort-order-id'] = m.defaultSortOrderId;
  out['sort-orders'] = m.sortOrders.map(sortOrderToJson);
  out.properties = { ...m.properties };
  // Appendix F: Java writes -1 for "no current snapshot" below v3, and every reader accepts it;
  // PyIceberg omits the field unless `legacy-current-snapshot-id` is set for readers that need -1.
  out['current-snapshot-id'] = m.currentSnapshotId ?? -1;
  const refs: Record<string, unknown> = {};
  for (const [name, ref] of Object.entries(m.refs)) refs[name] = snapshotRefToJson(ref);
  out.refs = refs;
  out.snapshots = m.snapshots.map((s) => snapshotToJson(s, !v1));
  out.statistics = m.statistics ?? [];
  out['partition-statistics'] = m.partitionStatistics ?? [];
  out['snapshot-log'] = m.snapshotLog.map((e) => ({ 'timestamp-ms': e.timestampMs, 'snapshot-id': e.snapshotId }));
  out['metadata-log'] = m.metadataLog.map((e) => ({ 'timestamp-ms': e.timestampMs, 'metadata-file': e.metadataFile }));
  return out;
}

/** The bytes of a metadata file, as text: compact JSON, 64-bit ids as exact digits. */
export function serializeTableMetadata(m: TableMetadata): string {
  return stringifyJson(tableMetadataToJson(m));
}

/** Parses a metadata file's text; errors name the file when `location` is given. */
export function parseTableMetadata(text: string, location?: string): TableMetadata {
  const what = location === undefined ? 'table metadata' : `table metadata file ${location}`;
  const j = parseJson(text, what);
  if (location === undefined) return tableMetadataFromJson(j);
  return within(`Cannot read table metadata file ${location}`, () => tableMetadataFromJson(j));
}

// ---------------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------------

/**
 * Ids asked for here come from metadata (a manifest's spec id, a snapshot's schema id), so a miss
 * means the metadata is inconsistent: INVALID_METADATA.
 */
export function schemaById(m: TableMetadata, id: number): Schema {
  const s = m.schemas.find((x) => x.schemaId === id);
  if (!s) invalid(`Table ${m.location} has no schema with id ${id}; its schema ids are ${m.schemas.map((x) => x.schemaId).join(', ')}.`);
  return s;
}

export function currentSchema(m: TableMetadata): Schema {
  return schemaById(m, m.currentSchemaId);
}

/**
 * The current schema's top-level column that a reader knowing it as `name` means: the column of that
 * name; else the column that had that name in an earlier schema and was renamed since, found by its
 * field id (newest schema first). Undefined when neither exists (never added, or dropped). So jobs that
 * name columns in SQL keep matching them by id after a rename.
 */
export function resolveColumn(m: TableMetadata, name: string): NestedField | undefined {
  const current = currentSchema(m);
  const direct = current.fields.find((f) => f.name === name);
  if (direct) return direct;
  for (const s of [...m.schemas].sort((a, b) => b.schemaId - a.schemaId)) {
    const old = s.fields.find((f) => f.name === name);
    if (old) return current.fields.find((f) => f.id === old.id);
  }
  return undefined;
}

export function specById(m: TableMetadata, id: number): PartitionSpec {
  const s = m.partitionSpecs.find((x) => x.specId === id);
  if (!s) invalid(`Table ${m.location} has no partition spec with id ${id}; its spec ids are ${m.partitionSpecs.map((x) => x.specId).join(', ')}.`);
  return s;
}

export function defaultSpec(m: TableMetadata): PartitionSpec {
  return specById(m, m.defaultSpecId);
}

export function sortOrderById(m: TableMetadata, id: number): SortOrder {
  const s = m.sortOrders.find((x) => x.orderId === id);
  if (!s) invalid(`Table ${m.location} has no sort order with id ${id}; its sort order ids are ${m.sortOrders.map((x) => x.orderId).join(', ')}.`);
  return s;
}

export function snapshotById(m: TableMetadata, id: bigint): Snapshot | undefined {
  return m.snapshots.find((s) => s.snapshotId === id);
}

/** The snapshot a branch or tag points at; null when the ref does not exist (an empty table's main). */
export function currentSnapshot(m: TableMetadata, ref: string = MAIN_BRANCH): Snapshot | null {
  const id = m.refs[ref]?.snapshotId ?? (ref === MAIN_BRANCH ? m.currentSnapshotId : null);
  if (id === null) return null;
  const s = snapshotById(m, id);
  if (!s) invalid(`Table ${m.location} reference "${ref}" points at snapshot ${id}, which is not in the snapshot list.`);
  return s;
}

/**
 * The snapshot that was current at `timestampMs` (inclusive), from the snapshot-log as Appendix F
 * "Point in Time Reads" asks (parent lineage can disagree after rollbacks). Null before the first entry.
 */
export function snapshotAsOf(m: TableMetadata, timestampMs: number): Snapshot | null {
  let found: bigint | null = null;
  for (const e of m.snapshotLog) {
    if (e.timestampMs <= timestampMs) found = e.snapshotId;
    else break;
  }
  return found === null ? null : snapshotById(m, found) ?? null;
}

/** `snapshotId` and its ancestors, newest first; stops where a parent has been expired. */
export function ancestorsOf(m: TableMetadata, snapshotId: bigint | null): Snapshot[] {
  const out: Snapshot[] = [];
  const seen = new Set<bigint>();
  let id: bigint | null | undefined = snapshotId;
  while (id !== null && id !== undefined && !seen.has(id)) {
    const s = snapshotById(m, id);
    if (!s) break;
    seen.add(id);
    out.push(s);
    id = s.parentSnapshotId;
  }
  return out;
}
