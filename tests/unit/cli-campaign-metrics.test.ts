import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** `lakehouse metrics` as a user runs it: exit codes, sentences, JSON, the continuous mode's stop. */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let dir: string;

function globalArgs(): string[] {
  return ['--warehouse', path.join(dir, 'wh'), '--catalog-uri', `sqlite:///${path.join(dir, 'catalog.db')}`];
}

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, [...globalArgs(), ...args], { cwd: dir, env: { ...process.env, LAKEHOUSE_CACHE: path.join(dir, 'cache') } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-cli-metrics-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lakehouse metrics', () => {
  it('without campaign_events it says what to run first, exit 1', async () => {
    const r = await run('metrics', 'run');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/campaign_events does not exist.*lakehouse ingest/);
  });

  it('run, run again (nothing to do), rebuild and report, in JSON', async () => {
    expect((await run('produce', '--to', 'file:events.ndjson', '--events', '2000')).code).toBe(0);
    expect((await run('ingest', '--source', 'file:events.ndjson', '--create-table', '--log-level', 'error')).code).toBe(0);
    const first = JSON.parse((await run('--json', 'metrics', 'run', '--window', '1h')).stdout);
    expect(first).toMatchObject({ mode: 'full' });
    expect(first.rowsWritten).toBeGreaterThan(0);
    const second = JSON.parse((await run('--json', 'metrics', 'run')).stdout);
    expect(second).toMatchObject({ mode: 'noop', snapshotId: null });
    const text = await run('metrics', 'run');
    expect(text.stdout).toMatch(/up to date.*nothing committed/);
    const rebuild = JSON.parse((await run('--json', 'metrics', 'rebuild', '--from', '2000-01-01', '--to', '2100-01-01')).stdout);
    expect(rebuild).toMatchObject({ mode: 'rebuild', rowsWritten: first.rowsWritten });
    const report = JSON.parse((await run('--json', 'metrics', 'report', '--out', 'r.html')).stdout);
    expect(report.rows).toBe(first.rowsWritten);
    expect(existsSync(path.join(dir, 'r.html'))).toBe(true);
  });

  it('a different window for an existing table, a bad time or dimension are sentences', async () => {
    // A request that cannot be met as asked is a usage error (exit 2), like a bad flag value.
    const w = await run('metrics', 'run', '--window', '5m');
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/holds 1h windows, not 5m/);
    const t = await run('metrics', 'rebuild', '--from', 'yesterday', '--to', '2026-01-01');
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/--from must be an ISO-8601 date/);
    const order = await run('metrics', 'rebuild', '--from', '2026-01-02', '--to', '2026-01-01');
    expect(order.code).toBe(2);
    expect(order.stderr).toMatch(/--from before --to/);
    const d = await run('metrics', 'run', '--dimensions', 'planet');
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/--dimensions takes platform, country, channel/);
  });

  it('--every keeps running until SIGTERM, then exits 0', async () => {
    const child = spawn(BIN, [...globalArgs(), '--json', 'metrics', 'run', '--every', '200ms'], { cwd: dir, env: { ...process.env, LAKEHOUSE_CACHE: path.join(dir, 'cache') } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    // Two results printed means at least two runs happened.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => { if ((stdout.match(/"mode"/g) ?? []).length >= 2) { clearInterval(check); resolve(); } }, 50);
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
  });
});
