import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as arrow from 'apache-arrow';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeEventsTable, openEventsTable } from '../support/events-table.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { type CatalogPort, type LoadedTable, type TableIdentifier, type DataFile, Table, rowsToRecordBatch, type TableRequirement, type TableUpdate, CommitStateUnknownError, planSchemaChange, T } from '../../iceberg/index.ts';
import { campaignEventsSchema } from '../../domain/campaign-events.ts';
import { MemoryDeadLetterSink, NdjsonDeadLetterFile } from '../../pipeline/dead-letters.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { FileSource } from '../../pipeline/file-source.ts';
import { Ingestor, type IngestorOptions, type IngestStats } from '../../pipeline/ingest.ts';
import { createIngestMetrics, startMetricsServer } from '../../pipeline/prometheus.ts';
import { CONSUMED_KEY, DEAD_LETTERED_KEY, DUPLICATES_KEY, OffsetsFencedError, offsetsKey, recordedPositions } from '../../pipeline/offsets.ts';
import { DEAD_LETTERED_REASON_KEY_PREFIX } from '../../domain/ingest-summary-keys.ts';
import type { Positions, Source } from '../../pipeline/source.ts';

/** Every run decodes against this clock, so processed_at and the "absurd timestamp" checks are fixed. */
const NOW = Date.UTC(2026, 10, 5, 12, 0, 0);
const NOW_MICROS = BigInt(NOW) * 1000n;
const GROUP = 'test-ingest';

let dir: string;
let catalog: SqlCatalog;
let table: Table;

beforeEach(async () => {
  ({ dir, catalog, table } = await openEventsTable('lakehouse-ingest-'));
});
afterEach(() => closeEventsTable({ dir, catalog }));

function event(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `e-${i}`, user_id: `u-${i % 3}`, campaign_id: `c-${i % 2}`, event_type: i % 5 === 0 ? 'click' : 'impression',
    platform: 'google', timestamp: `2026-11-0${1 + (i % 3)}T10:00:00.${String(i).padStart(6, '0')}Z`, revenue: 0, country: 'DE', device_type: 'mobile',
    ...over,
  };
}

function writeLines(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Generated messages as NDJSON, and the event ids the generator meant to be valid (its own record, not our decoder's). */
function writeGenerated(name: string, count: number, rates: { invalidRate?: number; lateRate?: number; duplicateRate?: number } = {}): { file: string; validIds: Set<string> } {
  const out: Buffer[] = [];
  const validIds = new Set<string>();
  for (const m of generateMessages({ count, seed: 7, ...rates })) {
    // Raw bytes: some invalid messages are deliberately not UTF-8.
    out.push(Buffer.from(m.value), Buffer.from('\n'));
    if (m.kind !== 'invalid') validIds.add(JSON.parse(Buffer.from(m.value).toString('utf8')).event_id);
  }
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat(out));
  return { file, validIds };
}

function ingestor(file: string, over: Partial<IngestorOptions> = {}): { ingest: Ingestor; source: Source; deadLetters: NdjsonDeadLetterFile } {
  const source = over.source ?? new FileSource({ location: file });
  const deadLetters = new NdjsonDeadLetterFile(path.join(dir, 'dead-letters.ndjson'));
  const ingest = new Ingestor({ table: over.table ?? table, source, group: GROUP, deadLetters, now: () => NOW, flushIntervalMs: 60_000, ...over });
  return { ingest, source, deadLetters };
}

async function runToEnd(file: string, over: Partial<IngestorOptions> = {}, signal?: AbortSignal): Promise<IngestStats> {
  const { ingest, deadLetters } = ingestor(file, over);
  try {
    return await ingest.run(signal);
  } finally {
    await deadLetters.close();
  }
}

function readDeadLetters(): Array<Record<string, unknown>> {
  const file = path.join(dir, 'dead-letters.ndjson');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function eventIdCounts(t: Table = table): Promise<Map<string, number>> {
  await t.refresh();
  const counts = new Map<string, number>();
  for (const r of await t.readRows()) counts.set(r.event_id as string, (counts.get(r.event_id as string) ?? 0) + 1);
  return counts;
}

/** A wrapper that aborts the run as soon as the source is told its first commit landed. */
function abortAfterFirstCommit(inner: Source, controller: AbortController): Source {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commit') return async (p: Positions) => { await target.commit(p); controller.abort(); };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('Ingestor with a file source', () => {
  it('records each flush\'s dead letters per reason in its snapshot summary, summing to the dead-lettered count', async () => {
    const file = writeLines('reasons.ndjson', [
      JSON.stringify(event(1)),
      '{"event_id": "broken",',
      'not json either',
      JSON.stringify(event(4, { event_type: 'view' })),
    ]);
    await runToEnd(file);
    const summary = table.currentSnapshot()!.summary;
    expect(summary[DEAD_LETTERED_KEY]).toBe('3');
    expect(Object.fromEntries(Object.entries(summary).filter(([k]) => k.startsWith(DEAD_LETTERED_REASON_KEY_PREFIX))))
      .toEqual({ [`${DEAD_LETTERED_REASON_KEY_PREFIX}bad_json`]: '2', [`${DEAD_LETTERED_REASON_KEY_PREFIX}unknown_event_type`]: '1' });
  });

  it('writes the exact valid rows, dead-letters invalid lines with reasons, and writes a duplicate in one flush once', async () => {
    const file = writeLines('events.ndjson', [
      JSON.stringify(event(1)),
      JSON.stringify(event(2, { event_type: 'conversion', revenue: 12.5, channel: 'search', cost: 0.25 })),
      '{"event_id": "broken",',
      JSON.stringify(event(3, { timestamp: Date.UTC(2026, 10, 2, 8, 0, 0) })),
      JSON.stringify(event(1)),
      JSON.stringify(event(4, { event_type: 'view' })),
      JSON.stringify(event(5, { user_id: undefined })),
      JSON.stringify(event(2, { event_type: 'conversion', revenue: 12.5, channel: 'search', cost: 0.25 })),
    ]);
    const stats = await runToEnd(file);

    expect(stats).toMatchObject({ consumed: 8, written: 3, deadLettered: 3, duplicates: 2, commits: 1, stoppedBy: 'end' });
    expect(stats.consumed).toBe(stats.written + stats.deadLettered + stats.duplicates);
    expect(stats.deadLetteredByReason).toEqual({ bad_json: 1, unknown_event_type: 1, missing_field: 1 });

    const rows = (await table.readRows()).sort((a, b) => String(a.event_id).localeCompare(String(b.event_id)));
    const base = { platform: 'google', country: 'DE', device_type: 'mobile', processed_at: NOW_MICROS };
    expect(rows).toEqual([
      { ...base, event_id: 'e-1', user_id: 'u-1', campaign_id: 'c-1', event_type: 'impression', event_time: BigInt(Date.UTC(2026, 10, 2, 10)) * 1000n + 1n, revenue: 0, channel: null, cost: null },
      { ...base, event_id: 'e-2', user_id: 'u-2', campaign_id: 'c-0', event_type: 'conversion', event_time: BigInt(Date.UTC(2026, 10, 3, 10)) * 1000n + 2n, revenue: 12.5, channel: 'search', cost: 0.25 },
      { ...base, event_id: 'e-3', user_id: 'u-0', campaign_id: 'c-1', event_type: 'impression', event_time: BigInt(Date.UTC(2026, 10, 2, 8)) * 1000n, revenue: 0, channel: null, cost: null },
    ]);

    const letters = readDeadLetters();
    expect(letters.map((l) => [l.offset, l.reason])).toEqual([['2', 'bad_json'], ['5', 'unknown_event_type'], ['6', 'missing_field']]);
    expect(Buffer.from(letters[0]!.value as string, 'base64').toString('utf8')).toBe('{"event_id": "broken",');
    expect(letters[0]).toMatchObject({ topic: file, partition: 0, time: new Date(NOW).toISOString(), headers: {} });
    expect(letters[2]!.detail).toMatch(/user_id/);

    const snap = table.currentSnapshot()!;
    expect(snap.summary[offsetsKey(GROUP)]).toBe(JSON.stringify({ [`${file}:0`]: '8' }));
    expect(snap.summary).toMatchObject({ 'lakehouse.source': `file:${file}`, [CONSUMED_KEY]: '8', [DEAD_LETTERED_KEY]: '3', [DUPLICATES_KEY]: '2', 'added-records': '3' });
  });

  it('counts the same invariant in its metrics: consumed = written + dead-lettered + duplicates', async () => {
    const { file } = writeGenerated('gen.ndjson', 2_000, { invalidRate: 0.05, lateRate: 0.05, duplicateRate: 0.05 });
    const metrics = createIngestMetrics();
    const stats = await runToEnd(file, { metrics, flushRows: 500 });
    const dead = Object.values(stats.deadLetteredByReason).reduce((a, b) => a + b, 0);
    expect(stats.consumed).toBe(2_000);
    expect(stats.deadLettered).toBe(dead);
    expect(await metrics.consumed.get()).toBe(2_000);
    expect(await metrics.consumed.get()).toBe(await metrics.written.get() + stats.deadLettered + await metrics.duplicates.get());
    expect(await metrics.registry.render()).toMatch(/lakehouse_ingest_dead_lettered_total\{reason="bad_json"\} \d+/);
    expect(Number(table.currentSnapshot()!.summary['total-records'])).toBe(stats.written);
    expect(readDeadLetters()).toHaveLength(stats.deadLettered);
  });

  it('a file of only invalid lines still commits its position, so a rerun reads nothing again', async () => {
    const file = writeLines('bad.ndjson', ['nope', '{"event_id": 1}']);
    const first = await runToEnd(file);
    expect(first).toMatchObject({ consumed: 2, written: 0, deadLettered: 2, commits: 1 });
    expect(table.currentSnapshot()!.summary['added-records'] ?? '0').toBe('0');
    expect(recordedPositions(table.metadata, GROUP)).toEqual(new Map([[`${file}:0`, 2n]]));
    const second = await runToEnd(file);
    expect(second).toMatchObject({ consumed: 0, commits: 0 });
    expect(readDeadLetters()).toHaveLength(2);
  });
});

describe('empty records: one rule for every source', () => {
  it('an NDJSON file with empty and whitespace-only lines: each is consumed and dead-lettered as empty at its line', async () => {
    const file = path.join(dir, 'blank.ndjson');
    // Line 1 empty, line 3 spaces and a tab, line 4 a bare CR (a CRLF file's empty line), line 6 a
    // duplicate; the final newline ends line 7 and is no record of its own.
    writeFileSync(file, [JSON.stringify(event(1)), '', JSON.stringify(event(2)), '  \t', '\r', JSON.stringify(event(3)), JSON.stringify(event(1)), JSON.stringify(event(4))].join('\n') + '\n');
    const stats = await runToEnd(file);

    expect(stats).toMatchObject({ consumed: 8, written: 4, deadLettered: 3, duplicates: 1, deadLetteredByReason: { empty: 3 } });
    expect(stats.consumed).toBe(stats.written + stats.deadLettered + stats.duplicates);
    const letters = readDeadLetters();
    expect(letters.map((l) => [l.offset, l.reason, Buffer.from(l.value as string, 'base64').toString('utf8')])).toEqual([
      ['1', 'empty', ''], ['3', 'empty', '  \t'], ['4', 'empty', ''],
    ]);
    expect(letters.map((l) => l.detail)).toEqual([
      'The message is empty (0 bytes), so it holds no event.',
      'The message holds only whitespace (3 bytes), so it holds no event.',
      'The message is empty (0 bytes), so it holds no event.',
    ]);
    expect(table.currentSnapshot()!.summary).toMatchObject({ [CONSUMED_KEY]: '8', [DEAD_LETTERED_KEY]: '3', [DUPLICATES_KEY]: '1', 'added-records': '4' });
    expect(recordedPositions(table.metadata, GROUP)).toEqual(new Map([[`${file}:0`, 8n]]));
  });

  it('a Kafka-like source\'s tombstone, empty and whitespace values get the very reason and detail a file\'s blank lines get', async () => {
    const values: Array<Uint8Array | null> = [null, new Uint8Array(0), new TextEncoder().encode('  \t'), new TextEncoder().encode(JSON.stringify(event(1)))];
    let given = false;
    const kafkaLike: Source = {
      description: 'kafka:campaign_events',
      start: async () => {},
      async poll() {
        if (given) return [];
        given = true;
        return values.map((value, i) => ({ topic: 'campaign_events', partition: 2, offset: BigInt(40 + i), value, timestampMs: NOW - 1000 }));
      },
      ended: () => given,
      commit: async () => {},
      pause: () => {},
      resume: () => {},
      close: async () => {},
    };
    const deadLetters = new MemoryDeadLetterSink();
    const stats = await new Ingestor({ table, source: kafkaLike, group: GROUP, deadLetters, now: () => NOW }).run();

    expect(stats).toMatchObject({ consumed: 4, written: 1, deadLettered: 3, duplicates: 0, deadLetteredByReason: { empty: 3 } });
    expect(deadLetters.letters.map((l) => [l.offset, l.reason, l.value === null ? null : Buffer.from(l.value).toString('utf8'), l.detail])).toEqual([
      [40n, 'empty', null, 'The message has no value (a Kafka tombstone), so it holds no event.'],
      [41n, 'empty', '', 'The message is empty (0 bytes), so it holds no event.'],
      [42n, 'empty', '  \t', 'The message holds only whitespace (3 bytes), so it holds no event.'],
    ]);
  });
});

describe('exactly once across stops and crashes', () => {
  it('aborted after its first flush, a rerun resumes there and every valid event lands exactly once', async () => {
    const { file, validIds } = writeGenerated('resume.ndjson', 3_000, { invalidRate: 0.02, lateRate: 0.05 });
    const controller = new AbortController();
    const first = await runToEnd(file, { source: abortAfterFirstCommit(new FileSource({ location: file }), controller), flushRows: 500, pollMaxRecords: 200 }, controller.signal);
    expect(first.stoppedBy).toBe('abort');
    expect(first.consumed).toBeGreaterThan(0);
    expect(first.consumed).toBeLessThan(3_000);
    expect(first.positions.get(`${file}:0`)).toBe(BigInt(first.consumed));

    const second = await runToEnd(file, { flushRows: 500 });
    expect(second.resumedFrom).toEqual(first.positions);
    expect(first.consumed + second.consumed).toBe(3_000);
    const counts = await eventIdCounts();
    expect(new Set(counts.keys())).toEqual(validIds);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('a crash between writing files and committing records nothing, and the rerun writes everything once', async () => {
    const { file, validIds } = writeGenerated('crash.ndjson', 1_000, { invalidRate: 0.02 });
    class CrashAfterWrite extends Table {
      written: DataFile[] = [];
      override async writeDataFiles(batches: arrow.RecordBatch[] | AsyncIterable<arrow.RecordBatch>): Promise<DataFile[]> {
        this.written.push(...await super.writeDataFiles(batches));
        throw new Error('simulated crash after the data files were written');
      }
    }
    const crashing = new CrashAfterWrite(catalog, await catalog.loadTable(table.identifier));
    await expect(runToEnd(file, { table: crashing, flushRows: 400 })).rejects.toThrow(/simulated crash/);
    await table.refresh();
    expect(table.currentSnapshot()).toBeNull();
    expect(recordedPositions(table.metadata, GROUP)).toEqual(new Map());
    expect(crashing.written.length).toBeGreaterThan(0); // orphans: on disk, in no snapshot

    const rerun = await runToEnd(file, { flushRows: 400 });
    expect(rerun.consumed).toBe(1_000);
    const counts = await eventIdCounts();
    expect(new Set(counts.keys())).toEqual(validIds);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  /** Source positions of the dead-letter file's readable lines, with how often each appears. */
  function deadLetterPositions(): Map<string, number> {
    const counts = new Map<string, number>();
    const text = readFileSync(path.join(dir, 'dead-letters.ndjson'), 'utf8');
    for (const line of text.split('\n')) {
      let l: { partition?: number; offset?: string; group?: string };
      try { l = JSON.parse(line); } catch { continue; }
      expect(l.group).toBe(GROUP);
      const k = `${l.partition}:${l.offset}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return counts;
  }

  it('dead letters of a flush whose commit never landed are not written again by the rerun: each source position once', async () => {
    const { file } = writeGenerated('dlq-crash.ndjson', 2_000, { invalidRate: 0.05 });
    class CrashInSecondFlush extends Table {
      flushes = 0;
      override async writeDataFiles(batches: arrow.RecordBatch[] | AsyncIterable<arrow.RecordBatch>): Promise<DataFile[]> {
        if (++this.flushes === 2) throw new Error('simulated crash after the dead letters were written');
        return super.writeDataFiles(batches);
      }
    }
    const crashing = new CrashInSecondFlush(catalog, await catalog.loadTable(table.identifier));
    await expect(runToEnd(file, { table: crashing, flushRows: 600 })).rejects.toThrow(/simulated crash/);
    const before = deadLetterPositions();
    await table.refresh();
    const committed = Number(recordedPositions(table.metadata, GROUP).get(`${file}:0`));
    // The second flush's letters were written before its commit failed: past the recorded position.
    expect([...before.keys()].some((k) => Number(k.split(':')[1]) >= committed)).toBe(true);
    const mark = JSON.parse(table.currentSnapshot()!.summary[`lakehouse.dead-letters.${GROUP}`]!);
    expect(mark[`${file}:0`]).toMatch(/^file@0=\d+$/);

    const rerun = await runToEnd(file, { flushRows: 600 });
    expect(rerun.consumed + committed).toBe(2_000);
    const after = deadLetterPositions();
    expect([...after.values()].every((n) => n === 1)).toBe(true);
    // Every invalid line is there, by its line number (the generator's own count of invalid messages).
    const invalid = [...generateMessages({ count: 2_000, seed: 7, invalidRate: 0.05 })].flatMap((m, i) => (m.kind === 'invalid' ? [`0:${i}`] : []));
    expect(new Set(after.keys())).toEqual(new Set(invalid));
  });

  it('a dead-letter line cut by a crash in mid-write stays alone on its line; the rerun writes each letter once after it', async () => {
    const { file } = writeGenerated('dlq-torn.ndjson', 500, { invalidRate: 0.1 });
    const dlq = path.join(dir, 'dead-letters.ndjson');
    writeFileSync(dlq, '{"value":"eyJ","reason":"bad_js');
    await runToEnd(file, { flushRows: 200 });
    const lines = readFileSync(dlq, 'utf8').split('\n');
    expect(lines[0]).toBe('{"value":"eyJ","reason":"bad_js');
    expect(lines.slice(1).filter(Boolean).every((l) => JSON.parse(l).group === GROUP)).toBe(true);
    expect([...deadLetterPositions().values()].every((n) => n === 1)).toBe(true);
  });

  it('an unknown commit outcome that did land is found by its commit id and not applied twice', async () => {
    const { file } = writeGenerated('unknown.ndjson', 300);
    // The catalog applies the commit, then reports a timeout; the next reload fails too, so the
    // append's own check cannot resolve it and the ingestor must find the commit id itself.
    let failNextLoad = false;
    let armed = true;
    const flaky: CatalogPort = {
      name: catalog.name,
      loadTable: async (id: TableIdentifier): Promise<LoadedTable> => {
        if (failNextLoad) { failNextLoad = false; throw new Error('catalog unreachable'); }
        return catalog.loadTable(id);
      },
      commitTable: async (id: TableIdentifier, req: TableRequirement[], upd: TableUpdate[]): Promise<LoadedTable> => {
        const r = await catalog.commitTable(id, req, upd);
        if (armed) { armed = false; failNextLoad = true; throw new CommitStateUnknownError('timeout after the commit was sent'); }
        return r;
      },
    };
    const t = new Table(flaky, await catalog.loadTable(table.identifier));
    const stats = await runToEnd(file, { table: t });
    expect(stats).toMatchObject({ consumed: 300, written: 300, commits: 1 });
    await table.refresh();
    expect(table.metadata.snapshots).toHaveLength(1);
    expect([...(await eventIdCounts()).values()].every((n) => n === 1)).toBe(true);
  });

  it('a second reader of the same source whose range was already committed is fenced and commits nothing', async () => {
    const { file } = writeGenerated('fence.ndjson', 200);
    await runToEnd(file);
    // A zombie that ignores the recorded position (as a consumer whose partition moved would).
    const inner = new FileSource({ location: file });
    const zombie: Source = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'start') return () => target.start(new Map());
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(runToEnd(file, { source: zombie })).rejects.toBeInstanceOf(OffsetsFencedError);
    expect((await eventIdCounts()).size).toBe(200);
    expect(table.metadata.snapshots).toHaveLength(1);
    // The zombie's data files were deleted: only the first run's files are in the data directory.
    const dataFiles = readdirSync(path.join(fileURLToPath(table.location), 'data'), { recursive: true }).filter((f) => String(f).endsWith('.parquet'));
    expect(dataFiles).toHaveLength((await table.planFiles()).files.length);
  });
});

describe('rebalance hooks', () => {
  it('after a rebalance the records read but not flushed are dropped, the source seeks to the table, and every event lands once', async () => {
    const { file, validIds } = writeGenerated('rebalance.ndjson', 1_000);
    let ingest!: Ingestor;
    let inner = new FileSource({ location: file });
    let polls = 0;
    let discardedAt: bigint | undefined;
    // What the Kafka source does on a rebalance: ask the consumer for the table's positions, seek there,
    // then tell it (onAssignment) to drop what it read before the seek.
    const rebalancing: Source = {
      description: inner.description,
      start: (p) => inner.start(p),
      async poll(max, wait) {
        if (++polls === 3) {
          const positions = await ingest.positionsFor();
          discardedAt = positions.get(`${file}:0`);
          inner = new FileSource({ location: file });
          await inner.start(positions);
          ingest.discardUncommitted();
        }
        return inner.poll(max, wait);
      },
      ended: () => inner.ended(),
      commit: async () => {},
      pause: () => inner.pause(),
      resume: () => inner.resume(),
      close: async () => {},
    };
    ingest = new Ingestor({ table, source: rebalancing, group: GROUP, deadLetters: new MemoryDeadLetterSink(), now: () => NOW, flushRows: 150, pollMaxRecords: 100, flushIntervalMs: 60_000 });
    const stats = await ingest.run();
    // Two polls read 200 records; the flush of the first 150 was in flight, so the seek went to 150 and
    // the other 50 were read again after it.
    expect(discardedAt).toBe(150n);
    expect(stats.consumed).toBe(1_000);
    const counts = await eventIdCounts();
    expect(new Set(counts.keys())).toEqual(validIds);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('a fenced flush', () => {
  it('when another writer of the group committed part of the range read, nothing is written, the source seeks to the table again, and every event and dead letter lands once', async () => {
    const { file, validIds } = writeGenerated('reseek.ndjson', 1_000, { invalidRate: 0.05 });
    let ingest!: Ingestor;
    let inner = new FileSource({ location: file });
    let polls = 0;
    let seeking = false;
    let otherCommitted = 0;
    // A source that seeks again when asked, as the Kafka source does: positionsFor, seek, onAssignment.
    const reseekable: Source = {
      description: inner.description,
      start: (p) => inner.start(p),
      async poll(max, wait) {
        if (++polls === 2) {
          // The partition's previous owner commits its in-flight flush after we sought: lines 0..599 at least.
          const controller = new AbortController();
          const other = await runToEnd(file, { source: abortAfterFirstCommit(new FileSource({ location: file }), controller), flushRows: 600, pollMaxRecords: 600 }, controller.signal);
          otherCommitted = other.consumed;
        }
        // While seeking, wait as a quiet Kafka source does (an empty poll that returned at once would spin).
        if (seeking) return new Promise((r) => setTimeout(() => r([]), 5));
        const from = inner;
        const records = await from.poll(max, wait);
        return seeking || from !== inner ? [] : records;
      },
      reseek() {
        seeking = true;
        void (async () => {
          const positions = await ingest.positionsFor();
          inner = new FileSource({ location: file });
          await inner.start(positions);
          seeking = false;
          ingest.discardUncommitted('reseek');
        })();
      },
      ended: () => !seeking && inner.ended(),
      commit: async () => {},
      pause: () => inner.pause(),
      resume: () => inner.resume(),
      close: async () => {},
    };
    const deadLetters = new NdjsonDeadLetterFile(path.join(dir, 'dead-letters.ndjson'));
    ingest = new Ingestor({ table, source: reseekable, group: GROUP, deadLetters, now: () => NOW, flushRows: 150, pollMaxRecords: 100, flushIntervalMs: 60_000 });
    const stats = await ingest.run();
    await deadLetters.close();
    expect(otherCommitted).toBeGreaterThanOrEqual(600);
    expect(stats.reseeks).toBe(1);
    expect(stats.consumed + otherCommitted).toBe(1_000);
    const counts = await eventIdCounts();
    expect(new Set(counts.keys())).toEqual(validIds);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // The fenced flush wrote no dead letters: each invalid line once, from whichever writer committed it.
    const lines = readDeadLetters().map((l) => l.offset as string);
    expect(lines.length).toBe(new Set(lines).size);
    expect(lines.length).toBe([...generateMessages({ count: 1_000, seed: 7, invalidRate: 0.05 })].filter((m) => m.kind === 'invalid').length);
  });
});

describe('metrics endpoint', () => {
  it('serves the ingest counters in Prometheus text format on /metrics and 404 elsewhere', async () => {
    const { file } = writeGenerated('metrics.ndjson', 100, { invalidRate: 0.1 });
    const metrics = createIngestMetrics();
    const stats = await runToEnd(file, { metrics });
    const server = await startMetricsServer(metrics.registry, 0);
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toContain(`lakehouse_ingest_consumed_total ${stats.consumed}`);
      expect(text).toContain(`lakehouse_ingest_written_total ${stats.written}`);
      expect(text).toMatch(/# TYPE lakehouse_ingest_commit_seconds histogram\nlakehouse_ingest_commit_seconds_bucket\{le="0.005"\}/);
      expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('backpressure', () => {
  it('over a tiny memory budget the source is paused until a flush completes, and every event still lands', async () => {
    const { file } = writeGenerated('bp.ndjson', 2_000);
    const source = new FileSource({ location: file });
    const pause = vi.spyOn(source, 'pause');
    const resume = vi.spyOn(source, 'resume');
    const stats = await runToEnd(file, { source, memoryBudgetBytes: 64 * 1024, pollMaxRecords: 250 });
    expect(pause).toHaveBeenCalled();
    expect(resume).toHaveBeenCalledTimes(pause.mock.calls.length);
    expect(stats.pauses).toBe(pause.mock.calls.length);
    expect(stats.commits).toBeGreaterThan(1);
    expect(stats).toMatchObject({ consumed: 2_000, written: 2_000 });
    expect((await eventIdCounts()).size).toBe(2_000);
  });

  it('rejects a bad setting at construction with a sentence naming it', () => {
    expect(() => ingestor('x', { flushRows: 0 })).toThrow(/Ingest option flushRows must be a positive whole number, got 0/);
    expect(() => ingestor('x', { group: 'a b' })).toThrow(/Group name "a b" is not valid/);
  });
});

describe('positions lost to snapshot expiry', () => {
  it('stops with a sentence instead of guessing, and --reset-positions starts from the source default', async () => {
    const file = writeLines('e.ndjson', [1, 2, 3].map((i) => JSON.stringify(event(i))));
    await runToEnd(file);
    // A compaction becomes the head, then expiry without the offsets guard drops the snapshot with positions.
    const t = new Table(catalog, await catalog.loadTable(table.identifier));
    const live = (await t.planFiles()).files;
    const merged = await t.writeDataFiles([rowsToRecordBatch(campaignEventsSchema, await t.readRows())]);
    const op = t.newRewrite();
    for (const f of live) op.deleteFile(f);
    for (const f of merged) op.addFile(f);
    await op.commit();
    await t.expireSnapshots({ olderThanMs: Date.now() + 60_000, retainLast: 1 });

    await expect(runToEnd(file)).rejects.toThrow(/no longer has the snapshot that recorded where group "test-ingest" stopped.*--reset-positions/);
    const stats = await runToEnd(file, { resetPositions: true });
    expect(stats.consumed).toBe(3);
  });
});

describe('de-duplication across flushes and runs', () => {
  const line = (i: number, over: Record<string, unknown> = {}) => JSON.stringify(event(i, over));

  it('an event re-sent after its first copy was committed is dropped and counted; the table keeps the first copy once', async () => {
    // Three rows per flush: e-2 and e-5 come back after their flushes, e-2 with other content.
    const file = writeLines('resent.ndjson', [
      line(1), line(2), line(3), line(4), line(5), line(6),
      line(2, { event_type: 'conversion', revenue: 9 }), line(5), line(7),
    ]);
    const metrics = createIngestMetrics();
    const stats = await runToEnd(file, { flushRows: 3, metrics });
    expect(stats).toMatchObject({ consumed: 9, written: 7, duplicates: 2 });
    expect(stats.commits).toBeGreaterThanOrEqual(3);
    const counts = await eventIdCounts();
    expect([...counts.keys()].sort()).toEqual(['e-1', 'e-2', 'e-3', 'e-4', 'e-5', 'e-6', 'e-7']);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect((await table.readRows({ filter: "event_id = 'e-2'" }))[0]).toMatchObject({ event_type: 'impression', revenue: 0 });
    expect(table.currentSnapshot()!.summary).toMatchObject({ [DUPLICATES_KEY]: '2', 'added-records': '1' });
    expect(await metrics.duplicates.get()).toBe(2);
    expect(await metrics.dedupIds.get()).toBe(7);
  });

  it('a restart loads the committed ids from the table: a re-send read by a later run is dropped', async () => {
    await runToEnd(writeLines('first.ndjson', [1, 2, 3, 4].map((i) => line(i))));
    const stats = await runToEnd(writeLines('second.ndjson', [line(3), line(5), line(1)]));
    expect(stats).toMatchObject({ consumed: 3, written: 1, duplicates: 2 });
    const counts = await eventIdCounts();
    expect(counts.size).toBe(5);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('a re-send later than the horizon, or with de-duplication off, is stored again (the metrics job drops it)', async () => {
    await runToEnd(writeLines('first.ndjson', [line(1), line(2)]));
    const later = await runToEnd(writeLines('later.ndjson', [line(1)]), { now: () => NOW + 8 * 24 * 3600_000 });
    expect(later).toMatchObject({ written: 1, duplicates: 0 });
    const off = await runToEnd(writeLines('off.ndjson', [line(2)]), { dedupHorizonMs: 0 });
    expect(off).toMatchObject({ written: 1, duplicates: 0 });
    expect(Object.fromEntries(await eventIdCounts())).toEqual({ 'e-1': 2, 'e-2': 2 });
    // Within a shorter horizon than the gap, also stored again.
    const short = await runToEnd(writeLines('short.ndjson', [line(2)]), { now: () => NOW + 2 * 3600_000, dedupHorizonMs: 3600_000 });
    expect(short).toMatchObject({ written: 1, duplicates: 0 });
  });

  it('the ids of a flush whose commit failed are forgotten: the rerun replays its records and stores each once', async () => {
    const { file, validIds } = writeGenerated('failing.ndjson', 600);
    let commits = 0;
    let failing = true;
    const flaky: CatalogPort = {
      name: catalog.name,
      loadTable: (id: TableIdentifier) => catalog.loadTable(id),
      commitTable: async (id: TableIdentifier, req: TableRequirement[], upd: TableUpdate[]): Promise<LoadedTable> => {
        if (failing && ++commits === 2) throw new Error('the catalog refused the commit');
        return catalog.commitTable(id, req, upd);
      },
    };
    const t = new Table(flaky, await catalog.loadTable(table.identifier));
    // A source that starts over at each run, as a Kafka consumer seeks to the positions it is given.
    let inner = new FileSource({ location: file });
    const restartable: Source = {
      description: inner.description,
      start: (p) => { inner = new FileSource({ location: file }); return inner.start(p); },
      poll: (max, wait) => inner.poll(max, wait),
      ended: () => inner.ended(),
      commit: (p) => inner.commit(p),
      pause: () => inner.pause(),
      resume: () => inner.resume(),
      close: () => inner.close(),
    };
    const { ingest, deadLetters } = ingestor(file, { table: t, source: restartable, flushRows: 200, commitRetries: 0 });
    try {
      await expect(ingest.run()).rejects.toThrow(/the catalog refused the commit/);
      failing = false;
      // The same Ingestor again: the failed flush was staged in its index, and must not count as seen.
      const rerun = await ingest.run();
      expect(rerun).toMatchObject({ duplicates: 0, written: 400 });
    } finally {
      await deadLetters.close();
    }
    const counts = await eventIdCounts();
    expect(new Set(counts.keys())).toEqual(validIds);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('rejects a negative horizon at construction, naming the option', () => {
    expect(() => ingestor('x', { dedupHorizonMs: -1 })).toThrow(/Ingest option dedupHorizonMs must be a whole number of milliseconds >= 0/);
  });
});

describe('a schema change while ingest runs', () => {
  it('rows read after the change land in the new schema: a renamed column stays filled, an added one fills from the event key', async () => {
    const file = writeLines('evolving.ndjson', Array.from({ length: 50 }, (_, i) => JSON.stringify(event(i, { campaign_name: `name-${i}` }))));
    const inner = new FileSource({ location: file });
    let altered = false;
    // Another writer alters the table right after the first flush committed (the source commit follows it).
    const source: Source = Object.assign(Object.create(inner) as Source, {
      async commit(positions: Positions) {
        await inner.commit(positions);
        if (altered) return;
        altered = true;
        const other = new Table(catalog, await catalog.loadTable(table.identifier));
        await other.alter((m) => planSchemaChange(m, { kind: 'rename-column', name: 'country', newName: 'country_code' }));
        await other.alter((m) => planSchemaChange(m, { kind: 'add-column', name: 'campaign_name', type: T.string() }));
      },
    });
    const stats = await runToEnd(file, { source, flushRows: 10 });
    expect(stats).toMatchObject({ written: 50, commits: 5 });
    const rows = await new Table(catalog, await catalog.loadTable(table.identifier)).readRows();
    expect(rows.filter((r) => r.country_code === 'DE')).toHaveLength(50);
    // The first flush committed under the old schema; the next one's commit brought the new schema, so the
    // rows buffered from then on (flushes 4 and 5) carry campaign_name.
    expect(rows.filter((r) => r.campaign_name !== null).map((r) => r.event_id).sort()).toEqual(Array.from({ length: 20 }, (_, k) => `e-${30 + k}`).sort());
  });
});
