/**
 * `make bench`, compaction: `lakehouse compact` (bin-pack, one replace snapshot per partition group) over a
 * campaign_events table of many small files, against DuckDB rewriting the same Parquet files into one
 * Parquet file (zstd) in the same run. Then the sort-order question: the same compaction sorted by
 * (campaign_id, event_time), and what each layout does for the metrics job and for a per-campaign query.
 * Not a test: nothing asserts a timing, but a compaction that changes the rows fails it.
 *
 *   COMPACT_EVENTS=1000000 COMPACT_COMMITS=100 THREADS=2 node --import tsx bench/compact-bench.ts
 *
 * 1. Setup: a SQLite-catalog warehouse in a temp dir; COMPACT_COMMITS appends of COMPACT_EVENTS / COMMITS generated
 *    events each (3 days x 3 event types = 9 partitions, so 9 small files per commit).
 * 2. DuckDB (sql/duckdb.ts, 1 and THREADS threads): COPY (SELECT * FROM read_parquet(the live files)) TO one
 *    zstd Parquet file. MB/s = input bytes (the small files' sizes) / seconds, as for ours.
 * 3. Ours: compactTable with the table's target size (512 MiB): every partition's files into one file.
 *    Then main is set back to the small files, a sort order (campaign_id, event_time) is declared, and the
 *    compaction runs again, sorted.
 * 4. For each layout (small files, compacted, compacted + sorted): bytes on disk; a full metrics run
 *    (runMetrics into a fresh table); DuckDB `sum(revenue), count(*)` for one campaign over one day, over the
 *    planned files (the query a per-campaign dashboard tile makes); median of 3 for the query.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { type CompactionResult, Table, compactTable, rowsToRecordBatch } from '../iceberg/index.ts';
import { CAMPAIGN_EVENTS_TABLE, campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { generateEvents } from '../pipeline/event-generator.ts';
import { DuckDb, sqlString, sqlStringList } from '../sql/duckdb.ts';
import { runMetrics } from '../sql/campaign-metrics-job.ts';

const EVENTS = Number(process.env.COMPACT_EVENTS ?? 1_000_000);
const COMMITS = Number(process.env.COMPACT_COMMITS ?? 100);
const THREADS = Number(process.env.THREADS ?? 2);
const MiB = 1024 * 1024;
const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-compact-bench-'));
const localPath = (p: string) => p.replace(/^file:\/\//, '');

const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
const id = { namespace: ['lakehouse'], name: CAMPAIGN_EVENTS_TABLE };

async function setup(): Promise<Table> {
  await catalog.createNamespace(['lakehouse']);
  const table = new Table(catalog, await catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
  const per = Math.ceil(EVENTS / COMMITS);
  let batch: Record<string, unknown>[] = [];
  for (const e of generateEvents({ count: EVENTS, seed: 11 })) {
    batch.push(e as unknown as Record<string, unknown>);
    if (batch.length === per) { await table.append([rowsToRecordBatch(campaignEventsSchema, batch)]); batch = []; }
  }
  if (batch.length > 0) await table.append([rowsToRecordBatch(campaignEventsSchema, batch)]);
  return table;
}

/** CPU seconds of this process (every thread, DuckDB's too): steadier than wall time on a shared machine. */
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

async function duckdbRewrite(files: string[], threads: number): Promise<{ seconds: number; cpu: number; bytes: number }> {
  const out = path.join(dir, `duckdb-${threads}.parquet`);
  const db = await DuckDb.open({ threads });
  try {
    const t0 = performance.now();
    const c0 = cpuSeconds();
    await db.run(`COPY (SELECT * FROM read_parquet(${sqlStringList(files)})) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`);
    return { seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0, bytes: statSync(out).size };
  } finally {
    db.close();
  }
}

/** What a layout costs readers: bytes, a full metrics run, a per-campaign query. */
async function readers(table: Table, label: string): Promise<Record<string, string | number>> {
  await table.refresh();
  const files = (await table.planFiles()).files;
  const t0 = performance.now();
  const m = await runMetrics({ catalog, events: id, metrics: { namespace: ['lakehouse'], name: `metrics_${label.replace(/\W+/g, '_')}` }, threads: THREADS });
  const metricsSeconds = (performance.now() - t0) / 1000;
  const dayFiles = (await table.planFiles({ filter: "campaign_id = 'campaign-007' AND event_time >= '2026-11-02T00:00:00Z' AND event_time < '2026-11-03T00:00:00Z'" })).files;
  const db = await DuckDb.open({ threads: THREADS });
  const times: number[] = [];
  let answer = '';
  try {
    for (let i = 0; i < 3; i++) {
      const q0 = performance.now();
      const rows = await db.rows(`SELECT count(*) AS n, sum(revenue) AS revenue FROM read_parquet(${sqlStringList(dayFiles.map((f) => localPath(f.filePath)))})
        WHERE campaign_id = 'campaign-007' AND event_time >= TIMESTAMPTZ '2026-11-02 00:00:00+00' AND event_time < TIMESTAMPTZ '2026-11-03 00:00:00+00'`);
      times.push((performance.now() - q0) / 1000);
      answer = `${rows[0]!.n}/${Number(rows[0]!.revenue).toFixed(2)}`;
    }
  } finally {
    db.close();
  }
  times.sort((a, b) => a - b);
  return {
    layout: label, files: files.length, MiB: +(files.reduce((a, f) => a + f.fileSizeInBytes, 0) / MiB).toFixed(1),
    'metrics full run s': +metricsSeconds.toFixed(2), 'metrics rows': m.rowsWritten,
    'campaign/day query ms': +(times[1]! * 1000).toFixed(1), 'files read by it': dayFiles.length, answer,
  };
}

function ours(r: CompactionResult, cpu: number, label: string) {
  return {
    path: label, 'input MiB': +(r.bytesRead / MiB).toFixed(1), seconds: +r.seconds.toFixed(2), 'MiB/s': +(r.bytesRead / MiB / r.seconds).toFixed(2),
    'CPU s': +cpu.toFixed(2), 'MiB per CPU s': +(r.bytesRead / MiB / cpu).toFixed(2),
    files: `${r.filesRemoved} -> ${r.filesAdded}`, 'output MiB': +(r.bytesWritten / MiB).toFixed(1),
  };
}

try {
  const s0 = performance.now();
  const table = await setup();
  const small = table.currentSnapshot()!;
  const inputs = (await table.planFiles()).files;
  const inputBytes = inputs.reduce((a, f) => a + f.fileSizeInBytes, 0);
  const rowsBefore = inputs.reduce((a, f) => a + f.recordCount, 0);
  console.log(`setup: ${EVENTS} events in ${COMMITS} commits -> ${inputs.length} files, ${(inputBytes / MiB).toFixed(1)} MiB, ${((performance.now() - s0) / 1000).toFixed(1)} s (dir ${dir})`);

  const throughput: Record<string, string | number>[] = [];
  const layouts: Record<string, string | number>[] = [await readers(table, 'small files')];
  for (const threads of [1, THREADS]) {
    const d = await duckdbRewrite(inputs.map((f) => localPath(f.filePath)), threads);
    throughput.push({
      path: `DuckDB read_parquet -> COPY one zstd file, ${threads} thread(s)`, 'input MiB': +(inputBytes / MiB).toFixed(1), seconds: +d.seconds.toFixed(2),
      'MiB/s': +(inputBytes / MiB / d.seconds).toFixed(2), 'CPU s': +d.cpu.toFixed(2), 'MiB per CPU s': +(inputBytes / MiB / d.cpu).toFixed(2), files: `${inputs.length} -> 1`, 'output MiB': +(d.bytes / MiB).toFixed(1) });
  }

  let c0 = cpuSeconds();
  const plain = await compactTable(table);
  throughput.unshift(ours(plain, cpuSeconds() - c0, 'lakehouse compact (bin-pack per partition, one commit)'));
  const check = async () => {
    await table.refresh();
    const after = (await table.planFiles()).files.reduce((a, f) => a + f.recordCount, 0);
    if (after !== rowsBefore) throw new Error(`compaction changed the row count: ${rowsBefore} -> ${after}`);
  };
  await check();
  layouts.push(await readers(table, 'compacted'));

  // Back to the small files, declare (campaign_id, event_time), compact again, sorted.
  const schema = table.schema();
  const sortOrder = { orderId: 1, fields: ['campaign_id', 'event_time'].map((n) => ({ transform: 'identity', sourceId: schema.findFieldByName(n)!.id, direction: 'asc' as const, nullOrder: 'nulls-first' as const })) };
  table.state = await catalog.commitTable(id, [], [
    { action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: small.snapshotId, type: 'branch' } },
    { action: 'add-sort-order', sortOrder },
    { action: 'set-default-sort-order', sortOrderId: -1 },
  ]);
  c0 = cpuSeconds();
  const sorted = await compactTable(table);
  throughput.splice(1, 0, ours(sorted, cpuSeconds() - c0, 'lakehouse compact, sorted by (campaign_id, event_time)'));
  await check();
  layouts.push(await readers(table, 'compacted + sorted (campaign_id, event_time)'));

  console.log('\ncompaction throughput (input MiB/s; 2 cores shared, see load below):');
  console.table(throughput);
  console.log('\nwhat each layout does for readers:');
  console.table(layouts);
  console.log(`load average: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  await catalog.close();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
}
