import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { RACE_PROPERTIES, RACE_SCHEMA, raceTwoProcesses } from '../support/racing-processes.ts';

/** Two processes append to one table through one SQLite catalog file at the same time. */
let dir: string;
beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-race-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('concurrent writers in separate processes', () => {
  it('every append of two racing processes lands exactly once, on a linear history (SQLite)', async () => {
    const uri = `sqlite:///${path.join(dir, 'catalog.db')}`;
    const warehouse = path.join(dir, 'wh');
    const config = path.join(dir, 'lakehouse.config.json');
    writeFileSync(config, JSON.stringify({ catalogs: { local: { type: 'sql', uri, warehouse } } }));
    const catalog = await SqlCatalog.open({ name: 'local', uri, warehouse });
    await catalog.createNamespace(['race']);
    await catalog.createTable({ namespace: ['race'], name: 't' }, { schema: RACE_SCHEMA, properties: RACE_PROPERTIES });
    await raceTwoProcesses(catalog, config, 'local', 'race.t', 12);
    await catalog.close();
  });
});
