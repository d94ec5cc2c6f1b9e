import { LakehouseError } from '../../core/errors.ts';
import { Schema } from '../spec/schema.ts';
import {
  childFields, isPrimitive, primitiveToString, typeToString, typesEqual,
  type IcebergType, type NestedField, type PrimitiveType,
} from '../spec/types.ts';
import { currentSchema, currentSnapshot, defaultSpec, type TableMetadata } from '../spec/table-metadata.ts';
import type { TableRequirement, TableUpdate } from '../spec/table-updates.ts';

/**
 * Schema evolution (spec "Schema Evolution"): add, rename, widen, drop a column, make it optional. Each
 * change is checked against the table's current schema and becomes data (habit: metadata changes are
 * data): an `add-schema` + `set-current-schema` update pair and the requirements it relies on (the same
 * table, the same current schema, the same last column id), for the catalog to apply. Columns keep their
 * field ids for life, so readers match old and new data files by id; a new column gets
 * `last-column-id + 1`, and ids are never reused.
 */

export type SchemaChange =
  | {
    kind: 'add-column';
    /** Dotted for a field of a struct column, e.g. `device.model`. */
    name: string;
    type: PrimitiveType;
    required?: boolean;
    doc?: string;
    /** Sibling to place the new column after; default: last. */
    after?: string;
    first?: boolean;
  }
  | { kind: 'rename-column'; name: string; newName: string }
  | { kind: 'widen-column'; name: string; type: PrimitiveType }
  | { kind: 'drop-column'; name: string }
  | { kind: 'make-optional'; name: string };

/** What a metadata change sends to the catalog. */
export interface MetadataChange {
  updates: TableUpdate[];
  requirements: TableRequirement[];
}

function refuse(message: string): never {
  throw new LakehouseError('INVALID_ARGUMENT', message);
}

/**
 * The type promotions the spec allows for format v1 and v2 tables: int -> long, float -> double and
 * decimal(P, S) -> decimal(P', S) with P' > P. Everything else (narrowing, string -> int, ...) would make
 * existing data files unreadable as the new type.
 */
export function canPromote(from: PrimitiveType, to: PrimitiveType): boolean {
  if (from.kind === 'int') return to.kind === 'long';
  if (from.kind === 'float') return to.kind === 'double';
  if (from.kind === 'decimal' && to.kind === 'decimal') return to.scale === from.scale && to.precision > from.precision;
  return false;
}

interface Located {
  field: NestedField;
  /** Id of the struct-typed field holding it (its struct, or a list element / map value struct); null = top level. */
  parentId: number | null;
  /** Dotted name of the parent ('' at top level), for messages. */
  parentPath: string;
}

function locate(schema: Schema, name: string): Located {
  const field = schema.findFieldByName(name);
  if (!field) {
    const close = schema.findFieldByName(name, false);
    refuse(close
      ? `Column "${name}" is not in the table schema; did you mean "${schema.findColumnName(close.id)}"? Column names are case-sensitive.`
      : `Column "${name}" is not in the table schema; its columns are: ${schema.fields.map((f) => f.name).join(', ')}.`);
  }
  const dot = name.lastIndexOf('.');
  if (dot < 0) return { field, parentId: null, parentPath: '' };
  const parentPath = name.slice(0, dot);
  return { field, parentId: schema.findFieldByName(parentPath)!.id, parentPath };
}

/** The fields of the struct `parentId` names (null = the schema's top level). */
function siblingsOf(schema: Schema, parentId: number | null): NestedField[] {
  if (parentId === null) return schema.fields;
  const parent = schema.findField(parentId)!;
  return parent.type.kind === 'struct' ? parent.type.fields : [];
}

/** The struct that holds fields named `parentPath`.x: a struct column, or a list element / map value that is a struct. */
function structParent(schema: Schema, parentPath: string): number | null {
  if (parentPath === '') return null;
  const parent = schema.findFieldByName(parentPath);
  if (!parent) refuse(`Cannot add a field to "${parentPath}": there is no such column.`);
  if (parent.type.kind !== 'struct') {
    refuse(`Cannot add a field to "${parentPath}": it is ${typeToString(parent.type)}, not a struct${parent.type.kind === 'list' ? ` (name the list's element struct: ${parentPath}.element.<name>)` : parent.type.kind === 'map' ? ` (name the map's value struct: ${parentPath}.value.<name>)` : ''}.`);
  }
  return parent.id;
}

/**
 * Rewrites the fields of one struct with `fn`, anywhere in the tree. The struct is named by the id of
 * what holds it: null for the top level, a struct column's field id, a list's element id or a map's value id.
 */
function withStruct(fields: NestedField[], parentId: number | null, fn: (fields: NestedField[]) => NestedField[]): NestedField[] {
  const visitStruct = (owner: number | null, fs: NestedField[]): NestedField[] => {
    const inner = fs.map((f) => ({ ...f, type: visitType(f.id, f.type) }));
    return owner === parentId ? fn(inner) : inner;
  };
  const visitType = (owner: number, t: IcebergType): IcebergType => {
    if (t.kind === 'struct') return { kind: 'struct', fields: visitStruct(owner, t.fields) };
    if (t.kind === 'list') return { ...t, element: visitType(t.elementId, t.element) };
    if (t.kind === 'map') return { ...t, key: visitType(t.keyId, t.key), value: visitType(t.valueId, t.value) };
    return t;
  };
  return visitStruct(null, fields);
}

/** Replaces field `id` (anywhere) with `fn(field)`, or removes it when fn returns null. */
function withField(fields: NestedField[], id: number, fn: (f: NestedField) => NestedField | null): NestedField[] {
  const inType = (t: IcebergType): IcebergType => {
    if (t.kind === 'struct') return { kind: 'struct', fields: walk(t.fields) };
    if (t.kind === 'list') {
      if (t.elementId === id) {
        const e = fn({ id, name: 'element', required: t.elementRequired, type: t.element });
        if (!e) refuse('A list element cannot be dropped; drop the list column instead.');
        return { ...t, element: e.type, elementRequired: e.required };
      }
      return { ...t, element: inType(t.element) };
    }
    if (t.kind === 'map') {
      if (t.valueId === id) {
        const v = fn({ id, name: 'value', required: t.valueRequired, type: t.value });
        if (!v) refuse('A map value cannot be dropped; drop the map column instead.');
        return { ...t, value: v.type, valueRequired: v.required };
      }
      if (t.keyId === id) refuse('A map key cannot be changed.');
      return { ...t, key: inType(t.key), value: inType(t.value) };
    }
    return t;
  };
  const walk = (fs: NestedField[]): NestedField[] => {
    const out: NestedField[] = [];
    for (const f of fs) {
      if (f.id === id) {
        const g = fn(f);
        if (g) out.push(g);
      } else {
        out.push({ ...f, type: inType(f.type) });
      }
    }
    return out;
  };
  return walk(fields);
}

/** Ids of a field and everything nested in it. */
function idsWithin(f: NestedField): number[] {
  return [f.id, ...childFields(f.type).flatMap(idsWithin)];
}

function checkNewName(schema: Schema, metadata: TableMetadata, parentId: number | null, parentPath: string, name: string, exceptId?: number): void {
  if (name.trim() === '' || name !== name.trim()) refuse(`Column name ${JSON.stringify(name)} is not valid: it must be non-empty, without leading or trailing spaces.`);
  if (name.includes('.')) refuse(`Column name "${name}" contains a dot, which lakehouse uses for nested names (a.b); choose a name without dots.`);
  const clash = siblingsOf(schema, parentId).find((f) => f.id !== exceptId && f.name.toLowerCase() === name.toLowerCase());
  if (clash) {
    const where = parentPath === '' ? 'the table' : `"${parentPath}"`;
    refuse(clash.name === name
      ? `Column "${parentPath === '' ? name : `${parentPath}.${name}`}" already exists in ${where}; choose another name.`
      : `Column name "${name}" differs only in case from the existing column "${clash.name}" in ${where}; case-insensitive readers (DuckDB, Spark, Trino) could not tell them apart, so choose another name.`);
  }
  if (parentId === null) {
    // A top-level name equal to a partition field's name would make readers that show partition values as
    // columns ambiguous; Java refuses a partition name that a (non-source) column has.
    const spec = defaultSpec(metadata);
    const p = spec.fields.find((f) => f.name.toLowerCase() === name.toLowerCase() && !(f.transform === 'identity' && f.sourceId === exceptId));
    if (p) refuse(`Column name "${name}" is the name of partition field "${p.name}" (${p.transform} of column id ${p.sourceId}); choose another name.`);
  }
}

/** Whether the table holds rows now (a required column cannot be added to it: old rows would have no value). */
function hasData(metadata: TableMetadata): boolean {
  const snap = currentSnapshot(metadata);
  if (!snap) return false;
  const total = snap.summary['total-records'];
  return total === undefined || total !== '0';
}

/** Which partition fields (any spec) and sort fields use one of `ids` as their source, as phrases. */
function usersOf(metadata: TableMetadata, ids: Set<number>): string[] {
  const out: string[] = [];
  for (const spec of metadata.partitionSpecs) {
    for (const f of spec.fields) {
      if (ids.has(f.sourceId)) out.push(`partition field "${f.name}" (${f.transform}) of spec ${spec.specId}${spec.specId === metadata.defaultSpecId ? ', the current one' : ''}`);
    }
  }
  for (const o of metadata.sortOrders) {
    for (const f of o.fields) if (ids.has(f.sourceId)) out.push(`sort order ${o.orderId}`);
  }
  return [...new Set(out)];
}

/** The schema after `change`, with the table's last column id after it (no id is assigned here). */
export function evolveSchema(metadata: TableMetadata, change: SchemaChange): { schema: Schema; lastColumnId: number; unchanged?: string } {
  const schema = currentSchema(metadata);
  const ids = schema.identifierFieldIds;
  const build = (fields: NestedField[], lastColumnId = metadata.lastColumnId) => ({
    schema: new Schema(fields, schema.schemaId, ids), lastColumnId,
  });
  switch (change.kind) {
    case 'add-column': {
      const dot = change.name.lastIndexOf('.');
      const parentPath = dot < 0 ? '' : change.name.slice(0, dot);
      const leaf = dot < 0 ? change.name : change.name.slice(dot + 1);
      const parentId = structParent(schema, parentPath);
      checkNewName(schema, metadata, parentId, parentPath, leaf);
      if (change.required && hasData(metadata)) {
        refuse(`Cannot add required column "${change.name}": the table already holds rows, which have no value for it. Add it as optional (drop --required); format v2 has no default values to fill old rows with.`);
      }
      if (change.after !== undefined && change.first) refuse('Give --after or --first, not both.');
      const id = metadata.lastColumnId + 1;
      const added: NestedField = { id, name: leaf, required: Boolean(change.required), type: change.type };
      if (change.doc !== undefined) added.doc = change.doc;
      const fields = withStruct(schema.fields, parentId, (siblings) => {
        if (change.first) return [added, ...siblings];
        if (change.after === undefined) return [...siblings, added];
        const afterLeaf = parentPath !== '' && change.after.startsWith(parentPath + '.') ? change.after.slice(parentPath.length + 1) : change.after;
        const k = siblings.findIndex((f) => f.name === afterLeaf);
        if (k < 0) refuse(`--after ${change.after}: there is no column "${afterLeaf}" ${parentPath === '' ? 'at the top level of the table' : `in "${parentPath}"`}; its columns are: ${siblings.map((f) => f.name).join(', ')}.`);
        return [...siblings.slice(0, k + 1), added, ...siblings.slice(k + 1)];
      });
      return build(fields, id);
    }
    case 'rename-column': {
      const at = locate(schema, change.name);
      const newLeaf = at.parentPath !== '' && change.newName.startsWith(at.parentPath + '.') ? change.newName.slice(at.parentPath.length + 1) : change.newName;
      if (newLeaf === at.field.name) return { ...build(schema.fields), unchanged: `Column "${change.name}" is already named "${newLeaf}".` };
      if (at.parentId !== null && schema.findField(at.parentId)!.type.kind !== 'struct') {
        refuse(`"${change.name}" is a list element or map key/value, whose names are fixed; rename the column that holds it.`);
      }
      checkNewName(schema, metadata, at.parentId, at.parentPath, newLeaf, at.field.id);
      return build(withField(schema.fields, at.field.id, (f) => ({ ...f, name: newLeaf })));
    }
    case 'widen-column': {
      const { field } = locate(schema, change.name);
      if (!isPrimitive(field.type)) refuse(`Column "${change.name}" is ${typeToString(field.type)}; only primitive columns can be widened.`);
      const from = field.type;
      if (typesEqual(from, change.type)) return { ...build(schema.fields), unchanged: `Column "${change.name}" is already ${primitiveToString(from)}.` };
      if (!canPromote(from, change.type)) {
        refuse(`Cannot change column "${change.name}" from ${primitiveToString(from)} to ${primitiveToString(change.type)}: Iceberg allows only int -> long, float -> double and decimal(P,S) -> decimal(P2,S) with P2 > P, so existing data files stay readable. To change a type otherwise, add a new column and rewrite the data into it.`);
      }
      const users = usersOf(metadata, new Set([field.id]));
      if (users.length > 0) {
        refuse(`Cannot widen column "${change.name}": it is the source of ${users.join(', ')}, and the partition values recorded in existing manifests are of the old type. Widen a column that is not partitioned on.`);
      }
      return build(withField(schema.fields, field.id, (f) => ({ ...f, type: change.type })));
    }
    case 'drop-column': {
      const { field } = locate(schema, change.name);
      const within = new Set(idsWithin(field));
      if (ids.some((id) => within.has(id))) {
        refuse(`Cannot drop column "${change.name}": it is ${ids.includes(field.id) ? 'an identifier field' : 'or holds an identifier field'} of the table (identifier-field-ids ${ids.join(', ')}), which rows are matched by.`);
      }
      const users = usersOf(metadata, within);
      if (users.length > 0) {
        refuse(`Cannot drop column "${change.name}": it is the source of ${users.join(', ')}; readers need it to interpret the partition values (or sort) of the files written that way, so it stays as long as the table has that spec or order.`);
      }
      const siblings = siblingsOf(schema, locate(schema, change.name).parentId);
      if (siblings.length === 1) refuse(`Cannot drop column "${change.name}": it is the only column ${siblings === schema.fields ? 'of the table' : 'of its struct (drop the struct instead)'}.`);
      return build(withField(schema.fields, field.id, () => null));
    }
    case 'make-optional': {
      const { field } = locate(schema, change.name);
      if (!field.required) return { ...build(schema.fields), unchanged: `Column "${change.name}" is already optional.` };
      if (ids.includes(field.id)) refuse(`Cannot make column "${change.name}" optional: it is an identifier field of the table, and identifier fields must be required.`);
      return build(withField(schema.fields, field.id, (f) => ({ ...f, required: false })));
    }
  }
}

/**
 * The updates and requirements of a schema change: the new schema and that it becomes current, valid
 * only if nobody changed the schema or assigned a column id in between (else the catalog refuses with a
 * conflict and the change is planned again on the new schema). `unchanged` says why there is nothing to do.
 */
export function planSchemaChange(metadata: TableMetadata, change: SchemaChange): MetadataChange & { unchanged?: string } {
  const { schema, lastColumnId, unchanged } = evolveSchema(metadata, change);
  const requirements: TableRequirement[] = [
    { type: 'assert-table-uuid', uuid: metadata.tableUuid },
    { type: 'assert-current-schema-id', currentSchemaId: metadata.currentSchemaId },
    { type: 'assert-last-assigned-field-id', lastAssignedFieldId: metadata.lastColumnId },
  ];
  if (unchanged !== undefined) return { updates: [], requirements, unchanged };
  // The catalog assigns the schema id (one more than the highest); this one only travels in the JSON.
  const nextId = Math.max(...metadata.schemas.map((s) => s.schemaId)) + 1;
  return {
    updates: [
      { action: 'add-schema', schema: schema.withSchemaId(nextId), lastColumnId },
      { action: 'set-current-schema', schemaId: -1 },
    ],
    requirements,
  };
}
