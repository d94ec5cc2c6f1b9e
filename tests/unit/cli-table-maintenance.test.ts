import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** `tables rewrite-manifests` and `tables remove-orphans` refuse bad input with one sentence and a non-zero exit. */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let dir: string;

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, ['--warehouse', path.join(dir, 'wh'), '--catalog-uri', `sqlite:///${path.join(dir, 'catalog.db')}`, ...args],
      { cwd: dir, env: { ...process.env, LAKEHOUSE_DEBUG: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-cli-maint-'));
  expect((await run('tables', 'create', 'm.t', '--schema', 'campaign_events')).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('table maintenance commands on bad input', () => {
  it('an unknown table is a sentence and exit 1 for both commands', async () => {
    for (const cmd of ['rewrite-manifests', 'remove-orphans']) {
      const r = await run('tables', cmd, 'm.nope');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: Table m\.nope does not exist/);
    }
  });

  it('a malformed --older-than names the flag and the forms it takes (exit 2)', async () => {
    const r = await run('tables', 'remove-orphans', 'm.t', '--older-than', 'three days');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--older-than must be an age such as 3d, 12h or 90m, or a time such as .*got "three days"/);
  });

  it('an --older-than under an hour is refused unless --allow-short-age says no writer runs', async () => {
    const r = await run('tables', 'remove-orphans', 'm.t', '--older-than', '10m');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at least 1 hour .* commit still in flight\. Pass --allow-short-age/);
    const ok = await run('--json', 'tables', 'remove-orphans', 'm.t', '--older-than', '10m', '--allow-short-age', '--dry-run');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ dryRun: true, orphans: [] });
  });

  it('on an empty table rewrite-manifests has nothing to do; both commands show examples in --help', async () => {
    const r = await run('--json', 'tables', 'rewrite-manifests', 'm.t');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ snapshotId: null, manifestsBefore: 0, replaced: 0 });
    for (const cmd of ['rewrite-manifests', 'remove-orphans']) expect((await run('tables', cmd, '--help')).stdout).toMatch(/Examples:\n  \$ lakehouse tables/);
  });
});
