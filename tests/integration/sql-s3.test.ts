import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { type Snapshot, Table, rowsToRecordBatch } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { generateEvents } from '../../pipeline/event-generator.ts';
import { SqlSession } from '../../sql/sql-session.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { readWithPyIcebergRest } from '../interop/readers.ts';
import { serviceCatalogsConfig } from '../support/service-catalogs.ts';

/**
 * `lakehouse sql` on object storage: a table in MinIO behind Apache Iceberg's REST catalog is read as the
 * metrics job reads it (planned files fetched once through the table's FileIO into the local cache, no
 * httpfs), and gives the rows PyIceberg reads through the same catalog, now and at the first snapshot.
 */
let dir: string;
let config: string;
const suffix = randomBytes(3).toString('hex');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-sql-s3-'));
  config = path.join(dir, 'lakehouse.config.json');
  writeFileSync(config, JSON.stringify({ catalogs: serviceCatalogsConfig(`sql-${suffix}`) }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lakehouse sql over MinIO through the REST catalog', () => {
  it('reads the rows PyIceberg reads, at the current and the first snapshot, from files fetched into the cache', async () => {
    const catalog = await loadCatalog({ name: 'rest', configFile: config });
    const ns = [`sql_${suffix}`];
    const id = { namespace: ns, name: 'campaign_events' };
    const cache = path.join(dir, 'cache');
    try {
      await catalog.createNamespace(ns);
      const table = new Table(catalog, await catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
      for (const seed of [1, 2]) {
        const rows = [...generateEvents({ count: 400, seed, startMs: Date.UTC(2026, 10, 1) })].map((e) => ({ ...e, channel: null, cost: null }));
        await table.append([rowsToRecordBatch(campaignEventsSchema, rows)]);
      }
      const first: Snapshot = [...table.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber)[0]!;
      const props = serviceCatalogsConfig(`sql-${suffix}`).rest!;
      const { uri, type: _type, ...properties } = props;
      const name = `${ns[0]}.campaign_events`;

      for (const snapshotId of [undefined, first.snapshotId]) {
        const fetched: number[] = [];
        const session = await SqlSession.open({ catalog, snapshotId, cacheDir: cache, onFetch: (_t, done) => fetched.push(done) });
        try {
          const [r] = await session.query(`SELECT * FROM ${name}`);
          const ours = canonicalRows(campaignEventsSchema, r!.values.map((row) => Object.fromEntries(r!.columns.map((c, i) => [c.name, fromJson(c.type, row[i])]))));
          expect(ours.length).toBe(snapshotId === undefined ? 800 : 400);
          expect(ours).toEqual(await readWithPyIcebergRest({ uri: uri!, table: name, properties, snapshotId }));
        } finally {
          session.close();
        }
        expect(fetched.at(-1)).toBeGreaterThan(0); // the progress bar's count of fetched files
      }
      // Each file once, whichever snapshot needed it first (the first snapshot's files are the current one's too).
      const cached = readdirSync(cache, { recursive: true }).filter((f) => String(f).endsWith('.parquet')).length;
      expect(cached).toBe((await table.planFiles()).files.length);
    } finally {
      await catalog.dropTable(id, { purge: true }).catch(() => {});
      await catalog.dropNamespace(ns).catch(() => {});
      await catalog.close();
    }
  }, 120_000);
});

/** The session's exact JSON values back in our in-memory representation (timestamps as micros). */
function fromJson(type: string, v: unknown): unknown {
  if (v === null) return null;
  if (type === 'TIMESTAMP WITH TIME ZONE') {
    const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{6})Z$/.exec(String(v))!;
    return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(m[2]!);
  }
  return v;
}
