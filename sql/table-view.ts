import { type IcebergType, type Schema } from '../iceberg/index.ts';
import { sqlString, sqlStringList } from './duckdb.ts';

/**
 * The SELECT a DuckDB view runs to read one Iceberg snapshot: `read_parquet` over exactly the data files
 * the Iceberg planner chose, with the snapshot's schema given as `schema = MAP {field_id: {name, type,
 * default_value}}`. DuckDB then matches each top-level column by its Parquet field id, not by name (what
 * DuckDB's iceberg extension does too), so a renamed column reads from files written under its old name,
 * a column added later reads as NULL from older files, and a dropped-then-re-added name never picks up
 * the old column's data. Nested fields inside a struct, list or map are matched by name.
 */
export function snapshotSelect(schema: Schema, files: readonly string[]): string {
  if (schema.fields.length === 0) return 'SELECT WHERE false';
  if (files.length === 0) {
    // No data files (an empty table or snapshot): the same columns and types, no rows.
    return `SELECT ${schema.fields.map((f) => `NULL::${duckdbType(f.type)} AS ${quoteIdent(f.name)}`).join(', ')} WHERE false`;
  }
  const columns = schema.fields.map((f) => `${f.id}: {name: ${sqlString(f.name)}, type: ${sqlString(duckdbType(f.type))}, default_value: NULL}`);
  // hive_partitioning off: our paths contain key=value folders, which DuckDB would otherwise add as columns.
  return `SELECT * FROM read_parquet(${sqlStringList(files)}, hive_partitioning = false, schema = MAP {${columns.join(', ')}})`;
}

/** The DuckDB type an Iceberg type reads as (as DuckDB's iceberg extension maps them). */
export function duckdbType(t: IcebergType): string {
  switch (t.kind) {
    case 'boolean': return 'BOOLEAN';
    case 'int': return 'INTEGER';
    case 'long': return 'BIGINT';
    case 'float': return 'FLOAT';
    case 'double': return 'DOUBLE';
    case 'decimal': return `DECIMAL(${t.precision}, ${t.scale})`;
    case 'date': return 'DATE';
    case 'time': return 'TIME';
    case 'timestamp': return 'TIMESTAMP';
    case 'timestamptz': return 'TIMESTAMPTZ';
    case 'string': return 'VARCHAR';
    case 'uuid': return 'UUID';
    case 'binary':
    case 'fixed': return 'BLOB';
    case 'struct': return `STRUCT(${t.fields.map((f) => `${quoteIdent(f.name)} ${duckdbType(f.type)}`).join(', ')})`;
    case 'list': return `${duckdbType(t.element)}[]`;
    case 'map': return `MAP(${duckdbType(t.key)}, ${duckdbType(t.value)})`;
  }
}

/** A DuckDB identifier, always quoted so names like `order` or `a.b` stay one name. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
