/**
 * One ingest process for the crash test (tests/integration/kafka-crash.test.ts):
 * `node --import tsx ingest-crash-worker.ts '<json WorkerConfig>'`.
 *
 * The wiring is `lakehouse ingest --source kafka`'s (cli/ingest.ts runIngest): a Kafka source whose
 * rebalances ask the Ingestor for the table's positions, the Kafka dead-letter topic, the Ingestor, and
 * SIGTERM for a graceful stop (flush, commit, exit 0; the stats go to stdout as one JSON line). The
 * catalog is a SqlCatalog on a SQLite file and a local warehouse, opened with a FileIO that passes
 * every write through pipeline/crash-points.ts, so LAKEHOUSE_CRASH_AT can kill the process at points
 * inside the table format too (TABLE_CRASH_POINTS: after a data file, after a commit's manifest list,
 * after its metadata file and before the catalog's compare-and-swap).
 *
 * The flush steps themselves are FLUSH_CRASH_POINTS, called by pipeline/ingest.ts.
 */
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { parseIdentifier, Table } from '../../iceberg/index.ts';
import { type FileInfo, type FileIO, type WriteOptions, LocalFileIO } from '../../iceberg/io/index.ts';
import { TABLE_CRASH_POINTS, crashPoint } from '../../pipeline/crash-points.ts';
import { Ingestor } from '../../pipeline/ingest.ts';
import { KafkaDeadLetterSink } from '../../pipeline/kafka-dead-letters.ts';
import { createKafkaSource } from '../../pipeline/kafka-source.ts';
import { createLogger } from '../../core/log.ts';

export interface WorkerConfig {
  brokers: string[];
  topic: string;
  dlqTopic: string;
  /** The Kafka consumer group, whose positions the table records (`lakehouse.offsets.<group>`). */
  group: string;
  /** SQLAlchemy-style SQLite URI and warehouse, as tests/interop/helpers.ts openWarehouse gives them. */
  catalogUri: string;
  warehouse: string;
  /** `ns.table`, created beforehand. */
  table: string;
  flushRows: number;
  flushIntervalMs: number;
}

/** The crash point a written location reaches, by the file names iceberg/ gives. */
function pointAfterWriting(location: string): string | null {
  const name = location.slice(location.lastIndexOf('/') + 1);
  if (name.endsWith('.parquet')) return TABLE_CRASH_POINTS.dataFileWritten;
  if (name.endsWith('.metadata.json')) return TABLE_CRASH_POINTS.metadataWritten;
  if (name.startsWith('snap-') && name.endsWith('.avro')) return TABLE_CRASH_POINTS.manifestListWritten;
  return null;
}

/** A FileIO that reaches a crash point after each completed write; everything else is the inner FileIO's. */
class CrashPointFileIO implements FileIO {
  constructor(private readonly inner: FileIO) {}

  async write(location: string, data: Uint8Array, options?: WriteOptions): Promise<void> {
    await this.inner.write(location, data, options);
    const point = pointAfterWriting(location);
    if (point) crashPoint(point);
  }

  read(location: string): Promise<Uint8Array> { return this.inner.read(location); }
  readRange(location: string, offset: number, length: number): Promise<Uint8Array> { return this.inner.readRange(location, offset, length); }
  exists(location: string): Promise<boolean> { return this.inner.exists(location); }
  size(location: string): Promise<number> { return this.inner.size(location); }
  delete(location: string): Promise<void> { return this.inner.delete(location); }
  deleteMany(locations: string[]): Promise<void> { return this.inner.deleteMany(locations); }
  list(prefix: string): AsyncIterable<FileInfo> { return this.inner.list(prefix); }
  close(): Promise<void> { return this.inner.close(); }
}

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
const log = createLogger({ level: 'info' });
const catalog = await SqlCatalog.open({ name: 'default', uri: config.catalogUri, warehouse: config.warehouse, io: new CrashPointFileIO(new LocalFileIO()) });
try {
  const table = new Table(catalog, await catalog.loadTable(parseIdentifier(config.table)));
  let ingestor: Ingestor | undefined;
  const source = createKafkaSource({
    brokers: config.brokers, topic: config.topic, group: config.group, log,
    // The broker's minimum session; heartbeats often enough that a live member is never evicted.
    sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100,
    positionsFor: () => ingestor!.positionsFor(),
    onAssignment: () => ingestor!.discardUncommitted('rebalance'),
  });
  const deadLetters = new KafkaDeadLetterSink({ brokers: config.brokers, topic: config.dlqTopic, log });
  ingestor = new Ingestor({
    table, source, group: config.group, deadLetters, log,
    flushRows: config.flushRows, flushIntervalMs: config.flushIntervalMs,
  });
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  try {
    const stats = await ingestor.run(controller.signal);
    process.stdout.write(`${JSON.stringify({ stats }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Map ? Object.fromEntries(v) : v))}\n`);
  } finally {
    await source.close().catch(() => {});
    await deadLetters.close();
  }
} finally {
  await catalog.close();
}
