import { isPrimitive, type IcebergType, type NestedField, type TableMetadata } from '../iceberg/index.ts';
import type { Column } from '@aws-sdk/client-glue';

/**
 * Iceberg schemas as Glue columns, for the Glue and Athena consoles (readers use the metadata file):
 * the Hive type strings and the `iceberg.field.*` column parameters Java and PyIceberg write.
 */

export const ICEBERG_FIELD_ID = 'iceberg.field.id';
export const ICEBERG_FIELD_OPTIONAL = 'iceberg.field.optional';
export const ICEBERG_FIELD_CURRENT = 'iceberg.field.current';

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
