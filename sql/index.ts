/**
 * SQL over a catalog's Iceberg tables: the front door of `sql/` for programs that use lakehouse as a
 * library (`lakehouse/sql`). `SqlSession` is what `lakehouse sql` runs: DuckDB views over the data files
 * our planner picks for each table's snapshot, read-only. Importing it loads DuckDB.
 */
export { SqlSession, type SqlSessionOptions, type StatementResult } from './sql-session.ts';
export type { ResultSet } from './duckdb.ts';
