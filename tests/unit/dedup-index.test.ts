import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeEventsTable, openEventsTable } from '../support/events-table.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { Table, rowsToRecordBatch } from '../../iceberg/index.ts';
import { campaignEventsSchema } from '../../domain/campaign-events.ts';
import { DedupIndex, FingerprintTable, type Fingerprint, fingerprint } from '../../pipeline/dedup-index.ts';
import { TableDedup } from '../../pipeline/dedup-table.ts';

const encoder = new TextEncoder();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function fp(id: string): Fingerprint {
  const out = { lo: 0, hi: 0 };
  const b = encoder.encode(id);
  fingerprint(b, 0, b.length, out);
  return out;
}

describe('fingerprint', () => {
  it('depends on the bytes only: the same id gives the same fingerprint wherever it lies in a buffer', () => {
    const b = encoder.encode('xx0f8fad5b-d9cb-469f-a165-70867728950eyy');
    const inside = { lo: 0, hi: 0 };
    fingerprint(b, 2, b.length - 2, inside);
    expect(inside).toEqual(fp('0f8fad5b-d9cb-469f-a165-70867728950e'));
    expect(fp('a')).not.toEqual(fp('b'));
    expect(fp('')).not.toEqual({ lo: 0, hi: 0 });
  });

  it('spreads 1 M similar ids: no 64-bit collision, and low halves collide about as often as random 32-bit numbers do', () => {
    const n = 1_000_000;
    const full = new Set<bigint>();
    const low = new Set<number>();
    let lowCollisions = 0;
    for (let i = 0; i < n; i++) {
      const f = fp(`evt-${i}`);
      full.add((BigInt(f.hi >>> 0) << 32n) | BigInt(f.lo >>> 0));
      if (low.has(f.lo)) lowCollisions++;
      else low.add(f.lo);
    }
    expect(full.size).toBe(n);
    // Random 32-bit values: n^2 / 2^33 = 116 expected.
    expect(lowCollisions).toBeLessThan(250);
  });
});

describe('FingerprintTable', () => {
  it('finds what was inserted, refuses it twice, and keeps everything through growth', () => {
    const t = new FingerprintTable();
    const ids = Array.from({ length: 10_000 }, (_, i) => fp(`id-${i}`));
    for (const f of ids) expect(t.insert(f.lo, f.hi)).toBe(true);
    expect(t.insert(ids[5]!.lo, ids[5]!.hi)).toBe(false);
    expect(t.size).toBe(10_000);
    expect(t.capacity).toBeGreaterThanOrEqual(10_000 / 0.75);
    for (const f of ids) expect(t.has(f.lo, f.hi)).toBe(true);
    expect(t.has(fp('absent').lo, fp('absent').hi)).toBe(false);
  });

  it('a sweep removes exactly the tagged entries, and every other entry stays reachable, in clusters that wrap around the end', () => {
    const t = new FingerprintTable(1024, true);
    // Homes (the top 10 bits of hi in a 1024-slot table) packed near the end: long clusters that wrap to slot 0.
    const entries: Array<{ lo: number; hi: number; tag: number }> = [];
    for (let i = 0; i < 700; i++) entries.push({ lo: i + 1, hi: ((1000 + (i % 24)) << 22) | i, tag: i % 3 });
    for (const e of entries) t.insert(e.lo, e.hi, e.tag);
    expect(t.capacity).toBe(1024);
    // The last slot is taken and so is slot 0: the cluster wraps.
    expect([t.keys[2 * 1023], t.keys[0]].every((lo) => lo !== 0)).toBe(true);
    const evict = new Uint8Array(256);
    evict[1] = 1;
    expect(t.sweep(evict)).toBe(entries.filter((e) => e.tag === 1).length);
    for (const e of entries) expect(t.has(e.lo, e.hi), `entry ${e.lo}`).toBe(e.tag !== 1);
    expect(t.size).toBe(entries.filter((e) => e.tag !== 1).length);
  });
});

describe('DedupIndex', () => {
  it('holds committed ids; a staged flush is seen until it is dropped, and joins when committed', () => {
    const index = new DedupIndex({ horizonMs: DAY });
    const a = fp('a');
    const b = fp('b');
    index.add(a.lo, a.hi, 0);
    expect(index.has(a.lo, a.hi)).toBe(true);
    expect(index.has(b.lo, b.hi)).toBe(false);

    index.stage(Int32Array.of(b.lo), Int32Array.of(b.hi), 1);
    expect(index.has(b.lo, b.hi)).toBe(true);
    index.dropStaged();
    expect(index.has(b.lo, b.hi)).toBe(false);
    expect(index.size).toBe(1);

    index.stage(Int32Array.of(b.lo), Int32Array.of(b.hi), 1);
    index.commitStaged(10);
    expect(index.has(b.lo, b.hi)).toBe(true);
    expect(index.size).toBe(2);
  });

  it('keeps an id at least the horizon after its time, and evicts it within one generation after that', () => {
    const index = new DedupIndex({ horizonMs: 32 * HOUR });
    for (let h = 0; h < 40; h++) {
      const f = fp(`at-${h}`);
      index.add(f.lo, f.hi, h * HOUR);
    }
    const now = 60 * HOUR;
    index.advance(now);
    for (let h = 0; h < 40; h++) {
      const f = fp(`at-${h}`);
      const age = now - h * HOUR;
      if (age <= 32 * HOUR) expect(index.has(f.lo, f.hi), `${age / HOUR} h old`).toBe(true);
      if (age > 33 * HOUR) expect(index.has(f.lo, f.hi), `${age / HOUR} h old`).toBe(false);
    }
    // Too old to be kept when it arrives (a reload reading an old row).
    const old = fp('old');
    index.add(old.lo, old.hi, 10 * HOUR);
    expect(index.has(old.lo, old.hi)).toBe(false);
  });

  it('never holds more than maxIds: the oldest go first, the newest stay, and the effective horizon says how far back it reaches', () => {
    const maxIds = 3200;
    const index = new DedupIndex({ horizonMs: DAY, maxIds });
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const f = fp(`burst-${i}`);
      index.add(f.lo, f.hi, i); // 1 ms apart: all well inside the horizon
      expect(index.size).toBeLessThanOrEqual(maxIds);
    }
    for (let i = n - maxIds / 2; i < n; i++) expect(index.has(fp(`burst-${i}`).lo, fp(`burst-${i}`).hi)).toBe(true);
    expect(index.has(fp('burst-0').lo, fp('burst-0').hi)).toBe(false);
    expect(index.effectiveHorizonMs(n)).toBeLessThan(maxIds);
    expect(index.evictedEarly).toBeGreaterThan(0);
    // 8 bytes of fingerprint + 1 of tag per slot, at most 3/4 full.
    expect(index.bytes).toBeLessThanOrEqual(Math.ceil(maxIds / 0.75 / 1024) * 1024 * 2 * 9 + 1024 * 8);
  });
});

describe('TableDedup on a table', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let table: Table;
  const NOW = Date.UTC(2026, 10, 5, 12);

  beforeEach(async () => {
    ({ dir, catalog, table } = await openEventsTable('lakehouse-dedup-'));
  });
  afterEach(() => closeEventsTable({ dir, catalog }));

  function rows(ids: string[], processedAtMs: number): Record<string, unknown>[] {
    return ids.map((id, i) => ({
      event_id: id, user_id: 'u', campaign_id: 'c', event_type: 'click', platform: null,
      // Event times days apart: the rows land in several day partitions.
      event_time: BigInt(NOW - (i % 5) * DAY) * 1000n, revenue: 0, country: null, device_type: null, channel: null, cost: null,
      processed_at: BigInt(processedAtMs) * 1000n,
    }));
  }

  const append = async (ids: string[], processedAtMs: number) => table.append([rowsToRecordBatch(campaignEventsSchema, rows(ids, processedAtMs))]);
  const holds = (d: TableDedup, id: string) => d.index.has(fp(id).lo, fp(id).hi);

  it('load() reads the ids committed within the horizon, from every event-time partition, and skips older rows and their files', async () => {
    await append(['old-1', 'old-2'], NOW - 3 * DAY);
    await append(['new-1', 'new-2', 'new-3', 'new-4', 'new-5', 'new-6'], NOW - HOUR);
    const d = new TableDedup({ horizonMs: DAY });
    const stats = await d.load(table, NOW);
    expect(stats).toMatchObject({ ids: 6, rows: 6 });
    // The old commit's files are pruned by their processed_at bounds, not read.
    expect(stats.files).toBe((await table.planFiles()).files.filter((f) => f.recordCount > 0).length - 2);
    for (const id of ['new-1', 'new-3', 'new-6']) expect(holds(d, id)).toBe(true);
    expect(holds(d, 'old-1')).toBe(false);
  });

  it('follow() reads what other writers appended since, but not our own snapshots nor compactions', async () => {
    const d = new TableDedup({ horizonMs: DAY });
    await d.load(table, NOW);
    const ours = await append(['ours'], NOW);
    d.committed(ours.snapshotId, NOW); // nothing staged: our ids would have come from memory
    await append(['theirs-1', 'theirs-2'], NOW);
    // A compaction rewrites rows already known; one that (against the rules) brought a new id shows it is not read.
    const [old] = (await table.planFiles({ filter: "event_id = 'ours'" })).files;
    const rewrite = table.newRewrite().deleteFile(old!).allowRecordCountChange();
    for (const f of await table.writeDataFiles([rowsToRecordBatch(campaignEventsSchema, rows(['ours', 'via-compaction'], NOW))])) rewrite.addFile(f);
    await rewrite.commit();
    const read = await d.follow(table, NOW);
    expect(read).toMatchObject({ ids: 2 });
    expect(holds(d, 'theirs-1')).toBe(true);
    expect(holds(d, 'ours')).toBe(false);
    expect(holds(d, 'via-compaction')).toBe(false);
    expect(await d.follow(table, NOW)).toBeNull();
  });
});
