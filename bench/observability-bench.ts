/**
 * What metrics and logs cost the ingest path, through our interfaces (pipeline/prometheus.ts, core/log.ts,
 * thin wrappers over prom-client and pino) and, for reference in the same run, through prom-client and
 * pino called directly: the difference is what the wrappers add. Not a test: nothing here asserts a
 * timing. Prints Markdown tables. It uses only the interfaces, so it also runs on an older checkout for a
 * before/after comparison.
 *
 *   RUNS=5 node --import tsx bench/observability-bench.ts
 *
 * Ingest touches neither per event. Per poll (up to 10 000 records) it sets three gauges; per flush
 * (100 000 rows by default) it increments five counters plus one labelled counter per dead-letter reason,
 * observes two histograms and writes one `committed` log line; the lag gauge is set every 5 s per
 * partition, and a scrape renders everything. The table gives each of those, then the share of one event
 * they amount to at the default settings.
 *
 * Start-up: `bin/lakehouse --help` wall time (median of RUNS), and which of prom-client / pino it loaded
 * (neither should be: only commands that log or serve metrics need them).
 *
 * Log lines go to this process's stderr as they do in ingest; the logging part therefore runs in a child
 * whose stderr is /dev/null.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../core/log.ts';
import { createIngestMetrics } from '../pipeline/prometheus.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const POLL_RECORDS = 10_000;
const FLUSH_ROWS = 100_000;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** Median ns per call of `fn` over RUNS rounds of `n` calls, after one warm-up round. */
async function nsPerCall(n: number, fn: (i: number) => unknown): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const v = fn(i);
      if (v instanceof Promise) await v;
    }
    const ns = Number(process.hrtime.bigint() - t) / n;
    if (r > 0) rounds.push(ns);
  }
  return median(rounds);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

type Row = [what: string, ours: number, library: number | null, note: string];

async function metricRows(): Promise<Row[]> {
  const m = createIngestMetrics();
  for (const p of ['0', '1', '2']) m.lag.set(0, { topic: 'campaign_events', partition: p });
  const prom = require('prom-client') as typeof import('prom-client');
  const reg = new prom.Registry();
  const c = new prom.Counter({ name: 'c_total', help: 'h', registers: [reg] });
  const cl = new prom.Counter({ name: 'cl_total', help: 'h', labelNames: ['reason'], registers: [reg] });
  const g = new prom.Gauge({ name: 'g', help: 'h', registers: [reg] });
  const h = new prom.Histogram({ name: 'h_seconds', help: 'h', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [reg] });
  const reasons = ['bad_json', 'missing_field'];
  const flush = () => {
    m.consumed.inc(FLUSH_ROWS); m.written.inc(FLUSH_ROWS - 10); m.duplicates.inc(2);
    for (const reason of reasons) m.deadLettered.inc(4, { reason });
    m.commits.inc(); m.commitSeconds.observe(0.08); m.flushSeconds.observe(1.7);
  };
  const flushProm = () => {
    c.inc(FLUSH_ROWS); c.inc(FLUSH_ROWS - 10); c.inc(2);
    for (const reason of reasons) cl.inc({ reason }, 4);
    c.inc(); h.observe(0.08); h.observe(1.7);
  };
  const poll = (i: number) => { m.bufferedBytes.set(i * 240); m.bufferedRows.set(i); m.freshnessSeconds.set(1.5); };
  const pollProm = (i: number) => { g.set(i * 240); g.set(i); g.set(1.5); };
  return [
    ['counter inc, no labels', await nsPerCall(1e6, () => m.commits.inc()), await nsPerCall(1e6, () => c.inc()), 'per flush x5'],
    ['counter inc {reason}', await nsPerCall(1e6, () => m.deadLettered.inc(1, { reason: 'bad_json' })), await nsPerCall(1e6, () => cl.inc({ reason: 'bad_json' }, 1)), 'per flush x reasons'],
    ['gauge set', await nsPerCall(1e6, (i) => m.bufferedRows.set(i)), await nsPerCall(1e6, (i) => g.set(i)), 'per poll x3'],
    ['histogram observe', await nsPerCall(1e6, (i) => m.flushSeconds.observe((i % 100) / 10)), await nsPerCall(1e6, (i) => h.observe((i % 100) / 10)), 'per flush x2'],
    ['one poll: 3 gauge sets', await nsPerCall(1e5, poll), await nsPerCall(1e5, pollProm), `per ${POLL_RECORDS} records`],
    ['one flush: counters + histograms', await nsPerCall(1e5, flush), await nsPerCall(1e5, flushProm), `per ${FLUSH_ROWS} rows`],
    ['scrape: render the registry', await nsPerCall(2_000, () => m.registry.render()), await nsPerCall(2_000, () => reg.metrics()), 'per scrape, not per event'],
  ];
}

async function logRows(): Promise<Row[]> {
  const log = createLogger({ level: 'info' }).child({ component: 'ingest', table: 'lakehouse.campaign_events', group: 'lakehouse-ingest', source: 'kafka:campaign_events' });
  const pino = require('pino') as typeof import('pino');
  const raw = pino.pino({ base: undefined }, pino.destination({ fd: 2, sync: true })).child({ component: 'ingest', table: 'lakehouse.campaign_events', group: 'lakehouse-ingest', source: 'kafka:campaign_events' });
  // The `committed` line of every flush, with the positions as ingest logs them (a Map of bigints).
  const positions = new Map([['campaign_events:0', 123456n], ['campaign_events:1', 123999n], ['campaign_events:2', 120001n]]);
  const fields = { snapshotId: 8834219893443211234n, files: 12, consumed: FLUSH_ROWS, written: FLUSH_ROWS - 10, deadLettered: 8, duplicates: 2, positions, seconds: 1.734 };
  const rawFields = { ...fields, snapshotId: fields.snapshotId.toString(), positions: Object.fromEntries([...positions].map(([k, v]) => [k, v.toString()])) };
  return [
    ['log line: committed (child, Map of bigints)', await nsPerCall(20_000, () => log.info('committed', fields)), await nsPerCall(20_000, () => raw.info(rawFields, 'committed')), 'per flush'],
    ['log line below the level (debug)', await nsPerCall(1e6, () => log.debug('kafkajs: fetch', { broker: 'b' })), await nsPerCall(1e6, () => raw.debug({ broker: 'b' }, 'kafkajs: fetch')), 'kafkajs INFO lines'],
  ];
}

/** ms to load a module in a fresh node (minus an empty node), median of RUNS. */
function loadMs(expr: string): number {
  const time = (code: string) => {
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, ['-e', code], { cwd: repo });
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const xs: number[] = [];
  for (let r = 0; r < RUNS; r++) xs.push(time(expr) - time(''));
  return median(xs);
}

/** `bin/lakehouse --help`: median wall ms, and which observability libraries it loaded. */
function helpStartup(): { ms: number; loaded: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-obs-bench-'));
  const probe = path.join(dir, 'probe.cjs');
  const out = path.join(dir, 'loaded.json');
  // CommonJS packages loaded through ESM import still land in require.cache.
  writeFileSync(probe, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));\n`);
  try {
    const xs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = process.hrtime.bigint();
      execFileSync(path.join(repo, 'bin/lakehouse'), ['--help'], { cwd: dir });
      xs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    execFileSync(path.join(repo, 'bin/lakehouse'), ['--help'], { cwd: dir, env: { ...process.env, NODE_OPTIONS: `--require ${probe}` } });
    const files = JSON.parse(readFileSync(out, 'utf8')) as string[];
    const loaded = ['prom-client', 'pino'].filter((lib) => files.some((f) => f.includes(`/node_modules/${lib}/`)));
    return { ms: median(xs), loaded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtNs = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

async function main(): Promise<void> {
  if (process.argv[2] === '--logs') {
    process.stdout.write(JSON.stringify(await logRows()));
    return;
  }
  const metrics = await metricRows();
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--logs'], { cwd: repo, stdio: ['ignore', 'pipe', openSync('/dev/null', 'w')], env: process.env });
  if (child.status !== 0) throw new Error(`the logging child failed (exit ${child.status})`);
  const logs = JSON.parse(child.stdout.toString()) as Row[];
  const rows = [...metrics, ...logs];
  console.log(`| operation | ours | library direct | how often in ingest |\n| --- | ---: | ---: | --- |`);
  for (const [what, ours, lib, note] of rows) console.log(`| ${what} | ${fmtNs(ours)} | ${lib === null ? '' : fmtNs(lib)} | ${note} |`);
  const byName = new Map(rows.map((r) => [r[0], r[1]]));
  const perEvent = byName.get('one poll: 3 gauge sets')! / POLL_RECORDS
    + (byName.get('one flush: counters + histograms')! + byName.get('log line: committed (child, Map of bigints)')!) / FLUSH_ROWS;
  console.log(`\nMetrics + logs per event at default settings (full polls, ${FLUSH_ROWS} rows per flush): ${perEvent.toFixed(2)} ns`);
  const help = helpStartup();
  console.log(`\n| start-up | ms |\n| --- | ---: |`);
  console.log(`| require('prom-client') in a fresh node | ${loadMs("require('prom-client')").toFixed(1)} |`);
  console.log(`| require('pino') in a fresh node | ${loadMs("require('pino')").toFixed(1)} |`);
  console.log(`| bin/lakehouse --help (wall) | ${help.ms.toFixed(0)} |`);
  console.log(`\nbin/lakehouse --help loaded: ${help.loaded.length === 0 ? 'neither prom-client nor pino' : help.loaded.join(', ')}`);
}

await main();
