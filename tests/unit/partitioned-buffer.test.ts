import * as arrow from 'apache-arrow';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { type DataFile, plainColumns, recordBatchToRows, rowsToRecordBatch, Schema, T, writeDataFiles } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { fingerprint } from '../../pipeline/dedup-index.ts';
import { EventBuffer } from '../../pipeline/event-buffer.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { MemoryIO } from '../support/memory-file-io.ts';

/** hyparquet only decompresses snappy: files read back here are written snappy. */
const SNAPPY = { 'write.parquet.compression-codec': 'snappy' };
const NOW_MS = Date.UTC(2026, 11, 1);
const PROCESSED_US = BigInt(NOW_MS) * 1000n;
const DAY_US = 86_400_000_000n;
const encoder = new TextEncoder();

/** A buffer filled with generated messages (valid, late, duplicate, invalid) over `days` days: 3 x days partitions. */
function filled(days: number, count: number, initialCapacity?: number): EventBuffer {
  const buffer = new EventBuffer(initialCapacity ? { initialCapacity } : {});
  for (const m of generateMessages({ count, seed: 5, startMs: Date.UTC(2026, 9, 1), spanMs: days * 86_400_000, duplicateRate: 0.05, invalidRate: 0.02, lateRate: 0.05 })) {
    buffer.addMessage(m.value, NOW_MS, PROCESSED_US);
  }
  // Some through the row path too, with nulls and non-ASCII text.
  buffer.add({ event_id: 'row-1', user_id: 'Zoë-東京', campaign_id: 'ünï', event_type: 'click', platform: null, event_time: BigInt(Date.UTC(2026, 9, 2)) * 1000n, revenue: 1.5, country: null, device_type: null, channel: null, cost: null }, PROCESSED_US);
  return buffer;
}

function arrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Rows of a file read by hyparquet, an independent Parquet reader (micros as bigint, text as strings). */
async function fileRows(io: MemoryIO, f: DataFile): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: arrayBuffer(await io.read(f.filePath)), parsers: { timestampFromMicroseconds: (v: bigint) => v } }) as Promise<Record<string, unknown>[]>;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const key = (r: Record<string, unknown>) => JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

/** The metrics a file should have, worked out here from its rows as hyparquet read them. */
function expectedMetrics(rows: Record<string, unknown>[]) {
  const out = new Map<number, { values: number; nulls: number; min: unknown; max: unknown }>();
  for (const f of campaignEventsSchema.fields) {
    const present = rows.map((r) => r[f.name]).filter((v) => v !== null && v !== undefined);
    const sorted = f.type.kind === 'string' ? [...present as string[]].sort(byteOrder)
      : f.type.kind === 'double' ? [...present as number[]].sort((a, b) => a - b)
        : [...present as bigint[]].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    out.set(f.id, { values: rows.length, nulls: rows.length - present.length, min: sorted[0] ?? null, max: sorted.at(-1) ?? null });
  }
  return out;
}

function decodeBound(kind: string, b: Uint8Array | undefined): unknown {
  if (b === undefined) return null;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (kind === 'string') return new TextDecoder().decode(b);
  if (kind === 'double') return view.getFloat64(0, true);
  return view.getBigInt64(0, true);
}

describe('EventBuffer: rows kept per partition as they come', () => {
  it('hands over one batch per day x event_type, each in the order added, with every row of drain() once', () => {
    const a = filled(20, 4000, 2);
    const b = filled(20, 4000, 2);
    const inOrder = recordBatchToRows(a.drain()!, campaignEventsSchema);
    const drained = b.drainPartitions()!;
    expect(drained.batches.length).toBeGreaterThan(50);
    expect(drained.rows).toBe(inOrder.length);
    const parts = drained.batches.map((batch) => recordBatchToRows(batch, campaignEventsSchema));
    for (const rows of parts) {
      const days = new Set(rows.map((r) => (r.event_time as bigint) / DAY_US));
      const types = new Set(rows.map((r) => r.event_type));
      expect([days.size, types.size]).toEqual([1, 1]);
      // Within a partition, the order added: the same rows drain() gives, filtered to the partition.
      const [day] = days;
      const [type] = types;
      expect(rows.map(key)).toEqual(inOrder.filter((r) => (r.event_time as bigint) / DAY_US === day && r.event_type === type).map(key));
    }
    expect(parts.flat().map(key).sort()).toEqual(inOrder.map(key).sort());
    // The fingerprints follow the batches' rows.
    const fp = { lo: 0, hi: 0 };
    parts.flat().forEach((r, i) => {
      const id = encoder.encode(r.event_id as string);
      fingerprint(id, 0, id.length, fp);
      expect([drained.lo[i], drained.hi[i]]).toEqual([fp.lo, fp.hi]);
    });
  });

  it('drains one batch grouped by partition (drainBatch) holding the same rows as drain(), and starts over empty', () => {
    const a = filled(5, 3000);
    const b = filled(5, 3000);
    const inOrder = recordBatchToRows(a.drain()!, campaignEventsSchema);
    const drained = b.drainBatch()!;
    const grouped = recordBatchToRows(drained.batch, campaignEventsSchema);
    expect(grouped.map(key).sort()).toEqual(inOrder.map(key).sort());
    // Each partition is one run of consecutive rows.
    const runs = grouped.map((r) => `${(r.event_time as bigint) / DAY_US}/${r.event_type}`).filter((p, i, all) => i === 0 || p !== all[i - 1]);
    expect(new Set(runs).size).toBe(runs.length);
    expect([b.rows, b.oldestEventTimeMs, b.drainBatch()]).toEqual([0, null, null]);
  });

  it('drops a duplicate event_id whose first copy went to another partition', () => {
    const buffer = new EventBuffer({});
    const msg = (type: string, day: number) => encoder.encode(JSON.stringify({ event_id: 'same', user_id: 'u', campaign_id: 'c', event_type: type, timestamp: new Date(Date.UTC(2026, 10, day)).toISOString() }));
    expect(buffer.addMessage(msg('click', 1), NOW_MS, PROCESSED_US)).toBe(true);
    expect(buffer.addMessage(msg('impression', 2), NOW_MS, PROCESSED_US)).toBe(false);
    expect(buffer.rows).toBe(1);
  });
});

describe('Writing a partitioned buffer: statistics collected per partition stay exact', () => {
  it.each([
    ['drainBatch (one batch, partitions as runs)', false],
    ['drainPartitions (a batch per partition)', true],
  ])('gives each of ~200 partition files the counts and bounds of its own rows: %s', async (_, perPartition) => {
    const io = new MemoryIO();
    const buffer = filled(67, 6000);
    const batches = perPartition ? buffer.drainPartitions()!.batches : [buffer.drainBatch()!.batch];
    const files = await writeDataFiles(batches, { io, schema: campaignEventsSchema, spec: campaignEventsSpec, tableLocation: 'mem://wh/t', properties: SNAPPY });
    expect(files.length).toBeGreaterThan(180);
    let rows = 0;
    for (const f of files) {
      const back = await fileRows(io, f);
      rows += back.length;
      expect(f.recordCount).toBe(back.length);
      // Every row is in the file of its partition.
      const [day, type] = f.partition as [number, string];
      for (const r of back) expect([Number((r.event_time as bigint) / DAY_US), r.event_type]).toEqual([day, type]);
      for (const [id, m] of expectedMetrics(back)) {
        const kind = campaignEventsSchema.findField(id)!.type.kind;
        expect([id, f.valueCounts!.get(id), f.nullValueCounts!.get(id)]).toEqual([id, m.values, m.nulls]);
        expect([id, decodeBound(kind, f.lowerBounds!.get(id)), decodeBound(kind, f.upperBounds!.get(id))]).toEqual([id, m.min, m.max]);
      }
    }
    expect(rows).toBe(files.reduce((s, f) => s + f.recordCount, 0));
  });
});

describe('FanoutWriter: runs of one partition', () => {
  const schema = new Schema([T.field(1, 'ts', T.timestamptz(), true), T.field(2, 'cat', T.string(), false), T.field(3, 'n', T.long(), true)]);
  const spec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'ts_day', transform: 'day' }, { sourceId: 2, fieldId: 1001, name: 'cat', transform: 'identity' }] };

  it('splits runs exactly at midnight and at a changed value, and joins a partition that comes back later', async () => {
    const io = new MemoryIO();
    const midnight = BigInt(Date.UTC(2026, 10, 2)) * 1000n;
    const rows = [
      ...Array.from({ length: 50 }, (_, i) => ({ ts: midnight - 50n + BigInt(i), cat: 'a', n: BigInt(i) })),
      ...Array.from({ length: 50 }, (_, i) => ({ ts: midnight + BigInt(i), cat: 'a', n: BigInt(100 + i) })),
      ...Array.from({ length: 40 }, (_, i) => ({ ts: midnight + BigInt(i), cat: i % 2 ? null : 'b', n: BigInt(200 + i) })),
      ...Array.from({ length: 40 }, (_, i) => ({ ts: midnight - 1n - BigInt(i), cat: 'a', n: BigInt(300 + i) })),
    ];
    const files = await writeDataFiles([rowsToRecordBatch(schema, rows)], { io, schema, spec, tableLocation: 'mem://wh/f', properties: SNAPPY });
    const day = Number(midnight / DAY_US);
    const got = new Map<string, bigint[]>();
    for (const f of files) {
      const back = await parquetReadObjects({ file: arrayBuffer(await io.read(f.filePath)), parsers: { timestampFromMicroseconds: (v: bigint) => v } });
      got.set(JSON.stringify(f.partition), back.map((r) => r.n as bigint));
      for (const r of back) expect([Number((r.ts as bigint) / DAY_US), r.cat ?? null]).toEqual(f.partition);
    }
    expect([...got.keys()].sort()).toEqual([[day - 1, 'a'], [day, 'a'], [day, 'b'], [day, null]].map((p) => JSON.stringify(p)).sort());
    expect(got.get(JSON.stringify([day - 1, 'a']))).toEqual([...Array.from({ length: 50 }, (_, i) => BigInt(i)), ...Array.from({ length: 40 }, (_, i) => BigInt(300 + i))]);
    expect(got.get(JSON.stringify([day, 'a']))!.length).toBe(50);
  });
});

describe('Parquet dictionaries: only where values repeat', () => {
  it('writes mostly-distinct columns plain and repeated ones with a dictionary, and the file reads back', async () => {
    const schema = new Schema([T.field(1, 'id', T.string(), true), T.field(2, 'kind', T.string(), true), T.field(3, 'ts', T.timestamptz(), true), T.field(4, 'few', T.long(), true)]);
    const rows = Array.from({ length: 2000 }, (_, i) => ({ id: `id-${i}`, kind: ['x', 'y', 'z'][i % 3]!, ts: 1_700_000_000_000_000n + BigInt(i) * 7n, few: BigInt(i % 5) }));
    const batch = rowsToRecordBatch(schema, rows);
    expect(plainColumns([batch], batch.schema)).toEqual(['id', 'ts']);
    const io = new MemoryIO();
    const [file] = await writeDataFiles([batch], { io, schema, spec: { specId: 0, fields: [] }, tableLocation: 'mem://wh/d', properties: SNAPPY });
    const bytes = await io.read(file!.filePath);
    const md = parquetMetadata(arrayBuffer(bytes));
    const dictionary = md.row_groups[0]!.columns.map((c) => c.meta_data!.dictionary_page_offset !== undefined);
    expect(dictionary).toEqual([false, true, false, true]);
    const back = await parquetReadObjects({ file: arrayBuffer(bytes), parsers: { timestampFromMicroseconds: (v: bigint) => v } });
    expect(back).toEqual(rows);
  });

  it('keeps the default for a column too short to judge', () => {
    const schema = new Schema([T.field(1, 'id', T.string(), true)]);
    const batch = rowsToRecordBatch(schema, Array.from({ length: 10 }, (_, i) => ({ id: `id-${i}` })));
    expect(plainColumns([batch], batch.schema)).toEqual([]);
    expect(batch).toBeInstanceOf(arrow.RecordBatch);
  });
});
