import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import { rowsToRecordBatch, identifierToString, type TableIdentifier, fromBinary, T, alwaysTrue, and, gtEq, lt, or, type Expr, type DataFile, snapshotChanges, snapshotsBetween, Table, ancestorsOf, currentSnapshot, type TableMetadata, CommitStateUnknownError, resolveColumn, snapshotSchema, type Schema, ManifestCache } from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { CAMPAIGN_EVENTS_TABLE } from '../domain/campaign-events.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import {
  CAMPAIGN_METRICS_TABLE, DEFAULT_WINDOW, METRIC_DIMENSIONS, type MetricDimension, SOURCE_SNAPSHOT_KEY, SOURCE_TABLE_PROPERTY, WINDOW_SIZES, type WindowSize,
  campaignMetricsSchema, campaignMetricsSpec,
} from '../domain/campaign-metrics-table.ts';
import { DataFileCache } from './data-file-cache.ts';
import { DuckDb, sqlString, sqlStringList } from './duckdb.ts';
import { EVENT_INDEX_KEY, type EventIndex, type EventIndexUpdate, EventIndexUnusable, FingerprintRun, MAX_INDEX_FILES, collectFingerprints, fingerprintWordsSql, hasFingerprint, loadEventIndex, writeEventIndex } from './event-index.ts';

/**
 * `lakehouse metrics run` / `rebuild`: keeps `campaign_metrics` current with `campaign_events`.
 *
 * The metrics table's snapshot summary records the events snapshot it is current with
 * (SOURCE_SNAPSHOT_KEY), the watermark it used, and an event_id index built for that same events snapshot
 * (sql/event-index.ts: a fingerprint of every event_id, and every copy that does not count).
 * A run reads only what happened since:
 *  1. the events snapshots after the recorded one; the rows of the data files they added (compactions,
 *     operation `replace`, change no data and are skipped). Each row's id is looked up in the index: a new
 *     id's window changes; a copy of an id the table already has, ingested later than every row the index
 *     covers, does not count and changes nothing (it joins the losers);
 *  2. windows whose `complete` flag flips because the watermark moved are added;
 *  3. those windows are recomputed in full by sql/campaign_metrics.sql, from the rows of the files the
 *     Iceberg planner keeps for their time ranges minus the losers, so "earliest processed_at wins" holds
 *     without reading any other file;
 *  4. one overwrite of exactly those windows replaces them in `campaign_metrics`, in one snapshot that
 *     records the new source snapshot and the updated index. Nothing is referenced before that commit, so
 *     a crash leaves the table as it was and the next run redoes the work.
 * The run is a full rebuild (which builds a new index) with nothing recorded (first run), a recorded
 * snapshot no longer in the events history (expired, rolled back), no usable index (missing, unreadable,
 * another DuckDB version), events snapshots since that removed rows, or a new copy of a known id ingested
 * no later than the rows the index covers (it may be the copy that counts).
 */

export { SOURCE_SNAPSHOT_KEY, SOURCE_TABLE_PROPERTY };
/** Summary key: the watermark (epoch microseconds) the `complete` flags were computed with. */
export const WATERMARK_KEY = 'lakehouse.metrics.watermark-us';
/** Table properties fixing a metrics table's grain at creation. */
export const WINDOW_PROPERTY = 'lakehouse.metrics.window';
export const DIMENSIONS_PROPERTY = 'lakehouse.metrics.dimensions';

export const DEFAULT_ALLOWED_LATENESS_MS = 10 * 60_000;
/** Whole-run retries when another metrics run committed first (its results may be newer than ours). */
const RUN_ATTEMPTS = 4;

const SQL_FILE = new URL('./campaign_metrics.sql', import.meta.url);

export interface MetricsJobOptions {
  catalog: Catalog;
  /** Default lakehouse.campaign_events. */
  events?: TableIdentifier;
  /** Default lakehouse.campaign_metrics; created on the first run when missing. */
  metrics?: TableIdentifier;
  /** Window size for a new table; an existing table keeps its own (a different value is an error). */
  window?: WindowSize;
  /** Extra grouping dimensions for a new table; an existing table keeps its own. */
  dimensions?: MetricDimension[];
  /** watermark = max(event_time) - allowed lateness; default 10 minutes. */
  allowedLatenessMs?: number;
  /** Local cache of data files for object-store tables (DuckDB reads local files). */
  cacheDir?: string;
  /** DuckDB threads (default: all cores). */
  threads?: number;
  log?: Logger;
}

export interface MetricsRunResult {
  mode: 'noop' | 'incremental' | 'full' | 'rebuild';
  /** The campaign_metrics snapshot committed, or null when there was nothing to do. */
  snapshotId: bigint | null;
  /** The campaign_events snapshot the metrics are now current with. */
  sourceSnapshotId: bigint | null;
  windowsRecomputed: number;
  rowsWritten: number;
  watermarkMicros: bigint | null;
  /**
   * A runner's incremental run that read only the new rows and added their counts and sums to those it kept
   * of their windows (false: the windows' rows were read, or nothing was computed).
   */
  addedToKeptSums: boolean;
  seconds: number;
}

/** A half-open range of window starts [lo, hi), epoch microseconds, aligned to the window size. */
interface WindowRange {
  lo: bigint;
  hi: bigint;
}

const NAMESPACE = ['lakehouse'];
const DAY_US = 86_400_000_000n;

export async function runMetrics(opts: MetricsJobOptions): Promise<MetricsRunResult> {
  return runWithRetries(opts, null);
}

/**
 * Runs the job again and again in one process (`metrics run --every`), keeping between runs what does not
 * change: the DuckDB instance (each run works in a connection of its own, so its temp tables and variables
 * start clean), the parsed fingerprint files of the event index, and the events table's parsed manifests.
 * All of them are immutable files kept by path, so a run gives exactly what a fresh process would; what a
 * run cannot trust (the catalog's current metadata, the metrics snapshot and the index it names) it reads
 * anew every time.
 */
export class MetricsRunner {
  private readonly resident: Resident = { duckdb: null, fingerprints: new Map(), manifests: new ManifestCache(), sums: null };

  constructor(private readonly opts: MetricsJobOptions) {}

  async run(): Promise<MetricsRunResult> {
    try {
      return await runWithRetries(this.opts, null, this.resident);
    } catch (e) {
      // A failed run may have left DuckDB unusable (a fatal error invalidates the database for good): the
      // next run starts a new instance rather than failing the same way at every interval.
      this.closeDuckDb();
      throw e;
    }
  }

  close(): void {
    this.closeDuckDb();
    this.resident.fingerprints.clear();
  }

  private closeDuckDb(): void {
    this.resident.duckdb?.close();
    this.resident.duckdb = null;
    this.resident.sums = null;
  }
}

/** What a MetricsRunner keeps from one run to the next. */
interface Resident {
  duckdb: DuckDb | null;
  /** The current index's fingerprint files, by path. */
  fingerprints: Map<string, FingerprintRun>;
  manifests: ManifestCache;
  /**
   * Which metrics snapshot the table RESIDENT_SUMS (in the kept DuckDB instance) holds the counts and exact
   * sums of, for every window and grain; null when it holds none. While the metrics table is still at that
   * snapshot, a run adds the new events' sums to those of their windows instead of reading the windows again.
   */
  sums: { tableUuid: string; snapshotId: bigint } | null;
}

/** The resident runner's sums table: in the database, not a connection's temp schema, so it outlives a run. */
const RESIDENT_SUMS = 'main.resident_metrics_sums';

/** Recomputes every window overlapping [fromMs, toMs), plus whatever changed since the last run. */
export async function rebuildMetrics(opts: MetricsJobOptions & { fromMs: number; toMs: number }): Promise<MetricsRunResult> {
  if (!(opts.fromMs < opts.toMs)) {
    throw new LakehouseError('INVALID_ARGUMENT', `metrics rebuild needs --from before --to (got ${new Date(opts.fromMs).toISOString()} .. ${new Date(opts.toMs).toISOString()}).`);
  }
  return runWithRetries(opts, { fromMs: opts.fromMs, toMs: opts.toMs });
}

/** Another metrics run committed while we computed: our windows may be older than its; start over. */
class NewerMetricsRunError extends LakehouseError {
  constructor(table: string) {
    super('COMMIT_CONFLICT', `Another metrics run committed to ${table} while this one was computing; its results may be newer, so this run's were not committed.`, { retryable: true });
  }
}

async function runWithRetries(opts: MetricsJobOptions, range: { fromMs: number; toMs: number } | null, resident?: Resident): Promise<MetricsRunResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(opts, range, resident);
    } catch (e) {
      if (!(e instanceof NewerMetricsRunError) || attempt >= RUN_ATTEMPTS) {
        if (e instanceof NewerMetricsRunError) {
          throw new LakehouseError('COMMIT_FAILED', `${e.message} Gave up after ${RUN_ATTEMPTS} attempts; nothing was committed by this run. Run it again, or run one metrics job per table.`, { cause: e });
        }
        throw e;
      }
      (opts.log ?? silentLogger).info('metrics run restarts: another run committed first', { attempt });
    }
  }
}

async function runOnce(opts: MetricsJobOptions, range: { fromMs: number; toMs: number } | null, resident?: Resident): Promise<MetricsRunResult> {
  const started = performance.now();
  const log = opts.log ?? silentLogger;
  const eventsId = opts.events ?? { namespace: NAMESPACE, name: CAMPAIGN_EVENTS_TABLE };
  const metricsId = opts.metrics ?? { namespace: eventsId.namespace, name: CAMPAIGN_METRICS_TABLE };
  const lateness = BigInt(Math.round((opts.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS) * 1000));
  if (lateness < 0n) throw new LakehouseError('INVALID_ARGUMENT', `Allowed lateness must be 0 or more (got ${opts.allowedLatenessMs} ms).`);

  const events = await loadEvents(opts.catalog, eventsId);
  const metrics = await openMetricsTable(opts.catalog, metricsId, eventsId, opts);
  const grain = metricsGrain(metrics);
  const columns = metricsColumns(metrics, grain.dimensions);
  const windowStart = columns.current('window_start');
  const windowUs = BigInt(WINDOW_SIZES[grain.window]) * 1_000_000n;
  const head = events.currentSnapshot();
  const metricsBase = metrics.currentSnapshot()?.snapshotId ?? null;
  const recorded = recordedState(metrics.metadata);
  const done = (mode: MetricsRunResult['mode'], fields: Partial<MetricsRunResult> = {}): MetricsRunResult => ({
    mode, snapshotId: null, sourceSnapshotId: recorded.source, windowsRecomputed: 0, rowsWritten: 0,
    watermarkMicros: recorded.watermark, addedToKeptSums: false, seconds: (performance.now() - started) / 1000, ...fields,
  });

  if (!head && metricsBase === null) return done('noop');

  // The watermark comes from the files' event_time upper bounds (manifests only, no data read).
  const manifestCache = resident?.manifests;
  const plan = await events.planFiles({ manifestCache });
  const layout = eventsLayout(events);
  const maxEventTime = maxUpperBound(plan.files, layout.eventTime.id);
  const watermark = maxEventTime === null ? null : maxEventTime - lateness;
  // Nothing new and the same watermark: nothing to commit. (A different --allowed-lateness moves the
  // watermark without new events, and the windows whose `complete` flag flips are recomputed.)
  if (!range && head && recorded.source === head.snapshotId && recorded.watermark === watermark) return done('noop');

  const chain = recorded.source === null ? null : snapshotsBetween(events.metadata, recorded.source, head?.snapshotId ?? null);
  let mode: MetricsRunResult['mode'] = chain === null ? 'full' : range ? 'rebuild' : 'incremental';
  if (chain === null && recorded.source !== null) {
    log.warn('metrics: the recorded campaign_events snapshot is no longer in its history; rebuilding everything', { recorded: recorded.source.toString() });
  }
  const fullInstead = (why: string) => {
    log.warn(`metrics: ${why}; rebuilding everything`, { recorded: recorded.source?.toString() });
    mode = 'full';
  };
  // The rows added since the recorded snapshot. A compaction rewrites rows without changing them, so its
  // snapshots need no recomputation; a snapshot that removed rows could take away a copy that counts or
  // the only copy of an id, which the index cannot follow.
  const added: DataFile[] = [];
  for (const snapshot of chain ?? []) {
    if (snapshot.summary.operation === 'replace') continue;
    const c = await snapshotChanges(events.io, snapshot);
    if (c.deleted.length > 0 && mode !== 'full') fullInstead(`campaign_events snapshot ${snapshot.snapshotId} removed data files`);
    added.push(...c.added);
  }

  const cache = new DataFileCache(events.io, opts.cacheDir);
  const indexCache = new DataFileCache(metrics.io, opts.cacheDir);
  let db: DuckDb;
  if (resident) {
    if (!resident.duckdb) {
      resident.duckdb = await DuckDb.open({ threads: opts.threads });
      // Data files are immutable, so their Parquet footers can be kept between runs too.
      await resident.duckdb.run('SET GLOBAL parquet_metadata_cache = true');
    }
    db = await resident.duckdb.connect();
  } else {
    db = await DuckDb.open({ threads: opts.threads });
  }
  const scratch: string[] = [];
  try {
    // The index's fingerprints are DuckDB hash() values: tied to the DuckDB version (and, conservatively, the CPU).
    const duckdbVersion = `${(await db.rows('SELECT version() AS v'))[0]!.v as string} ${process.arch}`;
    let index: EventIndex | null = null;
    if (mode !== 'full') {
      try {
        if (recorded.index === null) throw new EventIndexUnusable('the metrics snapshot names none');
        index = await loadEventIndex(metrics.io, indexCache, recorded.index, recorded.source!, duckdbVersion, resident?.fingerprints);
      } catch (e) {
        if (!(e instanceof EventIndexUnusable)) throw e;
        fullInstead(`no usable event_id index (${e.message})`);
      }
    }
    const allLocal = await cache.localPaths(plan.files.map((f) => f.filePath));
    await db.run(`SET VARIABLE window_seconds = ${WINDOW_SIZES[grain.window]}`);
    await db.run(`SET VARIABLE dimensions = ${grain.dimensions.length ? sqlStringList(grain.dimensions) : '[]::VARCHAR[]'}`);
    await db.run(`SET VARIABLE watermark = ${watermark === null ? 'NULL::TIMESTAMPTZ' : `make_timestamptz(${watermark})`}`);
    await db.run(`SET VARIABLE processed_at = make_timestamptz(${BigInt(Date.now()) * 1000n})`);

    let changes: NewRows | null = null;
    if (index && mode !== 'full') {
      changes = await classifyNewRows(db, layout, index, await cache.localPaths(added.map((f) => f.filePath)), windowUs);
      if (changes.mayWin > 0) fullInstead(`${changes.mayWin} new copies of known event_ids were ingested no later than the rows indexed, so they may be the copies that count`);
    }
    if (mode === 'full') index = null;

    // A runner's kept sums serve this run when they are those of the metrics snapshot it starts from, or of
    // an ancestor that only compactions (maintenance: same rows, new files) followed.
    const sumsValid = resident?.sums != null && resident.sums.tableUuid === metrics.metadata.tableUuid
      && (snapshotsBetween(metrics.metadata, resident.sums.snapshotId, metricsBase)?.every((s) => s.summary.operation === 'replace') ?? false);
    if (resident && !sumsValid && resident.sums) {
      resident.sums = null;
      await db.run(`DROP TABLE IF EXISTS ${RESIDENT_SUMS}`);
    }
    /** What the run leaves in the runner's sums after its commit: nothing, the sums of every window, or this run's added to them. */
    let keepSums: 'no' | 'all' | 'add' = 'no';
    let targets: WindowRange[] | 'all';
    if (mode === 'full') {
      targets = 'all';
      await db.run(`CREATE TEMP VIEW campaign_events AS ${eventsScan(layout, allLocal)}`);
      if (resident) keepSums = 'all';
    } else {
      let ranges = mergeWindows(changes!.starts, windowUs);
      ranges = unionRanges(ranges, flippedWindows(recorded.watermark, watermark, windowUs));
      if (range) ranges = unionRanges(ranges, [{ lo: floorTo(BigInt(range.fromMs) * 1000n, windowUs), hi: ceilTo(BigInt(range.toMs) * 1000n, windowUs) }]);
      if (ranges.length === 0) {
        log.info('metrics: nothing changed since the last run', { source: recorded.source?.toString(), head: head?.snapshotId.toString() });
        return done('noop');
      }
      targets = ranges;
      await loadLosers(db, index!.loserLocals);
      if (resident && !range && sumsValid) {
        // Only the new rows of new ids: their counts and sums are added to their windows' below. Every copy
        // of a new id is among them, so the SQL's dedup picks what a full run would.
        await db.run('CREATE TEMP VIEW campaign_events AS SELECT * FROM new_rows WHERE event_id NOT IN (SELECT event_id FROM resent_ids)');
        keepSums = 'add';
      } else if (resident && !range) {
        // A runner without sums (its first run, or another process committed since) computes every window
        // once, keeps their sums, and writes only the changed ones.
        await loadCandidates(db, layout, allLocal, null);
        keepSums = 'all';
      } else {
        const candidates = await events.planFiles({ filter: rangeFilter(layout.eventTime.name, ranges), manifestCache });
        await loadCandidates(db, layout, await cache.localPaths(candidates.files.map((f) => f.filePath)), ranges);
      }
    }

    await db.run(await readFile(SQL_FILE, 'utf8'));
    if (keepSums === 'add') {
      // Counts and exact sums add up: the kept sums of the target windows plus the new rows' are what the
      // windows' rows would sum to (sql/campaign_metrics.sql), to the last bit of every double.
      const keys = ['window_start', 'campaign_id', ...grain.dimensions].join(', ');
      await db.run(`CREATE TEMP TABLE merged_sums AS SELECT ${keys},
          sum(impressions)::BIGINT AS impressions, sum(clicks)::BIGINT AS clicks, sum(conversions)::BIGINT AS conversions,
          sum(revenue)::DECIMAL(38, 12) AS revenue, sum(spend)::DECIMAL(38, 12) AS spend
        FROM (SELECT * FROM ${RESIDENT_SUMS} WHERE ${rangeSql('window_start', targets as WindowRange[])} UNION ALL BY NAME SELECT * FROM campaign_metrics_sums)
        GROUP BY ALL`);
      await db.run('CREATE OR REPLACE TEMP VIEW campaign_metrics_result AS SELECT * FROM campaign_metrics_rows(merged_sums)');
    }
    const indexUpdate = head ? await updatedIndex(db, layout, allLocal, plan.files.reduce((n, f) => n + f.recordCount, 0), head.snapshotId, index, changes, scratch) : null;
    const schema = metrics.schema();
    const order = 'ORDER BY window_start, campaign_id';
    let files: DataFile[];
    let windowsRecomputed: number;
    let rowsWritten = 0;
    let replace: WindowRange[] | 'all' = targets;
    if (targets === 'all') {
      // A full rebuild's millions of rows go to the writer a chunk at a time, as Arrow: as row objects all at
      // once they took about 2 KB each (6.7 GB of RSS for the 3.5 M rows of 10 M events with dimensions).
      const windows = new Set<bigint>();
      const batches = async function* (): AsyncGenerator<ReturnType<typeof rowsToRecordBatch>> {
        for await (const chunk of db.rowChunks(`SELECT * FROM campaign_metrics_result ${order}`)) {
          for (const r of chunk) windows.add(r.window_start as bigint);
          rowsWritten += chunk.length;
          yield rowsToRecordBatch(schema, chunk.map(columns.toTable));
        }
      };
      files = await metrics.writeDataFiles(batches());
      windowsRecomputed = windows.size;
    } else {
      const rows = await db.rows(`SELECT * FROM campaign_metrics_result WHERE ${rangeSql('window_start', targets)} ${order}`);
      rowsWritten = rows.length;
      windowsRecomputed = targets.reduce((n, r) => n + Number((r.hi - r.lo) / windowUs), 0);
      // Replace whole days (the table's partitions), not just the recomputed windows: the day's other rows
      // are carried over into the same new file, so the table keeps one file per day however often it runs,
      // instead of gaining a file per touched day per run (copy-on-write remainders next to new rows).
      replace = unionRanges([], targets.map((r) => ({ lo: floorTo(r.lo, DAY_US), hi: ceilTo(r.hi, DAY_US) })));
      const inTargets = (ws: bigint) => (targets as WindowRange[]).some((r) => ws >= r.lo && ws < r.hi);
      // The scan reads with the schema of the snapshot's time, whose names may be older than the table's.
      const scanned = columns.scannedWith(snapshotSchema(metrics.metadata, metrics.currentSnapshot()));
      const kept = metricsBase === null ? [] : (await metrics.readRows({ snapshotId: metricsBase, filter: rangeFilter(scanned.name(windowStart), replace) }))
        .map(scanned.toTable).filter((r) => !inTargets(r[windowStart] as bigint));
      const out = [...kept, ...rows.map(columns.toTable)];
      files = out.length > 0 ? await metrics.writeDataFiles([rowsToRecordBatch(schema, out)]) : [];
    }
    const written = indexUpdate ? await writeEventIndex(metrics.io, metrics.location, duckdbVersion, indexUpdate) : null;
    const summary: Record<string, string> = {
      ...(written ? { [EVENT_INDEX_KEY]: written.location } : {}),
      [SOURCE_SNAPSHOT_KEY]: head ? head.snapshotId.toString() : '',
      [WATERMARK_KEY]: watermark === null ? '' : watermark.toString(),
      'lakehouse.metrics.mode': mode,
      'lakehouse.metrics.windows-recomputed': String(windowsRecomputed),
    };
    const filter: Expr = replace === 'all' ? alwaysTrue() : rangeFilter(windowStart, replace);
    let snapshotId: bigint;
    try {
      const snap = await metrics.newOverwrite().overwriteByFilter(filter).addFiles(files).setAll(summary)
        .validate((base) => {
          if ((currentSnapshot(base)?.snapshotId ?? null) !== metricsBase && recordedState(base).source !== recorded.source) {
            throw new NewerMetricsRunError(metrics.name);
          }
        })
        .commit();
      snapshotId = snap.snapshotId;
    } catch (e) {
      // A definite failure frees our files; after an unknown outcome a landed snapshot may use them.
      if (!(e instanceof CommitStateUnknownError)) await metrics.io.deleteMany([...files.map((f) => f.filePath), ...(written?.written ?? [])]).catch(() => {});
      throw e;
    }
    if (resident && written) resident.fingerprints = written.runs;
    if (resident && keepSums !== 'no') await keepResidentSums(db, resident, keepSums, targets, { tableUuid: metrics.metadata.tableUuid, snapshotId }, log);
    log.info('metrics committed', { mode, snapshotId: snapshotId.toString(), windows: windowsRecomputed, rows: rowsWritten, source: head?.snapshotId.toString() });
    return done(mode, { snapshotId, sourceSnapshotId: head?.snapshotId ?? null, windowsRecomputed, rowsWritten, watermarkMicros: watermark, addedToKeptSums: keepSums === 'add' });
  } finally {
    db.close();
    await Promise.all(scratch.map((f) => rm(f, { force: true })));
  }
}

/**
 * How the job writes campaign_metrics: the SQL's result columns carry the names the table was created
 * with; each goes to the column that has that field id now (resolveColumn follows renames through the
 * table's schemas), so a column renamed with `tables alter` keeps being filled, and the rows carried over
 * from the table (read under the current names) and the computed ones line up.
 */
type Row = Record<string, unknown>;

function metricsColumns(metrics: Table, dimensions: readonly MetricDimension[]): {
  current: (sqlName: string) => string;
  toTable: (row: Row) => Row;
  /** For rows read with `schema` (an older schema of the table): a current name's name there, and the rows under current names. */
  scannedWith: (schema: Schema) => { name: (currentName: string) => string; toTable: (row: Row) => Row };
} {
  const names = new Map<string, string>();
  for (const f of campaignMetricsSchema(dimensions).fields) {
    const now = resolveColumn(metrics.metadata, f.name);
    if (!now) {
      if (f.required) throw new LakehouseError('SCHEMA_MISMATCH', `Table ${metrics.name} has no ${f.name} column (nor one renamed from it), which the metrics job writes; add it back (lakehouse tables alter ${metrics.name} add-column ...) or write to a new table with --table.`);
      continue;
    }
    names.set(f.name, now.name);
  }
  const current = (sqlName: string) => names.get(sqlName) ?? sqlName;
  const rename = (map: Map<string, string>) => ([...map].some(([a, b]) => a !== b)
    ? (row: Row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [map.get(k) ?? k, v]))
    : (row: Row) => row);
  const schema = metrics.schema();
  return {
    current,
    toTable: rename(names),
    scannedWith: (old) => {
      const toCurrent = new Map<string, string>();
      for (const f of old.fields) {
        const now = schema.fields.find((c) => c.id === f.id);
        if (now) toCurrent.set(f.name, now.name);
      }
      const toOld = new Map([...toCurrent].map(([a, b]) => [b, a]));
      return { name: (n) => toOld.get(n) ?? n, toTable: rename(toCurrent) };
    },
  };
}

/** The campaign_events columns sql/campaign_metrics.sql reads, with their DuckDB types. */
const EVENT_COLUMNS: readonly [string, string][] = [
  ['event_id', 'VARCHAR'], ['user_id', 'VARCHAR'], ['campaign_id', 'VARCHAR'], ['event_type', 'VARCHAR'],
  ['platform', 'VARCHAR'], ['event_time', 'TIMESTAMPTZ'], ['revenue', 'DOUBLE'], ['country', 'VARCHAR'],
  ['device_type', 'VARCHAR'], ['channel', 'VARCHAR'], ['cost', 'DOUBLE'], ['processed_at', 'TIMESTAMPTZ'],
];
/** Columns without which the job cannot run; the others read as NULL when the table lacks them. */
const NEEDED_COLUMNS = ['event_id', 'campaign_id', 'event_type', 'event_time', 'processed_at'];

/**
 * How the job reads campaign_events data files: every column the SQL names is found by FIELD ID, under
 * the name the SQL uses, through read_parquet's `schema` parameter. So a column renamed in the table
 * (same id) still fills the SQL's column, in files written before and after the rename, and a column a
 * file predates (channel and cost in old tables, or one added later) reads as NULL.
 */
interface EventsLayout {
  /** read_parquet's `schema` argument: field id -> the SQL's name and type. */
  schemaParam: string;
  /** The SQL's columns that the table has. */
  present: Set<string>;
  /** event_time as the table knows it now (for planning and its bounds). */
  eventTime: { id: number; name: string };
}

function eventsLayout(events: Table): EventsLayout {
  const entries: string[] = [];
  const present = new Set<string>();
  for (const [name, type] of EVENT_COLUMNS) {
    const f = resolveColumn(events.metadata, name);
    if (!f) {
      if (NEEDED_COLUMNS.includes(name)) {
        throw new LakehouseError('SCHEMA_MISMATCH', `Table ${events.name} has no ${name} column (nor one renamed from it), which the metrics job needs; is it a campaign_events table?`);
      }
      continue;
    }
    present.add(name);
    entries.push(`${f.id}: {name: ${sqlString(name)}, type: '${type}', default_value: NULL}`);
  }
  const eventTime = resolveColumn(events.metadata, 'event_time')!;
  return { schemaParam: `MAP {${entries.join(', ')}}`, present, eventTime: { id: eventTime.id, name: eventTime.name } };
}

/**
 * read_parquet over local files, columns by field id (see EventsLayout), and no hive partitioning:
 * Iceberg's `col=value` folder names are not data (DuckDB would otherwise read identity-partitioned
 * columns from them, decoded its own way, and add columns like event_time_day).
 */
function scan(layout: EventsLayout, paths: readonly string[], columns = '*', extra = ''): string {
  if (paths.length === 0) return `SELECT ${columns} FROM (SELECT NULL::VARCHAR AS event_id, NULL::TIMESTAMPTZ AS event_time, NULL::VARCHAR AS filename) WHERE false`;
  return `SELECT ${columns} FROM read_parquet(${sqlStringList(paths)}, schema = ${layout.schemaParam}, hive_partitioning = false${extra})`;
}

/** Event rows of some files with every column the SQL needs: those the table lacks read as NULL. */
function eventsScan(layout: EventsLayout, paths: readonly string[]): string {
  const cols = EVENT_COLUMNS.map(([name, type]) => (layout.present.has(name) ? name : `NULL::${type} AS ${name}`));
  if (paths.length === 0) return `SELECT ${EVENT_COLUMNS.map(([name, type]) => `NULL::${type} AS ${name}`).join(', ')} WHERE false`;
  return scan(layout, paths, cols.join(', '));
}

/** What the rows added since the last run change, by the event index. */
interface NewRows {
  /** Window starts of the rows of ids new to the table (every copy: the SQL picks among them). */
  starts: bigint[];
  /** Fingerprints of those new ids. */
  freshIds: FingerprintRun;
  /** Copies of ids the index already has, ingested no later than what it covers: they may count. */
  mayWin: number;
  /** Latest processed_at of the new rows (epoch microseconds). */
  maxProcessedAt: bigint | null;
}

/**
 * Reads the added files into `new_rows`, looks every id up in the index, and leaves in `resent_ids` the
 * ids the table already had. Their new copies change nothing when ingested after every indexed row: the
 * copy that counts is older. The other ids are new, and their rows' windows change.
 */
async function classifyNewRows(db: DuckDb, layout: EventsLayout, index: EventIndex, addedLocal: string[], windowUs: bigint): Promise<NewRows> {
  await db.run(`CREATE OR REPLACE TEMP TABLE new_rows AS ${eventsScan(layout, addedLocal)}`);
  await db.run(`CREATE OR REPLACE TEMP TABLE new_ids AS
    SELECT row_number() OVER () AS ord, event_id, min(processed_at) AS first_processed FROM new_rows GROUP BY event_id`);
  const known: number[] = [];
  const chunks: Uint32Array[] = [];
  let fresh = 0;
  for await (const [ord, w0, w1, w2, w3] of db.uint32Chunks(`SELECT ord::UINTEGER, ${fingerprintWordsSql()} FROM new_ids`)) {
    const words = new Uint32Array(ord!.length * 4);
    let n = 0;
    for (let i = 0; i < ord!.length; i++) {
      if (hasFingerprint(index.ids, w0![i]!, w1![i]!, w2![i]!, w3![i]!)) { known.push(ord![i]!); continue; }
      words[n * 4] = w0![i]!; words[n * 4 + 1] = w1![i]!; words[n * 4 + 2] = w2![i]!; words[n * 4 + 3] = w3![i]!;
      n++;
    }
    chunks.push(words.subarray(0, n * 4));
    fresh += n;
  }
  const words = new Uint32Array(fresh * 4);
  let at = 0;
  for (const c of chunks) { words.set(c, at); at += c.length; }
  await db.run(`CREATE OR REPLACE TEMP TABLE resent_ids AS SELECT event_id, first_processed FROM new_ids
    WHERE ord IN (SELECT unnest(${known.length ? `[${known.join(',')}]` : '[]::BIGINT[]'}))`);
  const [r] = await db.rows(`SELECT
      (SELECT count(*) FROM resent_ids WHERE ${index.maxProcessedAt === null ? 'true' : `first_processed <= make_timestamptz(${index.maxProcessedAt})`}) AS may_win,
      (SELECT epoch_us(max(processed_at)) FROM new_rows) AS max_processed`);
  const ws = `epoch_us(event_time) // ${windowUs} * ${windowUs}`;
  const starts = (await db.rows(`SELECT DISTINCT ${ws} AS ws FROM new_rows WHERE event_id NOT IN (SELECT event_id FROM resent_ids)`)).map((x) => x.ws as bigint);
  return {
    starts, freshIds: FingerprintRun.sort(words, fresh), mayWin: Number(r!.may_win),
    maxProcessedAt: r!.max_processed === null ? null : (r!.max_processed as bigint),
  };
}

/**
 * The copies that do not count, as of this run: `new_losers`, the new copies of known ids, and the view
 * `losers`, those and the index's (read only when used).
 */
async function loadLosers(db: DuckDb, loserLocals: string[]): Promise<void> {
  const cols = EVENT_COLUMNS.map(([name]) => name).join(', ');
  await db.run(`CREATE OR REPLACE TEMP TABLE new_losers AS SELECT ${cols} FROM new_rows WHERE event_id IN (SELECT event_id FROM resent_ids)`);
  const previous = loserLocals.length > 0 ? `SELECT ${cols} FROM read_parquet(${sqlStringList(loserLocals)}) UNION ALL ` : '';
  await db.run(`CREATE OR REPLACE TEMP VIEW losers AS ${previous}SELECT * FROM new_losers`);
}

/**
 * `campaign_events` for the recomputation: the rows of the target windows (every row for null) minus the
 * copies that do not count (`losers`), so the SQL's dedup sees each id once and picks what a full rebuild
 * would.
 */
async function loadCandidates(db: DuckDb, layout: EventsLayout, candidateLocal: string[], ranges: WindowRange[] | null): Promise<void> {
  const cols = EVENT_COLUMNS.map(([name]) => name).join(', ');
  // Only a loser inside the windows can equal a row read here. The rows of ids that have one are taken aside
  // and put back minus the losers (a multiset difference: of two identical copies one stays). event_id is
  // required in campaign_events, so IN and NOT IN never meet a NULL.
  const inRanges = ranges ? rangeSql('event_time', ranges) : 'true';
  await db.run(`CREATE OR REPLACE TEMP TABLE losers_here AS SELECT * FROM losers WHERE ${inRanges}`);
  const inWindows = `SELECT ${cols} FROM (${eventsScan(layout, candidateLocal)}) WHERE ${inRanges}`;
  await db.run(`CREATE OR REPLACE TEMP TABLE with_losers AS ${inWindows} AND event_id IN (SELECT event_id FROM losers_here)`);
  // A view, not a table: the SQL reads it three times, and three scans of the files (each reading only the
  // columns its step needs) cost less than writing every column of their rows into a table once: about 0.6x
  // the time on the bench's 800 k candidate rows.
  await db.run(`CREATE OR REPLACE TEMP VIEW campaign_events AS ${inWindows} AND event_id NOT IN (SELECT event_id FROM losers_here)
    UNION ALL (SELECT * FROM with_losers EXCEPT ALL SELECT * FROM losers_here)`);
}

/**
 * After a runner's commit: its sums become those of the new metrics snapshot. They are only ever those of a
 * snapshot: if the update fails, the runner has none, and its next run computes them again.
 */
async function keepResidentSums(db: DuckDb, resident: Resident, keep: 'all' | 'add', targets: WindowRange[] | 'all', of: NonNullable<Resident['sums']>, log: Logger): Promise<void> {
  resident.sums = null;
  try {
    if (keep === 'all') {
      await db.run(`CREATE OR REPLACE TABLE ${RESIDENT_SUMS} AS SELECT * FROM campaign_metrics_sums ORDER BY window_start`);
    } else {
      await db.run('BEGIN TRANSACTION');
      await db.run(`DELETE FROM ${RESIDENT_SUMS} WHERE ${rangeSql('window_start', targets as WindowRange[])}`);
      await db.run(`INSERT INTO ${RESIDENT_SUMS} BY NAME SELECT * FROM merged_sums`);
      await db.run('COMMIT');
    }
    resident.sums = of;
  } catch (e) {
    await db.run('ROLLBACK').catch(() => {});
    await db.run(`DROP TABLE IF EXISTS ${RESIDENT_SUMS}`).catch(() => {});
    log.warn('metrics: could not keep the windows\' sums for the next run, which will compute them again', { error: (e as Error).message });
  }
}

/**
 * The index for the events snapshot this run makes the metrics current with. Full: every id's fingerprint
 * and every copy the SQL ranked below the first. Incremental: the previous files plus the new ids, and the
 * losers grown by the new copies of known ids and by the SQL's losers among new ids.
 */
async function updatedIndex(db: DuckDb, layout: EventsLayout, allLocal: string[], expectedRows: number, eventsSnapshotId: bigint, index: EventIndex | null, changes: NewRows | null, scratch: string[]): Promise<EventIndexUpdate> {
  const cols = EVENT_COLUMNS.map(([name]) => name).join(', ');
  const losersOut = async (sql: string): Promise<EventIndexUpdate['newLosers']> => {
    const [c] = await db.rows(`SELECT count(*) AS n FROM (${sql})`);
    const n = Number(c!.n);
    if (n === 0) return null;
    const file = path.join(tmpdir(), `lakehouse-losers-${randomUUID()}.parquet`);
    scratch.push(file);
    await db.run(`COPY (${sql}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`);
    return { bytes: await readFile(file), count: n };
  };
  const ranked = `SELECT ${cols} FROM duplicate_copies WHERE copy_rank > 1`;
  if (!index || !changes) {
    const ids = allLocal.length === 0
      ? FingerprintRun.sort(new Uint32Array(0), 0)
      : await collectFingerprints(db, `SELECT ${fingerprintWordsSql()} FROM (${scan(layout, allLocal, 'event_id')})`, expectedRows);
    const [p] = allLocal.length === 0 ? [{ p: null }] : await db.rows(`SELECT epoch_us(max(processed_at)) AS p FROM (${scan(layout, allLocal, 'processed_at')})`);
    return { eventsSnapshotId, maxProcessedAt: (p!.p as bigint | null) ?? null, keptIds: [], keptRuns: [], newIds: ids, keptLosers: [], newLosers: await losersOut(ranked) };
  }
  const maxProcessedAt = [index.maxProcessedAt, changes.maxProcessedAt].reduce((a, b) => (a === null ? b : b === null || a > b ? a : b), null as bigint | null);
  // Losers only grow: a file of the new ones beside the previous files, or all in one when there are many.
  const merge = index.loserFiles.length >= MAX_INDEX_FILES;
  return {
    eventsSnapshotId, maxProcessedAt, keptIds: index.idFiles, keptRuns: index.ids, newIds: changes.freshIds,
    keptLosers: merge ? [] : index.loserFiles,
    newLosers: await losersOut(`SELECT * FROM ${merge ? 'losers' : 'new_losers'} UNION ALL ${ranked}`),
  };
}

function rangeSql(column: string, ranges: WindowRange[]): string {
  return '(' + ranges.map((r) => `(${column} >= make_timestamptz(${r.lo}) AND ${column} < make_timestamptz(${r.hi}))`).join(' OR ') + ')';
}

function rangeFilter(column: string, ranges: WindowRange[]): Expr {
  const parts = ranges.map((r) => and(gtEq(column, r.lo), lt(column, r.hi)));
  return parts.length === 1 ? parts[0]! : or(parts[0]!, ...parts.slice(1));
}

/** Windows whose end lies between the old and the new watermark: their `complete` flag changes. */
function flippedWindows(previous: bigint | null, current: bigint | null, windowUs: bigint): WindowRange[] {
  if (previous === null || current === null || previous === current) return [];
  const lo = previous < current ? previous : current;
  const hi = previous < current ? current : previous;
  // window_start + W in (lo, hi]  <=>  window_start in (lo - W, hi - W]
  const first = floorTo(lo - windowUs, windowUs) + windowUs;
  const last = floorTo(hi - windowUs, windowUs);
  return first <= last ? [{ lo: first, hi: last + windowUs }] : [];
}

/** Sorted window starts merged into ranges of consecutive windows. */
export function mergeWindows(starts: bigint[], windowUs: bigint): WindowRange[] {
  const sorted = [...new Set(starts)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: WindowRange[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last.hi === s) last.hi = s + windowUs;
    else out.push({ lo: s, hi: s + windowUs });
  }
  return out;
}

/** Union of two sets of ranges, merged where they touch or overlap. */
export function unionRanges(a: WindowRange[], b: WindowRange[]): WindowRange[] {
  const all = [...a, ...b].sort((x, y) => (x.lo < y.lo ? -1 : x.lo > y.lo ? 1 : 0));
  const out: WindowRange[] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi) { if (r.hi > last.hi) last.hi = r.hi; } else out.push({ ...r });
  }
  return out;
}

function floorTo(us: bigint, step: bigint): bigint {
  const q = us / step;
  return (us % step !== 0n && us < 0n ? q - 1n : q) * step;
}

function ceilTo(us: bigint, step: bigint): bigint {
  const f = floorTo(us, step);
  return f === us ? f : f + step;
}

/** Largest upper bound of a timestamp column over the files (exact: timestamps are never truncated). */
function maxUpperBound(files: DataFile[], fieldId: number): bigint | null {
  let max: bigint | null = null;
  for (const f of files) {
    const b = f.upperBounds?.get(fieldId);
    if (!b) continue;
    const v = fromBinary(T.timestamptz(), b) as bigint;
    if (max === null || v > max) max = v;
  }
  return max;
}

/** The source snapshot and watermark recorded by the newest metrics snapshot that has them. */
export function recordedState(metadata: TableMetadata): { source: bigint | null; watermark: bigint | null; index: string | null } {
  for (const s of ancestorsOf(metadata, currentSnapshot(metadata)?.snapshotId ?? null)) {
    const source = s.summary[SOURCE_SNAPSHOT_KEY];
    if (source === undefined) continue;
    const watermark = s.summary[WATERMARK_KEY];
    return { source: source === '' ? null : BigInt(source), watermark: watermark ? BigInt(watermark) : null, index: s.summary[EVENT_INDEX_KEY] || null };
  }
  return { source: null, watermark: null, index: null };
}

async function loadEvents(catalog: Catalog, id: TableIdentifier): Promise<Table> {
  if (!(await catalog.tableExists(id))) {
    throw new LakehouseError('TABLE_NOT_FOUND', `Table ${identifierToString(id)} does not exist in catalog ${catalog.name}; ingest events first (lakehouse ingest, or lakehouse demo for a local example), or name the events table with --events.`);
  }
  return new Table(catalog, await catalog.loadTable(id));
}

function metricsGrain(table: Table): { window: WindowSize; dimensions: MetricDimension[] } {
  const props = table.metadata.properties;
  const window = (props[WINDOW_PROPERTY] ?? DEFAULT_WINDOW) as WindowSize;
  if (!(window in WINDOW_SIZES)) {
    throw new LakehouseError('INVALID_METADATA', `Table ${table.name} has ${WINDOW_PROPERTY}=${props[WINDOW_PROPERTY]}, which is not one of ${Object.keys(WINDOW_SIZES).join(', ')}.`);
  }
  const dimensions = (props[DIMENSIONS_PROPERTY] ?? '').split(',').filter((d) => d !== '') as MetricDimension[];
  return { window, dimensions };
}

/** Loads the metrics table, or creates it (and its namespace) with the requested grain. */
async function openMetricsTable(catalog: Catalog, id: TableIdentifier, eventsId: TableIdentifier, opts: MetricsJobOptions): Promise<Table> {
  const dimensions = METRIC_DIMENSIONS.filter((d) => (opts.dimensions ?? []).includes(d));
  for (const d of opts.dimensions ?? []) {
    if (!METRIC_DIMENSIONS.includes(d)) throw new LakehouseError('INVALID_ARGUMENT', `Unknown metrics dimension "${d}"; choose from ${METRIC_DIMENSIONS.join(', ')}.`);
  }
  if (opts.window !== undefined && !(opts.window in WINDOW_SIZES)) {
    throw new LakehouseError('INVALID_ARGUMENT', `Unknown window size "${opts.window}"; choose from ${Object.keys(WINDOW_SIZES).join(', ')}.`);
  }
  let table: Table;
  if (await catalog.tableExists(id)) {
    table = new Table(catalog, await catalog.loadTable(id));
  } else {
    if (!(await catalog.namespaceExists(id.namespace))) {
      await catalog.createNamespace(id.namespace, {}).catch((e) => { if (!(e instanceof LakehouseError && e.code === 'ALREADY_EXISTS')) throw e; });
    }
    try {
      table = new Table(catalog, await catalog.createTable(id, {
        schema: campaignMetricsSchema(dimensions),
        partitionSpec: campaignMetricsSpec,
        properties: {
          [WINDOW_PROPERTY]: opts.window ?? DEFAULT_WINDOW,
          [DIMENSIONS_PROPERTY]: dimensions.join(','),
          [SOURCE_TABLE_PROPERTY]: identifierToString(eventsId),
        },
      }));
    } catch (e) {
      // Another run created it first: use theirs (the grain check below still applies).
      if (!(e instanceof LakehouseError && e.code === 'ALREADY_EXISTS')) throw e;
      table = new Table(catalog, await catalog.loadTable(id));
    }
  }
  const grain = metricsGrain(table);
  if (opts.window !== undefined && opts.window !== grain.window) {
    throw new LakehouseError('INVALID_ARGUMENT', `Table ${table.name} holds ${grain.window} windows, not ${opts.window}; drop it (lakehouse tables drop ${table.name}) or write ${opts.window} windows to another table with --table.`);
  }
  if (opts.dimensions !== undefined && dimensions.join(',') !== grain.dimensions.join(',')) {
    throw new LakehouseError('INVALID_ARGUMENT', `Table ${table.name} is grouped by campaign${grain.dimensions.map((d) => ', ' + d).join('')}, not by campaign${dimensions.map((d) => ', ' + d).join('')}; drop it or choose another table with --table.`);
  }
  return table;
}

