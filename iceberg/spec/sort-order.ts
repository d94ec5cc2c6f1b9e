import { LakehouseError } from '../../core/errors.ts';

export interface SortField {
  transform: string;
  sourceId: number;
  direction: 'asc' | 'desc';
  nullOrder: 'nulls-first' | 'nulls-last';
}

export interface SortOrder {
  orderId: number;
  fields: SortField[];
}

/** Order id 0 is reserved for "unsorted" (spec "Sort Orders"). */
export const UNSORTED: SortOrder = { orderId: 0, fields: [] };

export function sortOrderToJson(o: SortOrder): Record<string, unknown> {
  return {
    'order-id': o.orderId,
    fields: o.fields.map((f) => ({ transform: f.transform, 'source-id': f.sourceId, direction: f.direction, 'null-order': f.nullOrder })),
  };
}

export function sortOrderFromJson(j: unknown): SortOrder {
  const o = j as Record<string, unknown> | null;
  if (!o || !Array.isArray(o.fields)) throw new LakehouseError('INVALID_METADATA', 'Malformed sort order JSON: expected an object with a "fields" array.');
  return {
    orderId: Number(o['order-id'] ?? 0),
    fields: (o.fields as Record<string, unknown>[]).map((f) => {
      const direction = f.direction === 'desc' ? 'desc' : 'asc';
      return {
        transform: String(f.transform),
        sourceId: Number(f['source-id']),
        direction,
        nullOrder: f['null-order'] === 'nulls-last' ? 'nulls-last' : f['null-order'] === 'nulls-first' ? 'nulls-first' : direction === 'asc' ? 'nulls-first' : 'nulls-last',
      };
    }),
  };
}
