import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsToRecordBatch, Table, type TableIdentifier } from '../../iceberg/index.ts';
import { type GeneratedMessage, type ProduceOptions, generateMessages } from '../../pipeline/event-generator.ts';
import type { MetricDimension, WindowSize } from '../../domain/campaign-metrics-table.ts';
import { type MetricsJobOptions, type MetricsRunResult, rebuildMetrics, runMetrics } from '../../sql/campaign-metrics-job.ts';
import {
  DEFAULT_ALLOWED_LATENESS_MS, type OracleCommit, type OracleRow, type RawMessage, expectedMetrics, parseTimestampMicros, rowKey, tableEvents,
} from '../support/campaign-metrics-oracle.ts';
import {
  IngestedEvents, type MetricsRead, chunks, diffMetrics, messageTimeMicros, readMetricsWithDuckDB, readMetricsWithPyIceberg, tableId,
} from '../support/campaign-metrics-scenarios.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata, readDetailedWithPyIceberg } from './readers.ts';

/**
 * The proof of campaign_metrics: as PyIceberg (and, once, DuckDB) read it back equals the metrics a
 * plain implementation (tests/support/campaign-metrics-oracle.ts) computes from the raw messages, for in-order,
 * late and duplicate events, empty windows, campaigns without clicks, midnight, incremental runs
 * interleaved with ingest, rebuilds of a range, dimensions, and a compaction of the events.
 * Events reach campaign_events through the real ingest path; each test has its own tables.
 */

const SECONDS: Record<WindowSize, number> = { '1m': 60, '5m': 300, '1h': 3600 };
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The day most tests' events fall on: 2026-11-03T00:00:00Z. */
const DAY = Date.UTC(2026, 10, 3);
const at = (h: number, m = 0, s = 0, ms = 0): number => DAY + h * HOUR + m * MINUTE + s * 1000 + ms;
const iso = (ms: number): string => new Date(ms).toISOString();

type EventType = 'impression' | 'click' | 'conversion';
function ev(id: string, campaign: string, type: EventType, time: number | string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: id, user_id: `u-${id}`, campaign_id: campaign, event_type: type, timestamp: typeof time === 'number' ? iso(time) : time,
    platform: 'google', country: 'DE', channel: 'search', ...extra,
  };
}

function generated(opts: ProduceOptions): GeneratedMessage[] {
  return [...generateMessages({ campaigns: 5, ...opts })];
}

const byTime = (a: RawMessage, b: RawMessage): number => {
  const x = messageTimeMicros(a);
  const y = messageTimeMicros(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('campaign-metrics');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

/** A campaign_metrics table under test and the settings it is built with. */
interface MetricsUnderTest {
  id: TableIdentifier;
  window: WindowSize;
  dimensions: MetricDimension[];
  allowedLatenessMs: number;
}

function metricsTable(name: string, window: WindowSize = '5m', dimensions: MetricDimension[] = [], allowedLatenessMs = DEFAULT_ALLOWED_LATENESS_MS): MetricsUnderTest {
  return { id: tableId(name), window, dimensions, allowedLatenessMs };
}

function jobOptions(events: IngestedEvents, m: MetricsUnderTest): MetricsJobOptions {
  return { catalog: wh.catalog, events: events.id, metrics: m.id, window: m.window, dimensions: m.dimensions, allowedLatenessMs: m.allowedLatenessMs };
}

/**
 * runMetrics. A run after new events must say it is now current with the events table's snapshot
 * (`checkSource: false` where the events table's last snapshot is a compaction, which adds no data).
 */
async function run(events: IngestedEvents, m: MetricsUnderTest, checkSource = true): Promise<MetricsRunResult> {
  const r = await runMetrics(jobOptions(events, m));
  if (checkSource) expect(r.sourceSnapshotId).toBe(events.currentSnapshotId());
  return r;
}

/** What the table should hold after a run over every commit so far. */
function oracle(events: IngestedEvents, m: MetricsUnderTest): OracleRow[] {
  return expectedMetrics(events.commits, { windowSeconds: SECONDS[m.window], dimensions: m.dimensions, allowedLatenessMs: m.allowedLatenessMs });
}

/** Reads campaign_metrics with `read` and asserts it equals the oracle's rows; returns what was read. */
async function expectOracle(
  events: IngestedEvents, m: MetricsUnderTest, expected = oracle(events, m), read = readMetricsWithPyIceberg,
): Promise<MetricsRead> {
  expect(expected.length).toBeGreaterThan(0);
  const got = await read(wh, m.id);
  expect(diffMetrics(expected, got.rows)).toEqual([]);
  return got;
}

async function metricsSnapshots(m: MetricsUnderTest): Promise<number> {
  return (await wh.catalog.loadTable(m.id)).metadata.snapshots.length;
}

/** PyIceberg's row count of campaign_events: the ingest wrote what the oracle thinks the table holds. */
async function expectEventsTableRows(events: IngestedEvents): Promise<void> {
  const r = await readDetailedWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: events.qualifiedName });
  expect(r.count).toBe(tableEvents(events.commits).length);
}

/** The rows of `r` as (grain -> row) for comparing runs. */
const keyed = (rows: readonly OracleRow[]): Map<string, OracleRow> => new Map(rows.map((r) => [rowKey(r), r]));

describe('the oracle itself', () => {
  it('computes a hand-worked example: first copy in a flush, earliest commit across flushes, ratios, complete', () => {
    const commits: OracleCommit[] = [
      {
        processedAtMicros: 1_000n,
        messages: [
          ev('a1', 'cA', 'impression', at(10, 1), { cost: 0.5 }),
          ev('a2', 'cA', 'click', at(10, 2), { cost: 2 }),
          ev('a2', 'cA', 'conversion', at(10, 3), { revenue: 99 }), // same flush: the Ingestor keeps the first copy
          ev('a3', 'cA', 'conversion', `2026-11-03T12:04:00.000000+02:00`, { revenue: 40 }),
          ev('b1', 'cB', 'impression', at(10, 7)),
        ],
      },
      {
        processedAtMicros: 2_000n,
        messages: [
          ev('a1', 'cB', 'click', at(10, 6), { cost: 7 }), // later commit: loses to the first
          ev('b2', 'cB', 'click', at(10, 8), { cost: 1 }),
        ],
      },
    ];
    expect(tableEvents(commits).length).toBe(6);
    const w = BigInt(at(10, 0)) * 1000n;
    const rows = expectedMetrics(commits, { windowSeconds: 300, allowedLatenessMs: 0 });
    expect(rows).toEqual([
      {
        window_start: w, window_end: w + 300_000_000n, campaign_id: 'cA', impressions: 1, clicks: 1, conversions: 1, revenue: 40, spend: 2.5,
        ctr_percent: 100, cvr_percent: 100, cpc: 2.5, cpa: 2.5, roas: 16, complete: true,
      },
      {
        window_start: w + 300_000_000n, window_end: w + 600_000_000n, campaign_id: 'cB', impressions: 1, clicks: 1, conversions: 0, revenue: 0, spend: 1,
        ctr_percent: 100, cvr_percent: 0, cpc: 1, cpa: null, roas: 0, complete: false, // watermark 10:08 < 10:10
      },
    ]);
    expect(expectedMetrics(commits, { windowSeconds: 300 }).map((r) => r.complete)).toEqual([false, false]);
  });

  it('parses timestamps as the decoder documents them: ISO with a zone (to the microsecond) or epoch ms', () => {
    expect(parseTimestampMicros('2026-11-03T12:01:00.1234567+02:00')).toBe(BigInt(at(10, 1)) * 1000n + 123_456n);
    expect(parseTimestampMicros('2026-11-03T00:00:00Z')).toBe(BigInt(DAY) * 1000n);
    expect(parseTimestampMicros('2026-11-02T19:30:00-04:30')).toBe(BigInt(DAY) * 1000n);
    expect(parseTimestampMicros(at(10) + 1.5)).toBe(BigInt(at(10)) * 1000n + 1500n);
    expect(() => parseTimestampMicros('2026-11-03T10:00:00')).toThrow();
  });
});

describe('campaign_metrics equals the oracle (read back with PyIceberg)', () => {
  it('in-order events in two commits, one run: PyIceberg and DuckDB both read the oracle\'s rows', async () => {
    const events = await IngestedEvents.create(wh, 'events_in_order');
    const m = metricsTable('metrics_in_order');
    const messages = generated({ count: 800, seed: 11, startMs: at(10), spanMs: 3 * HOUR }).sort(byTime);
    for (const c of chunks(messages, 2)) await events.ingest(c);
    await expectEventsTableRows(events);

    const r = await run(events, m);
    expect(r.snapshotId).not.toBeNull();
    const py = await expectOracle(events, m);
    expect(py.snapshotId).toBe(String(r.snapshotId));
    const duck = await expectOracle(events, m, oracle(events, m), readMetricsWithDuckDB);
    expect(duck.snapshotId).toBe(String(r.snapshotId));
  });

  it('events late by hours in a later commit: their old windows are recomputed', async () => {
    const events = await IngestedEvents.create(wh, 'events_late');
    const m = metricsTable('metrics_late');
    await events.ingest(generated({ count: 400, seed: 21, startMs: at(10), spanMs: 3 * HOUR }));
    await run(events, m);
    const first = await expectOracle(events, m);

    // 2 to 6 hours behind the newest event (13:00), many in windows that already have rows, plus a few on time.
    await events.ingest([
      ...generated({ count: 150, seed: 22, startMs: at(7), spanMs: 4 * HOUR }),
      ...generated({ count: 50, seed: 23, startMs: at(13), spanMs: 30 * MINUTE }),
    ]);
    const r = await run(events, m);
    expect(r.mode).toBe('incremental');
    expect(r.windowsRecomputed).toBeGreaterThan(0);
    const second = await expectOracle(events, m);

    // The data does what the test says: existing windows before 11:00 changed, and new ones before 10:00 appeared.
    const before = keyed(first.rows);
    const changedOld = second.rows.filter((row) => {
      const old = before.get(rowKey(row));
      return old !== undefined && old.impressions !== row.impressions && row.window_start < BigInt(at(11)) * 1000n;
    });
    expect(changedOld.length).toBeGreaterThan(0);
    expect(second.rows.some((row) => row.window_start < BigInt(at(10)) * 1000n)).toBe(true);
  });

  it('duplicates within one commit and across commits count once; with different content the earliest copy wins', async () => {
    const events = await IngestedEvents.create(wh, 'events_dup');
    const m = metricsTable('metrics_dup');
    const stream = generated({ count: 600, seed: 31, startMs: at(10), spanMs: HOUR, duplicateRate: 0.1 });
    const [g1, g2] = chunks(stream, 2) as [GeneratedMessage[], GeneratedMessage[]];
    await events.ingest([
      ...g1,
      ev('d1', 'c-dup', 'impression', at(10, 1), { cost: 0.01 }),
      ev('d1', 'c-dup', 'impression', at(10, 1), { cost: 0.01 }), // same content, same commit
      ev('d2', 'c-dup', 'click', at(10, 2), { cost: 1.5 }),
      ev('d2', 'c-dup', 'conversion', at(10, 3), { revenue: 100 }), // other content, same commit: the first copy is written
      ev('d3', 'c-dup', 'impression', at(10, 4)),
      ev('x1', 'c-other', 'impression', at(10, 20)),
      ev('x2', 'c-other', 'impression', at(11, 30)),
    ]);
    await run(events, m);
    await expectOracle(events, m);

    await events.ingest([
      ...g2,
      g1[0]!, g1[1]!, // generated messages re-sent byte for byte in a later commit
      ev('d1', 'c-dup', 'impression', at(10, 1), { cost: 0.01 }), // same content, later commit
      ev('d3', 'c-other', 'click', at(10, 22), { cost: 9 }), // other window and campaign, later commit: loses
      ev('x3', 'c-other', 'click', at(10, 21), { cost: 1 }), // so c-other's 10:20 window does get new data
      ev('d4', 'c-dup', 'conversion', at(10, 12), { revenue: 50 }),
    ]);
    await run(events, m);
    await expectOracle(events, m);

    await events.ingest([ev('d4', 'c-dup', 'conversion', at(10, 13), { revenue: 75 }), ev('x4', 'c-dup', 'impression', at(10, 14))]);
    await run(events, m);
    const got = await expectOracle(events, m);
    await expectEventsTableRows(events);

    // The hand-made part, checked on what the table holds (not only through the oracle).
    const row = (minute: number, campaign: string) => got.rows.find((r) => r.campaign_id === campaign && r.window_start === BigInt(at(10, minute)) * 1000n);
    expect(row(0, 'c-dup')).toMatchObject({ impressions: 2, clicks: 1, conversions: 0, revenue: 0 });
    expect(row(0, 'c-dup')!.spend).toBeCloseTo(1.51, 12);
    expect(row(20, 'c-other')).toMatchObject({ impressions: 1, clicks: 1, spend: 1 });
    expect(row(10, 'c-dup')).toMatchObject({ impressions: 1, conversions: 1, revenue: 50 });
  });

  it('copies with the same processed_at: the one with the smallest event_time wins, even from a later commit', async () => {
    const events = await IngestedEvents.create(wh, 'events_tie');
    const m = metricsTable('metrics_tie');
    const clock = Date.UTC(2026, 10, 9);
    await events.ingest([ev('t1', 'c-a', 'click', at(10, 31), { cost: 2 }), ev('t2', 'c-a', 'impression', at(10, 32)), ev('t3', 'c-b', 'impression', at(11))], { processedAtMs: clock });
    await run(events, m);
    await expectOracle(events, m);
    // Same processed_at, earlier event time and another campaign: this copy is the event, and c-a's 10:30 window loses t1.
    await events.ingest([ev('t1', 'c-b', 'click', at(10, 11), { cost: 3 }), ev('t4', 'c-b', 'impression', at(10, 12))], { processedAtMs: clock });
    await run(events, m);
    const got = await expectOracle(events, m);
    expect(got.rows.find((r) => r.campaign_id === 'c-a')).toMatchObject({ impressions: 1, clicks: 0 });
  });

  it('a later commit with an earlier processed_at (ingest clocks skewed) wins, and the window it took the event from is recomputed', async () => {
    const events = await IngestedEvents.create(wh, 'events_skew');
    const m = metricsTable('metrics_skew');
    const clock = Date.UTC(2026, 10, 9);
    await events.ingest([
      ev('s1', 'c-a', 'conversion', at(10, 31), { revenue: 10 }), ev('s2', 'c-a', 'impression', at(10, 32)), ev('s3', 'c-b', 'impression', at(11)),
      ev('s4', 'c-c', 'click', at(10, 51), { cost: 4 }), // alone in its window
    ], { processedAtMs: clock });
    await run(events, m);
    await expectOracle(events, m);
    await events.ingest([
      ev('s1', 'c-b', 'conversion', at(10, 41), { revenue: 20 }),
      ev('s4', 'c-b', 'click', at(10, 42), { cost: 4 }), // c-c's 10:50 window is left with no event: its row goes
    ], { processedAtMs: clock - MINUTE });
    await run(events, m);
    const got = await expectOracle(events, m);
    expect(got.rows.filter((r) => r.campaign_id === 'c-c')).toEqual([]);
  });

  it('empty windows have no row, and campaigns without clicks, cost or impressions get NULL ratios', async () => {
    const events = await IngestedEvents.create(wh, 'events_gaps');
    const m = metricsTable('metrics_gaps');
    await events.ingest([
      // c-gap: 10:00-10:05, nothing from 10:05 to 10:30, then 10:31 and 10:47.
      ev('g1', 'c-gap', 'impression', at(10, 0), { cost: 0.01 }), ev('g2', 'c-gap', 'click', at(10, 3), { cost: 1 }),
      ev('g3', 'c-gap', 'impression', at(10, 31), { cost: 0.01 }), ev('g4', 'c-gap', 'impression', at(10, 47)),
      // c-noclick: impressions with cost only: ctr 0, cvr/cpc/cpa NULL, roas 0.
      ...[0, 4, 9, 14, 20].map((min, i) => ev(`n${i}`, 'c-noclick', 'impression', at(10, min), { cost: 0.002 })),
      // c-nocost: clicks without cost: spend 0, cpc 0, roas NULL.
      ev('k1', 'c-nocost', 'impression', at(10, 5)), ev('k2', 'c-nocost', 'click', at(10, 6), { revenue: 5 }), // revenue counts on any type
      // c-convonly: a conversion alone: impressions 0 (ctr NULL), clicks 0 (cvr NULL), cpa 0, roas NULL.
      ev('v1', 'c-convonly', 'conversion', at(10, 10), { revenue: 30 }),
      // The newest event is at 12:00:00 exactly, so the watermark is 11:50:00: the window ending then is complete.
      ev('z1', 'c-late-max', 'impression', at(12)),
      ev('w1', 'c-edge', 'impression', at(11, 47)), ev('w2', 'c-edge', 'impression', at(11, 52)),
    ]);
    await run(events, m);
    const got = await expectOracle(events, m);
    const gap = got.rows.filter((r) => r.campaign_id === 'c-gap').map((r) => iso(Number(r.window_start / 1000n)));
    expect(gap).toEqual([iso(at(10, 0)), iso(at(10, 30)), iso(at(10, 45))]);
    for (const r of got.rows.filter((x) => x.campaign_id === 'c-noclick')) {
      expect(r).toMatchObject({ clicks: 0, ctr_percent: 0, cvr_percent: null, cpc: null, cpa: null, roas: 0 });
    }
    expect(got.rows.find((r) => r.campaign_id === 'c-nocost')).toMatchObject({ spend: 0, cpc: 0, roas: null, ctr_percent: 100, revenue: 5 });
    expect(got.rows.filter((r) => r.campaign_id === 'c-edge').map((r) => r.complete)).toEqual([true, false]);
    expect(got.rows.find((r) => r.campaign_id === 'c-convonly')).toMatchObject({ impressions: 0, ctr_percent: null, cvr_percent: null, cpa: 0, roas: null, revenue: 30 });
  });

  for (const window of ['1m', '1h'] as const) {
    it(`${window} windows around midnight UTC: two day partitions, late events into yesterday's last windows`, async () => {
      const events = await IngestedEvents.create(wh, `events_midnight_${window}`);
      const m = metricsTable(`metrics_midnight_${window}`, window);
      const midnight = Date.UTC(2026, 10, 4);
      await events.ingest([
        ...generated({ count: 300, seed: 61, startMs: midnight - 90 * MINUTE, spanMs: 90 * MINUTE }),
        ev('m1', 'c-mid', 'impression', '2026-11-03T23:59:59.999999Z', { cost: 0.5 }),
        ev('m2', 'c-mid', 'click', '2026-11-04T01:59:59.999999+02:00', { cost: 1 }), // 23:59:59.999999Z
        ev('m3', 'c-mid', 'impression', 0, { timestamp: midnight - 30 * MINUTE }), // epoch ms
      ]);
      await run(events, m);
      await expectOracle(events, m);
      await events.ingest([
        ...generated({ count: 300, seed: 62, startMs: midnight, spanMs: 90 * MINUTE }),
        ev('m4', 'c-mid', 'click', '2026-11-04T00:00:00Z', { cost: 2 }), // first instant of the new day
        ev('m5', 'c-mid', 'conversion', '2026-11-03T19:00:00.000001-05:00', { revenue: 12 }), // 00:00:00.000001Z
        ev('m6', 'c-mid', 'impression', '2026-11-03T23:30:00-00:30'), // a local date of the 3rd that is 00:00Z on the 4th
        ev('m7', 'c-mid', 'click', midnight - 5 * MINUTE, { cost: 3 }), // late into yesterday's last windows
      ]);
      await run(events, m);
      await expectOracle(events, m);
      const md = await pyicebergMetadata({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: [...m.id.namespace, m.id.name].join('.') });
      const days = new Set(md.data_files.flatMap((f) => Object.values(f.partition).map(String)));
      expect(days).toEqual(new Set([String(DAY / 86_400_000), String(midnight / 86_400_000)]));
    });
  }
});

describe('incremental runs, rebuilds and compaction (read back with PyIceberg)', () => {
  it('four runs interleaved with ingest each match the oracle; a run without new data is a no-op; one full run equals them', async () => {
    const events = await IngestedEvents.create(wh, 'events_incremental');
    const m = metricsTable('metrics_incremental');
    const stream = generated({ count: 2000, seed: 41, startMs: at(10), spanMs: 3 * HOUR, lateRate: 0.05, duplicateRate: 0.05, invalidRate: 0.02 });
    let last: MetricsRead | undefined;
    for (const [i, c] of chunks(stream, 4).entries()) {
      await events.ingest(c);
      const r = await run(events, m);
      expect(r.mode).toBe(i === 0 ? 'full' : 'incremental');
      expect(r.snapshotId).not.toBeNull();
      last = await expectOracle(events, m);
    }
    await expectEventsTableRows(events);

    const snapshots = await metricsSnapshots(m);
    const again = await run(events, m);
    expect(again).toMatchObject({ mode: 'noop', snapshotId: null });
    expect(await metricsSnapshots(m)).toBe(snapshots);

    // A fresh table built in one run over the same events holds the same rows as the incremental one.
    const full = metricsTable('metrics_incremental_full');
    expect((await run(events, full)).mode).toBe('full');
    const fullRead = await expectOracle(events, full);
    expect(diffMetrics(last!.rows, fullRead.rows)).toEqual([]);
  });

  it('a compaction of campaign_events (same rows, new files) adds no metrics snapshot', async () => {
    const events = await IngestedEvents.create(wh, 'events_compact');
    const m = metricsTable('metrics_compact');
    for (const c of chunks(generated({ count: 600, seed: 71, startMs: at(10), spanMs: 2 * HOUR, lateRate: 0.05 }), 3)) await events.ingest(c);
    await run(events, m);
    await expectOracle(events, m);
    const snapshots = await metricsSnapshots(m);

    const t = events.table;
    const plan = await t.planFiles();
    expect(plan.files.length).toBeGreaterThan(1);
    const rows = await t.readRows();
    const rewrite = t.newRewrite();
    for (const f of plan.files) rewrite.deleteFile(f);
    for (const f of await t.writeDataFiles([rowsToRecordBatch(t.schema(), rows)])) rewrite.addFile(f);
    const beforeCompaction = events.currentSnapshotId();
    const compacted = await rewrite.commit();
    await t.refresh();
    expect(compacted.summary.operation).toBe('replace');

    const r = await run(events, m, false);
    // Current with the compaction or, having committed nothing, still with the snapshot before it: same rows.
    expect([beforeCompaction, compacted.snapshotId]).toContain(r.sourceSnapshotId);
    expect(r.snapshotId).toBeNull();
    expect(r.windowsRecomputed).toBe(0);
    expect(['noop', 'incremental']).toContain(r.mode);
    expect(await metricsSnapshots(m)).toBe(snapshots);
    await expectOracle(events, m);

    // The next commit after the compaction: late events and re-sent copies of events now in compacted files.
    const resent = events.commits[0]!.messages.slice(0, 20);
    await events.ingest([...resent, ...generated({ count: 100, seed: 72, startMs: at(9), spanMs: 3 * HOUR })]);
    const after = await run(events, m);
    expect(after.mode).toBe('incremental');
    await expectOracle(events, m);
  });

  it('rebuild of a range repairs tampered rows in it', async () => {
    const events = await IngestedEvents.create(wh, 'events_rebuild');
    const m = metricsTable('metrics_rebuild');
    for (const c of chunks(generated({ count: 800, seed: 81, startMs: at(10), spanMs: 3 * HOUR, duplicateRate: 0.05 }), 2)) await events.ingest(c);
    await run(events, m);
    await expectOracle(events, m);

    // Tamper with [11:00, 12:00): inflate every row, drop one, add a campaign that has no events.
    const t = new Table(wh.catalog, await wh.catalog.loadTable(m.id));
    const filter = `window_start >= '${iso(at(11))}' AND window_start < '${iso(at(12))}'`;
    const inRange = await t.readRows({ filter });
    expect(inRange.length).toBeGreaterThan(2);
    const tampered: Record<string, unknown>[] = inRange.map((r) => ({ ...r, impressions: (r.impressions as bigint) + 1000n, revenue: (r.revenue as number) * 2 + 1 }));
    tampered.pop();
    tampered.push({ ...inRange[0]!, campaign_id: 'campaign-bogus' });
    await t.overwrite(filter, [rowsToRecordBatch(t.schema(), tampered)]);
    expect(diffMetrics(oracle(events, m), (await readMetricsWithPyIceberg(wh, m.id)).rows).length).toBeGreaterThan(0);

    const r = await rebuildMetrics({ ...jobOptions(events, m), fromMs: at(11), toMs: at(12) });
    expect(r.mode).toBe('rebuild');
    expect(r.snapshotId).not.toBeNull();
    await expectOracle(events, m);
  });

  it('rebuild with another allowed lateness: every `complete` flag follows the new watermark, inside the range and out', async () => {
    const events = await IngestedEvents.create(wh, 'events_relate');
    const m = metricsTable('metrics_relate');
    await events.ingest(generated({ count: 600, seed: 91, startMs: at(10), spanMs: 4 * HOUR }));
    await run(events, m);
    await expectOracle(events, m);

    // Newest event ~14:00: with 10 min lateness windows up to ~13:50 are complete, with 3 h only up to ~11:00.
    // The job records one watermark per table, so windows outside [10:00, 13:00) whose flag changes are
    // recomputed too: the whole table then equals the oracle at the new lateness.
    const relaxed = { ...m, allowedLatenessMs: 3 * HOUR };
    const r = await rebuildMetrics({ ...jobOptions(events, relaxed), fromMs: at(10), toMs: at(13) });
    expect(r.mode).toBe('rebuild');
    const expected = oracle(events, relaxed);
    const flipped = oracle(events, m).filter((row, i) => row.complete !== expected[i]!.complete);
    expect(flipped.some((row) => row.window_start >= BigInt(at(13)) * 1000n)).toBe(true);
    await expectOracle(events, m, expected);
  });

  for (const [name, window, dimensions] of [
    ['platform', '5m', ['platform']],
    ['all', '1h', ['platform', 'country', 'channel']],
  ] as const) {
    it(`dimensions ${dimensions.join(' + ')} (${window} windows): events that leave a dimension out form their own NULL group`, async () => {
      const events = await IngestedEvents.create(wh, `events_dims_${name}`);
      const m = metricsTable(`metrics_dims_${name}`, window, [...dimensions]);
      const stream = generated({ count: 1200, seed: 51, startMs: at(10), spanMs: 2 * HOUR, duplicateRate: 0.03, lateRate: 0.03 });
      const [c1, c2] = chunks(stream, 2) as [GeneratedMessage[], GeneratedMessage[]];
      await events.ingest(c1);
      await run(events, m);
      await events.ingest(c2);
      await run(events, m);
      const got = await expectOracle(events, m);
      expect(got.rows.some((r) => r.platform === null)).toBe(true);
    });
  }
});
