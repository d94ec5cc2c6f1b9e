/**
 * `make bench`, de-duplication: what ingest's event_id index (pipeline/dedup-index.ts) costs. Not a
 * test: nothing here asserts a timing. Prints Markdown tables for the README.
 *
 *   SIZES=1000000,10000000 ROUNDS=3 node --import tsx bench/dedup-bench.ts
 *
 * For each size n (ids held by the index):
 * 1. Hot path: EventBuffer.addMessage over 400 k pre-encoded messages with 36-byte UUID ids, without
 *    and with an index of n ids (all lookups miss, as for new events); the difference per event is
 *    what the check adds to ingest. Best of ROUNDS, alternating.
 * 2. The check alone: fingerprint + has() for ids not in the index, and for ids in it; and what a
 *    commit adds per id (stage + commitStaged of 100 k-id flushes into the full index, whose oldest
 *    generations are then evicted to stay within maxIds = n, as in a long catch-up).
 * 3. Memory: the index's bytes per million ids held.
 * 4. Rebuild: n rows ingested into a fresh SQLite-catalog table on local disk (flushes of 100 k rows,
 *    partitioned by day and event type as campaign_events is), then TableDedup.load() from it, which
 *    plans the files by processed_at and reads only event_id and processed_at.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { Table } from '../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { DedupIndex, fingerprint } from '../pipeline/dedup-index.ts';
import { TableDedup } from '../pipeline/dedup-table.ts';
import { EventBuffer } from '../pipeline/event-buffer.ts';

const SIZES = (process.env.SIZES ?? '1000000,10000000').split(',').map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const HOT_EVENTS = 400_000;
const FLUSH_ROWS = 100_000;
const DAY = 86_400_000;
const NOW = Date.now();
const encoder = new TextEncoder();

function message(id: string, i: number): Uint8Array {
  return encoder.encode(JSON.stringify({
    event_id: id, user_id: `user-${i % 50_000}`, campaign_id: `campaign-${i % 200}`, event_type: i % 10 === 0 ? 'click' : 'impression',
    platform: 'google', timestamp: new Date(NOW - (i % 3) * DAY - (i % 1000)).toISOString(), revenue: 0, country: 'DE', device_type: 'mobile',
  }));
}

function indexOf(n: number, ids: string[] | null): DedupIndex {
  const index = new DedupIndex({ horizonMs: 7 * DAY, maxIds: Math.max(n, 1_000) });
  const fp = { lo: 0, hi: 0 };
  for (let i = 0; i < n; i++) {
    const b = encoder.encode(ids?.[i] ?? `held-${i}-${randomUUID()}`.slice(0, 36));
    fingerprint(b, 0, b.length, fp);
    index.add(fp.lo, fp.hi, NOW);
  }
  return index;
}

/** ns per event of addMessage over `msgs`, draining every FLUSH_ROWS as ingest does. */
function addAll(msgs: Uint8Array[], index: DedupIndex | null): number {
  const buffer = new EventBuffer(index ? { seen: index } : {});
  const processedAt = BigInt(NOW) * 1000n;
  const t0 = performance.now();
  for (let i = 0; i < msgs.length; i++) {
    buffer.addMessage(msgs[i]!, NOW, processedAt);
    if (buffer.rows >= FLUSH_ROWS) buffer.drainBatch();
  }
  return ((performance.now() - t0) * 1e6) / msgs.length;
}

function checkOnly(index: DedupIndex, ids: Uint8Array[]): number {
  const fp = { lo: 0, hi: 0 };
  let hits = 0;
  const t0 = performance.now();
  for (const b of ids) {
    fingerprint(b, 0, b.length, fp);
    if (index.has(fp.lo, fp.hi)) hits++;
  }
  const ns = ((performance.now() - t0) * 1e6) / ids.length;
  if (hits < 0) console.log(hits);
  return ns;
}

/** ns per id of staging and committing FLUSHES flushes of FLUSH_ROWS new ids into `index`. */
function commitCost(index: DedupIndex, flushes: number): number {
  const lo = new Int32Array(FLUSH_ROWS);
  const hi = new Int32Array(FLUSH_ROWS);
  const fp = { lo: 0, hi: 0 };
  let total = 0;
  for (let f = 0; f < flushes; f++) {
    for (let i = 0; i < FLUSH_ROWS; i++) {
      const b = encoder.encode(randomUUID());
      fingerprint(b, 0, b.length, fp);
      lo[i] = fp.lo;
      hi[i] = fp.hi;
    }
    const t0 = performance.now();
    index.stage(lo, hi, FLUSH_ROWS);
    index.commitStaged(NOW);
    total += performance.now() - t0;
  }
  return (total * 1e6) / (flushes * FLUSH_ROWS);
}

async function rebuild(n: number): Promise<{ files: number; seconds: number; writeSeconds: number; ids: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-dedup-bench-'));
  const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  try {
    await catalog.createNamespace(['bench']);
    const table = new Table(catalog, await catalog.createTable({ namespace: ['bench'], name: 'events' }, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
    const started = performance.now();
    const buffer = new EventBuffer();
    const processedAt = BigInt(NOW) * 1000n;
    for (let i = 0; i < n; i++) {
      buffer.addMessage(message(randomUUID(), i), NOW, processedAt);
      if (buffer.rows >= FLUSH_ROWS || i === n - 1) await table.append([buffer.drainBatch()!.batch]);
    }
    const writeSeconds = (performance.now() - started) / 1000;
    const dedup = new TableDedup({ horizonMs: 7 * DAY, maxIds: n });
    const stats = await dedup.load(table, NOW);
    return { files: stats.files, seconds: stats.seconds, writeSeconds, ids: stats.ids };
  } finally {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const hotIds = Array.from({ length: HOT_EVENTS }, () => randomUUID());
const hot = hotIds.map((id, i) => message(id, i));
const absent = hotIds.map((id) => encoder.encode(id));
console.log(`# De-duplication index (node ${process.version}, ${HOT_EVENTS.toLocaleString('en-US')} events per hot-path round, best of ${ROUNDS})\n`);
const rows: string[] = [];
for (const n of SIZES) {
  const heldIds = Array.from({ length: Math.min(n, HOT_EVENTS) }, () => randomUUID());
  const index = indexOf(n, heldIds);
  let without = Infinity;
  let withIndex = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    without = Math.min(without, addAll(hot, null));
    withIndex = Math.min(withIndex, addAll(hot, index));
  }
  let miss = Infinity;
  let hit = Infinity;
  const present = heldIds.map((id) => encoder.encode(id));
  for (let r = 0; r < ROUNDS; r++) {
    miss = Math.min(miss, checkOnly(index, absent));
    hit = Math.min(hit, checkOnly(index, present));
  }
  const bytesPerMillion = (index.bytes / index.size) * 1e6;
  const commit = commitCost(index, 20);
  const rb = await rebuild(n);
  rows.push(`| ${n.toLocaleString('en-US')} | ${without.toFixed(0)} | ${withIndex.toFixed(0)} | ${(withIndex - without).toFixed(0)} | ${miss.toFixed(0)} / ${hit.toFixed(0)} | ${commit.toFixed(0)} | ${(bytesPerMillion / 2 ** 20).toFixed(1)} MiB | ${rb.files} files, ${rb.seconds.toFixed(1)} s (${((rb.seconds / n) * 1e6).toFixed(2)} s per M) |`);
  console.error(`n=${n}: ${rows[rows.length - 1]} (table written in ${rb.writeSeconds.toFixed(0)} s, ${rb.ids} ids loaded)`);
}
console.log('| ids held | addMessage ns/event, no index | with index | check adds | fingerprint + has() ns, miss / hit | commit ns/id | memory per M ids | rebuild (load) |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
