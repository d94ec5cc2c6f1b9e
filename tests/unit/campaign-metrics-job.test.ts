import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../catalog/catalog.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch, type TableIdentifier, Schema, Table, type TableRequirement, type TableUpdate, T } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { mergeWindows, rebuildMetrics, runMetrics, unionRanges } from '../../sql/campaign-metrics-job.ts';

/**
 * The metrics job's own behaviour: idempotence, crash safety, races with other writers, clear errors.
 * That its numbers are right is proved against a plain implementation and read back by PyIceberg in
 * tests/interop/campaign-metrics.test.ts; here "right" means "equal to a fresh full run".
 */
const NS = ['lakehouse'];
const EVENTS: TableIdentifier = { namespace: NS, name: 'campaign_events' };
const METRICS: TableIdentifier = { namespace: NS, name: 'campaign_metrics' };
const MIN = 60_000_000n;
const BASE = 1_793_000_000_000_000n; // 2026-10-27T...Z, in microseconds

let dir: string;
let catalog: SqlCatalog;
let seq = 0;

function event(i: number, minute: number, type = 'impression', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `e-${i}`, user_id: `u-${i % 7}`, campaign_id: `c-${i % 3}`, event_type: type, platform: 'ios',
    event_time: BASE + BigInt(minute) * MIN, revenue: type === 'conversion' ? 10 + i : 0, country: 'DE', device_type: 'phone',
    channel: 'search', cost: 0.5, processed_at: BASE + BigInt(++seq) * 1000n, ...extra,
  };
}

async function events(): Promise<Table> {
  return new Table(catalog, await catalog.loadTable(EVENTS));
}

async function append(rows: Record<string, unknown>[]): Promise<void> {
  await (await events()).append([rowsToRecordBatch(campaignEventsSchema, rows)]);
}

async function metricRows(c: Catalog, id: TableIdentifier = METRICS): Promise<string[]> {
  const t = new Table(c, await c.loadTable(id));
  return (await t.readRows()).map((r) => {
    const { processed_at: _, ...rest } = r;
    return JSON.stringify(rest, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  }).sort();
}

async function snapshotCount(id: TableIdentifier): Promise<number> {
  return (await catalog.loadTable(id)).metadata.snapshots.length;
}

/** What a fresh full run over the same events produces. */
async function fullRun(name: string): Promise<string[]> {
  const id = { namespace: NS, name };
  await runMetrics({ catalog, metrics: id, allowedLatenessMs: 0 });
  return metricRows(catalog, id);
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-metrics-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(NS);
  await catalog.createTable(EVENTS, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec });
  process.env.LAKEHOUSE_CACHE = path.join(dir, 'cache');
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('window ranges', () => {
  it('merges consecutive window starts into ranges and unions overlapping ranges', () => {
    expect(mergeWindows([0n, 300n, 900n, 600n, 1500n, 300n], 300n)).toEqual([{ lo: 0n, hi: 1200n }, { lo: 1500n, hi: 1800n }]);
    expect(unionRanges([{ lo: 0n, hi: 300n }], [{ lo: 300n, hi: 600n }, { lo: 900n, hi: 1200n }])).toEqual([{ lo: 0n, hi: 600n }, { lo: 900n, hi: 1200n }]);
  });
});

describe('metrics run', () => {
  it('commits nothing when nothing changed: a second run is a no-op and adds no snapshot', async () => {
    await append([event(1, 0), event(2, 1, 'click')]);
    const first = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(first.mode).toBe('full');
    const second = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(second).toMatchObject({ mode: 'noop', snapshotId: null, sourceSnapshotId: first.sourceSnapshotId });
    expect(await snapshotCount(METRICS)).toBe(1);
  });

  it('recomputes only the windows a new commit touched and ends equal to a full run', async () => {
    await append([event(1, 0), event(2, 6), event(3, 12), event(4, 18, 'click')]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    // a late click for the first window, and a new window
    await append([event(5, 1, 'click'), event(6, 30)]);
    const r = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(r.mode).toBe('incremental');
    // the late event's window, the new one, and the windows whose `complete` flag flipped as the watermark moved
    expect(r.windowsRecomputed).toBeLessThan(7);
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('after appends that merge manifests, an incremental run still sees only the newly appended events', async () => {
    await catalog.commitTable(EVENTS, [], [{ action: 'set-properties', updates: { 'commit.manifest.min-count-to-merge': '2' } }]);
    for (const m of [0, 10, 20, 30, 40]) await append([event(m, m)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await append([event(99, 10, 'click')]);
    // The last append merged every earlier file into its manifest as EXISTING entries.
    const head = (await events()).currentSnapshot()!;
    expect(head.summary['added-data-files']).toBe('1');
    const r = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(r.mode).toBe('incremental');
    // A late click: only its window is recomputed, not the windows of the files carried over as EXISTING.
    expect(r.windowsRecomputed).toBe(1);
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('a different allowed lateness with no new events recomputes the windows whose complete flag flips', async () => {
    await append([event(1, 0), event(2, 5), event(3, 10), event(4, 15)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    const r = await runMetrics({ catalog, allowedLatenessMs: 12 * 60_000 });
    expect(r.mode).toBe('incremental');
    const rows = (await new Table(catalog, await catalog.loadTable(METRICS)).readRows())
      .sort((a, b) => Number((a.window_start as bigint) - (b.window_start as bigint)));
    // BASE sits 200 s into a 5-minute window, so the four windows end at minutes 1:40, 6:40, 11:40, 16:40.
    // Lateness 0 (watermark minute 15) had the first three complete; lateness 12 min (minute 3) only the first.
    expect(rows.map((x) => x.complete)).toEqual([true, false, false, false]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 12 * 60_000 })).mode).toBe('noop');
  });

  it('keeps one data file per day however many incremental runs touch it', async () => {
    await append([event(1, 0), event(2, 60)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    for (let i = 3; i < 8; i++) {
      await append([event(i, i * 7, i % 2 ? 'click' : 'impression')]);
      expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    }
    const m = new Table(catalog, await catalog.loadTable(METRICS));
    const days = new Set((await m.readRows()).map((r) => (r.window_start as bigint) / 86_400_000_000n));
    expect((await m.planFiles()).files).toHaveLength(days.size);
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('a compaction of campaign_events causes no recomputation and no snapshot', async () => {
    await append([event(1, 0)]);
    await append([event(2, 0, 'click')]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    const t = await events();
    const files = (await t.planFiles()).files;
    const rows = await t.readRows();
    const merged = await t.writeDataFiles([rowsToRecordBatch(campaignEventsSchema, rows)]);
    const op = t.newRewrite();
    for (const f of files) op.deleteFile(f);
    for (const f of merged) op.addFile(f);
    await op.commit();
    const r = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(r.mode).toBe('noop');
    expect(await snapshotCount(METRICS)).toBe(1);
  });

  it('reads tables created before channel and cost existed (those columns count as NULL)', async () => {
    const old = new Schema(campaignEventsSchema.fields.filter((f) => f.name !== 'channel' && f.name !== 'cost'));
    const id = { namespace: NS, name: 'old_events' };
    const t = new Table(catalog, await catalog.createTable(id, { schema: old, partitionSpec: campaignEventsSpec }));
    const { channel: _c, cost: _s, ...e } = event(1, 0, 'click');
    await t.append([rowsToRecordBatch(old, [e])]);
    await runMetrics({ catalog, events: id, metrics: { namespace: NS, name: 'old_metrics' }, allowedLatenessMs: 0 });
    const [row] = (await new Table(catalog, await catalog.loadTable({ namespace: NS, name: 'old_metrics' })).readRows());
    expect(row).toMatchObject({ clicks: 1n, spend: 0, cpc: 0 });
  });

  it('reads values from the files, not from partition folder names (identity partitions with odd strings)', async () => {
    const id = { namespace: NS, name: 'by_platform' };
    const t = new Table(catalog, await catalog.createTable(id, {
      schema: campaignEventsSchema,
      partitionSpec: { specId: 0, fields: [{ sourceId: 5, fieldId: 1000, name: 'platform', transform: 'identity' }] },
    }));
    const platforms = ['a b', 'null', 'ü', 'x/y', 'p=q%20'];
    await t.append([rowsToRecordBatch(campaignEventsSchema, platforms.map((p, i) => event(i, 0, 'impression', { platform: p })))]);
    const metrics = { namespace: NS, name: 'by_platform_metrics' };
    await runMetrics({ catalog, events: id, metrics, dimensions: ['platform'], allowedLatenessMs: 0 });
    const rows = await new Table(catalog, await catalog.loadTable(metrics)).readRows();
    expect(rows.map((r) => r.platform).sort()).toEqual([...platforms].sort());
  });

  it('rebuild recomputes a range even when nothing changed, and restores tampered rows', async () => {
    await append([event(1, 0), event(2, 0, 'click'), event(3, 10)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    const expected = await metricRows(catalog);
    const m = new Table(catalog, await catalog.loadTable(METRICS));
    await m.overwrite('true', []); // someone emptied it
    const fromMs = Number((BASE - 3_600_000_000n) / 1000n);
    const r = await rebuildMetrics({ catalog, allowedLatenessMs: 0, fromMs, toMs: fromMs + 7_200_000 });
    expect(r.mode).toBe('rebuild');
    expect(await metricRows(catalog)).toEqual(expected);
  });
});

/** A catalog that runs `before` once, just before the first commit to `table` goes through. */
function interceptingCatalog(inner: SqlCatalog, table: TableIdentifier, before: () => Promise<void>): Catalog {
  let fired = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commitTable') {
        return async (id: TableIdentifier, reqs: TableRequirement[], updates: TableUpdate[]) => {
          if (!fired && id.name === table.name) {
            fired = true;
            await before();
          }
          return target.commitTable(id, reqs, updates);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('metrics races and crashes', () => {
  it('an ingest commit landing during a run is picked up by the next run, nothing lost', async () => {
    await append([event(1, 0)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await append([event(2, 3, 'click')]);
    const racing = interceptingCatalog(catalog, METRICS, () => append([event(3, 3, 'conversion'), event(4, 20)]));
    const r1 = await runMetrics({ catalog: racing, allowedLatenessMs: 0 });
    expect(r1.mode).toBe('incremental');
    const r2 = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(r2.mode).toBe('incremental');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('when another metrics run commits first, this run starts over instead of landing older results', async () => {
    await append([event(1, 0)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await append([event(2, 3, 'click')]);
    let otherRun: string | undefined;
    const racing = interceptingCatalog(catalog, METRICS, async () => {
      // The other run sees one more commit than this one did.
      await append([event(3, 4, 'click')]);
      otherRun = (await runMetrics({ catalog, allowedLatenessMs: 0 })).mode;
    });
    const r = await runMetrics({ catalog: racing, allowedLatenessMs: 0 });
    expect(otherRun).toBe('incremental');
    // Restarted against the other run's state: nothing left to do, or a recomputation from the newest source.
    const head = (await events()).currentSnapshot()!.snapshotId;
    expect(r.sourceSnapshotId).toBe(head);
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('a crash before the commit leaves campaign_metrics as it was, and the next run finishes the job', async () => {
    await append([event(1, 0)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    const before = await metricRows(catalog);
    const snapshots = await snapshotCount(METRICS);
    await append([event(2, 0, 'click')]);
    const crashing = interceptingCatalog(catalog, METRICS, async () => { throw new Error('simulated crash'); });
    await expect(runMetrics({ catalog: crashing, allowedLatenessMs: 0 })).rejects.toThrow(/simulated crash/);
    expect(await metricRows(catalog)).toEqual(before);
    expect(await snapshotCount(METRICS)).toBe(snapshots);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });
});

describe('metrics errors', () => {
  it('names the missing events table and how to fill it', async () => {
    await expect(runMetrics({ catalog, events: { namespace: NS, name: 'nope' } })).rejects.toThrow(/lakehouse\.nope does not exist.*ingest/);
  });

  it('refuses a window size different from the existing table\'s', async () => {
    await append([event(1, 0)]);
    await runMetrics({ catalog });
    await expect(runMetrics({ catalog, window: '1h' })).rejects.toThrow(/holds 5m windows, not 1h/);
  });
});

describe('metrics schema', () => {
  it('adds the selected dimensions as grain columns after campaign_id, in a fixed order', async () => {
    await append([event(1, 0)]);
    await runMetrics({ catalog, dimensions: ['country', 'platform'], metrics: { namespace: NS, name: 'by_dims' } });
    const t = new Table(catalog, await catalog.loadTable({ namespace: NS, name: 'by_dims' }));
    expect(t.schema().fields.slice(0, 6).map((f) => f.name)).toEqual(['window_start', 'window_end', 'campaign_id', 'platform', 'country', 'impressions']);
    expect(T.string()).toEqual(t.schema().findFieldByName('platform')!.type);
  });
});
