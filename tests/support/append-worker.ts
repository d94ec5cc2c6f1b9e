/**
 * A separate process that appends `count` single-row snapshots to a table, for the concurrent-writer
 * test: `node --import tsx append-worker.ts <catalog-uri> <warehouse> <writer-name> <count>`.
 */
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch } from '../../iceberg/arrow-rows.ts';
import { Table } from '../../iceberg/table.ts';

const [uri, warehouse, writer, count] = process.argv.slice(2) as [string, string, string, string];
const catalog = await SqlCatalog.open({ name: 'default', uri, warehouse });
const table = new Table(catalog, await catalog.loadTable({ namespace: ['race'], name: 't' }));
for (let i = 0; i < Number(count); i++) {
  await table.append([rowsToRecordBatch(table.schema(), [{ writer, n: i }])], { summary: { 'race.writer': writer } });
}
await catalog.close();
