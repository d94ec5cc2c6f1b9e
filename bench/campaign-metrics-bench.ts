/**
 * `make bench`, metrics half: `lakehouse metrics run` as a full rebuild over EVENTS events and as an
 * incremental run after one INCREMENT-event commit, each against DuckDB running the same
 * sql/campaign_metrics.sql over one plain Parquet file of the same rows, in the same run. Not a test: nothing
 * here asserts a timing, but a wrong result fails it (a fast wrong answer is no result).
 *
 *   EVENTS=10000000 INCREMENT=50000 FULL_RUNS=3 RUNS=3 THREADS=2 npx tsx bench/metrics-bench.ts
 *   (BATCH=, default EVENTS / 20 up to 500 000: the events per setup commit)
 *
 * KEEP=1 keeps the temp dir (catalog, warehouse, plain files) for a closer look.
 *
 * 1. Setup (timed, not the measured number): a SQLite-catalog warehouse in a temp dir; lakehouse.campaign_events
 *    filled through Table.append in BATCH-row commits. The stream covers 3 days in time order (commit k holds
 *    slice k of the span, like an ingest that keeps up), with 2 % of events late by 1-6 hours and 0.5 %
 *    re-sends of event_ids an earlier commit already holds (later processed_at; one in five with a shifted
 *    event_time, the "same id, different content" case). DuckDB copies the same rows into one plain zstd
 *    Parquet file, ordered as ingested (processed_at, event_time).
 * 2. Full rebuild, FULL_RUNS times: runMetrics on a fresh metrics table (campaign_metrics_<r>), in a process of
 *    its own so peak RSS is the run's own. Reference, in its own process too: DuckDB (sql/duckdb.ts, the same
 *    thread count) runs sql/campaign_metrics.sql over the plain file with the variables set as the file's
 *    header shows, and COPYs the result to a Parquet file (the job writes it to Iceberg).
 * 3. Incremental, RUNS times: INCREMENT more events are appended as one commit (the stream's next minutes at
 *    the same rate, 2 % late by 1-6 hours, 0.5 % re-sends of which 90 % repeat recent ids and 10 % ids from
 *    anywhere in the history); runMetrics brings campaign_metrics_1 up to date; before each repeat the table's
 *    main branch is set back to the full rebuild's snapshot, so every run does the same work. Reference: DuckDB
 *    over one plain Parquet file of all rows plus one of the new rows only, doing the job's steps in plain SQL:
 *    the changed windows (those of the new rows and of every other copy of their event_ids, plus the windows
 *    whose `complete` flag flips), campaign_metrics.sql over every copy of every event_id with a copy in those
 *    windows (materialized), COPY of the result rows in those windows to Parquet. Once, for context: DuckDB recomputing
 *    everything over the plain file of all rows.
 * 4. Resident, RUNS times: a second INCREMENT-event commit; in a child, a MetricsRunner (what `metrics run
 *    --every` uses) first brings campaign_metrics_1 from the full rebuild's snapshot up to the first increment
 *    (events `main` set back to it; with no sums kept yet, that run computes every window's counts and sums
 *    once), then events `main` moves to the second increment and the runner's next run is the one measured:
 *    it reads only the new rows and adds their sums to the kept ones, what a live `--every` loop spends per
 *    commit. Reference: as in 3, for the second increment's windows.
 * 5. Checks (a mismatch fails the bench): campaign_metrics_<r> equals DuckDB's result over the plain file
 *    (counts, sums rounded to 1e-4, complete flags) after the full rebuild and after the incremental run; the
 *    DuckDB incremental reference agrees with DuckDB's full recompute; the job recomputes no more windows than
 *    the reference (its event_id index knows that a re-sent copy of a known id changes nothing, so fewer).
 *
 * The job has no phase logs, so the child that runs it wraps the pieces runMetrics calls (DuckDb.open / run /
 * rows, Table.planFiles / writeDataFiles, the overwrite's commit) with timers and names each DuckDB statement
 * by its text; what is left is catalog loads, reading the new snapshots' manifests and building Arrow.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { Overwrite, Table, currentSnapshot, type ScanOptions } from '../iceberg/index.ts';
import { CAMPAIGN_EVENTS_TABLE, campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { EventBuffer } from '../pipeline/event-buffer.ts';
import type { CampaignEventRow } from '../pipeline/event-decoder.ts';
import { generateEvents, seededRandom } from '../pipeline/event-generator.ts';
import type { Logger } from '../core/log.ts';
import { DEFAULT_WINDOW, WINDOW_SIZES } from '../domain/campaign-metrics-table.ts';
import { DataFileCache } from '../sql/data-file-cache.ts';
import { DuckDb, sqlString, sqlStringList } from '../sql/duckdb.ts';
import { DEFAULT_ALLOWED_LATENESS_MS, MetricsRunner, type MetricsRunResult, runMetrics } from '../sql/campaign-metrics-job.ts';

const SELF = fileURLToPath(import.meta.url);
const REPO = path.resolve(path.dirname(SELF), '..');
const NAMESPACE = ['lakehouse'];
const SQL_FILE = path.join(REPO, 'sql/campaign_metrics.sql');
const WINDOW_SECONDS = WINDOW_SIZES[DEFAULT_WINDOW];
const WINDOW_US = BigInt(WINDOW_SECONDS) * 1_000_000n;
const LATENESS_US = BigInt(DEFAULT_ALLOWED_LATENESS_MS) * 1000n;

/** The event stream: 3 days from 1 November 2026, in time order. */
const START_MS = Date.UTC(2026, 10, 1);
const SPAN_MS = 3 * 24 * 3600_000;
const LATE_SHARE = 0.02;
const DUP_SHARE = 0.005;
/** Share of the increment's re-sends that repeat an id from anywhere in the history, not a recent one. */
const OLD_DUP_SHARE = 0.1;
/** Rows of the previous commit a re-send may repeat (a retrying app), and ids kept from the whole history. */
const RECENT = 4096;
const RESERVOIR = 4096;
const HOUR_US = 3_600_000_000n;
const CHANNELS = ['search', 'social', 'display', 'video', 'email', 'affiliate'];

// ---- child: one measured step ---------------------------------------------------------------------

type Step =
  | { kind: 'job'; dir: string; metrics: string; threads: number; expectMode: 'full' | 'incremental' }
  /**
   * A resident runner (`metrics run --every`): events `main` and the metrics table are set back to before the
   * first increment; the runner brings the metrics up to it (its first run: cold), then events `main` moves on
   * to the second increment and the runner's next run is the one measured.
   */
  | { kind: 'job-resident'; dir: string; metrics: string; threads: number; metricsBase: string; eventsFirst: string; eventsSecond: string }
  | { kind: 'ref-full'; file: string; out: string; threads: number }
  | { kind: 'ref-inc'; all: string; inc: string; out: string; threads: number; oldWatermark: string };

interface StepResult {
  seconds: number;
  windows: number;
  maxRssBytes: number;
  /** CPU time of the process over the measured part (user + system, DuckDB's threads included). */
  cpuSeconds: number;
  /** Job steps: [phase, ms] in order of first appearance, and how many files each scan was given. */
  phases?: [string, number][];
  notes?: string[];
  watermark?: string;
}

function catalogAt(dir: string): Promise<SqlCatalog> {
  return SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'warehouse') });
}

/** Names a statement runMetrics sends to DuckDB by its text (sql/metrics-job.ts). */
function statementPhase(sql: string): string {
  const s = sql.trimStart();
  if (s.startsWith('SET VARIABLE')) return 'DuckDB: set variables';
  if (s.startsWith('DESCRIBE')) return 'DuckDB: DESCRIBE of the files (schema probe)';
  if (s.includes('unique_events')) return 'DuckDB aggregation (campaign_metrics.sql)';
  if (s.includes('FROM new_rows WHERE event_id NOT IN')) return 'new rows of new ids: a view (read by the SQL)';
  if (s.includes('merged_sums') && !s.includes('resident_metrics_sums')) return 'kept sums: the windows\' plus the new rows\'';
  if (s.includes('resident_metrics_sums') || s.includes('TRANSACTION') || s.startsWith('COMMIT')) return 'kept sums: updated after the commit';
  if (s.includes('new_losers') || s.includes('VIEW losers')) return 'losers: the index\'s, new copies of known ids, those in the windows';
  if (s.includes('TEMP VIEW campaign_events') && s.includes('NOT IN')) return 'candidates: a view of the planned files\' rows in the windows, minus losers (read by the SQL)';
  if (s.includes('TEMP VIEW campaign_events')) return 'DuckDB: view over all files';
  if (s.includes('TEMP TABLE new_rows') || s.includes('TEMP TABLE new_ids')) return 'new rows: read the added files';
  if (s.includes('resent_ids')) return 'new rows: ids looked up in the event index';
  if (s.includes('TEMP TABLE losers')) return 'losers: the index\'s, new copies of known ids, those in the windows';
  if (s.includes('TEMP TABLE campaign_events')) return 'candidates: planned files, rows in the windows';
  if (s.includes('with_losers')) return 'candidates: the rows of ids with a loser in the windows';
  if (s.includes('copy_rank > 1') || s.includes('max(processed_at)')) return 'event index: losers, max processed_at';
  if (s.includes('FROM campaign_metrics_result')) return 'result rows to JS';
  return 'DuckDB: other';
}

/** Wraps what runMetrics calls with timers; returns the accumulated [phase, ms] and notes on file counts. */
function timePhases(): { phases: Map<string, number>; notes: string[] } {
  const phases = new Map<string, number>();
  const notes: string[] = [];
  // Only the outermost timer counts: DuckDb.open runs a statement itself.
  let depth = 0;
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    depth++;
    try {
      return await work();
    } finally {
      if (--depth === 0) phases.set(phase, (phases.get(phase) ?? 0) + performance.now() - t);
    }
  };
  const { run, rows, uint32Chunks } = DuckDb.prototype;
  DuckDb.prototype.uint32Chunks = async function* (this: DuckDb, sql: string) {
    const t = performance.now();
    yield* uint32Chunks.call(this, sql);
    const label = sql.includes('new_ids') ? 'new rows: ids looked up in the event index' : 'event index: every id\'s fingerprint, sorted';
    phases.set(label, (phases.get(label) ?? 0) + performance.now() - t);
  };
  const open = DuckDb.open;
  DuckDb.open = (opts) => timed('DuckDB: open', () => open.call(DuckDb, opts));
  const { connect } = DuckDb.prototype;
  DuckDb.prototype.connect = function (this: DuckDb) { return timed('DuckDB: open', () => connect.call(this)); };
  DuckDb.prototype.run = function (this: DuckDb, sql: string) { return timed(statementPhase(sql), () => run.call(this, sql)); };
  DuckDb.prototype.rows = async function (this: DuckDb, sql: string) {
    const out = await timed(statementPhase(sql), () => rows.call(this, sql));
    if (sql.includes('DISTINCT filename')) notes.push(`files holding other copies of duplicated ids: ${out.length}`);
    return out;
  };
  const { planFiles, writeDataFiles } = Table.prototype;
  Table.prototype.planFiles = async function (this: Table, opts?: ScanOptions) {
    const label = opts?.filter ? 'plan: files for the windows (pruned)' : 'plan: all files';
    const plan = await timed(label, () => planFiles.call(this, opts));
    notes.push(`${label}: ${plan.files.length} files`);
    return plan;
  };
  Table.prototype.writeDataFiles = function (this: Table, batches) { return timed('write metrics Parquet', () => writeDataFiles.call(this, batches)); };
  const commit = Overwrite.prototype.commit;
  Overwrite.prototype.commit = function (this: Overwrite) { return timed('commit (one overwrite snapshot)', () => commit.call(this)); };
  return { phases, notes };
}

const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(msg, fields) { process.stderr.write(`[metrics] warn ${msg} ${JSON.stringify(fields ?? {}, (_k, v) => typeof v === 'bigint' ? v.toString() : v)}\n`); },
  error(msg, fields) { process.stderr.write(`[metrics] error ${msg} ${JSON.stringify(fields ?? {}, (_k, v) => typeof v === 'bigint' ? v.toString() : v)}\n`); },
  child() { return stderrLogger; },
};

/** Times one run of the job by phase; `expectMode` guards against measuring the wrong kind of run. */
async function timedRun(run: () => Promise<MetricsRunResult>, expectMode: MetricsRunResult['mode'], what: string): Promise<StepResult> {
  const { phases, notes } = timePhases();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await run();
  const ms = performance.now() - t0;
  const cpuSeconds = cpuSince(cpu0);
  if (result.mode !== expectMode) throw new Error(`${what} ran as ${result.mode}, the bench expected ${expectMode}`);
  const measured = [...phases.values()].reduce((a, b) => a + b, 0);
  return {
    seconds: ms / 1000, cpuSeconds, windows: result.windowsRecomputed,
    maxRssBytes: process.resourceUsage().maxRSS * 1024, notes,
    phases: [...phases, ['other: catalog loads, new snapshots\' manifests, Arrow build', ms - measured]],
    watermark: result.watermarkMicros?.toString(),
  };
}

async function runJob(step: Extract<Step, { kind: 'job' }>): Promise<StepResult> {
  const catalog = await catalogAt(step.dir);
  const out = await timedRun(() => runMetrics({
    catalog, metrics: { namespace: NAMESPACE, name: step.metrics }, threads: step.threads,
    cacheDir: path.join(step.dir, 'cache'), log: stderrLogger,
  }), step.expectMode, `runMetrics on ${step.metrics}`);
  await catalog.close();
  return out;
}

async function setMain(catalog: SqlCatalog, id: { namespace: string[]; name: string }, snapshotId: string): Promise<void> {
  const uuid = (await catalog.loadTable(id)).metadata.tableUuid;
  await catalog.commitTable(id, [{ type: 'assert-table-uuid', uuid }],
    [{ action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: BigInt(snapshotId), type: 'branch' } }]);
}

async function runResident(step: Extract<Step, { kind: 'job-resident' }>): Promise<StepResult> {
  const catalog = await catalogAt(step.dir);
  const metricsId = { namespace: NAMESPACE, name: step.metrics };
  const eventsId = { namespace: NAMESPACE, name: CAMPAIGN_EVENTS_TABLE };
  await setMain(catalog, metricsId, step.metricsBase);
  await setMain(catalog, eventsId, step.eventsFirst);
  const runner = new MetricsRunner({ catalog, metrics: metricsId, threads: step.threads, cacheDir: path.join(step.dir, 'cache'), log: stderrLogger });
  const first = await runner.run();
  if (first.mode !== 'incremental') throw new Error(`the resident runner's first run was ${first.mode}, the bench expected incremental`);
  await setMain(catalog, eventsId, step.eventsSecond);
  const out = await timedRun(async () => {
    const r = await runner.run();
    if (!r.addedToKeptSums) throw new Error('the resident runner\'s second run read its windows again; the bench expected it to add the new rows to its kept sums');
    return r;
  }, 'incremental', 'the resident runner\'s second run');
  runner.close();
  await catalog.close();
  out.notes!.push(`first (cold) run of the same runner: ${first.seconds.toFixed(2)} s`);
  return out;
}

/** The variables sql/campaign_metrics.sql reads, as its header sets them by hand. */
async function setVariables(db: DuckDb, eventsRelation: string): Promise<void> {
  await db.run(`SET VARIABLE window_seconds = ${WINDOW_SECONDS};
    SET VARIABLE dimensions = []::VARCHAR[];
    SET VARIABLE watermark = (SELECT max(event_time) FROM ${eventsRelation}) - to_microseconds(${LATENESS_US});
    SET VARIABLE processed_at = now();`);
}

async function runRefFull(step: Extract<Step, { kind: 'ref-full' }>): Promise<StepResult> {
  const sql = readFileSync(SQL_FILE, 'utf8');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const db = await DuckDb.open({ threads: step.threads });
  await db.run(`CREATE VIEW campaign_events AS SELECT * FROM read_parquet(${sqlString(step.file)})`);
  await setVariables(db, 'campaign_events');
  await db.run(sql);
  await db.run(`COPY (SELECT * FROM campaign_metrics_result ORDER BY window_start, campaign_id) TO ${sqlString(step.out)} (FORMAT parquet, COMPRESSION zstd)`);
  const ms = performance.now() - t0;
  const cpuSeconds = cpuSince(cpu0);
  const [c] = await db.rows('SELECT count(DISTINCT window_start) AS windows FROM campaign_metrics_result');
  db.close();
  return { seconds: ms / 1000, cpuSeconds, windows: Number(c!.windows), maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

async function runRefIncremental(step: Extract<Step, { kind: 'ref-inc' }>): Promise<StepResult> {
  const sql = readFileSync(SQL_FILE, 'utf8');
  const all = `read_parquet(${sqlString(step.all)})`;
  const ws = `epoch_us(event_time) // ${WINDOW_US} * ${WINDOW_US}`;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const db = await DuckDb.open({ threads: step.threads });
  await setVariables(db, all);
  // Windows whose end passes the watermark between the runs: window_start + W in (old, new].
  const [w] = await db.rows(`SELECT epoch_us(getvariable('watermark')) AS wm`);
  const oldWm = BigInt(step.oldWatermark);
  const newWm = w!.wm as bigint;
  const first = floorTo(oldWm - WINDOW_US, WINDOW_US) + WINDOW_US;
  const last = floorTo(newWm - WINDOW_US, WINDOW_US);
  const flipped = newWm > oldWm && first <= last ? `UNION SELECT unnest(generate_series(${first}::BIGINT, ${last}::BIGINT, ${WINDOW_US}::BIGINT))` : '';
  await db.run(`CREATE TEMP TABLE new_rows AS SELECT event_id, event_time FROM read_parquet(${sqlString(step.inc)})`);
  await db.run(`CREATE TEMP TABLE target AS
    SELECT DISTINCT ${ws} AS ws FROM new_rows
    UNION SELECT DISTINCT ${ws} FROM ${all} WHERE event_id IN (SELECT event_id FROM new_rows)
    ${flipped}`);
  // Materialized, as a DuckDB user would for a subset the SQL reads three times.
  await db.run(`CREATE TEMP TABLE campaign_events AS SELECT * FROM ${all}
    WHERE event_id IN (SELECT event_id FROM ${all} WHERE ${ws} IN (SELECT ws FROM target))`);
  await db.run(sql);
  await db.run(`COPY (SELECT * FROM campaign_metrics_result WHERE epoch_us(window_start) IN (SELECT ws FROM target) ORDER BY window_start, campaign_id)
    TO ${sqlString(step.out)} (FORMAT parquet, COMPRESSION zstd)`);
  const ms = performance.now() - t0;
  const cpuSeconds = cpuSince(cpu0);
  const [c] = await db.rows('SELECT count(*) AS windows FROM target');
  db.close();
  return { seconds: ms / 1000, cpuSeconds, windows: Number(c!.windows), maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

function floorTo(us: bigint, step: bigint): bigint {
  const q = us / step;
  return (us % step !== 0n && us < 0n ? q - 1n : q) * step;
}

// ---- parent ---------------------------------------------------------------------------------------

function runStep(step: Step): Promise<StepResult> {
  const child = fork(SELF, ['--child', JSON.stringify(step)], {
    cwd: REPO, execArgv: ['--no-warnings=ExperimentalWarning', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let got: StepResult | undefined;
    child.on('message', (m: StepResult) => { got = m; });
    child.on('exit', (code) => (code === 0 && got ? resolve(got) : reject(new Error(`${step.kind} child exited with code ${code}`))));
  });
}

interface Slice {
  seed: number;
  count: number;
  startMs: number;
  spanMs: number;
  /** Rows of earlier commits a re-send may repeat: recent ones, and a sample of the whole history. */
  recent: readonly CampaignEventRow[];
  old: readonly CampaignEventRow[];
  oldShare: number;
}

/** What one commit holds besides on-time events. */
interface SliceCounts {
  resent: number;
  late: number;
}

/** One commit's events: generated over [startMs, startMs + spanMs), with late events and re-sends. */
function* sliceEvents(s: Slice, counts: SliceCounts): Generator<CampaignEventRow> {
  const rnd = seededRandom((s.seed ^ 0x2545f491) >>> 0);
  for (const e of generateEvents({ count: s.count, seed: s.seed, startMs: s.startMs, spanMs: s.spanMs })) {
    const r = rnd();
    if (r < DUP_SHARE && s.recent.length > 0) {
      const pool = s.old.length > 0 && rnd() < s.oldShare ? s.old : s.recent;
      const copy = { ...pool[Math.floor(rnd() * pool.length)]! };
      // Same id, different content: an app that re-sent the event with a corrected clock.
      if (rnd() < 0.2) copy.event_time += BigInt(Math.round((rnd() - 0.5) * 20 * 60e6));
      counts.resent++;
      yield copy;
      continue;
    }
    const late = r < DUP_SHARE + LATE_SHARE;
    if (late) counts.late++;
    const channel = rnd() < 0.75 ? CHANNELS[Math.floor(rnd() * CHANNELS.length)]! : null;
    // Spend per event: fractions of a cent per impression, up to a few units per click (as generateMessages).
    const cost = channel !== null && rnd() < 0.8
      ? (e.event_type === 'impression' ? Math.round(rnd() * 50) / 10000 : e.event_type === 'click' ? Math.round(rnd() * 300) / 100 : 0)
      : null;
    yield {
      event_id: e.event_id, user_id: e.user_id, campaign_id: e.campaign_id, event_type: e.event_type, platform: e.platform,
      event_time: late ? e.event_time - HOUR_US - BigInt(Math.floor(rnd() * 5 * 3600e6)) : e.event_time,
      revenue: e.revenue, country: e.country, device_type: e.device_type, channel, cost,
    };
  }
}

/**
 * Appends one commit through the ingest path's column builder (pipeline/event-buffer.ts: it also drops a
 * second copy of an event_id within the commit, as ingest does). Returns the events of the commit.
 */
async function appendSlice(table: Table, buffer: EventBuffer, events: Iterable<CampaignEventRow>, processedAtUs: bigint): Promise<CampaignEventRow[]> {
  const kept: CampaignEventRow[] = [];
  for (const e of events) if (buffer.add(e, processedAtUs)) kept.push(e);
  await table.append([buffer.drainBatch()!.batch]);
  return kept;
}

/** Local paths of the table's current data files, and the rows they hold. */
async function dataFiles(table: Table): Promise<{ paths: string[]; rows: number }> {
  const plan = await table.planFiles();
  const paths = await new DataFileCache(table.io).localPaths(plan.files.map((f) => f.filePath));
  return { paths, rows: plan.files.reduce((a, f) => a + f.recordCount, 0) };
}

/**
 * Copies rows of Iceberg data files into one plain Parquet file, ordered as ingested. hive_partitioning off:
 * DuckDB would otherwise add columns parsed from the `event_time_day=.../event_type=...` directories.
 */
async function plainParquet(files: string[], out: string): Promise<void> {
  const db = await DuckDb.open();
  try {
    await db.run(`COPY (SELECT * FROM read_parquet(${sqlStringList(files)}, hive_partitioning = false) ORDER BY processed_at, event_time)
      TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`);
  } finally {
    db.close();
  }
}

const COMPARED = `window_start, window_end, campaign_id, impressions, clicks, conversions,
  round(revenue, 4) AS revenue, round(spend, 4) AS spend, complete`;

/** Rows only in a, only in b (both as multisets of the compared columns). */
async function differences(a: string, b: string): Promise<{ onlyA: number; onlyB: number; rowsA: number; rowsB: number }> {
  const db = await DuckDb.open();
  try {
    const [r] = await db.rows(`
      WITH a AS (SELECT ${COMPARED} FROM ${a}), b AS (SELECT ${COMPARED} FROM ${b})
      SELECT (SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)) AS only_a,
             (SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)) AS only_b,
             (SELECT count(*) FROM a) AS rows_a, (SELECT count(*) FROM b) AS rows_b`);
    return { onlyA: Number(r!.only_a), onlyB: Number(r!.only_b), rowsA: Number(r!.rows_a), rowsB: Number(r!.rows_b) };
  } finally {
    db.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The run whose `seconds` is the median (the lower middle one for an even count), so its other numbers belong to it. */
function medianRun<T extends { seconds: number }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[(runs.length - 1) >> 1]!;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (b: number) => `${Math.round(b / 1048576)} MiB`;
const phase = (what: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);

async function main(): Promise<void> {
  const EVENTS = Number(process.env.EVENTS ?? 10_000_000);
  const INCREMENT = Number(process.env.INCREMENT ?? 50_000);
  // 20 commits at any size (500 k events each at 10 M), so the file layout and the re-sends look alike.
  const BATCH = Number(process.env.BATCH ?? Math.min(500_000, Math.ceil(EVENTS / 20)));
  const RUNS = Number(process.env.RUNS ?? 3);
  const FULL_RUNS = Number(process.env.FULL_RUNS ?? 3);
  const THREADS = Number(process.env.THREADS ?? 2);
  for (const [name, v] of Object.entries({ EVENTS, INCREMENT, BATCH, RUNS, FULL_RUNS, THREADS })) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer (got ${process.env[name]}).`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-metrics-bench-'));
  try {
    await bench(dir, { EVENTS, INCREMENT, BATCH, RUNS, FULL_RUNS, THREADS });
  } finally {
    if (process.env.KEEP === '1') phase(`kept ${dir} (catalog.db, warehouse/, the plain Parquet files)`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

async function bench(dir: string, cfg: { EVENTS: number; INCREMENT: number; BATCH: number; RUNS: number; FULL_RUNS: number; THREADS: number }): Promise<void> {
  const { EVENTS, INCREMENT, BATCH, RUNS, FULL_RUNS, THREADS } = cfg;
  const catalog = await catalogAt(dir);
  await catalog.createNamespace(NAMESPACE);
  const eventsId = { namespace: NAMESPACE, name: CAMPAIGN_EVENTS_TABLE };
  const table = new Table(catalog, await catalog.createTable(eventsId, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));

  // ---- setup: the events table and its plain copy
  phase(`setup: ${fmt(EVENTS)} events into ${eventsId.namespace.join('.')}.${eventsId.name} in commits of ${fmt(BATCH)}`);
  let t = performance.now();
  const buffer = new EventBuffer({ initialCapacity: BATCH });
  let recent: CampaignEventRow[] = [];
  const old: CampaignEventRow[] = [];
  const pick = seededRandom(99);
  let seen = 0;
  const commits = Math.ceil(EVENTS / BATCH);
  const baseCounts: SliceCounts = { resent: 0, late: 0 };
  for (let k = 0; k < commits; k++) {
    const count = Math.min(BATCH, EVENTS - k * BATCH);
    const startMs = START_MS + Math.floor((k * BATCH / EVENTS) * SPAN_MS);
    const spanMs = Math.max(1, Math.floor((count / EVENTS) * SPAN_MS));
    const events = sliceEvents({ seed: 1000 + k, count, startMs, spanMs, recent, old, oldShare: 0 }, baseCounts);
    const rows = await appendSlice(table, buffer, events, BigInt(startMs + spanMs + 60_000) * 1000n);
    recent = rows.slice(-RECENT);
    for (const row of rows) {
      seen++;
      if (old.length < RESERVOIR) old.push(row);
      else {
        const j = Math.floor(pick() * seen);
        if (j < RESERVOIR) old[j] = row;
      }
    }
  }
  const setupSeconds = (performance.now() - t) / 1000;
  const { paths: baseFiles, rows: baseRows } = await dataFiles(table);
  const basePlain = path.join(dir, 'base.parquet');
  t = performance.now();
  await plainParquet(baseFiles, basePlain);
  const plainSeconds = (performance.now() - t) / 1000;
  const baseBytes = baseFiles.reduce((a, f) => a + statSync(f).size, 0);
  phase(`setup done: ${baseFiles.length} data files (${mib(baseBytes)}) in ${setupSeconds.toFixed(1)} s; plain copy (${mib(statSync(basePlain).size)}) in ${plainSeconds.toFixed(1)} s`);

  // ---- full rebuild
  const full: StepResult[] = [];
  const fullRef: StepResult[] = [];
  const fullRefOut = path.join(dir, 'ref-full.parquet');
  for (let r = 1; r <= FULL_RUNS; r++) {
    phase(`full rebuild ${r}/${FULL_RUNS}: lakehouse`);
    full.push(await runStep({ kind: 'job', dir, metrics: `campaign_metrics_${r}`, threads: THREADS, expectMode: 'full' }));
    phase(`full rebuild ${r}/${FULL_RUNS}: DuckDB reference`);
    fullRef.push(await runStep({ kind: 'ref-full', file: basePlain, out: fullRefOut, threads: THREADS }));
  }
  const metricsId = (r: number) => ({ namespace: NAMESPACE, name: `campaign_metrics_${r}` });
  const metricsFiles = async (r: number) => (await dataFiles(new Table(catalog, await catalog.loadTable(metricsId(r))))).paths;
  const metricsRelation = async (r: number) => `read_parquet(${sqlStringList(await metricsFiles(r))})`;
  const metricsFilesAfterFull = (await metricsFiles(1)).length;
  const checks: string[] = [];
  const check = (what: string, d: { onlyA: number; onlyB: number; rowsA: number; rowsB: number }) => {
    const ok = d.onlyA === 0 && d.onlyB === 0;
    checks.push(`${ok ? 'ok' : 'MISMATCH'}: ${what}: ${fmt(d.rowsA)} vs ${fmt(d.rowsB)} rows, ${d.onlyA} only in the first, ${d.onlyB} only in the second`);
  };
  for (let r = 1; r <= FULL_RUNS; r++) check(`campaign_metrics_${r} after the full rebuild = DuckDB over the plain file`, await differences(await metricsRelation(r), `read_parquet(${sqlString(fullRefOut)})`));
  const rebuilt = (await catalog.loadTable(metricsId(1))).metadata;
  const rebuiltSnapshot = currentSnapshot(rebuilt)!.snapshotId;

  // ---- incremental
  phase(`increment: ${fmt(INCREMENT)} events in one commit`);
  const incStart = START_MS + SPAN_MS;
  const incSpan = Math.max(1, Math.floor((INCREMENT / EVENTS) * SPAN_MS));
  const incCounts: SliceCounts = { resent: 0, late: 0 };
  t = performance.now();
  const incRows = await appendSlice(table, buffer, sliceEvents({ seed: 9_000_001, count: INCREMENT, startMs: incStart, spanMs: incSpan, recent, old, oldShare: OLD_DUP_SHARE }, incCounts),
    BigInt(incStart + incSpan + 60_000) * 1000n);
  const incAppendSeconds = (performance.now() - t) / 1000;
  const { paths: allFiles, rows: allRows } = await dataFiles(table);
  const baseSet = new Set(baseFiles);
  const incFiles = allFiles.filter((f) => !baseSet.has(f));
  const allPlain = path.join(dir, 'all.parquet');
  const incPlain = path.join(dir, 'increment.parquet');
  await plainParquet(allFiles, allPlain);
  await plainParquet(incFiles, incPlain);
  phase(`increment appended in ${incAppendSeconds.toFixed(2)} s (${incFiles.length} files): ${incCounts.resent} re-sends, ${incCounts.late} late events`);

  const inc: StepResult[] = [];
  const incRef: StepResult[] = [];
  const incRefOut = path.join(dir, 'ref-increment.parquet');
  const allRefOut = path.join(dir, 'ref-all.parquet');
  for (let r = 1; r <= RUNS; r++) {
    if (r > 1) {
      // Back to the full rebuild's snapshot, so every run does the same work from the same state.
      await setMain(catalog, metricsId(1), rebuiltSnapshot.toString());
    }
    phase(`incremental ${r}/${RUNS}: lakehouse`);
    inc.push(await runStep({ kind: 'job', dir, metrics: metricsId(1).name, threads: THREADS, expectMode: 'incremental' }));
    phase(`incremental ${r}/${RUNS}: DuckDB reference (same windows)`);
    incRef.push(await runStep({ kind: 'ref-inc', all: allPlain, inc: incPlain, out: incRefOut, threads: THREADS, oldWatermark: full[0]!.watermark! }));
  }
  phase('DuckDB full recompute over all rows (context, and the expected table)');
  const allRef = await runStep({ kind: 'ref-full', file: allPlain, out: allRefOut, threads: THREADS });
  check('campaign_metrics_1 after the incremental run = DuckDB over all rows', await differences(await metricsRelation(1), `read_parquet(${sqlString(allRefOut)})`));
  check('DuckDB incremental reference = the same windows of DuckDB over all rows', await differences(
    `read_parquet(${sqlString(incRefOut)})`,
    `read_parquet(${sqlString(allRefOut)}) WHERE window_start IN (SELECT window_start FROM read_parquet(${sqlString(incRefOut)}))`));
  for (const [i, run] of inc.entries()) {
    // The job's event index tells it that a re-sent copy of a known id changes nothing, so it may recompute
    // fewer windows than the reference (which takes the windows of every other copy); never more.
    const ok = run.windows <= incRef[i]!.windows;
    checks.push(`${ok ? 'ok' : 'MISMATCH'}: windows recomputed, run ${i + 1}: lakehouse ${run.windows}, DuckDB reference ${incRef[i]!.windows}`);
  }
  const metricsFilesAfterInc = (await metricsFiles(1)).length;

  // ---- resident: a second increment, measured in a runner that has run once before
  const headOf = async () => currentSnapshot((await catalog.loadTable(eventsId)).metadata)!.snapshotId.toString();
  const firstHead = await headOf();
  const inc2Start = incStart + incSpan;
  const inc2Counts: SliceCounts = { resent: 0, late: 0 };
  await appendSlice(table, buffer, sliceEvents({ seed: 9_000_002, count: INCREMENT, startMs: inc2Start, spanMs: incSpan, recent: incRows.slice(-RECENT), old, oldShare: OLD_DUP_SHARE }, inc2Counts),
    BigInt(inc2Start + incSpan + 60_000) * 1000n);
  const secondHead = await headOf();
  const { paths: all2Files, rows: all2Rows } = await dataFiles(table);
  const allSet = new Set(allFiles);
  const all2Plain = path.join(dir, 'all2.parquet');
  const inc2Plain = path.join(dir, 'increment2.parquet');
  await plainParquet(all2Files, all2Plain);
  await plainParquet(all2Files.filter((f) => !allSet.has(f)), inc2Plain);
  phase(`second increment appended: ${inc2Counts.resent} re-sends, ${inc2Counts.late} late events`);
  const resident: StepResult[] = [];
  const residentRef: StepResult[] = [];
  const all2RefOut = path.join(dir, 'ref-all2.parquet');
  const inc2RefOut = path.join(dir, 'ref-increment2.parquet');
  for (let r = 1; r <= RUNS; r++) {
    phase(`resident ${r}/${RUNS}: lakehouse (a runner's second run)`);
    resident.push(await runStep({ kind: 'job-resident', dir, metrics: metricsId(1).name, threads: THREADS, metricsBase: rebuiltSnapshot.toString(), eventsFirst: firstHead, eventsSecond: secondHead }));
    phase(`resident ${r}/${RUNS}: DuckDB reference (same windows)`);
    residentRef.push(await runStep({ kind: 'ref-inc', all: all2Plain, inc: inc2Plain, out: inc2RefOut, threads: THREADS, oldWatermark: inc[0]!.watermark! }));
  }
  await runStep({ kind: 'ref-full', file: all2Plain, out: all2RefOut, threads: THREADS });
  check('campaign_metrics_1 after the resident runner\'s runs = DuckDB over all rows', await differences(await metricsRelation(1), `read_parquet(${sqlString(all2RefOut)})`));
  for (const [i, run] of resident.entries()) {
    const ok = run.windows <= residentRef[i]!.windows;
    checks.push(`${ok ? 'ok' : 'MISMATCH'}: windows recomputed, resident run ${i + 1}: lakehouse ${run.windows}, DuckDB reference ${residentRef[i]!.windows}`);
  }
  await catalog.close();

  // ---- report
  const f = medianRun(full), fr = medianRun(fullRef), i = medianRun(inc), ir = medianRun(incRef);
  const secs = (runs: StepResult[]) => median(runs.map((x) => x.seconds));
  const cpu = (runs: StepResult[]) => median(runs.map((x) => x.cpuSeconds)).toFixed(1);
  const [fs, frs, is, irs] = [secs(full), secs(fullRef), secs(inc), secs(incRef)];
  const newRows = allRows - baseRows;
  console.log(`\n${fmt(baseRows)} events in ${baseFiles.length} data files (${mib(baseBytes)}), then one commit of ${fmt(newRows)}; ${WINDOW_SECONDS / 60}-minute windows, ${THREADS} DuckDB threads; median of ${FULL_RUNS} full and ${RUNS} incremental run(s); node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log('| step | events | windows | seconds | CPU s | events/s | vs DuckDB (time) | peak RSS |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(`| lakehouse metrics run: full rebuild (fresh table) | ${fmt(baseRows)} | ${fmt(f.windows)} | ${fs.toFixed(2)} | ${cpu(full)} | ${fmt(baseRows / fs)} | ${(fs / frs).toFixed(2)}x | ${mib(f.maxRssBytes)} |`);
  console.log(`| DuckDB: campaign_metrics.sql over one Parquet file, result COPY to Parquet | ${fmt(baseRows)} | ${fmt(fr.windows)} | ${frs.toFixed(2)} | ${cpu(fullRef)} | ${fmt(baseRows / frs)} | 1 | ${mib(fr.maxRssBytes)} |`);
  console.log(`| lakehouse metrics run: incremental after a ${fmt(newRows)}-event commit | ${fmt(newRows)} new of ${fmt(allRows)} | ${fmt(i.windows)} | ${is.toFixed(2)} | ${cpu(inc)} | ${fmt(newRows / is)} new | ${(is / irs).toFixed(2)}x | ${mib(i.maxRssBytes)} |`);
  console.log(`| DuckDB: the same windows over one Parquet file of all rows (+ one of the new rows) | ${fmt(newRows)} new of ${fmt(allRows)} | ${fmt(ir.windows)} | ${irs.toFixed(2)} | ${cpu(incRef)} | ${fmt(newRows / irs)} new | 1 | ${mib(ir.maxRssBytes)} |`);
  const rs = secs(resident), rrs = secs(residentRef), rm = medianRun(resident), rr = medianRun(residentRef);
  const new2 = all2Rows - allRows;
  console.log(`| lakehouse metrics run --every (resident): its next run, after another ${fmt(new2)}-event commit | ${fmt(new2)} new of ${fmt(all2Rows)} | ${fmt(rm.windows)} | ${rs.toFixed(2)} | ${cpu(resident)} | ${fmt(new2 / rs)} new | ${(rs / rrs).toFixed(2)}x | ${mib(rm.maxRssBytes)} |`);
  console.log(`| DuckDB: the same windows over one Parquet file of all rows (+ one of the new rows) | ${fmt(new2)} new of ${fmt(all2Rows)} | ${fmt(rr.windows)} | ${rrs.toFixed(2)} | ${cpu(residentRef)} | ${fmt(new2 / rrs)} new | 1 | ${mib(rr.maxRssBytes)} |`);
  console.log(`| DuckDB: full recompute over one Parquet file of all rows (context) | ${fmt(allRows)} | ${fmt(allRef.windows)} | ${allRef.seconds.toFixed(2)} | ${allRef.cpuSeconds.toFixed(1)} | ${fmt(allRows / allRef.seconds)} | | ${mib(allRef.maxRssBytes)} |`);
  const list = (runs: StepResult[]) => runs.map((x) => `${x.seconds.toFixed(2)} (${x.cpuSeconds.toFixed(1)} CPU)`).join(', ');
  console.log(`\nruns, s: full ${list(full)}; DuckDB ${list(fullRef)}; incremental ${list(inc)}; DuckDB same windows ${list(incRef)}; resident ${list(resident)}; DuckDB same windows ${list(residentRef)}`);
  console.log(`setup (not measured): ${fmt(baseRows)} events (${baseCounts.late} late, ${baseCounts.resent} re-sends) generated and appended in ${commits} commits in ${setupSeconds.toFixed(1)} s; plain Parquet copy ${plainSeconds.toFixed(1)} s; the increment (${incCounts.late} late, ${incCounts.resent} re-sends) ${incAppendSeconds.toFixed(2)} s.`);
  console.log(`campaign_metrics_1: ${metricsFilesAfterFull} data files after the full rebuild, ${metricsFilesAfterInc} after the incremental run.`);
  for (const [name, run] of [['full rebuild', f], ['incremental', i], ['resident runner\'s next run', rm]] as const) {
    console.log(`\nlakehouse ${name}, median run (${run.seconds.toFixed(2)} s) by phase:`);
    for (const [p, ms] of run.phases!) console.log(`  ${(ms / 1000).toFixed(3).padStart(8)} s  ${p}`);
    for (const n of run.notes ?? []) console.log(`  ${n}`);
  }
  console.log('\nchecks:');
  for (const c of checks) console.log(`  ${c}`);
  if (checks.some((c) => c.startsWith('MISMATCH'))) process.exitCode = 1;
}

if (process.argv[2] === '--child') {
  const step = JSON.parse(process.argv[3]!) as Step;
  try {
    const result = step.kind === 'job' ? await runJob(step) : step.kind === 'job-resident' ? await runResident(step)
      : step.kind === 'ref-full' ? await runRefFull(step) : await runRefIncremental(step);
    process.send!(result, () => process.exit(0));
  } catch (e) {
    process.stderr.write(`[metrics-bench child] ${step.kind} failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
} else {
  await main();
}
