/**
 * A separate process that appends `count` single-row snapshots to `race.t` (or the table given), for
 * the multi-process tests: `node --import tsx append-worker.ts <config-file> <catalog-name> <writer> <count> [table]`.
 * The catalog comes from a config file through loadCatalog, exactly as the CLI gets it.
 */
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { rowsToRecordBatch, parseIdentifier, Table } from '../../iceberg/index.ts';

const [configFile, name, writer, count, tableName = 'race.t'] = process.argv.slice(2) as [string, string, string, string, string?];
const catalog = await loadCatalog({ name, configFile });
const table = new Table(catalog, await catalog.loadTable(parseIdentifier(tableName)));
for (let i = 0; i < Number(count); i++) {
  await table.append([rowsToRecordBatch(table.schema(), [{ writer, n: i }])], { summary: { 'race.writer': writer } });
}
await catalog.close();
