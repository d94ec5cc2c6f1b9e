import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { CRASH_AT_ENV, FLUSH_CRASH_POINTS } from '../../pipeline/crash-points.ts';
import { MemoryDeadLetterSink } from '../../pipeline/dead-letters.ts';
import { FileSource } from '../../pipeline/file-source.ts';
import { Ingestor } from '../../pipeline/ingest.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg } from './readers.ts';

/**
 * Each event_id stored once, seen from outside: events re-sent after their first copy was committed go
 * through the real ingest path (in process, and as `lakehouse ingest` processes killed with SIGKILL at
 * named points of a flush), and PyIceberg counts the rows of every id.
 */

const START_MS = Date.now() - 3_600_000;
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('ingest-dedup');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

function message(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event_id: `evt-${i}`, user_id: `u-${i % 7}`, campaign_id: `c-${i % 3}`, event_type: 'impression', platform: 'meta',
    // Over four days (partitions) before now: the CLI runs decode against the real clock.
    timestamp: new Date(START_MS - (i % 4) * 86_400_000 + i).toISOString(), revenue: 0, ...over,
  });
}

function writeLines(name: string, lines: string[]): string {
  const file = path.join(wh.dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

/** Rows per event_id as PyIceberg reads the table, and the event_type of each. */
async function idCounts(table: string): Promise<{ counts: Map<string, number>; types: Map<string, string> }> {
  const counts = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of await readWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: `interop.${table}` })) {
    const row = JSON.parse(line) as { event_id: string; event_type: string };
    counts.set(row.event_id, (counts.get(row.event_id) ?? 0) + 1);
    types.set(row.event_id, row.event_type);
  }
  return { counts, types };
}

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stats: Record<string, unknown> | null;
  stderr: string;
}

/** `lakehouse ingest` as its own process, killed by itself at `crashAt` when given. */
function ingestCli(table: string, file: string, crashAt?: string): Promise<CliRun> {
  const args = ['--json', '--warehouse', fileURLToPath(wh.warehouse), '--catalog-uri', wh.catalogUri,
    'ingest', '--source', `file:${file}`, '--table', `interop.${table}`, '--flush-rows', '30', '--dead-letter-file', path.join(wh.dir, 'dead.ndjson')];
  const env = { ...process.env, LAKEHOUSE_DEBUG: '', [CRASH_AT_ENV]: crashAt ?? '' };
  return new Promise((resolve) => {
    const child = execFile(BIN, args, { env, cwd: wh.dir }, (_e, stdout, stderr) => {
      const json = stdout.indexOf('{');
      resolve({ code: child.exitCode, signal: child.signalCode, stats: json < 0 ? null : JSON.parse(stdout.slice(json)), stderr });
    });
  });
}

describe('each event_id stored once across flushes and restarts, read back by PyIceberg', () => {
  it('events re-sent after their flush was committed are stored once, the first copy', async () => {
    const table = await wh.createTable('dedup_flushes', campaignEventsSchema, campaignEventsSpec);
    // 30 rows per flush; ids 3, 17 and 29 come back two and three flushes later, 17 with other content.
    const file = writeLines('flushes.ndjson', [
      ...range(1, 60).map((i) => message(i)),
      message(3), message(17, { event_type: 'click' }), ...range(61, 80).map((i) => message(i)), message(29),
    ]);
    const stats = await new Ingestor({ table, source: new FileSource({ location: file }), group: 'dedup', deadLetters: new MemoryDeadLetterSink(), flushRows: 30 }).run();
    expect(stats).toMatchObject({ consumed: 83, written: 80, duplicates: 3 });
    expect(stats.commits).toBeGreaterThanOrEqual(3);
    const { counts, types } = await idCounts('dedup_flushes');
    expect(counts.size).toBe(80);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(types.get('evt-17')).toBe('impression');
  });

  it('after kill -9 the replayed records are stored (not taken for re-sends of themselves), and a re-send read after a restart is dropped', async () => {
    await wh.createTable('dedup_crash', campaignEventsSchema, campaignEventsSpec);
    const first = writeLines('crash-a.ndjson', range(1, 90).map((i) => message(i)));

    // Killed with the second flush's files written, not committed: the table holds evt-1..30.
    const killed = await ingestCli('dedup_crash', first, `${FLUSH_CRASH_POINTS.filesWritten}:2`);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // Killed right after the second commit of the restart: nothing of this process's memory survives.
    const killedAgain = await ingestCli('dedup_crash', first, `${FLUSH_CRASH_POINTS.tableCommitted}:2`);
    expect(killedAgain.signal, killedAgain.stderr).toBe('SIGKILL');
    const finished = await ingestCli('dedup_crash', first);
    expect(finished.code, finished.stderr).toBe(0);
    expect((await idCounts('dedup_crash')).counts.size).toBe(90);

    // A producer's retries, read by a fresh process: its index comes from the table alone.
    const resent = writeLines('crash-b.ndjson', [message(1), message(30), message(31, { event_type: 'click' }), message(90), ...range(91, 95).map((i) => message(i))]);
    const run = await ingestCli('dedup_crash', resent);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stats).toMatchObject({ consumed: 9, written: 5, duplicates: 4 });

    const { counts, types } = await idCounts('dedup_crash');
    expect([...counts.keys()].sort()).toEqual(range(1, 95).map((i) => `evt-${i}`).sort());
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(types.get('evt-31')).toBe('impression');
  });
});
