import type * as arrow from 'apache-arrow';
import { recordBatchToRows } from '../arrow/arrow-rows.ts';
import { evaluateRow } from '../expr/evaluators.ts';
import type { FileIO } from '../io/file-io.ts';
import { readParquetBytes } from './parquet-reader.ts';
import type { Schema } from '../spec/schema.ts';
import type { TableMetadata } from '../spec/table-metadata.ts';
import { type ScanOptions, type ScanPlan, mapLimit, planFiles } from './table-scan.ts';
import type { Value } from '../spec/types.ts';

/**
 * Reads the rows of a scan: plans files, reads each Parquet file (columns matched by field id), and
 * keeps the rows that satisfy the filter (file pruning is only a "might match"). Meant for the CLI,
 * tests and copy-on-write of small files; bulk queries go through DuckDB over the planned files.
 */
export async function readRows(metadata: TableMetadata, io: FileIO, opts: ScanOptions & { limit?: number } = {}): Promise<{ plan: ScanPlan; rows: Record<string, unknown>[] }> {
  const plan = await planFiles(metadata, io, opts);
  const tables = await mapLimit(plan.files, 4, async (f) => readParquetBytes(await io.read(f.filePath), plan.schema));
  const getter = rowGetter(plan.schema);
  const rows: Record<string, unknown>[] = [];
  for (const t of tables) {
    for (const r of recordBatchToRows(t as arrow.Table, plan.schema)) {
      if (evaluateRow(plan.filter, getter(r))) rows.push(r);
      if (opts.limit !== undefined && rows.length >= opts.limit) return { plan, rows };
    }
  }
  return { plan, rows };
}

/** Field-id access into a row object keyed by column name (nested structs as objects). */
export function rowGetter(schema: Schema): (row: Record<string, unknown>) => (fieldId: number) => Value {
  const paths = new Map<number, string[]>();
  return (row) => (id) => {
    let path = paths.get(id);
    if (!path) paths.set(id, (path = (schema.findColumnName(id) ?? '').split('.')));
    let v: unknown = row;
    for (const p of path) v = v === null || v === undefined ? null : (v as Record<string, unknown>)[p];
    return (v ?? null) as Value;
  };
}
