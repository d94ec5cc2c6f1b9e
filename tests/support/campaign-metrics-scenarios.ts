import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TableIdentifier, Table } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { MemoryDeadLetterSink } from '../../pipeline/dead-letters.ts';
import type { GeneratedMessage } from '../../pipeline/event-generator.ts';
import { FileSource } from '../../pipeline/file-source.ts';
import { Ingestor, type IngestStats } from '../../pipeline/ingest.ts';
import { bitsToDouble } from '../interop/canonical.ts';
import { type Warehouse, localPath } from '../interop/helpers.ts';
import { readDetailedWithDuckDB, readDetailedWithPyIceberg } from '../interop/readers.ts';
import { type OracleCommit, type OracleRow, type RawMessage, messageEvent, parseTimestampMicros, rowKey, tableEvents } from './campaign-metrics-oracle.ts';

/**
 * The harness of tests/interop/campaign-metrics.test.ts: events go into `campaign_events` through the
 * real ingest path (NDJSON file -> FileSource -> Ingestor, one run and so one snapshot per commit), the
 * same commits are kept for the oracle, and `campaign_metrics` is read back by PyIceberg or DuckDB.
 */

/** The ingest clock starts here (after every event time the tests use) and moves 1 s per commit. */
export const INGEST_CLOCK_START_MS = Date.UTC(2026, 10, 10, 0, 0, 0);
const GROUP = 'metrics-proof';
let clockMs = INGEST_CLOCK_START_MS;

export const NAMESPACE = ['interop'];
export const tableId = (name: string): TableIdentifier => ({ namespace: NAMESPACE, name });

function isGenerated(m: RawMessage): m is GeneratedMessage {
  return (m as GeneratedMessage).value instanceof Uint8Array;
}

/** One `campaign_events` table under test and every commit that went into it. */
export class IngestedEvents {
  readonly commits: OracleCommit[] = [];
  private files = 0;

  private constructor(readonly wh: Warehouse, readonly table: Table, readonly id: TableIdentifier) {}

  static async create(wh: Warehouse, name: string): Promise<IngestedEvents> {
    const table = await wh.createTable(name, campaignEventsSchema, campaignEventsSpec);
    return new IngestedEvents(wh, table, tableId(name));
  }

  /** `ns.table` for the readers. */
  get qualifiedName(): string {
    return [...this.id.namespace, this.id.name].join('.');
  }

  /**
   * Ingests one commit. `processedAtMs` sets the ingest clock for it (to make ties or a skewed clock on
   * purpose); by default each commit is 1 s after the previous one, so a later commit has a later
   * processed_at.
   */
  async ingest(messages: readonly RawMessage[], opts: { processedAtMs?: number } = {}): Promise<IngestStats> {
    const now = opts.processedAtMs ?? (clockMs += 1000);
    const file = path.join(this.wh.dir, `${this.id.name}-${this.files++}.ndjson`);
    writeFileSync(file, Buffer.concat(messages.flatMap((m) => [
      isGenerated(m) ? Buffer.from(m.value) : Buffer.from(JSON.stringify(m)), Buffer.from('\n'),
    ])));
    const commit: OracleCommit = { messages, processedAtMicros: BigInt(now) * 1000n };
    const source = new FileSource({ location: file });
    const ingestor = new Ingestor({
      table: this.table, source, group: GROUP, deadLetters: new MemoryDeadLetterSink(),
      // One flush at the end of the file: the commit is exactly one snapshot.
      flushRows: 1_000_000, flushIntervalMs: 3_600_000, now: () => now,
      // Copies across commits are on purpose here: they stand for copies ingest keeps (re-sent beyond
      // its de-duplication horizon, or by writers with skewed clocks), which the metrics job must drop.
      dedupHorizonMs: 0,
    });
    const stats = await ingestor.run();
    const expectedRows = tableEvents([commit]).length;
    if (stats.commits !== 1 || stats.written !== expectedRows) {
      throw new Error(`Ingest of ${file} made ${stats.commits} snapshot(s) with ${stats.written} row(s); the test needs 1 snapshot with the ${expectedRows} row(s) the oracle expects (first copy of each event_id).`);
    }
    this.commits.push(commit);
    await this.table.refresh();
    return stats;
  }

  currentSnapshotId(): bigint | null {
    return this.table.currentSnapshot()?.snapshotId ?? null;
  }
}

/** The event time of a message in µs (for sorting test input), by the oracle's own parser; 0 for an invalid one. */
export function messageTimeMicros(m: RawMessage): bigint {
  if (isGenerated(m)) {
    if (m.kind === 'invalid') return 0n;
    return messageEvent(m, 0n)!.event_time;
  }
  return parseTimestampMicros(m.timestamp);
}

/** `n` nearly equal consecutive slices of `xs`. */
export function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < n; i++) out.push(xs.slice(Math.floor((i * xs.length) / n), Math.floor(((i + 1) * xs.length) / n)));
  return out;
}

// ---- reading campaign_metrics back ----

const TIMES = new Set(['window_start', 'window_end']);
const COUNTS = new Set(['impressions', 'clicks', 'conversions']);
const DOUBLES = new Set(['revenue', 'spend', 'ctr_percent', 'cvr_percent', 'cpc', 'cpa', 'roas']);
const STRINGS = new Set(['campaign_id', 'platform', 'country', 'channel']);

/**
 * A canonical line (tests/interop/canonical.ts encoding) of campaign_metrics as an OracleRow, decoded
 * by column name so the check does not lean on the job's own schema; processed_at is dropped.
 */
export function decodeMetricsLine(line: string): OracleRow {
  const o = JSON.parse(line) as Record<string, string | boolean | null>;
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'processed_at') continue;
    if (TIMES.has(k)) row[k] = BigInt(v as string);
    else if (COUNTS.has(k)) row[k] = Number(v as string);
    else if (DOUBLES.has(k)) row[k] = v === null ? null : bitsToDouble(v as string);
    else if (STRINGS.has(k) || k === 'complete') row[k] = v;
    else throw new Error(`campaign_metrics has a column "${k}" the metric definitions do not name`);
  }
  return row as unknown as OracleRow;
}

export interface MetricsRead {
  snapshotId: string | null;
  rows: OracleRow[];
}

export async function readMetricsWithPyIceberg(wh: Warehouse, id: TableIdentifier): Promise<MetricsRead> {
  const r = await readDetailedWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: [...id.namespace, id.name].join('.') });
  return { snapshotId: r.snapshotId, rows: r.rows.map(decodeMetricsLine) };
}

export async function readMetricsWithDuckDB(wh: Warehouse, id: TableIdentifier): Promise<MetricsRead> {
  const loaded = await wh.catalog.loadTable(id);
  const r = await readDetailedWithDuckDB({ metadata: localPath(loaded.metadataLocation) });
  return { snapshotId: r.snapshotId, rows: r.rows.map(decodeMetricsLine) };
}

// ---- comparing ----

/** Doubles agree within this relative difference (sums are added in different orders). */
export const RELATIVE_TOLERANCE = 1e-9;

function sameDouble(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  if (a === b) return true;
  return Math.abs(a - b) <= RELATIVE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

function shown(v: unknown): string {
  return typeof v === 'bigint' ? `${v}` : JSON.stringify(v);
}

function describeKey(r: OracleRow): string {
  const dims = (['platform', 'country', 'channel'] as const).filter((d) => d in r).map((d) => `${d}=${shown(r[d])}`);
  return `[${new Date(Number(r.window_start / 1000n)).toISOString()} ${r.campaign_id}${dims.length ? ' ' + dims.join(' ') : ''}]`;
}

/**
 * What differs between the expected rows and the table's, as sentences (empty when they agree):
 * missing rows, unexpected rows, a grain twice, and each field that differs. Doubles within
 * RELATIVE_TOLERANCE; everything else exactly.
 */
export function diffMetrics(expected: readonly OracleRow[], actual: readonly OracleRow[], limit = 40): string[] {
  const out: string[] = [];
  const byKey = new Map<string, OracleRow>();
  for (const r of actual) {
    const k = rowKey(r);
    if (byKey.has(k)) out.push(`${describeKey(r)}: the table has this grain more than once`);
    byKey.set(k, r);
  }
  const seen = new Set<string>();
  for (const e of expected) {
    const k = rowKey(e);
    seen.add(k);
    const a = byKey.get(k);
    if (!a) {
      out.push(`${describeKey(e)}: missing; expected ${JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
      continue;
    }
    const fields = new Set([...Object.keys(e), ...Object.keys(a)]) as Set<keyof OracleRow>;
    for (const f of fields) {
      const x = e[f];
      const y = a[f];
      const same = DOUBLES.has(f) ? sameDouble(x as number | null, y as number | null) : x === y;
      if (!same) out.push(`${describeKey(e)}: ${f} expected ${shown(x)}, table has ${shown(y)}`);
    }
  }
  for (const a of actual) {
    if (!seen.has(rowKey(a))) out.push(`${describeKey(a)}: unexpected row ${JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
  }
  return out.length > limit ? [...out.slice(0, limit), `... and ${out.length - limit} more differences`] : out;
}
