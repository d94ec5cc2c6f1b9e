/**
 * lakehouse as a library, without the CLI: open a SQLite catalog, create a partitioned Iceberg table,
 * append, delete a customer's rows, scan with a filter, and expire old snapshots. Only the package's
 * public entry points are used (`lakehouse/iceberg`, `lakehouse/catalog/sql`).
 *
 *   npm run build && node --import tsx examples/quickstart.ts [WAREHOUSE_DIR]
 *
 * It prints one JSON line per step; PyIceberg, DuckDB, Trino or Spark can read the table it leaves
 * (catalog `<dir>/catalog.db`, table `shop.orders`).
 */
import path from 'node:path';
import { SqlCatalog } from 'lakehouse/catalog/sql';
import { Schema, T, Table, parsePartitionText, rowsToRecordBatch } from 'lakehouse/iceberg';

const dir = path.resolve(process.argv[2] ?? 'example-warehouse');
const say = (step: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ step, ...fields }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));

const schema = new Schema([
  T.field(1, 'order_id', T.long(), true),
  T.field(2, 'customer', T.string(), true),
  T.field(3, 'amount', T.double(), true),
  T.field(4, 'ordered_at', T.timestamptz(), true, 'when the order was placed (UTC)'),
]);

// Timestamps are microseconds since the epoch (Iceberg's timestamptz), exact as bigint.
const DAY = 86_400_000_000n;
const start = BigInt(Date.UTC(2026, 10, 1)) * 1000n;
const order = (id: number, customer: string, amount: number, day: number) =>
  ({ order_id: BigInt(id), customer, amount, ordered_at: start + BigInt(day) * DAY + BigInt(id) * 1_000_000n });

const catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: dir });
try {
  if (!(await catalog.namespaceExists(['shop']))) await catalog.createNamespace(['shop']);
  const id = { namespace: ['shop'], name: 'orders' };
  if (await catalog.tableExists(id)) await catalog.dropTable(id, { purge: true });
  const table = new Table(catalog, await catalog.createTable(id, { schema, partitionSpec: parsePartitionText('day(ordered_at)', schema) }));
  say('created', { table: table.name, location: table.location });

  // Each append writes Parquet files (one per day partition here) and commits one snapshot.
  await table.append([rowsToRecordBatch(schema, [order(1, 'ada', 12.5, 0), order(2, 'bob', 40, 0), order(3, 'ada', 7.25, 1)])]);
  await table.append([rowsToRecordBatch(schema, [order(4, 'cy', 99.9, 1), order(5, 'bob', 3, 2)])]);
  say('appended', { snapshots: table.metadata.snapshots.length, records: table.currentSnapshot()?.summary['total-records'] });

  // Delete bob's orders: an overwrite by filter with nothing added (copy-on-write for files that match in part).
  await table.overwrite("customer = 'bob'", []);
  say('deleted', { records: table.currentSnapshot()?.summary['total-records'] });

  // Scan: planning prunes day partitions by the filter before any file is opened.
  const plan = await table.planFiles({ filter: "ordered_at >= '2026-11-02T00:00:00Z'" });
  const rows = await table.readRows({ filter: "ordered_at >= '2026-11-02T00:00:00Z'" });
  say('scanned', { files: plan.files.length, pruning: plan.metrics, orders: rows.map((r) => Number(r.order_id)).sort() });

  // Maintain: keep only the current snapshot; files no retained snapshot needs are deleted.
  const expired = await table.expireSnapshots({ olderThanMs: Date.now() + 1, retainLast: 1 });
  await table.refresh();
  say('expired', { metadata: table.metadataLocation, snapshots: table.metadata.snapshots.length, expired: expired.expiredSnapshotIds.length, deletedDataFiles: expired.deletedDataFiles.length });
} finally {
  await catalog.close();
}
