import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceCatalogsConfig } from '../support/service-catalogs.ts';

/**
 * `lakehouse --catalog <name>` against every catalog type, configured the way a user would: one
 * config file naming four catalogs on the real services (tables in MinIO), flags picking one.
 */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let dir: string;
let config: string;
const suffix = randomBytes(3).toString('hex');

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, ['--config', config, ...args], { cwd: dir, env: { ...process.env, LAKEHOUSE_DEBUG: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-cli-catalogs-'));
  config = path.join(dir, 'lakehouse.config.json');
  const { pg, rest, glue, sqlite } = serviceCatalogsConfig(`cli-${suffix}`, path.join(dir, 'catalog.db'));
  // Key order is the order the error message lists them in.
  writeFileSync(config, JSON.stringify({ catalogs: { sqlite, pg, rest, glue } }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lakehouse --catalog <name>', () => {
  for (const name of ['sqlite', 'pg', 'rest', 'glue']) {
    it(`${name}: creates, describes, lists and drops a table`, async () => {
      const table = `cli_${suffix}.events_${name}`;
      const created = await run('--catalog', name, '--json', 'tables', 'create', table, '--schema', 'campaign_events');
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      expect(JSON.parse(created.stdout).location).toMatch(/^s3:\/\//);
      const d = JSON.parse((await run('--catalog', name, '--json', 'tables', 'describe', table)).stdout);
      expect(d.partitionSpec.fields.map((f: { name: string }) => f.name)).toEqual(['event_time_day', 'event_type']);
      expect((await run('--catalog', name, 'tables', 'list', `cli_${suffix}`)).stdout).toContain(table);
      expect((await run('--catalog', name, 'tables', 'drop', table, '--purge')).code).toBe(0);
      const gone = await run('--catalog', name, 'tables', 'describe', table);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/does not exist/);
    });
  }

  it('an unknown catalog name lists the configured ones', async () => {
    const r = await run('--catalog', 'nope', 'tables', 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Catalog 'nope' is not configured.*sqlite, pg, rest, glue/);
  });
});
