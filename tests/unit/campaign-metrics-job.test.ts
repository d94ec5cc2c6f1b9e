import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../catalog/catalog.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch, type TableIdentifier, Schema, Table, type TableRequirement, type TableUpdate, T } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { MetricsRunner, mergeWindows, rebuildMetrics, runMetrics, unionRanges } from '../../sql/campaign-metrics-job.ts';
import { EVENT_INDEX_KEY, FingerprintRun } from '../../sql/event-index.ts';
import { toLocalPath } from '../../iceberg/io/index.ts';
import { maintainOnce, maintenanceSteps } from '../../maintenance/maintain.ts';

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

/** Rewrites every campaign_events file into one (a `replace` snapshot: same rows, new files). */
async function compactEvents(): Promise<void> {
  const t = await events();
  const files = (await t.planFiles()).files;
  const merged = await t.writeDataFiles([rowsToRecordBatch(campaignEventsSchema, await t.readRows())]);
  const op = t.newRewrite();
  for (const f of files) op.deleteFile(f);
  for (const f of merged) op.addFile(f);
  await op.commit();
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
    await compactEvents();
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

/** The event index manifest the metrics table's current snapshot points at (local path), and its JSON. */
async function indexManifest(): Promise<{ path: string; json: { 'id-files': { path: string; count: number }[]; 'loser-files': { path: string; count: number }[] } }> {
  const snap = new Table(catalog, await catalog.loadTable(METRICS)).currentSnapshot()!;
  const p = toLocalPath(snap.summary[EVENT_INDEX_KEY]!);
  return { path: p, json: JSON.parse(readFileSync(p, 'utf8')) };
}

const losersIn = (m: { 'loser-files': { count: number }[] }) => m['loser-files'].reduce((n, f) => n + f.count, 0);

describe('event index', () => {
  it('sorts fingerprints, drops repeats and finds exactly the ones it holds', () => {
    const words = new Uint32Array([5, 1, 1, 1, 0, 9, 9, 9, 5, 1, 1, 0, 5, 1, 1, 1, 0xffffffff, 0, 0, 0, 0, 9, 9, 8]);
    const run = FingerprintRun.sort(words, 6);
    expect(run.count).toBe(5);
    expect(run.has(5, 1, 1, 1)).toBe(true);
    expect(run.has(0, 9, 9, 8)).toBe(true);
    expect(run.has(0xffffffff, 0, 0, 0)).toBe(true);
    expect(run.has(5, 1, 1, 2)).toBe(false);
    expect(FingerprintRun.parse(run.bytes(), 5).has(5, 1, 1, 0)).toBe(true);
    expect(() => FingerprintRun.parse(run.bytes(), 4)).toThrow(/wrong size/);
  });

  it.each([300, 5000, 70_000])('sorts %i like a plain sort of the 128-bit values, also with many fingerprints in one bucket (one pass and two)', (n) => {
    let x = 12345;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    const words = new Uint32Array(n * 4);
    for (let i = 0; i < n; i++) {
      const copy = i > 10 && i % 7 === 0 ? (i - 10) * 4 : -1;
      for (let k = 0; k < 4; k++) words[i * 4 + k] = copy >= 0 ? words[copy + k]! : k === 0 && i % 2 ? rnd() & 0xfff : rnd();
    }
    const hex = (w: Uint32Array, i: number) => [0, 1, 2, 3].map((k) => w[i * 4 + k]!.toString(16).padStart(8, '0')).join('');
    const expected = [...new Set(Array.from({ length: n }, (_, i) => hex(words, i)))].sort();
    const run = FingerprintRun.sort(words, n);
    const got = Array.from({ length: run.count }, (_, i) => hex(run.buffer.subarray(4), i));
    expect(got).toEqual(expected);
  });

  it('finds exactly the fingerprints a large run holds (the lookup that starts from a 16-bit bucket table)', () => {
    let x = 777;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    const n = 200_000;
    const words = new Uint32Array(n * 4);
    // Top words crowd a few buckets and leave most empty, and the extremes 0 and 0xffffffff are present.
    for (let i = 0; i < n; i++) for (let k = 0; k < 4; k++) words[i * 4 + k] = k === 0 ? (i % 3 === 0 ? rnd() & 0x3ffff : rnd()) : rnd();
    words.set([0, 0, 0, 0], 0);
    words.set([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 4);
    const run = FingerprintRun.sort(words.slice(), n); // sort() may overwrite its input
    expect(run.count).toBe(n);
    for (let i = 0; i < n; i += 97) expect(run.has(words[i * 4]!, words[i * 4 + 1]!, words[i * 4 + 2]!, words[i * 4 + 3]!)).toBe(true);
    expect(run.has(0, 0, 0, 0)).toBe(true);
    expect(run.has(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toBe(true);
    for (let i = 0; i < n; i += 89) expect(run.has(words[i * 4]!, words[i * 4 + 1]!, words[i * 4 + 2]!, (words[i * 4 + 3]! + 1) >>> 0)).toBe(false);
    expect(run.has(0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe)).toBe(false);
  });

  it('a re-sent id older than any horizon (different content, later processed_at) changes nothing: incremental, its window untouched', async () => {
    await append([event(1, 0), event(2, 1, 'click'), event(3, 40), event(4, 45)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    // e-1 again, in another campaign and another window, ingested later: the first copy still counts.
    await append([event(1, 20, 'click', { campaign_id: 'c-9' }), event(5, 45)]);
    const r = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(r.mode).toBe('incremental');
    expect(r.windowsRecomputed).toBe(1);
    expect((await metricRows(catalog)).some((row) => row.includes('c-9'))).toBe(false);
    expect(losersIn((await indexManifest()).json)).toBe(1);
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('a late event in an old window: incremental, that window recomputed from its files', async () => {
    await append([event(1, 0), event(2, 30), event(3, 60, 'click'), event(4, 90)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await append([event(5, 2, 'click'), event(6, 91)]);
    const r = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(r.mode).toBe('incremental');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('copies of a new id within one commit: the SQL picks one, the other joins the losers, and a later copy loses too', async () => {
    await append([event(1, 0)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await append([event(7, 10), event(7, 25, 'click', { campaign_id: 'c-8' })]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    expect(losersIn((await indexManifest()).json)).toBe(1);
    await append([event(7, 3, 'conversion'), event(8, 30)]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    expect(losersIn((await indexManifest()).json)).toBe(2);
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('a compaction between runs: the next run is incremental and re-sent ids still lose', async () => {
    await append([event(1, 0), event(2, 10)]);
    await append([event(3, 20, 'click')]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await compactEvents();
    await append([event(2, 50, 'conversion'), event(4, 21)]);
    const r = await runMetrics({ catalog, allowedLatenessMs: 0 });
    expect(r.mode).toBe('incremental');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('after the recorded events snapshot expired: a full run (new index), then incremental again', async () => {
    await append([event(1, 0)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await append([event(2, 5)]);
    await append([event(1, 30, 'click')]);
    await (await events()).expireSnapshots({ olderThanMs: Date.now() + 1000, retainLast: 1 });
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('full');
    await append([event(1, 40), event(3, 41)]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it.each([
    ['a missing index manifest', async () => rmSync((await indexManifest()).path)],
    ['a corrupt fingerprint file', async () => writeFileSync(toLocalPath((await indexManifest()).json['id-files'][0]!.path), 'not an index')],
  ])('%s means a full run, and the result is still right', async (_what, damage) => {
    await append([event(1, 0), event(2, 5)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await damage();
    await append([event(1, 30, 'click'), event(3, 31)]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('full');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('a new copy ingested before the indexed rows (skewed clock) may count: a full run decides', async () => {
    await append([event(1, 0), event(2, 5)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await append([event(1, 30, 'click', { processed_at: BASE })]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('full');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('an events snapshot that removed rows means a full run', async () => {
    await append([event(1, 0), event(2, 5)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    await (await events()).overwrite('true', [rowsToRecordBatch(campaignEventsSchema, [event(2, 5), event(3, 9)])]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('full');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });

  it('many incremental runs merge the fingerprint and loser files and stay equal to a full run', async () => {
    await append([event(0, 0)]);
    await runMetrics({ catalog, allowedLatenessMs: 0 });
    for (let i = 1; i <= 10; i++) {
      await append([event(i, i * 3, i % 3 ? 'impression' : 'click'), event(i - 1, i, 'conversion')]);
      expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    }
    const { json } = await indexManifest();
    expect(json['id-files'].length).toBeLessThanOrEqual(8);
    expect(json['loser-files'].length).toBeLessThanOrEqual(8);
    expect(losersIn(json)).toBe(10);
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });
});

describe('resident runner (metrics run --every)', () => {
  /** Runs `fn` with a new runner, closed afterwards whatever happens. */
  async function withRunner(fn: (runner: MetricsRunner) => Promise<void>): Promise<void> {
    const runner = new MetricsRunner({ catalog, allowedLatenessMs: 0 });
    try {
      await fn(runner);
    } finally {
      runner.close();
    }
  }

  it('gives what one-shot runs give, across re-sends, late events, compactions, merges, a rebuild and another writer', async () => {
    await withRunner(async (runner) => {
      await append([event(0, 0), event(1, 5, 'click')]);
      expect((await runner.run()).mode).toBe('full');
      expect((await runner.run()).mode).toBe('noop');
      for (let i = 2; i <= 12; i++) {
        // New ids, a late one in the first window, and a re-send of an older id in another campaign.
        await append([event(i, i * 3, i % 3 ? 'impression' : 'click'), event(100 + i, 1, 'conversion'), event(i - 2, i * 3 + 1, 'click', { campaign_id: 'c-9' })]);
        if (i === 5) await compactEvents();
        if (i === 7) expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental'); // another process
        if (i === 9) expect((await rebuildMetrics({ catalog, allowedLatenessMs: 0, fromMs: Number(BASE / 1000n), toMs: Number(BASE / 1000n) + 3_600_000 })).mode).toBe('rebuild');
        const r = await runner.run();
        expect(r.mode, `run ${i}`).toBe(i === 7 || i === 9 ? 'noop' : 'incremental');
        // After another process committed (runs 7 and 9), the runner's next run computes its sums again.
        expect(r.addedToKeptSums, `run ${i}`).toBe(![7, 8, 9, 10].includes(i));
        expect(await metricRows(catalog), `after run ${i}`).toEqual(await fullRun(`full_check_${i}`));
      }
      // Past MAX_INDEX_FILES the fingerprint files were merged into one, which the runner kept.
      expect((await indexManifest()).json['id-files'].length).toBeLessThanOrEqual(8);
      expect((await metricRows(catalog)).some((row) => row.includes('c-9'))).toBe(false);
    });
  });

  it('adds new rows to the kept sums of their windows, to the last bit of a full run (amounts whose double sums depend on order)', async () => {
    // Cents and odd fractions: as doubles, 0.1 + 0.2 + ... depends on the order of the additions; the exact
    // decimal sums do not, so the runner's added sums equal a full run's to the bit.
    const amounts = [0.1, 0.2, 0.7, 1234.56, 0.015, 99.99, 1e-9, 333.333, 0.3, 7e11];
    const commit = (k: number) => Array.from({ length: 40 }, (_, j) => {
      const i = 1000 + k * 40 + j;
      return event(i, (j % 4) * 2, 'conversion', { revenue: amounts[(i * 7) % amounts.length], cost: amounts[(i * 3) % amounts.length] });
    });
    await withRunner(async (runner) => {
      await append(commit(0));
      expect((await runner.run()).mode).toBe('full');
      for (let k = 1; k <= 4; k++) {
        await append(commit(k));
        const r = await runner.run();
        expect(r.addedToKeptSums, `run ${k}`).toBe(true);
        expect(await metricRows(catalog), `after run ${k}`).toEqual(await fullRun(`full_check_${k}`));
      }
    });
    // The sums, independently: 200 conversions, in JavaScript with BigInt nano-units. DuckDB rounds its
    // exact decimal to a double in two steps, so the last bit may differ: within 2 ulps.
    const t = new Table(catalog, await catalog.loadTable(METRICS));
    const rows = await t.readRows();
    const nanos = (x: number) => BigInt(Math.round(x * 1e9));
    const expected = new Map<string, bigint>();
    for (let i = 1000; i < 1200; i++) {
      const key = `${BASE + BigInt(((i - 1000) % 40 % 4) * 2) * MIN - ((BASE + BigInt(((i - 1000) % 40 % 4) * 2) * MIN) % (5n * MIN))}|c-${i % 3}`;
      expected.set(key, (expected.get(key) ?? 0n) + nanos(amounts[(i * 7) % amounts.length]!));
    }
    for (const r of rows) {
      const want = expected.get(`${r.window_start as bigint}|${r.campaign_id as string}`)!;
      const exact = Number(want) / 1e9;
      expect(Math.abs((r.revenue as number) - exact), `${r.window_start} ${r.campaign_id}`).toBeLessThanOrEqual(2 * Number.EPSILON * exact);
    }
  });

  it('a run that fails in DuckDB (an unreadable data file) is followed by a good run once the file is back', async () => {
    await withRunner(async (runner) => {
      await append([event(1, 0), event(2, 10)]);
      expect((await runner.run()).mode).toBe('full');
      await append([event(3, 20, 'click')]);
      const added = (await events()).currentSnapshot()!;
      const file = toLocalPath((await (await events()).planFiles({ snapshotId: added.snapshotId })).files.find((f) => f.recordCount === 1 && f.filePath.includes('click'))!.filePath);
      const bytes = readFileSync(file);
      writeFileSync(file, bytes.subarray(0, 20));
      await expect(runner.run()).rejects.toThrow(/DuckDB failed/);
      writeFileSync(file, bytes);
      expect((await runner.run()).mode).toBe('incremental');
      expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
    });
  });

  it('keeps the parsed fingerprint files between runs (a one-shot run must read them)', async () => {
    await withRunner(async (runner) => {
      await append([event(1, 0), event(2, 10)]);
      expect((await runner.run()).mode).toBe('full');
      // Take the index's fingerprint files away: a fresh process finds the index unusable, the runner does not need them.
      const { json } = await indexManifest();
      for (const f of json['id-files']) rmSync(toLocalPath(f.path));
      await append([event(3, 20, 'click'), event(1, 30, 'click')]);
      const r = await runner.run();
      expect(r.mode).toBe('incremental');
      expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
    });
  });
});

describe('event index clean-up by lakehouse maintain', () => {
  /** Every file in the metrics table's event-index folder (local paths), sorted. */
  async function indexFolder(): Promise<string[]> {
    const dirPath = path.join(toLocalPath((await catalog.loadTable(METRICS)).metadata.location), 'event-index');
    return readdirSync(dirPath).map((n) => path.join(dirPath, n)).sort();
  }
  /** What the kept snapshots' manifests list, read straight from their JSON: the files that must stay. */
  async function referenced(): Promise<string[]> {
    const out = new Set<string>();
    for (const s of (await catalog.loadTable(METRICS)).metadata.snapshots) {
      if (s.summary[EVENT_INDEX_KEY] === undefined) continue; // a compaction's
      const m = toLocalPath(s.summary[EVENT_INDEX_KEY]);
      const json = JSON.parse(readFileSync(m, 'utf8')) as { 'id-files': { path: string }[]; 'loser-files': { path: string }[] };
      out.add(m);
      for (const f of [...json['id-files'], ...json['loser-files']]) out.add(toLocalPath(f.path));
    }
    return [...out].sort();
  }
  const maintainMetrics = (opts: { orphanAgeMs?: number; dryRun?: boolean; expire?: boolean } = {}) => maintainOnce({
    catalog, tables: [METRICS], dryRun: opts.dryRun,
    steps: maintenanceSteps({ expire: opts.expire ? { olderThanMs: Date.now() + 60_000, retainLast: 3 } : { retainLast: 1000 }, orphanAgeMs: opts.orphanAgeMs }),
  });
  const stepReport = (pass: Awaited<ReturnType<typeof maintainOnce>>, name: string) => pass.steps.find((s) => s.step === name)!;

  it('a runner keeps its window sums across a maintenance pass that compacts campaign_metrics (same rows, new files)', async () => {
    const runner = new MetricsRunner({ catalog, allowedLatenessMs: 0 });
    try {
      await append([event(0, 0), event(1, 1)]);
      expect((await runner.run()).mode).toBe('full');
      for (let i = 2; i < 5; i++) {
        await append([event(i, i * 3), event(i - 1, i, 'click')]);
        expect((await runner.run()).addedToKeptSums).toBe(true);
      }
      const pass = await maintainMetrics();
      expect(stepReport(pass, 'compact').outcome).toBe('ok');
      const ops = (await catalog.loadTable(METRICS)).metadata.snapshots.map((s) => s.summary.operation);
      expect(ops[ops.length - 1]).toBe('replace');
      await append([event(9, 30), event(8, 31, 'click')]);
      const r = await runner.run();
      expect(r.mode).toBe('incremental');
      expect(r.addedToKeptSums).toBe(true);
      expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
    } finally {
      runner.close();
    }
  });

  it('deletes the index files no kept snapshot uses once old enough, keeps the rest, and the next run is still incremental and right', async () => {
    await append([event(0, 0), event(1, 1)]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('full');
    for (let i = 2; i < 5; i++) {
      await append([event(i, i * 3), event(i - 1, i, 'click')]);
      expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    }
    await (await events()).overwrite('true', [rowsToRecordBatch(campaignEventsSchema, [event(2, 5), event(3, 9), event(7, 12)])]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('full');
    await append([event(8, 20), event(2, 21, 'conversion')]);
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    const before = await indexFolder();

    // Expiry keeps the three newest snapshots (the pass's compaction and the last two metrics runs); under the default 3-day age every unused index file is too young to go.
    const young = await maintainMetrics({ expire: true });
    expect(young.steps.every((s) => s.outcome === 'ok')).toBe(true);
    expect(stepReport(young, 'expire').report).toMatchObject({ snapshotsExpired: expect.any(Number) });
    const keep = await referenced();
    // A kept snapshot that is not the current one keeps its index too.
    expect(keep.filter((f) => f.endsWith('.index.json')).length).toBe(2);
    const unused = before.filter((f) => !keep.includes(f));
    expect(unused.length).toBeGreaterThan(0);
    expect(stepReport(young, 'remove-event-index').report).toMatchObject({ metricsTable: true, filesListed: before.length, unused: 0, keptTooNew: unused.length });
    expect(await indexFolder()).toEqual(before);

    // A dry run with no age guard names them and deletes nothing.
    const dry = await maintainMetrics({ orphanAgeMs: 0, dryRun: true });
    expect(stepReport(dry, 'remove-event-index').report).toMatchObject({ unused: unused.length, keptTooNew: 0 });
    expect(await indexFolder()).toEqual(before);

    const pass = await maintainMetrics({ orphanAgeMs: 0 });
    expect(stepReport(pass, 'remove-event-index')).toMatchObject({ outcome: 'ok', report: { unused: unused.length, filesReferenced: keep.length } });
    expect(await indexFolder()).toEqual(keep);
    for (const f of unused) expect(existsSync(f)).toBe(false);

    // The index the current snapshot points at is whole: the next run is incremental and equal to a full one.
    await append([event(9, 30), event(8, 31, 'click')]);
    // (A runner keeps its sums across the maintenance pass: the case after this test.)
    expect((await runMetrics({ catalog, allowedLatenessMs: 0 })).mode).toBe('incremental');
    expect(await metricRows(catalog)).toEqual(await fullRun('full_check'));
  });
});

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
