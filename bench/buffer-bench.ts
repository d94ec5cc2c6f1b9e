/**
 * `make bench`, the ingest's buffer and write side without Kafka: pre-generated message bytes ->
 * EventBuffer.addMessage -> drain at FLUSH rows -> writeDataFiles (fan-out by partition, statistics,
 * Parquet zstd, local files) -> one append commit per flush on a SQLite-catalog warehouse. DuckDB
 * (bench/duckdb_reference.py: read_json -> COPY parquet zstd) converts the same message values as
 * NDJSON in the same run. Not a test: nothing here asserts a timing.
 *
 *   EVENTS=500000 FLUSH=100000 DAYS=3 DEDUP=0 PROFILE=0 node --import tsx bench/buffer-bench.ts
 *
 * DAYS spreads event times over that many days: 3 gives the usual 9-12 partitions (day x event_type)
 * per flush, 67 about 200. DEDUP=1 runs with the event_id index (pipeline/dedup-index.ts) as ingest
 * does. PROFILE=1 profiles the measured loop (node:inspector) and prints where its time goes
 * (PROFILE_OUT=file.cpuprofile keeps the profile, for Chrome DevTools).
 * CPU µs/event is user + system time of this process over the loop ("of which flush": drain, write,
 * commit); peak RSS is the process's
 * high-water mark (VmHWM), the message bytes (held in one buffer) included, printed beside it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { Table } from '../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { DedupIndex } from '../pipeline/dedup-index.ts';
import { EventBuffer } from '../pipeline/event-buffer.ts';
import { generateMessages } from '../pipeline/event-generator.ts';

const EVENTS = Number(process.env.EVENTS ?? 500_000);
const FLUSH = Number(process.env.FLUSH ?? 100_000);
const DAYS = Number(process.env.DAYS ?? 3);
const DEDUP = process.env.DEDUP === '1';
const PROFILE = process.env.PROFILE === '1';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DAY_MS = 86_400_000;

const phase = (what: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);

/** Peak resident set of this process so far (bytes), from /proc; 0 where there is none. */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

/** The generated message values as NDJSON (what DuckDB reads, and the child loads into one buffer). */
function writeMessages(dir: string): string {
  const lines: Buffer[] = [];
  for (const m of generateMessages({ count: EVENTS, seed: 11, startMs: Date.UTC(2026, 9, 1), spanMs: DAYS * DAY_MS })) {
    lines.push(Buffer.from(m.value), Buffer.from('\n'));
  }
  const ndjson = path.join(dir, 'events.ndjson');
  writeFileSync(ndjson, Buffer.concat(lines));
  return ndjson;
}

interface Run { seconds: number; cpuSeconds: number; flushCpuSeconds: number; rows: number; files: number; fileBytes: number; commits: number; partitions: number; profile?: ProfileNodes }

async function ours(dir: string, bytes: Uint8Array, offsets: Int32Array): Promise<Run> {
  const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(['bench']);
  const table = new Table(catalog, await catalog.createTable({ namespace: ['bench'], name: 'events' }, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
  const index = DEDUP ? new DedupIndex({ horizonMs: 400 * DAY_MS }) : null;
  const buffer = new EventBuffer({ schema: table.schema(), ...(index ? { seen: index } : {}) });
  const session = PROFILE ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  let commits = 0;
  let files = 0;
  let fileBytes = 0;
  const partitions = new Set<string>();
  let flushCpu = 0;
  const flush = async () => {
    const c0 = process.cpuUsage();
    const drained = buffer.drainBatch();
    if (!drained) return;
    if (index) index.stage(drained.lo, drained.hi, drained.batch.numRows);
    const written = await table.writeDataFiles([drained.batch]);
    await table.newAppend().appendFiles(written).commit();
    index?.commitStaged(Date.now());
    commits++;
    files += written.length;
    const c = process.cpuUsage(c0);
    flushCpu += (c.user + c.system) / 1e6;
    for (const f of written) { fileBytes += f.fileSizeInBytes; partitions.add(JSON.stringify(f.partition, (_, v) => (typeof v === 'bigint' ? String(v) : v))); }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const now = Date.now();
  const processedAt = BigInt(now) * 1000n;
  let rows = 0;
  for (let i = 0; i + 1 < offsets.length; i++) {
    // A subarray per message, as a Kafka client hands over a Buffer per message (newline left out).
    const added = buffer.addMessage(bytes.subarray(offsets[i]!, offsets[i + 1]! - 1), now, processedAt);
    if (added === true) rows++;
    if (buffer.rows >= FLUSH) await flush();
  }
  await flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  let profile: ProfileNodes | undefined;
  if (session) {
    profile = (await session.post('Profiler.stop')).profile as unknown as ProfileNodes;
    session.disconnect();
  }
  await catalog.close();
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, flushCpuSeconds: flushCpu, rows, files, fileBytes, commits, partitions: partitions.size, ...(profile ? { profile } : {}) };
}

// ---- profile ----

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface ProfileNodes { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Where a frame's time goes, by the file it runs in; null = its caller's (node internals, builtins). */
function frameCategory(fn: string, url: string): string | null {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(idle)' || fn === '(program)') return 'idle, V8 / native unattributed';
  if (url.includes('/pipeline/event-decoder.ts')) return 'decode + validate (event-decoder)';
  if (url.includes('/pipeline/event-buffer.ts')) return 'fill Arrow columns, fan-out while filling (event-buffer)';
  if (url.includes('/pipeline/dedup-index.ts')) return 'event_id fingerprint + index (dedup-index)';
  if (url.includes('/iceberg/writer/fanout-writer.ts') || url.includes('/iceberg/arrow/arrow-rows.ts') || url.includes('/iceberg/spec/partition-')) return 'partition fan-out at flush (fanout-writer)';
  if (url.includes('/iceberg/writer/column-stats.ts')) return 'column statistics (column-stats)';
  if (url.startsWith('wasm://') || /\/node_modules\/(parquet-wasm|apache-arrow|flatbuffers)\//.test(url) || url.includes('/iceberg/writer/parquet-writer.ts')) {
    return 'Parquet encode + zstd, Arrow IPC hand-off (parquet-wasm)';
  }
  if (url.includes('/node_modules/hyparquet/')) return 'Parquet footer read for column sizes (hyparquet)';
  if (url.includes('/iceberg/io/')) return 'Parquet file write (FileIO)';
  if (/\/iceberg\/(spec|ops|manifest|avro|table)/.test(url) || url.includes('/catalog/') || /\/node_modules\/(avsc|better-sqlite3)\//.test(url)) return 'Iceberg commit: manifests, metadata, SQLite catalog';
  if (url.includes('/bench/')) return 'bench loop';
  return null;
}

function profileShares(p: ProfileNodes): Array<[string, number]> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const category = new Map<number, string>();
  const walk = (node: ProfileNode, inherited: string) => {
    const c = frameCategory(node.callFrame.functionName, node.callFrame.url) ?? inherited;
    category.set(node.id, c);
    for (const id of node.children ?? []) walk(byId.get(id)!, c);
  };
  walk(p.nodes[0]!, 'other JS (node internals)');
  const ms = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    const c = category.get(p.samples[i]!)!;
    ms.set(c, (ms.get(c) ?? 0) + dt);
    total += dt;
  }
  return [...ms].sort((a, b) => b[1] - a[1]).map(([c, t]) => [c, t / total]);
}

// ---- main ----

/** The NDJSON file as one buffer and the offset of each line (newline included), read in the child. */
function readMessages(file: string): { bytes: Uint8Array; offsets: Int32Array } {
  const bytes: Uint8Array = readFileSync(file);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) n++;
  const offsets = new Int32Array(n + 1);
  for (let i = 0, k = 1; i < bytes.length; i++) if (bytes[i] === 0x0a) offsets[k++] = i + 1;
  return { bytes, offsets };
}

const SELF = fileURLToPath(import.meta.url);
if (process.argv[2] === '--child') {
  // Its own process, so peak RSS is the loop's and not the generator's.
  const { bytes, offsets } = readMessages(process.argv[3]!);
  const rssBefore = process.memoryUsage().rss;
  const run = await ours(process.argv[4]!, bytes, offsets);
  const shares = run.profile ? profileShares(run.profile) : [];
  if (run.profile && process.env.PROFILE_OUT) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(run.profile));
  delete run.profile;
  process.stdout.write(JSON.stringify({ ...run, rssBefore, peakRss: peakRss(), messageBytes: bytes.length, shares }));
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-buffer-bench-'));
  try {
    phase(`generating ${EVENTS.toLocaleString('en-US')} messages over ${DAYS} day(s)`);
    const ndjson = writeMessages(dir);
    phase(`lakehouse: decode + buffer + write + commit, flushes of ${FLUSH.toLocaleString('en-US')} rows${DEDUP ? ', de-duplication on' : ''}`);
    const us = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', SELF, '--child', ndjson, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Run & { rssBefore: number; peakRss: number; messageBytes: number; shares: Array<[string, number]> };
    phase('DuckDB reference');
    const ref = JSON.parse(execFileSync(path.join(REPO, '.venv/bin/python'), [path.join(REPO, 'bench/duckdb_reference.py'), ndjson, path.join(dir, 'ref.parquet')], { encoding: 'utf8' }));
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
    console.log(`\n${fmt(EVENTS)} messages (${mib(us.messageBytes)}), ${DAYS} day(s), flush ${fmt(FLUSH)} rows${DEDUP ? ', dedup on' : ''}; node ${process.version}, load ${loadavg()[0]!.toFixed(1)}\n`);
    console.log('| path | events/s | CPU µs/event | of which flush | x DuckDB 1 thread (rate) | output | peak RSS |');
    console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: |');
    console.log(`| lakehouse: bytes -> buffer -> Parquet zstd -> Iceberg (${us.commits} commits, ${us.partitions} partitions) | ${fmt(us.rows / us.seconds)} | ${((us.cpuSeconds * 1e6) / EVENTS).toFixed(2)} | ${((us.flushCpuSeconds * 1e6) / EVENTS).toFixed(2)} | ${(ref.threads1.seconds / us.seconds).toFixed(2)} | ${us.files} files, ${mib(us.fileBytes)} | ${mib(us.peakRss)} (messages held: ${mib(us.messageBytes)}, at start: ${mib(us.rssBefore)}) |`);
    for (const k of ['threads1', 'threads2']) {
      const r = ref[k];
      console.log(`| DuckDB read_json -> COPY parquet zstd, ${k.replace('threads', '')} thread(s) | ${fmt(EVENTS / r.seconds)} | ${((r.cpu_seconds * 1e6) / EVENTS).toFixed(2)} | | | 1 file, ${mib(r.bytes)} | |`);
    }
    if (us.shares.length > 0) {
      console.log('\n| share | where (profiled loop) |\n| ---: | --- |');
      for (const [c, share] of us.shares) if (share >= 0.005) console.log(`| ${(share * 100).toFixed(0)} % | ${c} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
