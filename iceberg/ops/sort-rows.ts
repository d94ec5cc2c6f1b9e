import { LakehouseError } from '../../core/errors.ts';
import { rowGetter } from '../scan/table-reader.ts';
import { transformFunction } from '../spec/partition-transforms.ts';
import type { Schema } from '../spec/schema.ts';
import type { SortOrder } from '../spec/sort-order.ts';
import { type PrimitiveType, type Value, isPrimitive } from '../spec/types.ts';
import { compareValues } from '../spec/values/ordering.ts';

/**
 * Rows (the row-object form of arrow-rows.ts) in the order a table's sort order asks for (spec "Sorting"):
 * each field's transform applied to its source column, ascending or descending, nulls first or last.
 * Ties keep their input order (Array.prototype.sort is stable), so a rewrite is deterministic.
 */
export function sortRows(rows: Record<string, unknown>[], schema: Schema, order: SortOrder): Record<string, unknown>[] {
  if (order.fields.length === 0) return rows;
  const get = rowGetter(schema);
  const keys = order.fields.map((f) => {
    const field = schema.findField(f.sourceId);
    if (!field || !isPrimitive(field.type)) {
      throw new LakehouseError('INVALID_METADATA', `Sort order ${order.orderId} sorts by field id ${f.sourceId}, which is not a primitive column of schema ${schema.schemaId}.`);
    }
    const fn = transformFunction(f.transform, field.type);
    const resultType = transformedType(f.transform, field.type);
    const values: Value[] = rows.map((r) => fn(get(r)(f.sourceId)));
    return { values, type: resultType, sign: f.direction === 'desc' ? -1 : 1, nullsFirst: f.nullOrder === 'nulls-first' };
  });
  const index = rows.map((_, i) => i);
  index.sort((a, b) => {
    for (const k of keys) {
      const x = k.values[a]!;
      const y = k.values[b]!;
      if (x === null || y === null) {
        if (x === y) continue;
        return (x === null) === k.nullsFirst ? -1 : 1;
      }
      const c = compareValues(k.type, x, y);
      if (c !== 0) return c * k.sign;
    }
    return a - b;
  });
  return index.map((i) => rows[i]!);
}

/** Type of a transform's result, for comparing: date parts are ints, bucket an int, truncate and identity keep the type. */
function transformedType(transform: string, source: PrimitiveType): PrimitiveType {
  const t = transform.toLowerCase();
  if (t === 'identity' || t.startsWith('truncate')) return source;
  if (t === 'void') return source;
  return { kind: 'int' };
}
