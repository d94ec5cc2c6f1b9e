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
import { EVENT_INDEX_KEY, eventIndexFolder } from '../../domain/event-index-files.ts';
import { generateEvents } from '../../pipeline/event-generator.ts';
import { runMetrics } from '../../sql/campaign-metrics-job.ts';
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
      expect(pass.steps.map((s: { step: string; outcome: string }) => `${s.step} ${s.outcome}`)).toEqual(['compact ok', 'rewrite-manifests ok', 'expire ok', 'remove-event-index ok', 'remove-orphans ok']);
      expect(pass.steps[2].report.dataFilesDeleted).toBe(filesBefore.length);
      // The files the expiry just deleted were referenced until then: nothing is left for the 3-day orphan guard.
      expect(pass.steps[4].report.orphans).toBe(0);
      for (const f of filesBefore) expect(await t.io.exists(f.filePath)).toBe(false);
      expect((await readDetailedWithPyIcebergRest(ref)).rows).toEqual(expected);
    } finally {
      await rest.dropTable(id, { purge: true }).catch(() => {});
      await rest.dropNamespace(ns).catch(() => {});
      await rest.close();
    }
  });

  it('maintain deletes the metrics job\'s unused event index files from the bucket, and the next run is still incremental and right', async () => {
    const rest: Catalog = await loadCatalog({ name: 'rest', configFile: config });
    const ns = [`maintidx_${suffix}`];
    const events = { namespace: ns, name: 'campaign_events' };
    const metrics = { namespace: ns, name: 'campaign_metrics' };
    const cacheDir = path.join(dir, 'cache');
    const all = [...generateEvents({ count: 1600, seed: 9, startMs: Date.UTC(2026, 10, 1), spanMs: 6 * 3600_000 })] as unknown as Record<string, unknown>[];
    const rowsOf = async (name: string) => (await new Table(rest, await rest.loadTable({ namespace: ns, name })).readRows())
      .map(({ processed_at: _, ...r }) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort();
    try {
      await rest.createNamespace(ns);
      const t = new Table(rest, await rest.createTable(events, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
      await t.append([rowsToRecordBatch(campaignEventsSchema, all.slice(0, 600))]);
      expect((await runMetrics({ catalog: rest, events, metrics, cacheDir })).mode).toBe('full');
      for (const [from, to] of [[600, 900], [900, 1200]]) {
        await t.append([rowsToRecordBatch(campaignEventsSchema, all.slice(from, to))]);
        expect((await runMetrics({ catalog: rest, events, metrics, cacheDir })).mode).toBe('incremental');
      }
      const m = new Table(rest, await rest.loadTable(metrics));
      const listFolder = async () => { const out: string[] = []; for await (const f of m.io.list(eventIndexFolder(m.location))) out.push(f.location); return out.sort(); };
      const before = await listFolder();
      // Object times must be past the (short) age guard below.
      await new Promise((r) => setTimeout(r, 2500));
      const step = (r: { stdout: string }) => JSON.parse(r.stdout.trim().split('\n').pop()!).steps.find((s: { step: string }) => s.step === 'remove-event-index');
      // First expiry (a real pass) with the default 3-day age: the index files it leaves unused are too young to go.
      const expired = await cli(['--json', 'maintain', `${ns[0]}.campaign_metrics`, '--older-than', String(Date.now() + 60_000), '--retain-last', '1', '--log-level', 'warn']);
      expect(expired.code).toBe(0);
      expect(step(expired).report).toMatchObject({ metricsTable: true, unused: 0 });
      expect(step(expired).report.keptTooNew).toBeGreaterThan(0);
      expect(await listFolder()).toEqual(before);
      const args = ['--json', 'maintain', `${ns[0]}.campaign_metrics`, '--orphan-age', '1s', '--log-level', 'warn'];
      const dry = await cli([...args, '--dry-run']);
      expect(dry.code).toBe(0);
      const dryStep = step(dry);
      expect(dryStep.report.unused).toBe(step(expired).report.keptTooNew);
      expect(await listFolder()).toEqual(before);

      const real = await cli(args);
      expect(real.code).toBe(0);
      expect(step(real)).toMatchObject({ outcome: 'ok', report: { unused: dryStep.report.unused } });
      // What must stay, read straight from the manifests the kept snapshots point at.
      await m.refresh();
      const keep = new Set<string>();
      for (const snap of m.metadata.snapshots) {
        const at = snap.summary[EVENT_INDEX_KEY];
        if (!at) continue;
        keep.add(at);
        const json = JSON.parse(new TextDecoder().decode(await m.io.read(at))) as { 'id-files': { path: string }[]; 'loser-files': { path: string }[] };
        for (const f of [...json['id-files'], ...json['loser-files']]) keep.add(f.path);
      }
      expect(await listFolder()).toEqual([...keep].sort());
      expect(before.length - keep.size).toBe(dryStep.report.unused);

      await t.append([rowsToRecordBatch(campaignEventsSchema, all.slice(1200))]);
      expect((await runMetrics({ catalog: rest, events, metrics, cacheDir })).mode).toBe('incremental');
      await runMetrics({ catalog: rest, events, metrics: { namespace: ns, name: 'full_check' }, cacheDir });
      expect(await rowsOf('campaign_metrics')).toEqual(await rowsOf('full_check'));
    } finally {
      for (const name of ['full_check', 'campaign_metrics', 'campaign_events']) await rest.dropTable({ namespace: ns, name }, { purge: true }).catch(() => {});
      await rest.dropNamespace(ns).catch(() => {});
      await rest.close();
    }
  });
});
