import { LakehouseError } from '../../core/errors.ts';

/**
 * Iceberg data types (spec "Schemas and Data Types"), as plain data.
 *
 * In-memory value representation used everywhere in `iceberg/` (partition values, bounds, literals):
 *   boolean -> boolean          int, date (days since epoch) -> number
 *   long -> bigint              float, double -> number
 *   decimal(P,S) -> bigint (unscaled value)
 *   time (micros since midnight), timestamp, timestamptz (micros since epoch) -> bigint
 *   string -> string            uuid -> string (lower-case 8-4-4-4-12 form)
 *   binary, fixed[L] -> Uint8Array
 *   null -> null
 */
export type PrimitiveType =
  | { kind: 'boolean' }
  | { kind: 'int' }
  | { kind: 'long' }
  | { kind: 'float' }
  | { kind: 'double' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'date' }
  | { kind: 'time' }
  | { kind: 'timestamp' }
  | { kind: 'timestamptz' }
  | { kind: 'string' }
  | { kind: 'uuid' }
  | { kind: 'binary' }
  | { kind: 'fixed'; length: number };

export interface NestedField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
}

export interface StructType {
  kind: 'struct';
  fields: NestedField[];
}

export interface ListType {
  kind: 'list';
  elementId: number;
  elementRequired: boolean;
  element: IcebergType;
}

export interface MapType {
  kind: 'map';
  keyId: number;
  key: IcebergType;
  valueId: number;
  valueRequired: boolean;
  value: IcebergType;
}

export type IcebergType = PrimitiveType | StructType | ListType | MapType;
export type PrimitiveKind = PrimitiveType['kind'];
export type Value = boolean | number | bigint | string | Uint8Array | null;

/** Constructors, so code reads `T.long()` rather than object literals. */
export const T = {
  boolean: (): PrimitiveType => ({ kind: 'boolean' }),
  int: (): PrimitiveType => ({ kind: 'int' }),
  long: (): PrimitiveType => ({ kind: 'long' }),
  float: (): PrimitiveType => ({ kind: 'float' }),
  double: (): PrimitiveType => ({ kind: 'double' }),
  decimal: (precision: number, scale: number): PrimitiveType => ({ kind: 'decimal', precision, scale }),
  date: (): PrimitiveType => ({ kind: 'date' }),
  time: (): PrimitiveType => ({ kind: 'time' }),
  timestamp: (): PrimitiveType => ({ kind: 'timestamp' }),
  timestamptz: (): PrimitiveType => ({ kind: 'timestamptz' }),
  string: (): PrimitiveType => ({ kind: 'string' }),
  uuid: (): PrimitiveType => ({ kind: 'uuid' }),
  binary: (): PrimitiveType => ({ kind: 'binary' }),
  fixed: (length: number): PrimitiveType => ({ kind: 'fixed', length }),
  struct: (fields: NestedField[]): StructType => ({ kind: 'struct', fields }),
  list: (elementId: number, element: IcebergType, elementRequired = false): ListType => ({ kind: 'list', elementId, element, elementRequired }),
  map: (keyId: number, key: IcebergType, valueId: number, value: IcebergType, valueRequired = false): MapType => ({
    kind: 'map', keyId, key, valueId, value, valueRequired,
  }),
  field: (id: number, name: string, type: IcebergType, required = false, doc?: string): NestedField =>
    doc === undefined ? { id, name, type, required } : { id, name, type, required, doc },
};

export function isPrimitive(t: IcebergType): t is PrimitiveType {
  return t.kind !== 'struct' && t.kind !== 'list' && t.kind !== 'map';
}

/** The spec's string form of a primitive type: `decimal(9,2)`, `fixed[16]`, `timestamptz`. */
export function primitiveToString(t: PrimitiveType): string {
  switch (t.kind) {
    case 'decimal': return `decimal(${t.precision},${t.scale})`;
    case 'fixed': return `fixed[${t.length}]`;
    default: return t.kind;
  }
}

export function typeToString(t: IcebergType): string {
  if (isPrimitive(t)) return primitiveToString(t);
  if (t.kind === 'struct') return `struct<${t.fields.map((f) => `${f.name}: ${typeToString(f.type)}`).join(', ')}>`;
  if (t.kind === 'list') return `list<${typeToString(t.element)}>`;
  return `map<${typeToString(t.key)}, ${typeToString(t.value)}>`;
}

const SIMPLE = new Set(['boolean', 'int', 'long', 'float', 'double', 'date', 'time', 'timestamp', 'timestamptz', 'string', 'uuid', 'binary']);

export function parsePrimitive(s: string): PrimitiveType {
  const text = s.trim();
  if (SIMPLE.has(text)) return { kind: text } as PrimitiveType;
  const dec = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(text);
  if (dec) {
    const precision = Number(dec[1]);
    const scale = Number(dec[2]);
    if (precision < 1 || precision > 38 || scale > precision) {
      throw new LakehouseError('UNSUPPORTED', `Type ${text} is not valid: decimal precision must be 1..38 and scale at most the precision.`);
    }
    return { kind: 'decimal', precision, scale };
  }
  const fixed = /^fixed\[\s*(\d+)\s*\]$/.exec(text);
  if (fixed) return { kind: 'fixed', length: Number(fixed[1]) };
  throw new LakehouseError('UNSUPPORTED', `Unsupported Iceberg type "${s}": expected one of ${[...SIMPLE].join(', ')}, decimal(P,S), fixed[L], struct, list or map (format v3 types such as variant and geometry are not supported yet).`);
}

// ---- JSON serialization exactly as the spec's "Appendix C: JSON serialization" ----

export function typeToJson(t: IcebergType): unknown {
  if (isPrimitive(t)) return primitiveToString(t);
  if (t.kind === 'struct') return { type: 'struct', fields: t.fields.map(fieldToJson) };
  if (t.kind === 'list') {
    return { type: 'list', 'element-id': t.elementId, element: typeToJson(t.element), 'element-required': t.elementRequired };
  }
  return {
    type: 'map', 'key-id': t.keyId, key: typeToJson(t.key),
    'value-id': t.valueId, value: typeToJson(t.value), 'value-required': t.valueRequired,
  };
}

export function fieldToJson(f: NestedField): Record<string, unknown> {
  const out: Record<string, unknown> = { id: f.id, name: f.name, required: f.required, type: typeToJson(f.type) };
  if (f.doc !== undefined) out.doc = f.doc;
  return out;
}

function num(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new LakehouseError('INVALID_METADATA', `Malformed schema JSON: ${what} must be an integer, got ${JSON.stringify(String(v))}.`);
}

export function typeFromJson(j: unknown): IcebergType {
  if (typeof j === 'string') return parsePrimitive(j);
  if (j === null || typeof j !== 'object') {
    throw new LakehouseError('INVALID_METADATA', `Malformed schema JSON: a type must be a string or an object, got ${String(j)}.`);
  }
  const o = j as Record<string, unknown>;
  switch (o.type) {
    case 'struct':
      if (!Array.isArray(o.fields)) throw new LakehouseError('INVALID_METADATA', 'Malformed schema JSON: a struct type needs a "fields" array.');
      return { kind: 'struct', fields: o.fields.map(fieldFromJson) };
    case 'list':
      return { kind: 'list', elementId: num(o['element-id'], 'list element-id'), element: typeFromJson(o.element), elementRequired: Boolean(o['element-required']) };
    case 'map':
      return {
        kind: 'map', keyId: num(o['key-id'], 'map key-id'), key: typeFromJson(o.key),
        valueId: num(o['value-id'], 'map value-id'), value: typeFromJson(o.value), valueRequired: Boolean(o['value-required']),
      };
    default:
      throw new LakehouseError('UNSUPPORTED', `Unsupported Iceberg type ${JSON.stringify(o.type)} in schema JSON.`);
  }
}

export function fieldFromJson(j: unknown): NestedField {
  if (j === null || typeof j !== 'object') throw new LakehouseError('INVALID_METADATA', 'Malformed schema JSON: a field must be an object.');
  const o = j as Record<string, unknown>;
  if (typeof o.name !== 'string') throw new LakehouseError('INVALID_METADATA', `Malformed schema JSON: field ${String(o.id)} has no name.`);
  const f: NestedField = { id: num(o.id, `field "${o.name}" id`), name: o.name, required: Boolean(o.required), type: typeFromJson(o.type) };
  if (typeof o.doc === 'string') f.doc = o.doc;
  return f;
}

/** Children of a nested type as fields (list element and map key/value included), for id walks. */
export function childFields(t: IcebergType): NestedField[] {
  if (t.kind === 'struct') return t.fields;
  if (t.kind === 'list') return [{ id: t.elementId, name: 'element', required: t.elementRequired, type: t.element }];
  if (t.kind === 'map') {
    return [
      { id: t.keyId, name: 'key', required: true, type: t.key },
      { id: t.valueId, name: 'value', required: t.valueRequired, type: t.value },
    ];
  }
  return [];
}

export function typesEqual(a: IcebergType, b: IcebergType): boolean {
  return JSON.stringify(typeToJson(a)) === JSON.stringify(typeToJson(b));
}
