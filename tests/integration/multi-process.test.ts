import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { serviceCatalogsConfig } from '../support/service-catalogs.ts';
import { RACE_PROPERTIES, RACE_SCHEMA, raceTwoProcesses } from '../support/racing-processes.ts';

/**
 * Two processes committing to the same table at the same time, through each catalog on the real
 * services (table files in MinIO): every append lands exactly once.
 */
let dir: string;
let config: string;
const suffix = randomBytes(3).toString('hex');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-multiprocess-'));
  config = path.join(dir, 'lakehouse.config.json');
  writeFileSync(config, JSON.stringify({ catalogs: serviceCatalogsConfig(`race-${suffix}`) }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('two processes appending to one table', () => {
  for (const name of ['pg', 'rest', 'glue']) {
    it(`${name}: every append lands exactly once, on a linear history`, async () => {
      const catalog = await loadCatalog({ name, configFile: config });
      const ns = `race_${suffix}`;
      await catalog.createNamespace([ns]);
      await catalog.createTable({ namespace: [ns], name: 't' }, { schema: RACE_SCHEMA, properties: RACE_PROPERTIES });
      try {
        await raceTwoProcesses(catalog, config, name, `${ns}.t`, 8);
      } finally {
        await catalog.dropTable({ namespace: [ns], name: 't' }, { purge: true });
        await catalog.dropNamespace([ns]);
        await catalog.close();
      }
    });
  }
});
