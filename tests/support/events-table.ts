import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { Table } from '../../iceberg/index.ts';

/** A temporary folder with a SQLite catalog holding an empty lakehouse.campaign_events. */
export interface EventsTableEnv {
  dir: string;
  catalog: SqlCatalog;
  table: Table;
}

/** Opens a fresh one (for a beforeEach); `prefix` names the temporary folder. */
export async function openEventsTable(prefix: string): Promise<EventsTableEnv> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(['lakehouse']);
  const table = new Table(catalog, await catalog.createTable({ namespace: ['lakehouse'], name: 'campaign_events' }, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
  return { dir, catalog, table };
}

/** Closes the catalog and deletes the folder (for an afterEach). */
export async function closeEventsTable(env: Pick<EventsTableEnv, 'dir' | 'catalog'>): Promise<void> {
  await env.catalog.close();
  rmSync(env.dir, { recursive: true, force: true });
}
