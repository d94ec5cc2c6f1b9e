import { LakehouseError } from '../../core/errors.ts';
import { childFields, fieldFromJson, fieldToJson, type IcebergType, type NestedField, type StructType } from './types.ts';

/**
 * A table schema: a struct with a schema id and identifier fields (spec "Schemas").
 * Field lookups are by id (what Iceberg readers use) and by dotted name.
 */
export class Schema {
  readonly schemaId: number;
  readonly fields: NestedField[];
  readonly identifierFieldIds: number[];
  private byId?: Map<number, NestedField>;
  private byName?: Map<string, NestedField>;

  constructor(fields: NestedField[], schemaId = 0, identifierFieldIds: number[] = []) {
    this.fields = fields;
    this.schemaId = schemaId;
    this.identifierFieldIds = identifierFieldIds;
  }

  asStruct(): StructType {
    return { kind: 'struct', fields: this.fields };
  }

  private index(): void {
    if (this.byId) return;
    this.byId = new Map();
    this.byName = new Map();
    const walk = (fields: NestedField[], prefix: string) => {
      for (const f of fields) {
        if (this.byId!.has(f.id)) {
          throw new LakehouseError('INVALID_METADATA', `Schema ${this.schemaId} uses field id ${f.id} twice ("${this.byId!.get(f.id)!.name}" and "${f.name}"); field ids must be unique.`);
        }
        this.byId!.set(f.id, f);
        const name = prefix + f.name;
        this.byName!.set(name, f);
        walk(childFields(f.type), name + '.');
      }
    };
    walk(this.fields, '');
  }

  findField(id: number): NestedField | undefined {
    this.index();
    return this.byId!.get(id);
  }

  /** Dotted name of a field id, e.g. `location.lat`; list/map children are `a.element`, `m.key`. */
  findColumnName(id: number): string | undefined {
    this.index();
    for (const [name, f] of this.byName!) if (f.id === id) return name;
    return undefined;
  }

  findFieldByName(name: string, caseSensitive = true): NestedField | undefined {
    this.index();
    if (caseSensitive) return this.byName!.get(name);
    const lower = name.toLowerCase();
    for (const [n, f] of this.byName!) if (n.toLowerCase() === lower) return f;
    return undefined;
  }

  /** Like findFieldByName but throws a sentence naming the columns that do exist. */
  field(name: string): NestedField {
    const f = this.findFieldByName(name);
    if (!f) {
      throw new LakehouseError('INVALID_ARGUMENT', `Column "${name}" is not in the table schema; columns are: ${this.fields.map((x) => x.name).join(', ')}.`);
    }
    return f;
  }

  highestFieldId(): number {
    this.index();
    let max = 0;
    for (const id of this.byId!.keys()) max = Math.max(max, id);
    return max;
  }

  /** Every field (nested included), depth first. */
  allFields(): NestedField[] {
    this.index();
    return [...this.byId!.values()];
  }

  withSchemaId(schemaId: number): Schema {
    return new Schema(this.fields, schemaId, this.identifierFieldIds);
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { type: 'struct', 'schema-id': this.schemaId };
    if (this.identifierFieldIds.length > 0) out['identifier-field-ids'] = this.identifierFieldIds;
    out.fields = this.fields.map(fieldToJson);
    return out;
  }

  static fromJSON(j: unknown): Schema {
    if (j === null || typeof j !== 'object' || !Array.isArray((j as Record<string, unknown>).fields)) {
      throw new LakehouseError('INVALID_METADATA', 'Malformed schema JSON: expected an object with a "fields" array.');
    }
    const o = j as Record<string, unknown>;
    const ids = Array.isArray(o['identifier-field-ids']) ? (o['identifier-field-ids'] as unknown[]).map(Number) : [];
    const schema = new Schema((o.fields as unknown[]).map(fieldFromJson), Number(o['schema-id'] ?? 0), ids);
    schema.index();
    return schema;
  }
}

/**
 * Re-numbers every field id of a schema given by a user (ids ignored) to 1..N in depth-first order
 * of a table create, the way Java `TypeUtil.assignFreshIds` does: a struct's own fields first, then
 * their children. Returns the new schema and the last assigned id.
 */
export function assignFreshIds(fields: NestedField[], start = 0): { fields: NestedField[]; lastId: number } {
  let next = start;
  const reassignType = (t: IcebergType): IcebergType => {
    if (t.kind === 'struct') {
      const ids = t.fields.map(() => ++next);
      return { kind: 'struct', fields: t.fields.map((f, i) => ({ ...f, id: ids[i]!, type: reassignType(f.type) })) };
    }
    if (t.kind === 'list') {
      const elementId = ++next;
      return { ...t, elementId, element: reassignType(t.element) };
    }
    if (t.kind === 'map') {
      const keyId = ++next;
      const valueId = ++next;
      return { ...t, keyId, valueId, key: reassignType(t.key), value: reassignType(t.value) };
    }
    return t;
  };
  const root = reassignType({ kind: 'struct', fields }) as StructType;
  return { fields: root.fields, lastId: next };
}
