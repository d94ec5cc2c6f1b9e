/**
 * `make bench`, streaming half: campaign events from a real Kafka broker into a committed
 * Iceberg table, with DuckDB converting the same events in the same run as the reference. Not a test:
 * nothing here asserts a timing. Prints Markdown tables for the README.
 *
 *   EVENTS=1000000 RATE=20000 STEADY_SECONDS=20 FLUSH_INTERVAL=5000 RUNS=1 PHASES=catchup,profile,file,reference,consume,steady \
 *     node --import tsx bench/ingest-bench.ts
 *
 * Broker: LAKEHOUSE_KAFKA_BROKERS, else what .cache/services/services.env says (`make services-up` or
 * `bash infra/services.sh up kafka`); loopback addresses only, so a bench never loads a shared cluster.
 * Every topic and consumer group is new (lakehouse-bench-<random>) and the topics are deleted at the end.
 *
 * 1. EVENTS generated messages (pipeline/event-generator.ts, all valid) are produced with the project's
 *    producer to a 3-partition topic, and the same message values written as NDJSON.
 * 2. Catch-up: a child process runs the real Ingestor (Kafka source, Kafka dead-letter sink, default
 *    flush settings) into a fresh SQLite-catalog table until every message is in a committed snapshot.
 *    events/s and MiB/s (key + value bytes) count from the group assignment to that commit; peak RSS
 *    is the child's own. RUNS repeats it (fresh table and group each time) and reports the median.
 * 3. Profile (PROFILE=1, default): one more catch-up run under --cpu-prof (PROFILE_SOURCE=file: of the
 *    file source's run); samples inside the assignment -> last commit window are attributed to the
 *    innermost frame of a known module, and the functions with the most self time are listed.
 * 3b. File source: the same Ingestor reading the NDJSON file (what `lakehouse ingest --source file:` and
 *    backfills read), from the start of its run to the commit of the last line.
 * 4. Steady state: a child ingests a second topic with a FLUSH_INTERVAL ms commit interval (default
 *    5000) while this process produces RATE events/s for STEADY_SECONDS. Freshness of an event =
 *    timestamp of the first snapshot whose recorded offsets cover it - its Kafka message timestamp
 *    (CreateTime, set when the producer sent it); p50 / p99 / max over all events; the table's data
 *    files and manifests after it.
 *
 * PHASES (default all: catchup,profile,file,reference,consume,steady) runs a subset, e.g.
 * PHASES=steady RATE=50000 FLUSH_INTERVAL=1000 for freshness alone.
 * 5. Reference: bench/duckdb_reference.py (read_json -> COPY parquet zstd, 1 and 2 threads) on the NDJSON.
 * 6. Raw consume: bench/consume-bench.ts per client (kafkajs with the source's settings, the project's
 *    KafkaSource.poll(), @platformatic/kafka), each in its own process, reading all EVENTS messages.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { Table } from '../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { generateMessages } from '../pipeline/event-generator.ts';
import { Ingestor } from '../pipeline/ingest.ts';
import { createKafkaClient } from '../pipeline/kafka-client.ts';
import { KafkaDeadLetterSink } from '../pipeline/kafka-dead-letters.ts';
import { type ProducedMessage, produceMessages } from '../pipeline/kafka-producer.ts';
import { createKafkaSource } from '../pipeline/kafka-source.ts';
import { NdjsonDeadLetterFile } from '../pipeline/dead-letters.ts';
import { FileSource } from '../pipeline/file-source.ts';
import type { Source } from '../pipeline/source.ts';
import { ensureTopics } from '../pipeline/kafka-topics.ts';
import type { LogFields, Logger } from '../core/log.ts';
import { createIngestMetrics } from '../pipeline/prometheus.ts';
import { decodePositions, offsetsKey, parsePositionKey } from '../pipeline/offsets.ts';
import { CONSUME_CLIENTS, type ConsumeClient, type ConsumeResult } from './consume-bench.ts';
import { processCpuSeconds } from './proc-cpu.ts';

const SELF = fileURLToPath(import.meta.url);
const REPO = path.resolve(path.dirname(SELF), '..');
const NAMESPACE = ['bench'];

// ---- child: one Ingestor run ----------------------------------------------------------------------

interface ChildConfig {
  brokers: string[];
  topic: string;
  dlqTopic: string;
  group: string;
  /** Directory of the SQLite catalog and the warehouse; the table is created fresh. */
  dir: string;
  table: string;
  /** Stop once snapshots cover this many records. */
  expected: number;
  /** Kafka broker pid, to read its CPU time over the same window (/proc); 0 = unknown. */
  brokerPid: number;
  /** Read this NDJSON file with the file source (what `--source file:` runs) instead of the topic. */
  file?: string;
  /** The Ingestor's flushIntervalMs; its default (5 s) when absent. */
  flushIntervalMs?: number;
}

interface ChildResult {
  consumed: number;
  written: number;
  commits: number;
  files: number;
  fileBytes: number;
  /** Data manifests of the last snapshot (what planning reads). */
  manifests: number;
  /** Process start -> partitions assigned (ms): module loading, connect, group join. */
  startMs: number;
  /** Partitions assigned -> the commit covering the last expected record (s). */
  seconds: number;
  cpuSeconds: number;
  brokerCpuSeconds: number | null;
  maxRssBytes: number;
  /** Sums over flushes (they overlap the reading of the next buffer, so they do not add up to `seconds`). */
  flushSeconds: number;
  commitSeconds: number;
  /** process.hrtime of the window, as µs strings, to cut the CPU profile to it. */
  windowUs: [string, string];
}

type ChildMessage = { type: 'assigned' } | { type: 'result'; result: ChildResult };

/** Forwards warnings and errors to stderr and hands every `committed` line of the Ingestor to onCommit. */
function benchLogger(onCommit: (fields: LogFields) => void, base: LogFields = {}): Logger {
  const line = (level: string, msg: string, fields?: LogFields) =>
    process.stderr.write(`[ingest child] ${level} ${msg} ${JSON.stringify({ ...base, ...fields }, (_k, v) => typeof v === 'bigint' ? v.toString() : v instanceof Map ? Object.fromEntries(v) : v)}\n`);
  return {
    debug() {},
    info(msg, fields) { if (msg === 'committed' && fields) onCommit(fields); },
    warn(msg, fields) { line('warn', msg, fields); },
    error(msg, fields) { line('error', msg, fields); },
    child(fields) { return benchLogger(onCommit, { ...base, ...fields }); },
  };
}

async function runChild(cfg: ChildConfig): Promise<ChildResult> {
  const send = (m: ChildMessage) => process.send?.(m);
  const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(cfg.dir, 'catalog.db')}`, warehouse: path.join(cfg.dir, 'warehouse') });
  if (!(await catalog.namespaceExists(NAMESPACE))) await catalog.createNamespace(NAMESPACE);
  const table = new Table(catalog, await catalog.createTable({ namespace: NAMESPACE, name: cfg.table }, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));

  const controller = new AbortController();
  let committed = 0;
  interface Mark { at: number; cpu: NodeJS.CpuUsage; broker: number | null; hr: bigint }
  let windowStart: Mark | undefined;
  let windowEnd: Mark | undefined;
  const now = (): Mark => ({ at: performance.now(), cpu: process.cpuUsage(), broker: processCpuSeconds(cfg.brokerPid), hr: process.hrtime.bigint() });
  const log = benchLogger((fields) => {
    committed += Number(fields.consumed ?? 0);
    if (committed >= cfg.expected && !windowEnd) {
      windowEnd = now();
      controller.abort();
    }
  });
  const metrics = createIngestMetrics();
  let ingestor: Ingestor | undefined;
  const source: Source = cfg.file ? new FileSource({ location: cfg.file }) : createKafkaSource({
    brokers: cfg.brokers, topic: cfg.topic, group: cfg.group, clientId: 'lakehouse-bench', log,
    positionsFor: () => ingestor!.positionsFor(),
    onAssignment: () => {
      if (!windowStart) {
        windowStart = now();
        send({ type: 'assigned' });
      }
      ingestor!.discardUncommitted('rebalance');
    },
  });
  const deadLetters = cfg.file
    ? new NdjsonDeadLetterFile(path.join(cfg.dir, `${cfg.table}-dead-letters.ndjson`))
    : new KafkaDeadLetterSink({ brokers: cfg.brokers, topic: cfg.dlqTopic, clientId: 'lakehouse-bench', log });
  ingestor = new Ingestor({ table, source, group: cfg.group, deadLetters, metrics, log, ...(cfg.flushIntervalMs ? { flushIntervalMs: cfg.flushIntervalMs } : {}) });
  // A file has no assignment: its window starts with the run.
  if (cfg.file) {
    windowStart = now();
    send({ type: 'assigned' });
  }
  let stats;
  try {
    stats = await ingestor.run(controller.signal);
  } finally {
    await source.close();
    await deadLetters.close();
  }
  if (!windowStart || !windowEnd) throw new Error(`ingest stopped after ${committed} of ${cfg.expected} records`);
  const plan = await table.planFiles();
  await catalog.close();
  const cpuStart = windowStart.cpu;
  const cpuEnd = windowEnd.cpu;
  return {
    consumed: stats.consumed, written: stats.written, commits: stats.commits,
    files: plan.files.length, fileBytes: plan.files.reduce((a, f) => a + f.fileSizeInBytes, 0), manifests: plan.metrics.manifestsTotal,
    startMs: windowStart.at,
    seconds: (windowEnd.at - windowStart.at) / 1000,
    cpuSeconds: (cpuEnd.user - cpuStart.user + cpuEnd.system - cpuStart.system) / 1e6,
    brokerCpuSeconds: windowStart.broker === null || windowEnd.broker === null ? null : windowEnd.broker - windowStart.broker,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    flushSeconds: (await metrics.flushSeconds.observations()).sum,
    commitSeconds: (await metrics.commitSeconds.observations()).sum,
    windowUs: [(windowStart.hr / 1000n).toString(), (windowEnd.hr / 1000n).toString()],
  };
}

// ---- parent ---------------------------------------------------------------------------------------

interface StartedChild {
  assigned: Promise<void>;
  result: Promise<ChildResult>;
}

/** Ingest children still running, ended by main() when it fails so the bench always stops on its own. */
const running = new Set<ChildProcess>();

/** Forks this file as an ingest child; `profileDir` runs it under --cpu-prof. */
function startChild(cfg: ChildConfig, timeoutMs: number, profileDir?: string): StartedChild {
  const execArgv = ['--no-warnings=ExperimentalWarning', '--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const child = fork(SELF, ['--child', JSON.stringify(cfg)], { cwd: REPO, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  running.add(child);
  let onAssigned!: () => void;
  const assigned = new Promise<void>((r) => { onAssigned = r; });
  const result = new Promise<ChildResult>((resolve, reject) => {
    let got: ChildResult | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ingest child took longer than ${timeoutMs / 1000} s; killed`));
    }, timeoutMs);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'assigned') onAssigned();
      else got = m.result;
    });
    child.on('exit', (code) => {
      running.delete(child);
      clearTimeout(timer);
      if (code === 0 && got) resolve(got);
      else reject(new Error(`ingest child exited with code ${code}${got ? '' : ' without a result'}`));
    });
  });
  result.catch(() => onAssigned());
  return { assigned, result };
}

function consume(client: ConsumeClient, brokers: string[], topic: string, count: number, timeoutMs: number): ConsumeResult {
  const out = execFileSync(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', path.join(REPO, 'bench/consume-bench.ts'), client, brokers.join(','), topic, String(count)], {
    cwd: REPO, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ConsumeResult;
}

/** LAKEHOUSE_KAFKA_BROKERS, else services.env; only loopback addresses (bench/restart-bench.ts uses it too). */
export function benchBrokers(): string[] {
  let list = process.env.LAKEHOUSE_KAFKA_BROKERS;
  const envFile = path.join(process.env.LAKEHOUSE_SERVICES_DIR ?? path.join(REPO, '.cache/services'), 'services.env');
  if (!list && existsSync(envFile)) list = /^LAKEHOUSE_KAFKA_BROKERS=(.*)$/m.exec(readFileSync(envFile, 'utf8'))?.[1]?.trim();
  if (!list) throw new Error(`No Kafka broker: set LAKEHOUSE_KAFKA_BROKERS, or start one with \`bash infra/services.sh up kafka\` (it writes ${envFile}).`);
  const brokers = list.split(',').map((b) => b.trim()).filter(Boolean);
  for (const b of brokers) {
    const host = b.slice(0, b.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) {
      throw new Error(`The bench only targets a broker on this machine (loopback); ${b} is not. Start the local one with \`bash infra/services.sh up kafka\`.`);
    }
  }
  return brokers;
}

function brokerPid(): number {
  const file = path.join(process.env.LAKEHOUSE_SERVICES_DIR ?? path.join(REPO, '.cache/services'), 'kafka/pid');
  const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 0;
  return Number.isSafeInteger(pid) && pid > 0 && existsSync(`/proc/${pid}/stat`) ? pid : 0;
}

/** Messages as produced, with each value also appended to an NDJSON file (the DuckDB reference's input). */
function* teeToNdjson(messages: Iterable<{ key: string; value: Uint8Array }>, file: string, totals: { bytes: number }): Generator<ProducedMessage> {
  const fd = openSync(file, 'w');
  const newline = Buffer.from('\n');
  let chunk: Uint8Array[] = [];
  try {
    for (const m of messages) {
      chunk.push(m.value, newline);
      totals.bytes += m.value.length + Buffer.byteLength(m.key);
      if (chunk.length >= 4096) {
        writeSync(fd, Buffer.concat(chunk));
        chunk = [];
      }
      yield { key: m.key, value: m.value };
    }
    if (chunk.length > 0) writeSync(fd, Buffer.concat(chunk));
  } finally {
    closeSync(fd);
  }
}

/** The run whose `seconds` is the median (the lower middle one for an even count), so its other numbers belong to it. */
function medianRun<T extends { seconds: number }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[(runs.length - 1) >> 1]!;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Freshness {
  events: number;
  p50: number;
  p99: number;
  max: number;
  snapshots: number;
}

/**
 * Freshness from the table and the topic alone: each snapshot records, per partition, the next offset it
 * covers (lakehouse.offsets.<group>); an event is visible from the first snapshot whose position for its
 * partition is past its offset.
 */
async function freshness(brokers: string[], topic: string, count: number, dir: string, tableName: string, group: string): Promise<Freshness> {
  const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'warehouse') });
  const metadata = (await catalog.loadTable({ namespace: NAMESPACE, name: tableName })).metadata;
  await catalog.close();
  const key = offsetsKey(group);
  const commits = [...metadata.snapshots].filter((s) => s.summary[key]).sort((a, b) => a.sequenceNumber - b.sequenceNumber)
    .map((s) => ({ at: s.timestampMs, positions: decodePositions(s.summary[key]!) }));
  // partition -> [next offset, commit time] in commit order
  const byPartition = new Map<number, Array<[bigint, number]>>();
  for (const c of commits) {
    for (const [k, next] of c.positions) {
      const { partition } = parsePositionKey(k);
      const list = byPartition.get(partition) ?? [];
      if (list.length === 0 || next > list[list.length - 1]![0]) list.push([next, c.at]);
      byPartition.set(partition, list);
    }
  }

  const ages = new Float64Array(count);
  let n = 0;
  const src = createKafkaSource({ brokers, topic, group: `lakehouse-bench-read-${randomBytes(4).toString('hex')}`, clientId: 'lakehouse-bench' });
  await src.start(new Map());
  try {
    const cursor = new Map<number, number>();
    let lastRecordAt = performance.now();
    while (n < count) {
      const records = await src.poll(10_000, 1000);
      if (records.length > 0) lastRecordAt = performance.now();
      else if (performance.now() - lastRecordAt > 30_000) throw new Error(`read ${n} of ${count} messages of ${topic}, then nothing for 30 s`);
      for (const r of records) {
        const list = byPartition.get(r.partition) ?? [];
        let i = cursor.get(r.partition) ?? 0;
        while (i < list.length && list[i]![0] <= r.offset) i++;
        cursor.set(r.partition, i);
        if (i === list.length || r.timestampMs === undefined) throw new Error(`message ${r.partition}/${r.offset} of ${topic} is in no committed snapshot`);
        ages[n++] = (list[i]![1] - r.timestampMs) / 1000;
      }
    }
  } finally {
    await src.close();
  }
  ages.sort();
  return { events: n, p50: percentile(ages, 0.5), p99: percentile(ages, 0.99), max: ages[n - 1]!, snapshots: commits.length };
}

// ---- CPU profile ------------------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's time goes; null = the caller's category (node internals, V8 builtins, glue). */
function frameCategory(fn: string, url: string): string | null {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(idle)') return 'idle (waiting for Kafka / I/O)';
  if (fn === '(program)') return 'V8 / native, unattributed';
  if (url.includes('/node_modules/kafkajs/')) return 'Kafka fetch + protocol decode (kafkajs)';
  if (url.includes('/pipeline/kafka-source.ts')) return 'Kafka source queue (kafka-source.ts)';
  if (url.includes('/pipeline/file-source.ts')) return 'file source: read + split lines (file-source.ts)';
  if (url.includes('/pipeline/event-decoder.ts') || url.includes('/pipeline/event-buffer.ts')) return 'decode + validate + fill Arrow columns (event-decoder, event-buffer)';
  if (url.includes('/pipeline/ingest.ts') || url.includes('/pipeline/source.ts')) return 'ingest loop and bookkeeping (ingest.ts)';
  if (url.includes('/pipeline/dedup-')) return 'de-duplication index (dedup-index, dedup-table)';
  if (/\/iceberg\/(writer\/(data-file-writer|fanout-writer|rolling-file-writer|write-data-files|file-writer)|arrow\/arrow-rows|spec\/partition)/.test(url)) return 'partition fan-out, rows copied per partition (iceberg/writer)';
  if (url.includes('/iceberg/writer/column-stats.ts')) return 'column statistics, min/max/null counts (column-stats)';
  if (url.startsWith('wasm://') || /\/node_modules\/(parquet-wasm|apache-arrow|flatbuffers|hyparquet)\//.test(url) || url.includes('/iceberg/writer/parquet-writer.ts')) {
    return 'Parquet encode + zstd, with the Arrow IPC hand-off (parquet-wasm)';
  }
  if (url.includes('/iceberg/io/')) return 'Parquet file write (FileIO)';
  if (/\/iceberg\/(spec|ops|catalog-port|table\.ts)/.test(url) || url.includes('/catalog/') || url.includes('/core/json')
    || /\/node_modules\/(avsc|better-sqlite3)\//.test(url) || url.includes('/pipeline/offsets.ts')) return 'Iceberg commit: manifests, metadata, SQLite catalog';
  if (url.includes('/pipeline/kafka-dead-letters.ts')) return 'dead-letter sink';
  if (url.includes('/node_modules/tsx/') || url.includes('/node_modules/esbuild/')) return 'tsx';
  return null;
}

/** Milliseconds per category inside [fromUs, toUs] (the profile's clock is the monotonic one of process.hrtime). */
function profileBreakdown(profile: CpuProfile, fromUs: number, toUs: number): { total: number; byCategory: Map<string, number>; byFunction: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const category = new Map<number, string>();
  const root = profile.nodes[0]!;
  const walk = (node: ProfileNode, inherited: string) => {
    const c = frameCategory(node.callFrame.functionName, node.callFrame.url) ?? inherited;
    category.set(node.id, c);
    for (const id of node.children ?? []) walk(byId.get(id)!, c);
  };
  walk(root, 'other JS (node internals, timers)');
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const c = category.get(profile.samples[i]!)!;
    byCategory.set(c, (byCategory.get(c) ?? 0) + dt / 1000);
    const frame = byId.get(profile.samples[i]!)!.callFrame;
    const fn = `${frame.functionName || '(anonymous)'} ${frame.url.slice(frame.url.lastIndexOf('/') + 1)}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt / 1000);
    total += dt / 1000;
  }
  return { total, byCategory, byFunction };
}

// ---- main -------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
  const RATE = Number(process.env.RATE ?? 20_000);
  const STEADY_SECONDS = Number(process.env.STEADY_SECONDS ?? 20);
  const RUNS = Number(process.env.RUNS ?? 1);
  const FLUSH_INTERVAL = Number(process.env.FLUSH_INTERVAL ?? 5000);
  const ALL_PHASES = ['catchup', 'profile', 'file', 'reference', 'consume', 'steady'] as const;
  const PHASES = new Set((process.env.PHASES ?? ALL_PHASES.join(',')).split(',').map((p) => p.trim()).filter(Boolean));
  if (process.env.PROFILE === '0') PHASES.delete('profile');
  for (const p of PHASES) if (!(ALL_PHASES as readonly string[]).includes(p)) throw new Error(`PHASES: unknown phase ${p}; choose from ${ALL_PHASES.join(', ')}`);
  for (const [k, v] of Object.entries({ EVENTS, RATE, STEADY_SECONDS, RUNS, FLUSH_INTERVAL })) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${k} must be a positive whole number, got ${process.env[k]}`);
  }
  const brokers = benchBrokers();
  const pid = brokerPid();
  const id = randomBytes(4).toString('hex');
  const topic = `lakehouse-bench-${id}-events`;
  const steadyTopic = `lakehouse-bench-${id}-steady`;
  const dlqTopic = `lakehouse-bench-${id}-dlq`;
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-ingest-bench-'));
  const childTimeoutMs = Math.max(180_000, (EVENTS / 10_000) * 1000);
  // The 1-minute load average at every phase: on a shared machine it says how much the wall-clock rates mean.
  const loads: number[] = [];
  const phase = (what: string) => {
    loads.push(loadavg()[0]!);
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);
  };
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const mib = (b: number) => (b / 1048576).toFixed(1);

  let made: string[] = [];
  try {
    phase(`creating topics ${topic}, ${steadyTopic} (3 partitions) and ${dlqTopic} on ${brokers.join(', ')}`);
    made = (await ensureTopics(brokers, [
      { topic, partitions: 3, retentionMs: 3_600_000 },
      { topic: steadyTopic, partitions: 3, retentionMs: 3_600_000 },
      { topic: dlqTopic, partitions: 1, retentionMs: 3_600_000 },
    ])).created;

    phase(`producing ${fmt(EVENTS)} events (and writing them as NDJSON)`);
    const ndjson = path.join(dir, 'events.ndjson');
    const totals = { bytes: 0 };
    let t = performance.now();
    // 10 000 per request (default 1000): the catch-up topic only has to be full, not paced.
    await produceMessages({ brokers, topic, batchSize: 10_000, messages: teeToNdjson(generateMessages({ count: EVENTS, seed: 7 }), ndjson, totals) });
    const produceSeconds = (performance.now() - t) / 1000;

    const ingestRuns: ChildResult[] = [];
    const childConfig = (run: string): ChildConfig => ({
      brokers, topic, dlqTopic, group: `lakehouse-bench-${id}-${run}`, dir, table: `events_${run}`, expected: EVENTS, brokerPid: pid,
    });
    for (let i = 0; i < (PHASES.has('catchup') ? RUNS : 0); i++) {
      phase(`catch-up ingest, run ${i + 1} of ${RUNS}`);
      const r = await startChild(childConfig(`run${i}`), childTimeoutMs).result;
      if (r.written !== EVENTS) throw new Error(`catch-up run ${i + 1} wrote ${r.written} rows, expected ${EVENTS}`);
      ingestRuns.push(r);
    }

    let profile: ReturnType<typeof profileBreakdown> | undefined;
    if (PHASES.has('profile')) {
      phase('catch-up ingest under --cpu-prof');
      const profDir = path.join(dir, 'profile');
      // PROFILE_SOURCE=file profiles the file source's run instead of the Kafka catch-up.
      const r = await startChild({ ...childConfig('profiled'), ...(process.env.PROFILE_SOURCE === 'file' ? { file: ndjson } : {}) }, childTimeoutMs, profDir).result;
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const p = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile;
        profile = profileBreakdown(p, Number(r.windowUs[0]), Number(r.windowUs[1]));
      }
    }

    // The file source (what `lakehouse ingest --source file:` and backfills read) on the same NDJSON.
    const fileRuns: ChildResult[] = [];
    for (let i = 0; i < (PHASES.has('file') ? RUNS : 0); i++) {
      phase(`file source ingest, run ${i + 1} of ${RUNS}`);
      const r = await startChild({ ...childConfig(`file${i}`), file: ndjson }, childTimeoutMs).result;
      if (r.written !== EVENTS) throw new Error(`file source run ${i + 1} wrote ${r.written} rows, expected ${EVENTS}`);
      fileRuns.push(r);
    }

    phase('DuckDB reference');
    type RefRun = Record<'threads1' | 'threads2', { seconds: number; cpu_seconds: number; bytes: number }>;
    const refRuns: RefRun[] = [];
    for (let i = 0; i < (PHASES.has('reference') || PHASES.has('catchup') || PHASES.has('file') ? RUNS : 0); i++) {
      refRuns.push(JSON.parse(execFileSync(path.join(REPO, '.venv/bin/python'), [path.join(REPO, 'bench/duckdb_reference.py'), ndjson, path.join(dir, 'ref.parquet')], { encoding: 'utf8' })));
    }
    const ref = (k: 'threads1' | 'threads2') => {
      if (refRuns.length === 0) return null;
      const r = medianRun(refRuns.map((run) => run[k]));
      return { seconds: r.seconds, cpuSeconds: r.cpu_seconds, bytes: r.bytes };
    };

    const consumeRuns = new Map<ConsumeClient, ConsumeResult[]>(CONSUME_CLIENTS.map((c) => [c, []]));
    for (let i = 0; i < (PHASES.has('consume') ? RUNS : 0); i++) {
      // Rotated, so no client always reads the topic first (page cache, broker JIT).
      for (let j = 0; j < CONSUME_CLIENTS.length; j++) {
        const client = CONSUME_CLIENTS[(i + j) % CONSUME_CLIENTS.length]!;
        phase(`raw consume: ${client}, run ${i + 1} of ${RUNS}`);
        const r = consume(client, brokers, topic, EVENTS, childTimeoutMs);
        if (r.messages !== EVENTS || (client !== 'source' && r.bytes !== totals.bytes)) throw new Error(`${client} read ${r.messages} messages / ${r.bytes} bytes, expected ${EVENTS} / ${totals.bytes}`);
        consumeRuns.get(client)!.push(r);
      }
    }

    const steadyCount = RATE * STEADY_SECONDS;
    let steadyRun: { result: ChildResult; produceSeconds: number; fresh: Freshness } | undefined;
    if (PHASES.has('steady')) {
      phase(`steady state: ingesting while producing ${fmt(RATE)} events/s for ${STEADY_SECONDS} s, ${FLUSH_INTERVAL} ms flush interval`);
      const steadyCfg: ChildConfig = { ...childConfig('steady'), topic: steadyTopic, expected: steadyCount, flushIntervalMs: FLUSH_INTERVAL };
      const steadyChild = startChild(steadyCfg, childTimeoutMs + STEADY_SECONDS * 1000);
      await Promise.race([steadyChild.assigned, steadyChild.result]);
      t = performance.now();
      // One request per 1/10 s slice of the rate (the producer's pacing unit), so round trips do not cap the rate.
      await produceMessages({ brokers, topic: steadyTopic, ratePerSecond: RATE, batchSize: Math.ceil(RATE / 10), messages: generateMessages({ count: steadyCount, seed: 11, clock: Date.now }) });
      const produceSeconds = (performance.now() - t) / 1000;
      const result = await steadyChild.result;
      steadyRun = { result, produceSeconds, fresh: await freshness(brokers, steadyTopic, steadyCount, dir, steadyCfg.table, steadyCfg.group) };
    }

    // ---- report ----
    phase('report');
    const rate = (r: { seconds: number }) => EVENTS / r.seconds;
    const mibs = (r: { seconds: number }) => totals.bytes / 1048576 / r.seconds;
    const usPerEvent = (cpuSeconds: number, events = EVENTS) => ((cpuSeconds / events) * 1e6).toFixed(1);
    const cores = (cpu: number | null, s: number) => cpu === null ? 'n/a' : (cpu / s).toFixed(2);
    const r1 = ref('threads1');
    const r2 = ref('threads2');
    const runsNote = RUNS > 1 ? `; median of ${RUNS} runs` : '';
    console.log(`\n${fmt(EVENTS)} events (${mib(totals.bytes)} MiB of Kafka keys + values, ${(totals.bytes / EVENTS).toFixed(0)} B each), 3 partitions, ` +
      `broker on this machine; node ${process.version}, ${cpus().length} cores, ${new Date().toISOString().slice(0, 10)}${runsNote}. ` +
      `1-minute load average during the run ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}. ` +
      `Produced at ${fmt(EVENTS / produceSeconds)} events/s (kafkajs, idempotent, acks=all, 10 000 per request).\n`);
    console.log('| measurement | events/s | MiB/s | seconds | CPU µs/event | cores used (ours + broker) | peak RSS | notes |');
    console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |');
    const us = ingestRuns.length > 0 ? medianRun(ingestRuns) : undefined;
    if (us) console.log(`| catch-up ingest: Kafka -> decode -> Arrow -> Parquet zstd -> Iceberg, default flush settings | ${fmt(rate(us))} | ${mibs(us).toFixed(1)} | ${us.seconds.toFixed(2)} | ${usPerEvent(us.cpuSeconds)} | ${cores(us.cpuSeconds, us.seconds)} + ${cores(us.brokerCpuSeconds, us.seconds)} | ${mib(us.maxRssBytes)} MiB | ${us.commits} commits, ${us.files} files, ${us.manifests} manifests, ${mib(us.fileBytes)} MiB; from the group assignment (${(us.startMs / 1000).toFixed(1)} s after process start) to the last commit |`);
    const file = fileRuns.length > 0 ? medianRun(fileRuns) : undefined;
    if (file) console.log(`| file source ingest: NDJSON -> decode -> Arrow -> Parquet zstd -> Iceberg (\`--source file:\`), default flush settings | ${fmt(rate(file))} | ${mibs(file).toFixed(1)} | ${file.seconds.toFixed(2)} | ${usPerEvent(file.cpuSeconds)} | ${cores(file.cpuSeconds, file.seconds)} | ${mib(file.maxRssBytes)} MiB | ${file.commits} commits, ${file.files} files; the same message values as the topic |`);
    if (steadyRun) {
      const { result: steady, produceSeconds: sp, fresh } = steadyRun;
      console.log(`| steady state: ${fmt(RATE)} events/s for ${STEADY_SECONDS} s, ${FLUSH_INTERVAL / 1000} s flush interval | ${fmt(steadyCount / sp)} | ${((steadyCount / sp) * (totals.bytes / EVENTS) / 1048576).toFixed(1)} | ${steady.seconds.toFixed(1)} | ${usPerEvent(steady.cpuSeconds, steadyCount)} | ${cores(steady.cpuSeconds, steady.seconds)} + ${cores(steady.brokerCpuSeconds, steady.seconds)} | ${mib(steady.maxRssBytes)} MiB | freshness (snapshot time - Kafka timestamp): **p50 ${fresh.p50.toFixed(2)} s, p99 ${fresh.p99.toFixed(2)} s**, max ${fresh.max.toFixed(2)} s over ${fmt(fresh.events)} events, ${fresh.snapshots} snapshots; the table then had ${steady.files} data files in ${steady.manifests} manifests |`);
    }
    if (r1) console.log(`| DuckDB read_json -> COPY parquet zstd, 1 thread, same message values from a local NDJSON file | ${fmt(EVENTS / r1.seconds)} | ${mibs(r1).toFixed(1)} | ${r1.seconds.toFixed(2)} | ${usPerEvent(r1.cpuSeconds)} | | | 1 file, ${mib(r1.bytes)} MiB |`);
    if (r2) console.log(`| DuckDB read_json -> COPY parquet zstd, 2 threads | ${fmt(EVENTS / r2.seconds)} | ${mibs(r2).toFixed(1)} | ${r2.seconds.toFixed(2)} | ${usPerEvent(r2.cpuSeconds)} | | | 1 file, ${mib(r2.bytes)} MiB |`);
    const consumeLabel: Record<ConsumeClient, string> = {
      kafkajs: 'raw consume: kafkajs 2.2.4 with the source\'s consumer settings',
      source: 'raw consume: lakehouse KafkaSource.pollBatches() (kafkajs + queue)',
      platformatic: 'raw consume: @platformatic/kafka 1.35.0, defaults',
    };
    for (const c of CONSUME_CLIENTS) {
      if (consumeRuns.get(c)!.length === 0) continue;
      const r = medianRun(consumeRuns.get(c)!);
      console.log(`| ${consumeLabel[c]} | ${fmt(rate(r))} | ${mibs(r).toFixed(1)} | ${r.seconds.toFixed(2)} | ${usPerEvent(r.cpuSeconds)} | ${cores(r.cpuSeconds, r.seconds)} | ${mib(r.maxRssBytes)} MiB | every message read, nothing done with it |`);
    }
    const ratios: string[] = [];
    if (us && r1 && r2) ratios.push(`catch-up ingest = ${(rate(us) / (EVENTS / r1.seconds)).toFixed(2)}x DuckDB's events/s on 1 thread (${(r1.cpuSeconds / us.cpuSeconds).toFixed(2)}x per CPU second), ${(rate(us) / (EVENTS / r2.seconds)).toFixed(2)}x on 2 threads`);
    if (file && r1) ratios.push(`file source ingest = ${(rate(file) / (EVENTS / r1.seconds)).toFixed(2)}x DuckDB's events/s on 1 thread (${(r1.cpuSeconds / file.cpuSeconds).toFixed(2)}x per CPU second)`);
    if (consumeRuns.get('kafkajs')!.length > 0) {
      const kafkajsRun = medianRun(consumeRuns.get('kafkajs')!);
      const platformaticRun = medianRun(consumeRuns.get('platformatic')!);
      if (us) ratios.push(`ingest = ${((rate(us) / rate(kafkajsRun)) * 100).toFixed(0)} % of kafkajs' raw consume rate`);
      ratios.push(`@platformatic/kafka = ${(rate(platformaticRun) / rate(kafkajsRun)).toFixed(2)}x kafkajs' rate, ${(platformaticRun.cpuSeconds / kafkajsRun.cpuSeconds).toFixed(2)}x its CPU per message`);
    }
    if (ratios.length > 0) console.log(`\nratios: ${ratios.join('; ')}.`);
    if (us) console.log(`catch-up flushes: ${us.flushSeconds.toFixed(2)} s in flushes (Parquet files + commit), ${us.commitSeconds.toFixed(2)} s of it in Iceberg commits; a flush overlaps the reading of the next buffer.`);
    if (ingestRuns.length > 1) console.log(`catch-up runs, events/s: ${ingestRuns.map((r) => fmt(rate(r))).join(', ')}`);
    if (profile) {
      console.log(`\nwhere the catch-up ingest's main thread spends its time (--cpu-prof, ${(profile.total / 1000).toFixed(2)} s sampled from the assignment to the last commit):\n`);
      console.log('| share | seconds | category |');
      console.log('| ---: | ---: | --- |');
      for (const [c, ms] of [...profile.byCategory].sort((x, y) => y[1] - x[1])) {
        console.log(`| ${((ms / profile.total) * 100).toFixed(1)} % | ${(ms / 1000).toFixed(2)} | ${c} |`);
      }
      console.log('\nfunctions with the most self time:\n');
      for (const [fn, ms] of [...profile.byFunction].sort((x, y) => y[1] - x[1]).slice(0, 15)) {
        console.log(`- ${((ms / profile.total) * 100).toFixed(1)} % ${fn}`);
      }
    }
  } finally {
    phase('cleaning up topics and temporary files');
    for (const child of running) child.kill('SIGKILL');
    if (made.length > 0) {
      const admin = createKafkaClient({ brokers, clientId: 'lakehouse-bench' }).admin();
      await admin.connect().then(() => admin.deleteTopics({ topics: made })).catch((e) => phase(`could not delete topics ${made.join(', ')}: ${(e as Error).message}`));
      await admin.disconnect().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- entry: the bench, or (forked by it) one ingest child -------------------------------------------

if (process.argv[2] === '--child') {
  const cfg = JSON.parse(process.argv[3]!) as ChildConfig;
  try {
    const result = await runChild(cfg);
    // Without an IPC channel (run by hand to profile or debug) the result goes to stdout.
    if (process.send) process.send({ type: 'result', result } satisfies ChildMessage, () => process.exit(0));
    else {
      process.stdout.write(JSON.stringify(result) + '\n');
      process.exit(0);
    }
  } catch (e) {
    process.stderr.write(`[ingest child] failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
