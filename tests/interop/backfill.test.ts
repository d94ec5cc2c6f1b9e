import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_AT_ENV, FLUSH_CRASH_POINTS } from '../../pipeline/crash-points.ts';
import { type GeneratedMessage, generateMessages } from '../../pipeline/event-generator.ts';
import { runMetrics } from '../../sql/campaign-metrics-job.ts';
import { type OracleCommit, expectedMetrics, messageEvent } from '../support/campaign-metrics-oracle.ts';
import { IngestedEvents, diffMetrics, readMetricsWithPyIceberg, tableId } from '../support/campaign-metrics-scenarios.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg } from './readers.ts';

/**
 * `lakehouse backfill` as its own process, read back by PyIceberg: run twice it adds its events once; over
 * events the table already holds it adds only the new ones; campaign_metrics afterwards equals the plain
 * computation over all events (tests/support/campaign-metrics-oracle.ts); killed with SIGKILL inside
 * flushes it resumes with each event exactly once; bad input is a sentence with nothing written.
 */

const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('backfill');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: Record<string, unknown> | null;
  stderr: string;
}

function backfillCli(args: string[], crashAt?: string): Promise<CliRun> {
  const all = ['--json', '--warehouse', fileURLToPath(wh.warehouse), '--catalog-uri', wh.catalogUri, 'backfill', '--dead-letter-file', path.join(wh.dir, 'dead.ndjson'), ...args];
  const env = { ...process.env, LAKEHOUSE_DEBUG: '', [CRASH_AT_ENV]: crashAt ?? '' };
  return new Promise((resolve) => {
    const child = execFile(BIN, all, { env, cwd: wh.dir }, (_e, stdout, stderr) => {
      const json = stdout.indexOf('{');
      resolve({ code: child.exitCode, signal: child.signalCode, out: json < 0 ? null : JSON.parse(stdout.slice(json)), stderr });
    });
  });
}

function writeHistory(name: string, messages: readonly GeneratedMessage[], gzip: boolean): string {
  const file = path.join(wh.dir, name);
  const text = Buffer.concat(messages.flatMap((m) => [Buffer.from(m.value), Buffer.from('\n')]));
  writeFileSync(file, gzip ? gzipSync(text) : text);
  return file;
}

/** Rows per event_id as PyIceberg reads the table. */
async function idCounts(table: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of await readWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: `interop.${table}` })) {
    const id = (JSON.parse(line) as { event_id: string }).event_id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** The event_ids a generator meant to be valid (its own record, not our decoder's). */
function validIds(messages: readonly GeneratedMessage[]): Set<string> {
  return new Set(messages.filter((m) => m.kind !== 'invalid').map((m) => messageEvent(m, 0n)!.event_id));
}

/** One commit for the oracle holding the backfill's messages, stamped after every live commit. */
const backfillCommit = (messages: readonly GeneratedMessage[]): OracleCommit => ({ messages, processedAtMicros: BigInt(Date.now()) * 1000n });

describe('lakehouse backfill, read back by PyIceberg', () => {
  it('run twice adds its events once; over events the table holds it adds only the new ones; the metrics run recomputes exactly the windows touched, and campaign_metrics then equals the oracle over all events', async () => {
    const history = [...generateMessages({ count: 600, seed: 11, campaigns: 4, invalidRate: 0.02, lateRate: 0.05, duplicateRate: 0.03 })];
    // The table already holds a third of the history (live ingest), and the metrics are current with it.
    const events = await IngestedEvents.create(wh, 'bf_events');
    const live = history.filter((_, i) => i % 3 === 0);
    await events.ingest(live);
    const metricsId = tableId('bf_metrics');
    await runMetrics({ catalog: wh.catalog, events: events.id, metrics: metricsId });

    const file = writeHistory('history.ndjson.gz', history, true);
    const args = ['--source', `file:${file}`, '--table', 'interop.bf_events', '--metrics-table', 'interop.bf_metrics', '--flush-rows', '150'];
    const first = await backfillCli(args);
    expect(first.code, first.stderr).toBe(0);
    const all = validIds(history);
    const held = validIds(live);
    expect(first.out).toMatchObject({ records: 600, added: all.size - held.size, alreadyInTable: held.size, metrics: { ran: true, mode: 'incremental' } });

    // Exactly the windows the added events fall in, plus those whose `complete` flag the new watermark
    // flips (window_end in (old watermark, new watermark]), each counted once: worked out here from the
    // metric definitions, not by the job's code.
    const W = 300_000_000n;
    const lateness = 600_000_000n;
    const timeOf = (ms: readonly GeneratedMessage[]) => ms.filter((m) => m.kind !== 'invalid').map((m) => messageEvent(m, 0n)!);
    const added = new Map<string, bigint>();
    for (const e of timeOf(history)) if (!held.has(e.event_id) && !added.has(e.event_id)) added.set(e.event_id, e.event_time);
    const windows = new Set([...added.values()].map((t) => (t / W) * W));
    const max = (ts: bigint[]) => ts.reduce((a, b) => (b > a ? b : a));
    const before = max(timeOf(live).map((e) => e.event_time)) - lateness;
    const after = max(timeOf(history).map((e) => e.event_time)) - lateness;
    for (let start = (before / W) * W - W; start <= after; start += W) if (start + W > before && start + W <= after) windows.add(start);
    expect((first.out!.metrics as { windowsRecomputed: number }).windowsRecomputed).toBe(windows.size);

    const second = await backfillCli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.out).toMatchObject({ records: 0, added: 0, commits: 0, metrics: { ran: true, mode: 'noop' } });

    const counts = await idCounts('bf_events');
    expect([...counts.keys()].sort()).toEqual([...all].sort());
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);

    const expected = expectedMetrics([...events.commits, backfillCommit(history)], { windowSeconds: 300 });
    expect(diffMetrics(expected, (await readMetricsWithPyIceberg(wh, metricsId)).rows)).toEqual([]);
  });

  it('killed with kill -9 inside flushes (files written, table committed), it resumes with every event exactly once, and the metrics cover the killed runs\' commits', async () => {
    const history = [...generateMessages({ count: 400, seed: 12, campaigns: 3, invalidRate: 0.02, duplicateRate: 0.02 })];
    const events = await IngestedEvents.create(wh, 'bf_crash');
    const live = history.slice(0, 50);
    await events.ingest(live);
    const metricsId = tableId('bf_crash_metrics');
    await runMetrics({ catalog: wh.catalog, events: events.id, metrics: metricsId });
    const file = writeHistory('crash.ndjson', history, false);
    const args = ['--source', `file:${file}`, '--table', 'interop.bf_crash', '--metrics-table', 'interop.bf_crash_metrics', '--flush-rows', '60'];

    const killed = await backfillCli(args, `${FLUSH_CRASH_POINTS.filesWritten}:2`);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const killedAgain = await backfillCli(args, `${FLUSH_CRASH_POINTS.tableCommitted}:2`);
    expect(killedAgain.signal, killedAgain.stderr).toBe('SIGKILL');
    const finished = await backfillCli(args);
    expect(finished.code, finished.stderr).toBe(0);
    expect(Object.keys((finished.out!.resumedFrom as Record<string, string>))).toEqual([`${file}:0`]);
    expect(finished.out!.positions).toEqual({ [`${file}:0`]: '400' });

    const counts = await idCounts('bf_crash');
    expect([...counts.keys()].sort()).toEqual([...validIds(history)].sort());
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const expected = expectedMetrics([...events.commits, backfillCommit(history)], { windowSeconds: 300 });
    expect(diffMetrics(expected, (await readMetricsWithPyIceberg(wh, metricsId)).rows)).toEqual([]);
  });

  it('bad input is one sentence and a non-zero exit, with nothing written: an unknown table, a missing source, a damaged gzip file', async () => {
    const events = await IngestedEvents.create(wh, 'bf_bad');
    await events.ingest([...generateMessages({ count: 20, seed: 13 })]);
    const snapshots = async () => (await wh.catalog.loadTable(events.id)).metadata.snapshots.length;
    const before = await snapshots();

    const good = writeHistory('good.ndjson', [...generateMessages({ count: 30, seed: 14 })], false);
    const noTable = await backfillCli(['--source', `file:${good}`, '--table', 'interop.no_such_table']);
    expect(noTable.code).toBe(1);
    expect(noTable.stderr).toMatch(/Table interop\.no_such_table does not exist, so there is nothing to backfill into/);

    const missing = await backfillCli(['--source', `file:${path.join(wh.dir, 'missing.ndjson')}`, '--table', 'interop.bf_bad']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Nothing to read at .*missing\.ndjson: it is neither a file nor a prefix/);

    // Cut short: the first lines decompress, then the stream ends mid-member. The survey reads it all
    // before anything is written, so not even the good first lines land.
    const whole = gzipSync(Buffer.concat([...generateMessages({ count: 3000, seed: 15 })].flatMap((m) => [Buffer.from(m.value), Buffer.from('\n')])));
    const damaged = path.join(wh.dir, 'damaged.ndjson.gz');
    writeFileSync(damaged, whole.subarray(0, Math.floor(whole.length * 0.8)));
    const cut = await backfillCli(['--source', `file:${damaged}`, '--table', 'interop.bf_bad']);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/starts like a gzip file but cannot be decompressed/);
    expect(cut.stderr).not.toMatch(/\n\s+at /); // no stack trace

    expect(await snapshots()).toBe(before);
  });
});
