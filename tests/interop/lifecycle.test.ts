import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsToRecordBatch, Schema, T } from '../../iceberg/index.ts';
import { canonicalRows } from './canonical.ts';
import { type Warehouse, localPath, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata, readWithDuckDB, readWithPyIceberg } from './readers.ts';

/**
 * A table's life — appends, an overwrite of some windows, a compaction, time travel, expiry — checked
 * at every snapshot with PyIceberg and DuckDB. Expected rows are tracked by the test as plain arrays.
 */
const schema = new Schema([
  T.field(1, 'event_id', T.string(), true),
  T.field(2, 'campaign_id', T.string(), true),
  T.field(3, 'event_time', T.timestamptz(), true),
  T.field(4, 'revenue', T.double(), true),
]);
const HOUR = 3_600_000_000n;
const day0 = 1_793_491_200_000_000n; // 2026-11-01T00:00:00Z in micros
type Row = { event_id: string; campaign_id: string; event_time: bigint; revenue: number };
const ev = (n: number, hour: number, campaign = `c${n % 3}`): Row => ({ event_id: `e${n}`, campaign_id: campaign, event_time: day0 + BigInt(hour) * HOUR + BigInt(n), revenue: n / 4 });

let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('interop-lifecycle');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

describe('a table through appends, overwrite, rewrite, time travel and expiry', () => {
  it('reads the same rows as PyIceberg and DuckDB at every snapshot', async () => {
    const t = await wh.createTable('events', schema, { specId: 0, fields: [{ sourceId: 3, fieldId: 1000, name: 'event_time_day', transform: 'day' }] });
    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.events' };
    const both = async (want: Row[], snapshotId?: bigint) => {
      const canon = canonicalRows(schema, want);
      expect(await readWithPyIceberg({ ...ref, snapshotId })).toEqual(canon);
      expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation), snapshotId })).toEqual(canon);
    };

    // 1-2: two appends over three days (hours 0..71), each lands in several day partitions.
    const a1 = Array.from({ length: 40 }, (_, i) => ev(i, i));
    const a2 = Array.from({ length: 40 }, (_, i) => ev(100 + i, 70 - i));
    const s1 = await t.append([rowsToRecordBatch(schema, a1)]);
    const s2 = await t.append([rowsToRecordBatch(schema, a2)]);
    let live: Row[] = [...a1, ...a2];
    await both(live);

    // 3: overwrite the window [10:00, 14:00) of day 0 (part of one day file: copy-on-write) and all of day 2.
    const from = day0 + 10n * HOUR;
    const to = day0 + 14n * HOUR;
    const filter = `(event_time >= '2026-11-01T10:00:00Z' AND event_time < '2026-11-01T14:00:00Z') OR event_time >= '2026-11-03T00:00:00Z'`;
    const replacement = [ev(500, 11, 'c9'), ev(501, 50, 'c9')];
    const s3 = await t.overwrite(filter, [rowsToRecordBatch(schema, replacement)], { summary: { 'lakehouse.windows': '2' } });
    live = [...live.filter((r) => !((r.event_time >= from && r.event_time < to) || r.event_time >= day0 + 48n * HOUR)), ...replacement];
    await both(live);

    // 4: compaction, one file per day partition, same rows.
    const plan = await t.planFiles();
    const before = plan.files.length;
    const byDay = new Map<string, typeof plan.files>();
    for (const f of plan.files) byDay.set(String(f.partition[0]), [...(byDay.get(String(f.partition[0])) ?? []), f]);
    const rewrite = t.newRewrite();
    for (const [day, files] of byDay) {
      if (files.length < 2) continue;
      const dayStart = new Date(Number(day) * 86_400_000).toISOString();
      const dayEnd = new Date((Number(day) + 1) * 86_400_000).toISOString();
      const rowsOfDay = await t.readRows({ filter: `event_time >= '${dayStart}' AND event_time < '${dayEnd}'` });
      for (const f of files) rewrite.deleteFile(f);
      for (const f of await t.writeDataFiles([rowsToRecordBatch(schema, rowsOfDay)])) rewrite.addFile(f);
    }
    const s4 = await rewrite.commit();
    expect((await t.planFiles()).files.length).toBeLessThan(before);
    await both(live);

    // Time travel: every older snapshot still reads as it was, in both readers.
    await both([...a1], s1.snapshotId);
    await both([...a1, ...a2], s2.snapshotId);
    if (s2.timestampMs < s3.timestampMs) {
      // As of a time: the snapshot current then (s2), in PyIceberg and DuckDB alike.
      const canon = canonicalRows(schema, [...a1, ...a2]);
      expect(await readWithPyIceberg({ ...ref, asOfMs: s2.timestampMs })).toEqual(canon);
      expect(await readWithDuckDB({ metadata: localPath(t.metadataLocation), asOfMs: s2.timestampMs })).toEqual(canon);
      expect(canonicalRows(schema, await t.readRows({ asOfMs: s2.timestampMs }) as Row[])).toEqual(canon);
    }
    const md = await pyicebergMetadata(ref);
    expect(md.snapshots.map((s) => s.operation)).toEqual(['append', 'append', 'overwrite', 'replace']);
    expect(md.snapshots.map((s) => s.summary['total-records'])).toEqual([40, 80, live.length + 0, live.length].map(String));
    expect(md.snapshots[2]!.summary['lakehouse.windows']).toBe('2');
    expect(md.current_snapshot_id).toBe(s4.snapshotId.toString());
    expect(md.data_files.reduce((a, f) => a + Number(f.record_count), 0)).toBe(live.length);
    expect(s3.summary['total-records']).toBe(String(live.length));

    // Expire everything but the last two snapshots; readers still see the current rows, old ids are gone.
    const r = await t.expireSnapshots({ olderThanMs: Date.now() + 1, retainLast: 2 });
    expect(r.expiredSnapshotIds).toEqual([s1.snapshotId, s2.snapshotId]);
    expect(r.deletedDataFiles.length).toBeGreaterThan(0);
    for (const f of r.deletedDataFiles) expect(await t.io.exists(f)).toBe(false);
    await both(live);
    await both(live, s4.snapshotId);
    await expect(readWithPyIceberg({ ...ref, snapshotId: s1.snapshotId })).rejects.toThrow();
    expect((await pyicebergMetadata(ref)).snapshots.map((s) => s.snapshot_id)).toEqual([s3.snapshotId, s4.snapshotId].map(String));
  });
});
