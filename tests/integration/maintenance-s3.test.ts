import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../catalog/catalog.ts';
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { Table, rowsToRecordBatch } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { generateEvents } from '../../pipeline/event-generator.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readDetailedWithPyIcebergRest } from '../interop/readers.ts';
import { requireS3Settings } from '../support/s3-settings.ts';
import { serviceCatalogsConfig } from '../support/service-catalogs.ts';

/**
 * `lakehouse compact` and `lakehouse maintain` on object storage: campaign_events in MinIO behind Apache
 * Iceberg's REST catalog, driven through the CLI as a user would; PyIceberg (its own RestCatalog and S3
 * client) reads exactly the same rows after each, and expiry deletes the replaced files from the bucket.
 */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const suffix = randomBytes(3).toString('hex');
let dir: string;
let config: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-maint-s3-'));
  config = path.join(dir, 'lakehouse.config.json');
  writeFileSync(config, JSON.stringify({ catalogs: serviceCatalogsConfig(`maint-${suffix}`) }));
  await ensureVenv();
}, VENV_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, ['--config', config, '--catalog', 'rest', ...args], (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
}

describe('compaction and maintenance on MinIO through the REST catalog', () => {
  it('compact, then maintain: PyIceberg reads the same rows, files drop, expiry deletes the replaced files', async () => {
    const rest: Catalog = await loadCatalog({ name: 'rest', configFile: config });
    const ns = [`maint_${suffix}`];
    const id = { namespace: ns, name: 'campaign_events' };
    const name = `${ns[0]}.campaign_events`;
    const s3 = requireS3Settings();
    const ref = { uri: process.env.LAKEHOUSE_REST_URI!, table: name, properties: s3.properties };
    try {
      await rest.createNamespace(ns);
      const t = new Table(rest, await rest.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
      const all = [...generateEvents({ count: 1200, seed: 5, startMs: Date.UTC(2026, 10, 1), spanMs: 24 * 3600_000 })] as unknown as Record<string, unknown>[];
      for (let i = 0; i < 4; i++) await t.append([rowsToRecordBatch(campaignEventsSchema, all.slice(i * 300, (i + 1) * 300))]);
      const expected = canonicalRows(campaignEventsSchema, all);
      const filesBefore = (await t.planFiles()).files;
      expect((await readDetailedWithPyIcebergRest(ref)).rows).toEqual(expected);

      const compacted = await cli(['--json', 'compact', name]);
      expect(compacted.stderr).toBe('');
      expect(compacted.code).toBe(0);
      expect(JSON.parse(compacted.stdout)).toMatchObject({ filesRemoved: filesBefore.length });
      const after = await readDetailedWithPyIcebergRest(ref);
      expect(after.rows).toEqual(expected);
      await t.refresh();
      expect(after.snapshotId).toBe(String(t.currentSnapshot()!.snapshotId));
      expect((await t.planFiles()).files.length).toBeLessThan(filesBefore.length);

      // Expire everything but the head: the small files no retained snapshot sees leave the bucket.
      const maintained = await cli(['--json', 'maintain', name, '--older-than', String(Date.now() + 60_000), '--retain-last', '1', '--log-level', 'warn']);
      expect(maintained.code).toBe(0);
      const pass = JSON.parse(maintained.stdout.trim().split('\n').pop()!);
      expect(pass.steps.map((s: { step: string; outcome: string }) => `${s.step} ${s.outcome}`)).toEqual(['compact ok', 'rewrite-manifests ok', 'expire ok', 'remove-orphans ok']);
      expect(pass.steps[2].report.dataFilesDeleted).toBe(filesBefore.length);
      // The files the expiry just deleted were referenced until then: nothing is left for the 3-day orphan guard.
      expect(pass.steps[3].report.orphans).toBe(0);
      for (const f of filesBefore) expect(await t.io.exists(f.filePath)).toBe(false);
      expect((await readDetailedWithPyIcebergRest(ref)).rows).toEqual(expected);
    } finally {
      await rest.dropTable(id, { purge: true }).catch(() => {});
      await rest.dropNamespace(ns).catch(() => {});
      await rest.close();
    }
  });
});
