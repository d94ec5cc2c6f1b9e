import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { type TableIdentifier, type PartitionSpec, type Schema, Table } from '../../iceberg/index.ts';
import { sqliteCatalogUri, warehouseUri } from './readers.ts';

/**
 * A fresh warehouse per test file: our SQLite catalog plus the URIs PyIceberg needs to open the very
 * same database file. Each test uses its own table name (so tests never see each other's tables).
 */
export interface Warehouse {
  dir: string;
  catalog: SqlCatalog;
  catalogUri: string;
  warehouse: string;
  createTable(name: string, schema: Schema, spec?: PartitionSpec, properties?: Record<string, string>): Promise<Table>;
  close(): Promise<void>;
}

export async function openWarehouse(prefix: string): Promise<Warehouse> {
  const dir = mkdtempSync(path.join(tmpdir(), `lakehouse-${prefix}-`));
  const dbPath = path.join(dir, 'catalog.db');
  const whDir = path.join(dir, 'wh');
  const catalog = await SqlCatalog.open({ name: 'default', uri: sqliteCatalogUri(dbPath), warehouse: whDir });
  await catalog.createNamespace(['interop']);
  return {
    dir,
    catalog,
    catalogUri: sqliteCatalogUri(dbPath),
    warehouse: warehouseUri(whDir),
    async createTable(name, schema, spec = { specId: 0, fields: [] }, properties = {}) {
      const id: TableIdentifier = { namespace: ['interop'], name };
      return new Table(catalog, await catalog.createTable(id, { schema, partitionSpec: spec, properties }));
    },
    async close() {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The local path of a metadata location, for DuckDB's iceberg_scan. */
export function localPath(location: string): string {
  return location.replace(/^file:(\/\/)?/, '');
}
