import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeEventsTable, openEventsTable } from '../support/events-table.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { Table, bind, evaluateRow } from '../../iceberg/index.ts';
import { LocalFileIO } from '../../iceberg/io/index.ts';
import { campaignEventsSchema } from '../../domain/campaign-events.ts';
import { type BackfillOptions, backfill, backfillGroup, daysFilter } from '../../pipeline/backfill.ts';
import { MemoryDeadLetterSink } from '../../pipeline/dead-letters.ts';
import { FileSource } from '../../pipeline/file-source.ts';
import { FileSetSource, listSourceFiles } from '../../pipeline/file-set-source.ts';
import { Ingestor } from '../../pipeline/ingest.ts';
import { parseOffsets } from '../../pipeline/kafka-range-source.ts';
import { offsetsKey, recordedPositions } from '../../pipeline/offsets.ts';
import { offsetKeysToRetain } from '../../domain/ingest-summary-keys.ts';

/**
 * The backfill on a local warehouse, in process: idempotence (by positions and by event_id), events held
 * since long before the ingest's de-duplication horizon, the dry run's counts against the run's, a
 * directory of plain and gzip files. PyIceberg reads the results in tests/interop/backfill.test.ts.
 */

/** The events are from the first days of November; the backfill runs seven weeks later. */
const LIVE_NOW = Date.UTC(2026, 10, 4, 12);
const BACKFILL_NOW = Date.UTC(2026, 11, 20, 12);

let dir: string;
let catalog: SqlCatalog;
let table: Table;

beforeEach(async () => {
  ({ dir, catalog, table } = await openEventsTable('lakehouse-backfill-'));
});
afterEach(() => closeEventsTable({ dir, catalog }));

function event(i: number): string {
  return JSON.stringify({
    event_id: `e-${i}`, user_id: `u-${i % 5}`, campaign_id: `c-${i % 3}`, event_type: i % 7 === 0 ? 'click' : 'impression',
    timestamp: new Date(Date.UTC(2026, 10, 1 + (i % 3), 8) + i * 1000).toISOString(), revenue: 0,
  });
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

function writeLines(name: string, lines: string[], gzip = false): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  const text = lines.join('\n') + '\n';
  writeFileSync(file, gzip ? gzipSync(text) : text);
  return file;
}

async function run(location: string, over: Partial<BackfillOptions> = {}) {
  const io = new LocalFileIO();
  const files = await listSourceFiles(io, location);
  return backfill({
    table, group: backfillGroup(location), deadLetters: new MemoryDeadLetterSink(), now: () => BACKFILL_NOW, flushRows: 25,
    openSource: () => new FileSetSource({ description: location, files, open: (loc) => new FileSource({ location: loc, io }) }),
    ...over,
  });
}

/** Rows per event_id in the table now. */
async function idCounts(): Promise<Map<string, number>> {
  await table.refresh();
  const counts = new Map<string, number>();
  for (const r of await table.readRows()) counts.set(r.event_id as string, (counts.get(r.event_id as string) ?? 0) + 1);
  return counts;
}

/** Live ingest of some events at LIVE_NOW: they are in the table, with processed_at seven weeks before the backfill. */
async function ingestLive(ids: number[]): Promise<void> {
  const file = writeLines('live.ndjson', ids.map(event));
  await new Ingestor({ table, source: new FileSource({ location: file }), group: 'live', deadLetters: new MemoryDeadLetterSink(), now: () => LIVE_NOW }).run();
}

describe('backfill', () => {
  it('run twice adds its events once: the second run reads nothing, its positions being in the table', async () => {
    const file = writeLines('history.ndjson', [...range(1, 60).map(event), 'not json', event(7)]);
    const first = await run(file);
    expect(first).toMatchObject({ records: 62, added: 60, deadLettered: 1, skipped: 1, repeatedInSource: 1, alreadyInTable: 0 });
    expect(first.commits).toBeGreaterThanOrEqual(3);
    const snapshots = table.metadata.snapshots.length;
    const second = await run(file);
    expect(second).toMatchObject({ records: 0, added: 0, commits: 0 });
    expect(second.resumedFrom.get(`${file}:0`)).toBe(62n);
    await table.refresh();
    expect(table.metadata.snapshots.length).toBe(snapshots);
    const counts = await idCounts();
    expect(counts.size).toBe(60);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('skips the events the table has held since long before the ingest\'s de-duplication horizon, and adds only the new ones', async () => {
    await ingestLive(range(1, 40));
    const file = writeLines('overlap.ndjson', range(21, 70).map(event));
    const r = await run(file);
    expect(r).toMatchObject({ records: 50, added: 30, skipped: 20, alreadyInTable: 20 });
    const counts = await idCounts();
    expect([...counts.keys()].sort()).toEqual(range(1, 70).map((i) => `e-${i}`).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // The rows it added are stamped with the backfill's clock, the held ones keep theirs.
    const stamped = new Map((await table.readRows()).map((row) => [row.event_id as string, row.processed_at as bigint]));
    expect(stamped.get('e-21')).toBe(BigInt(LIVE_NOW) * 1000n);
    expect(stamped.get('e-41')).toBe(BigInt(BACKFILL_NOW) * 1000n);
  });

  it('the same history under another name (another group) adds nothing: the event_ids are checked against the table', async () => {
    const file = writeLines('a/history.ndjson', range(1, 30).map(event));
    await run(file);
    const copy = path.join(dir, 'b', 'history-copy.ndjson');
    mkdirSync(path.dirname(copy), { recursive: true });
    copyFileSync(file, copy);
    const again = await run(copy);
    expect(again).toMatchObject({ records: 30, added: 0, skipped: 30, alreadyInTable: 30, commits: 1 });
    expect((await idCounts()).size).toBe(30);
  });

  it('a dry run counts what the run then adds, skips and dead-letters, and writes nothing', async () => {
    await ingestLive(range(1, 10));
    const file = writeLines('dry.ndjson', [...range(5, 30).map(event), '', '{"event_id":"x"}', event(12), event(29)]);
    await table.refresh();
    const before = table.metadata.snapshots.length;
    const dry = await run(file, { dryRun: true, deadLetters: undefined });
    await table.refresh();
    expect(table.metadata.snapshots.length).toBe(before);
    expect(dry).toMatchObject({ dryRun: true, records: 30, added: 20, alreadyInTable: 6, repeatedInSource: 2, skipped: 8, deadLettered: 2, commits: 0 });
    const real = await run(file);
    for (const k of ['records', 'added', 'skipped', 'deadLettered', 'repeatedInSource', 'alreadyInTable'] as const) expect(real[k], k).toBe(dry[k]);
    expect(real.deadLetteredByReason).toEqual(dry.deadLetteredByReason);
  });

  it('reads a directory of plain and gzip files (named .ndjson or not) as one source, skipping marker files, and records each file\'s position', async () => {
    const prefix = path.join(dir, 'export');
    writeLines('export/part-0.ndjson', range(1, 20).map(event));
    writeLines('export/part-1.ndjson.gz', range(21, 40).map(event), true);
    writeLines('export/part-2', range(41, 50).map(event), true);
    writeFileSync(path.join(prefix, '_SUCCESS'), 'ok');
    const r = await run(prefix);
    expect(r).toMatchObject({ records: 50, added: 50 });
    const recorded = JSON.parse(table.currentSnapshot()!.summary[offsetsKey(backfillGroup(prefix))]!) as Record<string, string>;
    expect(Object.values(recorded)).toEqual(['20', '20', '10']);
    expect((await run(prefix)).records).toBe(0);
    expect((await idCounts()).size).toBe(50);
  });

  it('its positions do not hold back snapshot expiry as an ingest\'s do; once expired, the same backfill reads its source again and adds nothing', async () => {
    const file = writeLines('expiring.ndjson', range(1, 50).map(event));
    await run(file);
    await ingestLive(range(101, 110)); // a live ingest commits after the backfill
    await table.refresh();
    const retain = offsetKeysToRetain(table.metadata);
    expect(retain).toEqual([offsetsKey('live')]);
    await table.expireSnapshots({ olderThanMs: Date.now() + 1, retainLast: 1, retainSummaryKeyPrefixes: retain });
    await table.refresh();
    expect(table.metadata.snapshots).toHaveLength(1);
    expect(recordedPositions(table.metadata, 'live').size).toBe(1);
    const again = await run(file);
    expect(again).toMatchObject({ records: 50, added: 0, skipped: 50, alreadyInTable: 50 });
    expect((await idCounts()).size).toBe(60);
  });

  it('a location with no file and no files under it is a sentence, and nothing is written', async () => {
    await expect(listSourceFiles(new LocalFileIO(), path.join(dir, 'nope'))).rejects.toThrow(/Nothing to read at .*nope: it is neither a file nor a prefix/);
  });
});

describe('daysFilter', () => {
  const DAY = 86_400_000_000n;
  const keeps = (days: number[], t: bigint) => evaluateRow(bind(daysFilter(days), campaignEventsSchema), () => t);

  it('keeps exactly the event times on the given days', () => {
    const days = [20_000, 20_001, 20_005];
    expect(keeps(days, 20_000n * DAY)).toBe(true);
    expect(keeps(days, 20_002n * DAY - 1n)).toBe(true);
    expect(keeps(days, 20_002n * DAY)).toBe(false);
    expect(keeps(days, 20_005n * DAY + 5n)).toBe(true);
    expect(keeps(days, 19_999n * DAY)).toBe(false);
    expect(keeps([], 20_000n * DAY)).toBe(false);
  });

  it('joins the closest runs of days past 64 ranges, keeping every given day', () => {
    const days = Array.from({ length: 200 }, (_, k) => 20_000 + 3 * k + (k % 5 === 0 ? 1 : 0));
    for (const d of days) expect(keeps(days, BigInt(d) * DAY + 1n)).toBe(true);
    expect(keeps(days, 19_000n * DAY)).toBe(false);
  });
});

describe('parseOffsets (--from-offset, --to-offset)', () => {
  it('takes one offset for every partition, or partition:offset pairs', () => {
    expect(parseOffsets('1000', '--to-offset')).toEqual({ all: 1000n });
    expect(parseOffsets('0:10, 2:7', '--to-offset')).toEqual(new Map([[0, 10n], [2, 7n]]));
  });

  it('anything else is a sentence naming the flag and both forms', () => {
    expect(() => parseOffsets('-5', '--from-offset')).toThrow(/--from-offset must be an offset \(e\.g\. 1000\) or partition:offset pairs/);
    expect(() => parseOffsets('0:1,0:2', '--to-offset')).toThrow(/--to-offset names partition 0 twice/);
  });
});
