/**
 * `make bench`: NDJSON campaign events -> Arrow -> Parquet (zstd) -> Iceberg appends on the embedded
 * SQLite catalog, against DuckDB doing the same conversion (read_json -> COPY parquet zstd) in the
 * same run. Prints a Markdown table for the README. Not a test: nothing here asserts a timing.
 *
 *   EVENTS=1000000 BATCH=100000 make bench
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { rowsToRecordBatch, Table } from '../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { generateEvents } from '../pipeline/event-generator.ts';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const BATCH = Number(process.env.BATCH ?? 100_000);
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-bench-'));

function ndjson(): string {
  const file = path.join(dir, 'events.ndjson');
  const lines: string[] = [];
  for (const e of generateEvents({ count: EVENTS, seed: 7 })) {
    lines.push(JSON.stringify({
      ...e,
      event_time: new Date(Number(e.event_time / 1000n)).toISOString(),
      processed_at: new Date(Number(e.processed_at / 1000n)).toISOString(),
    }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function ours(file: string) {
  const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(['bench']);
  const table = new Table(catalog, await catalog.createTable({ namespace: ['bench'], name: 'events' }, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
  let peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const text = readFileSync(file, 'utf8');
  let parseMs = 0, buildMs = 0, writeMs = 0;
  let batch: Record<string, unknown>[] = [];
  const micros = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
  const flush = async () => {
    let t = performance.now();
    const rb = rowsToRecordBatch(campaignEventsSchema, batch);
    buildMs += performance.now() - t;
    t = performance.now();
    await table.append([rb]);
    writeMs += performance.now() - t;
    batch = [];
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  let start = 0;
  let t = performance.now();
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start) {
      const o = JSON.parse(text.slice(start, end));
      o.event_time = micros(o.event_time);
      o.processed_at = micros(o.processed_at);
      batch.push(o);
    }
    start = end + 1;
    if (batch.length >= BATCH) { parseMs += performance.now() - t; await flush(); t = performance.now(); }
  }
  parseMs += performance.now() - t;
  if (batch.length > 0) await flush();
  const seconds = (performance.now() - t0) / 1000;
  const plan = await table.planFiles();
  const bytes = plan.files.reduce((a, f) => a + f.fileSizeInBytes, 0);
  const rows = plan.files.reduce((a, f) => a + f.recordCount, 0);
  await catalog.close();
  return { seconds, rows, bytes, files: plan.files.length, snapshots: table.metadata.snapshots.length, peakRss, parseMs, buildMs, writeMs };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (b: number) => (b / 1048576).toFixed(1);

const phase = (what: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);
phase(`generating ${EVENTS} events as NDJSON`);
const file = ndjson();
phase('lakehouse: ingesting');
const inputBytes = statSync(file).size;
const us = await ours(file);
phase('DuckDB reference');
const ref = JSON.parse(execFileSync(path.join(repo, '.venv/bin/python'), [path.join(repo, 'bench/duckdb_reference.py'), file, path.join(dir, 'ref.parquet')], { encoding: 'utf8' }));
rmSync(dir, { recursive: true, force: true });

if (us.rows !== EVENTS) throw new Error(`bench wrote ${us.rows} rows, expected ${EVENTS}`);
console.log(`\n${fmt(EVENTS)} events, ${mib(inputBytes)} MiB NDJSON, batches of ${fmt(BATCH)}; node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| path | events/s | input MiB/s | seconds | output | peak RSS |');
console.log('| --- | ---: | ---: | ---: | --- | ---: |');
console.log(`| lakehouse: JSON -> Arrow -> Parquet zstd -> Iceberg (${us.snapshots} appends, day x event_type partitions) | ${fmt(EVENTS / us.seconds)} | ${(inputBytes / 1048576 / us.seconds).toFixed(1)} | ${us.seconds.toFixed(2)} | ${us.files} files, ${mib(us.bytes)} MiB | ${mib(us.peakRss)} MiB |`);
for (const k of ['threads1', 'threads2']) {
  const r = ref[k];
  console.log(`| DuckDB read_json -> COPY parquet zstd, ${k.replace('threads', '')} thread(s), one unpartitioned file | ${fmt(EVENTS / r.seconds)} | ${(inputBytes / 1048576 / r.seconds).toFixed(1)} | ${r.seconds.toFixed(2)} | 1 file, ${mib(r.bytes)} MiB | |`);
}
console.log(`\nlakehouse time split: JSON parse ${(us.parseMs / 1000).toFixed(2)} s, Arrow build ${(us.buildMs / 1000).toFixed(2)} s, Parquet + stats + commit ${(us.writeMs / 1000).toFixed(2)} s.`);
console.log(`ratio (lakehouse / DuckDB 1 thread): ${(ref.threads1.seconds / us.seconds).toFixed(2)}x the throughput`);
