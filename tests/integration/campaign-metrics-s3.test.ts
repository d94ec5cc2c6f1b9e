import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../catalog/catalog.ts';
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch, type TableIdentifier, Table } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { generateEvents } from '../../pipeline/event-generator.ts';
import { runMetrics } from '../../sql/campaign-metrics-job.ts';
import { serviceCatalogsConfig } from '../support/service-catalogs.ts';

/**
 * campaign_metrics on object storage: the events table lives in MinIO behind Apache Iceberg's REST
 * catalog, and DuckDB (no httpfs extension) reads the planned files from the local cache the job fills
 * through the table's FileIO. The result must equal the same job over a local copy of the same rows,
 * and an incremental run must fetch only the new files.
 */
let dir: string;
let config: string;
const suffix = randomBytes(3).toString('hex');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-metrics-s3-'));
  config = path.join(dir, 'lakehouse.config.json');
  writeFileSync(config, JSON.stringify({ catalogs: serviceCatalogsConfig(`metrics-${suffix}`) }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batches(seed: number, count: number, processedAt: bigint) {
  const rows = [...generateEvents({ count, seed, startMs: Date.UTC(2026, 10, 1) })].map((e, i) => ({
    ...e, channel: i % 2 ? 'search' : null, cost: i % 3 ? 0.25 : null, processed_at: processedAt + BigInt(i),
  }));
  return [rowsToRecordBatch(campaignEventsSchema, rows)];
}

async function metricRows(catalog: Catalog, id: TableIdentifier): Promise<string[]> {
  const rows = await new Table(catalog, await catalog.loadTable(id)).readRows();
  return rows.map(({ processed_at: _, ...r }) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort();
}

function cachedFiles(cache: string): number {
  try {
    return readdirSync(cache, { recursive: true }).filter((f) => String(f).endsWith('.parquet')).length;
  } catch {
    return 0;
  }
}

describe('metrics over MinIO through the REST catalog', () => {
  it('equals the same job over local files, and an incremental run fetches only the new files', async () => {
    const rest = await loadCatalog({ name: 'rest', configFile: config });
    const local = await SqlCatalog.open({ name: 'local', uri: `sqlite:///${path.join(dir, 'local.db')}`, warehouse: path.join(dir, 'wh') });
    const ns = [`metrics_${suffix}`];
    const events = { namespace: ns, name: 'campaign_events' };
    const metrics = { namespace: ns, name: 'campaign_metrics' };
    const cache = path.join(dir, 'cache');
    try {
      const tables: Table[] = [];
      for (const c of [rest, local]) {
        await c.createNamespace(ns);
        tables.push(new Table(c, await c.createTable(events, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec })));
      }
      for (const t of tables) await t.append(batches(1, 3000, 1_000_000n));
      expect((await runMetrics({ catalog: rest, events, metrics, cacheDir: cache })).mode).toBe('full');
      const filesAfterFirst = cachedFiles(cache);
      expect(filesAfterFirst).toBe((await tables[0]!.planFiles()).files.length);

      for (const t of tables) await t.append(batches(2, 500, 2_000_000n));
      const newFiles = Number(tables[0]!.currentSnapshot()!.summary['added-data-files']);
      expect((await runMetrics({ catalog: rest, events, metrics, cacheDir: cache })).mode).toBe('incremental');
      expect(cachedFiles(cache)).toBe(filesAfterFirst + newFiles);

      await runMetrics({ catalog: local, events, metrics });
      expect(await metricRows(rest, metrics)).toEqual(await metricRows(local, metrics));
    } finally {
      for (const id of [metrics, events]) await rest.dropTable(id, { purge: true }).catch(() => {});
      await rest.dropNamespace(ns).catch(() => {});
      await rest.close();
      await local.close();
    }
  });
});
