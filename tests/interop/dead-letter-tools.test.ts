import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../domain/campaign-events.ts';
import { type GeneratedMessage, generateMessages } from '../../pipeline/event-generator.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg } from './readers.ts';

/**
 * `lakehouse dlq` on a dead-letter file, each command as its own process: stats equal the generator's
 * own record of what it made invalid and a raw count of the file; show pages through every letter
 * once; export keeps every value byte for byte (invalid UTF-8 too); an exported, corrected file replays
 * exactly its fixable events into the table once (PyIceberg), a second replay adds nothing, and a
 * replay of letters still invalid writes no new dead letters.
 */

const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const TABLE = 'interop.events_dlq';
let wh: Warehouse;
let eventsFile: string;
let deadFile: string;
let messages: GeneratedMessage[];

function cli(...args: string[]): Promise<{ code: number | null; out: Record<string, unknown>; stdout: string; stderr: string }> {
  const all = ['--json', '--warehouse', fileURLToPath(wh.warehouse), '--catalog-uri', wh.catalogUri, ...args];
  return new Promise((resolve) => {
    const child = execFile(BIN, all, { cwd: wh.dir, maxBuffer: 64 << 20, env: { ...process.env, LAKEHOUSE_DEBUG: '' } }, (_e, stdout, stderr) => {
      const json = stdout.indexOf('{');
      let out: Record<string, unknown> = {};
      try { out = json < 0 ? {} : JSON.parse(stdout.slice(json)); } catch { /* the test prints stdout on failure */ }
      resolve({ code: child.exitCode, out, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<Record<string, unknown>> {
  const r = await cli(...args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.out;
}

async function idCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of await readWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: TABLE })) {
    const id = (JSON.parse(line) as { event_id: string }).event_id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The bytes of an export (or dead-letter file) line's value, read the way the format is documented. */
function lineBytes(o: { text?: string; value?: string | null }): Buffer {
  return typeof o.text === 'string' ? Buffer.from(o.text, 'utf8') : Buffer.from(o.value ?? '', 'base64');
}

beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('dlq');
  messages = [...generateMessages({ count: 1500, seed: 11, invalidRate: 0.12, campaigns: 5 })];
  eventsFile = path.join(wh.dir, 'events.ndjson');
  writeFileSync(eventsFile, Buffer.concat(messages.flatMap((m) => [Buffer.from(m.value), Buffer.from('\n')])));
  deadFile = path.join(wh.dir, 'dead.ndjson');
  await ok('ingest', '--source', `file:${eventsFile}`, '--table', TABLE, '--create-table', '--dead-letter-file', deadFile, '--log-level', 'error');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

const invalid = () => messages.map((m, line) => ({ ...m, line })).filter((m) => m.kind === 'invalid');

describe('lakehouse dlq on a dead-letter file', () => {
  it('stats: counts by reason equal the generator\'s and a raw count of the file; by field and source add up; the time range selects', async () => {
    const raw = readFileSync(deadFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { reason: string });
    const expected = countBy(invalid(), (m) => m.reason!);
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(8);
    expect(sorted(countBy(raw, (l) => l.reason))).toEqual(sorted(expected));

    const s = await ok('dlq', 'stats', '--file', deadFile);
    expect(s.total).toBe(invalid().length);
    expect(sorted(s.byReason as Record<string, number>)).toEqual(sorted(expected));
    expect(Object.values(s.byField as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(invalid().length);
    expect(s.topSources).toEqual([{ source: `${eventsFile}:0`, count: invalid().length }]);
    expect(s.unreadable).toBe(0);

    expect((await ok('dlq', 'stats', '--file', deadFile, '--reason', 'bad_json')).byReason).toEqual({ bad_json: expected.bad_json });
    expect((await ok('dlq', 'stats', '--file', deadFile, '--since', String(Date.parse(s.lastTime as string) + 1))).total).toBe(0);
    expect((await ok('dlq', 'stats', '--file', deadFile, '--since', s.firstTime as string, '--until', String(Date.parse(s.lastTime as string) + 1))).total).toBe(invalid().length);
    const bad = await cli('dlq', 'stats', '--file', deadFile, '--reason', 'no_such_reason');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a reason ingest gives; choose from bad_json/);
  });

  it('show: pages of --limit cover every letter once, with reason, detail and the source position', async () => {
    const seen: number[] = [];
    for (let offset: number | null = 0; offset !== null;) {
      const page = await ok('dlq', 'show', '--file', deadFile, '--limit', '40', '--offset', String(offset));
      const letters = page.letters as Array<{ reason: string; detail: string; topic: string; offset: string }>;
      expect(letters.length).toBeLessThanOrEqual(40);
      for (const l of letters) {
        expect(l.topic).toBe(eventsFile);
        expect(l.detail.length).toBeGreaterThan(10);
        expect(l.reason).toBe(messages[Number(l.offset)]!.reason);
        seen.push(Number(l.offset));
      }
      offset = page.next as number | null;
    }
    expect(seen).toEqual(invalid().map((m) => m.line));
  });

  it('export: every value byte for byte, as text when UTF-8 and base64 when not', async () => {
    const out = path.join(wh.dir, 'all.ndjson');
    expect((await ok('dlq', 'export', '--file', deadFile, '--out', out)).exported).toBe(invalid().length);
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { text?: string; value?: string; offset: string; reason: string });
    expect(lines).toHaveLength(invalid().length);
    for (const l of lines) expect(lineBytes(l).equals(Buffer.from(messages[Number(l.offset)]!.value)), `line ${l.offset}`).toBe(true);
    const binary = lines.filter((l) => l.text === undefined);
    expect(binary.length).toBeGreaterThan(0);
    expect(binary.every((l) => l.reason === 'not_utf8' || l.reason === 'oversize')).toBe(true);
  });

  it('replay: an exported file corrected by hand adds exactly its fixable events once; letters still invalid stay as they are', async () => {
    const before = await idCounts();
    const valid = messages.filter((m) => m.kind !== 'invalid').length;
    expect([...before.values()].reduce((a, b) => a + b, 0)).toBe(valid);

    // Still invalid before the fix: nothing is added, and no dead letter is written again.
    const deadBytes = readFileSync(deadFile).length;
    const untouched = await ok('dlq', 'replay', '--file', deadFile, '--table', TABLE, '--no-metrics');
    expect(untouched).toMatchObject({ added: 0, stillInvalid: invalid().length });
    expect(sorted(untouched.stillInvalidByReason as Record<string, number>)).toEqual(sorted(countBy(invalid(), (m) => m.reason!)));
    expect(readFileSync(deadFile).length).toBe(deadBytes);

    // The engineer's fix: event types sent in the wrong case.
    const toFix = path.join(wh.dir, 'to-fix.ndjson');
    await ok('dlq', 'export', '--file', deadFile, '--reason', 'unknown_event_type', '--out', toFix);
    const fixedIds: string[] = [];
    const fixed = readFileSync(toFix, 'utf8').split('\n').filter(Boolean).map((line) => {
      const o = JSON.parse(line) as { text: string };
      const event = JSON.parse(o.text) as { event_id: string; event_type: unknown };
      if (typeof event.event_type === 'string' && (EVENT_TYPES as readonly string[]).includes(event.event_type.toLowerCase())) {
        event.event_type = event.event_type.toLowerCase();
        fixedIds.push(event.event_id);
      }
      return JSON.stringify({ ...o, text: JSON.stringify(event) });
    });
    const fixedFile = path.join(wh.dir, 'fixed.ndjson');
    writeFileSync(fixedFile, fixed.join('\n') + '\n');
    expect(fixedIds.length).toBeGreaterThan(0);
    expect(fixedIds.length).toBeLessThan(fixed.length);

    const dry = await ok('dlq', 'replay', '--file', fixedFile, '--table', TABLE, '--dry-run');
    expect(dry).toMatchObject({ dryRun: true, added: fixedIds.length, stillInvalid: fixed.length - fixedIds.length });
    expect((await idCounts()).size).toBe(before.size);

    const first = await ok('dlq', 'replay', '--file', fixedFile, '--table', TABLE, '--no-metrics');
    expect(first).toMatchObject({ added: fixedIds.length, stillInvalid: fixed.length - fixedIds.length, stillInvalidByReason: { unknown_event_type: fixed.length - fixedIds.length } });
    const after = await idCounts();
    expect(after.size).toBe(before.size + fixedIds.length);
    for (const id of fixedIds) expect(after.get(id), id).toBe(1);
    expect([...after.values()].every((c) => c === 1)).toBe(true);

    // Again: its positions say it is done; under another group the event_id check still adds nothing.
    expect(await ok('dlq', 'replay', '--file', fixedFile, '--table', TABLE, '--no-metrics')).toMatchObject({ letters: 0, added: 0 });
    expect(await ok('dlq', 'replay', '--file', fixedFile, '--table', TABLE, '--no-metrics', '--group', 'replay-again')).toMatchObject({ letters: fixed.length, added: 0, alreadyInTable: fixedIds.length });
    expect(await idCounts()).toEqual(after);
    expect(readFileSync(deadFile).length).toBe(deadBytes);
  });
});
