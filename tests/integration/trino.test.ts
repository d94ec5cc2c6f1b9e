import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RestCatalog, createRestCatalog } from '../../catalog/rest-catalog.ts';
import { rowsToRecordBatch, Schema, Table, type TableIdentifier } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { campaignMetricsSchema } from '../../domain/campaign-metrics-table.ts';
import { generateEvents } from '../../pipeline/event-generator.ts';
import { runMetrics } from '../../sql/campaign-metrics-job.ts';
import { canonicalToValue } from '../interop/canonical.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readDetailedWithDuckDB, readDetailedWithPyIcebergRest, type ReadResult } from '../interop/readers.ts';
import { requireS3Settings } from '../support/s3-settings.ts';
import { readCanonicalWithTrino, requireTrino, trinoTable } from '../support/trino-reads.ts';

/**
 * Trino, the production route's engine, reads what our writer commits: tables written through Apache
 * Iceberg's REST server onto MinIO (campaign_events as an older deployment has it, created before channel
 * and cost were added and evolved since, with its day(event_time) + identity(event_type) partitions; and the
 * campaign_metrics the DuckDB job materializes from it) come back from Trino's Iceberg connector row for row
 * as PyIceberg reads them, and a commit is visible to Trino's very next query.
 */
const REST_URI = process.env.LAKEHOUSE_REST_URI;
if (!REST_URI) {
  throw new Error('LAKEHOUSE_REST_URI is not set: the Trino tests write through the Iceberg REST server. Start it with `infra/services.sh up trino` and export what .cache/services/services.env says.');
}
const s3 = requireS3Settings();
const trino = requireTrino();

const ns = [`trino_${randomBytes(4).toString('hex')}`];
const EVENTS: TableIdentifier = { namespace: ns, name: 'campaign_events' };
const METRICS: TableIdentifier = { namespace: ns, name: 'campaign_metrics' };
const metricsSchema = campaignMetricsSchema();
/** campaign_events as first released: ids 1..10, before channel (11) and cost (12) were added. */
const ORIGINAL_EVENTS_SCHEMA = new Schema(campaignEventsSchema.fields.filter((f) => f.id <= 10));
const CHANNELS = ['search', 'social', 'display', null];
const START_MS = Date.UTC(2026, 10, 1);

let catalog: RestCatalog;
let dir: string;

function eventRows(seed: number, count: number, processedAtMicros: bigint, evolved: boolean): Record<string, unknown>[] {
  return [...generateEvents({ count, seed, startMs: START_MS, spanMs: 3 * 24 * 3600_000, campaigns: 8 })].map((e, i) => ({
    ...e,
    processed_at: processedAtMicros + BigInt(i),
    ...(evolved ? { channel: CHANNELS[i % CHANNELS.length], cost: i % 5 === 0 ? null : (i % 37) * 0.05 } : {}),
  }));
}

async function eventsTable(): Promise<Table> {
  return new Table(catalog, await catalog.loadTable(EVENTS));
}

/** PyIceberg's read of a table as set up in beforeAll, made once per table: each read starts a Python process. */
const reads = new Map<string, Promise<ReadResult>>();
function pyiceberg(name: string): Promise<ReadResult> {
  if (!reads.has(name)) reads.set(name, readDetailedWithPyIcebergRest({ uri: REST_URI!, table: [...ns, name].join('.'), properties: s3.properties }));
  return reads.get(name)!;
}

/** PyIceberg's canonical rows decoded back into lakehouse values, for aggregates computed here. */
function decode(schema: Schema, read: ReadResult): Record<string, unknown>[] {
  return read.rows.map((line) => {
    const c = JSON.parse(line) as Record<string, never>;
    return Object.fromEntries(schema.fields.map((f) => [f.name, canonicalToValue(f.type, c[f.name], f.name)]));
  });
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-trino-'));
  catalog = await createRestCatalog('rest', { uri: REST_URI, ...s3.properties });
  await catalog.createNamespace(ns);
  const created = await catalog.createTable(EVENTS, { schema: ORIGINAL_EVENTS_SCHEMA, partitionSpec: campaignEventsSpec });
  await new Table(catalog, created).append([rowsToRecordBatch(ORIGINAL_EVENTS_SCHEMA, eventRows(1, 1200, 1_000_000n, false))]);
  // The evolution an older deployment goes through: channel and cost added as optional columns.
  await catalog.commitTable(EVENTS, [{ type: 'assert-table-uuid', uuid: created.metadata.tableUuid }], [
    { action: 'add-schema', schema: new Schema(campaignEventsSchema.fields, 1), lastColumnId: 12 },
    { action: 'set-current-schema', schemaId: -1 },
  ]);
  await (await eventsTable()).append([rowsToRecordBatch(campaignEventsSchema, eventRows(2, 800, 2_000_000n, true))]);
  await runMetrics({ catalog, events: EVENTS, metrics: METRICS, cacheDir: path.join(dir, 'cache') });
  await ensureVenv();
}, VENV_TIMEOUT_MS);

afterAll(async () => {
  if (catalog) {
    for (const id of [METRICS, EVENTS]) await catalog.dropTable(id, { purge: true }).catch(() => {});
    await catalog.dropNamespace(ns).catch(() => {});
    await catalog.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Trino reads the tables our writer commits through the REST catalog', () => {
  it('campaign_events, evolved after its first files, reads row for row as PyIceberg reads it (timestamps to the microsecond, nulls in the added columns)', async () => {
    const expected = await pyiceberg('campaign_events');
    expect(expected.count).toBe(2000);
    const rows = await readCanonicalWithTrino(trino, campaignEventsSchema, ns, 'campaign_events');
    expect(rows).toEqual(expected.rows);
  });

  it('campaign_metrics reads row for row as PyIceberg reads it', async () => {
    const expected = await pyiceberg('campaign_metrics');
    expect(expected.count).toBeGreaterThan(0);
    expect(await readCanonicalWithTrino(trino, metricsSchema, ns, 'campaign_metrics')).toEqual(expected.rows);
  });

  it("campaign_metrics reads the same through Trino as through the DuckDB route (iceberg_scan of the catalog's current metadata file)", async () => {
    const { metadataLocation } = await catalog.loadTable(METRICS);
    const duck = await readDetailedWithDuckDB({ metadata: metadataLocation, properties: s3.properties });
    expect(duck.count).toBeGreaterThan(0);
    expect(await readCanonicalWithTrino(trino, metricsSchema, ns, 'campaign_metrics')).toEqual(duck.rows);
  });

  it("the dashboards' aggregates per campaign (counts, revenue, first and last window) equal the same sums over PyIceberg's rows", async () => {
    const { rows } = await trino.query(
      `SELECT campaign_id, count(*) AS windows, sum(impressions) AS impressions, sum(clicks) AS clicks, sum(conversions) AS conversions,
              sum(revenue) AS revenue, min(window_start) AS first_window, max(window_start) AS last_window
       FROM ${trinoTable(ns, 'campaign_metrics')} GROUP BY campaign_id ORDER BY campaign_id`,
    );
    const expected = new Map<string, { windows: bigint; impressions: bigint; clicks: bigint; conversions: bigint; revenue: number; first: bigint; last: bigint }>();
    for (const r of decode(metricsSchema, await pyiceberg('campaign_metrics'))) {
      const e = expected.get(r.campaign_id as string) ?? { windows: 0n, impressions: 0n, clicks: 0n, conversions: 0n, revenue: 0, first: r.window_start as bigint, last: r.window_start as bigint };
      e.windows += 1n;
      e.impressions += r.impressions as bigint;
      e.clicks += r.clicks as bigint;
      e.conversions += r.conversions as bigint;
      e.revenue += r.revenue as number;
      if ((r.window_start as bigint) < e.first) e.first = r.window_start as bigint;
      if ((r.window_start as bigint) > e.last) e.last = r.window_start as bigint;
      expected.set(r.campaign_id as string, e);
    }
    expect(rows.map((r) => r.campaign_id)).toEqual([...expected.keys()].sort());
    for (const r of rows) {
      const e = expected.get(r.campaign_id as string)!;
      expect({ ...r, revenue: undefined }).toEqual({
        campaign_id: r.campaign_id, windows: e.windows, impressions: e.impressions, clicks: e.clicks, conversions: e.conversions,
        revenue: undefined, first_window: e.first, last_window: e.last,
      });
      // Sums of doubles in another order differ in the last bits.
      expect(close(r.revenue as number, e.revenue), `revenue of ${String(r.campaign_id)}: ${String(r.revenue)} vs ${e.revenue}`).toBe(true);
    }
  });

  it('sees our partitions (day of event_time, event_type) with their row counts, and a filter on them returns the rows PyIceberg returns', async () => {
    const events = decode(campaignEventsSchema, await pyiceberg('campaign_events'));
    const counts = new Map<string, number>();
    for (const e of events) {
      const day = new Date(Number((e.event_time as bigint) / 1000n)).toISOString().slice(0, 10);
      const key = `${day} ${String(e.event_type)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const { rows } = await trino.query(
      `SELECT CAST(partition.event_time_day AS varchar) AS day, partition.event_type AS event_type, record_count
       FROM ${trinoTable(ns, 'campaign_events$partitions')}`,
    );
    const seen = new Map(rows.map((r) => [`${String(r.day)} ${String(r.event_type)}`, Number(r.record_count)]));
    expect(seen).toEqual(counts);

    const from = BigInt(START_MS + 24 * 3600_000) * 1000n;
    const to = from + 24n * 3600_000_000n;
    const filtered = await trino.query(
      `SELECT count(*) AS n, min(event_time) AS first, max(event_time) AS last FROM ${trinoTable(ns, 'campaign_events')}
       WHERE event_type = 'click' AND event_time >= from_unixtime(${Number(from) / 1e6}) AND event_time < from_unixtime(${Number(to) / 1e6})`,
    );
    const clicks = events.filter((e) => e.event_type === 'click' && (e.event_time as bigint) >= from && (e.event_time as bigint) < to).map((e) => e.event_time as bigint);
    expect(clicks.length).toBeGreaterThan(0);
    expect(filtered.rows[0]).toEqual({
      n: BigInt(clicks.length),
      first: clicks.reduce((a, b) => (b < a ? b : a)),
      last: clicks.reduce((a, b) => (b > a ? b : a)),
    });
  });

  it('the query right after our commit sees the new snapshot: an append to campaign_events, then the metrics overwrite', async () => {
    const events = await eventsTable();
    const appended = await events.append([rowsToRecordBatch(campaignEventsSchema, eventRows(3, 300, 3_000_000n, true))]);
    const [count, ref] = await Promise.all([
      trino.query(`SELECT count(*) AS n FROM ${trinoTable(ns, 'campaign_events')}`),
      trino.query(`SELECT snapshot_id FROM ${trinoTable(ns, 'campaign_events$refs')} WHERE name = 'main'`),
    ]);
    expect(count.rows).toEqual([{ n: 2300n }]);
    expect(ref.rows).toEqual([{ snapshot_id: appended.snapshotId }]);

    const run = await runMetrics({ catalog, events: EVENTS, metrics: METRICS, cacheDir: path.join(dir, 'cache') });
    expect(run.snapshotId).not.toBeNull();
    const { rows } = await trino.query(
      `SELECT sum(impressions) + sum(clicks) + sum(conversions) AS events,
              (SELECT snapshot_id FROM ${trinoTable(ns, 'campaign_metrics$refs')} WHERE name = 'main') AS snapshot_id
       FROM ${trinoTable(ns, 'campaign_metrics')}`,
    );
    // Each event_id counts once in campaign_metrics, and the three seeds' ids are distinct.
    expect(rows).toEqual([{ events: 2300n, snapshot_id: run.snapshotId }]);
  });
});
