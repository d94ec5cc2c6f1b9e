import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  planPartitionChange, planSchemaChange, T, Table, type PartitionChange, type SchemaChange,
} from '../../iceberg/index.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { rebuildMetrics, runMetrics, type MetricsJobOptions } from '../../sql/campaign-metrics-job.ts';
import { expectedMetrics } from '../support/campaign-metrics-oracle.ts';
import { IngestedEvents, NAMESPACE, chunks, decodeMetricsLine, diffMetrics, readMetricsWithPyIceberg, tableId } from '../support/campaign-metrics-scenarios.ts';
import { type Warehouse, localPath, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata, readDetailedWithDuckDB, readDetailedWithPyIceberg } from './readers.ts';

/**
 * campaign_events evolving under a running pipeline: ingest keeps filling it through renames, added
 * columns and a new partition spec, the metrics job keeps matching its columns by field id, and what
 * PyIceberg (and DuckDB) read back equals what went in (the metrics: the oracle's rows).
 */

const DAY = Date.UTC(2026, 10, 3);
const HOUR = 3_600_000;

let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('evolved-events');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

const alterSchema = (t: Table, c: SchemaChange) => t.alter((m) => planSchemaChange(m, c));
const alterSpec = (t: Table, c: PartitionChange) => t.alter((m) => planPartitionChange(m, c));

describe('the metrics job on a campaign_events with renamed columns', () => {
  it('matches columns by field id: metrics over files from before and after the renames equal the oracle', async () => {
    const events = await IngestedEvents.create(wh, 'events_renamed');
    const metricsId = tableId('metrics_renamed');
    const opts: MetricsJobOptions = { catalog: wh.catalog, events: events.id, metrics: metricsId, window: '5m', dimensions: ['country', 'channel'] };
    const messages = [...generateMessages({ campaigns: 4, count: 900, seed: 5, startMs: DAY + 10 * HOUR, spanMs: 3 * HOUR })];
    const [first, second, third] = chunks(messages, 3);
    await events.ingest(first!);
    await runMetrics(opts);

    // The columns the SQL groups, sums and windows by get new names; their ids stay.
    await alterSchema(events.table, { kind: 'rename-column', name: 'country', newName: 'country_code' });
    await alterSchema(events.table, { kind: 'rename-column', name: 'revenue', newName: 'revenue_eur' });
    await alterSchema(events.table, { kind: 'rename-column', name: 'event_time', newName: 'occurred_at' });
    await events.ingest(second!);
    const incremental = await runMetrics(opts);
    expect(incremental.mode).toBe('incremental');
    await events.ingest(third!);
    await runMetrics(opts);

    const oracle = expectedMetrics(events.commits, { windowSeconds: 300, dimensions: ['country', 'channel'] });
    expect(oracle.length).toBeGreaterThan(50);
    expect(diffMetrics(oracle, (await readMetricsWithPyIceberg(wh, metricsId)).rows)).toEqual([]);
    // A rebuild of everything reads every file through the renamed columns alike.
    await rebuildMetrics({ ...opts, fromMs: DAY, toMs: DAY + 24 * HOUR });
    expect(diffMetrics(oracle, (await readMetricsWithPyIceberg(wh, metricsId)).rows)).toEqual([]);

    // Ingest filled the renamed columns in the new files: PyIceberg counts no nulls where events had values.
    const read = await readDetailedWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: events.qualifiedName });
    const rows = read.rows.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.filter((r) => r.occurred_at === null || r.revenue_eur === null)).toEqual([]);
    expect(rows.filter((r) => r.country_code !== null).length).toBeGreaterThan(rows.length / 2);
  });
});

describe('the metrics job writing a campaign_metrics with renamed columns', () => {
  it('writes by field id: after renames (with tables alter\'s planner) the rows PyIceberg reads read as before, and new windows equal the oracle', async () => {
    const events = await IngestedEvents.create(wh, 'events_for_renamed_metrics');
    const metricsId = tableId('metrics_renamed_columns');
    const opts: MetricsJobOptions = { catalog: wh.catalog, events: events.id, metrics: metricsId, window: '5m', dimensions: ['country'] };
    const messages = [...generateMessages({ campaigns: 3, count: 600, seed: 7, startMs: DAY + 10 * HOUR, spanMs: 2 * HOUR })];
    const [first, second] = chunks(messages, 2);
    await events.ingest(first!);
    await runMetrics(opts);
    const before = (await readMetricsWithPyIceberg(wh, metricsId)).rows;

    // The window, a count, a sum and the dimension the job writes get new names; their ids stay.
    const renames: Record<string, string> = { window_start: 'window_begins', clicks: 'click_count', revenue: 'revenue_eur', country: 'country_code' };
    const metrics = new Table(wh.catalog, await wh.catalog.loadTable(metricsId));
    for (const [name, newName] of Object.entries(renames)) await alterSchema(metrics, { kind: 'rename-column', name, newName });
    const back = Object.fromEntries(Object.entries(renames).map(([a, b]) => [b, a]));
    const readBack = async () => (await readDetailedWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: `${NAMESPACE.join('.')}.${metricsId.name}` }))
      .rows.map((line) => {
        const o = JSON.parse(line) as Record<string, unknown>;
        expect(Object.keys(o)).toEqual(expect.arrayContaining(Object.values(renames)));
        return decodeMetricsLine(JSON.stringify(Object.fromEntries(Object.entries(o).map(([k, v]) => [back[k] ?? k, v]))));
      });
    // Nothing new: the job commits nothing, and PyIceberg reads the rows of before under the new names.
    expect((await runMetrics(opts)).mode).toBe('noop');
    expect(diffMetrics(before, await readBack())).toEqual([]);
    // New events: the windows they touch are recomputed and written into the renamed columns by id.
    await events.ingest(second!);
    expect((await runMetrics(opts)).mode).toBe('incremental');
    const oracle = expectedMetrics(events.commits, { windowSeconds: 300, dimensions: ['country'] });
    expect(diffMetrics(oracle, await readBack())).toEqual([]);
  });
});

describe('ingest into an evolving campaign_events', () => {
  it('fills an added column for the events that carry its key; day -> hour partitions the new files by hour', async () => {
    const events = await IngestedEvents.create(wh, 'events_grown');
    const ev = (id: string, h: number, extra: Record<string, unknown> = {}) => ({
      event_id: id, user_id: `u-${id}`, campaign_id: 'c1', event_type: 'impression', timestamp: new Date(DAY + h * HOUR).toISOString(), ...extra,
    });
    // Apps send campaign_name before the table has the column: nothing lands, nothing is rejected.
    await events.ingest([ev('a1', 1, { campaign_name: 'Early' }), ev('a2', 2)]);
    await alterSchema(events.table, { kind: 'add-column', name: 'campaign_name', type: T.string(), after: 'campaign_id' });
    await alterSchema(events.table, { kind: 'add-column', name: 'bid_micros', type: T.long() });
    await alterSpec(events.table, { kind: 'replace-partition-field', field: 'event_time_day', term: 'hour(event_time)' });
    await events.ingest([
      ev('b1', 3, { campaign_name: 'Winter', bid_micros: 1500 }), ev('b2', 4),
      ev('b3', 5, { campaign_name: 'Ünïcode', bid_micros: null }),
    ]);

    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: events.qualifiedName };
    const py = await readDetailedWithPyIceberg(ref);
    const got = py.rows.map((l) => JSON.parse(l) as Record<string, unknown>);
    const picked = got.map((r) => [r.event_id, r.campaign_name, r.bid_micros]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(picked).toEqual([['a1', null, null], ['a2', null, null], ['b1', 'Winter', '1500'], ['b2', null, null], ['b3', 'Ünïcode', null]]);
    const duck = await readDetailedWithDuckDB({ metadata: localPath(events.table.metadataLocation) });
    expect(duck.rows).toEqual(py.rows);

    const md = await pyicebergMetadata(ref);
    expect(md.spec.fields.map((f) => f.name)).toEqual(['event_type', 'event_time_hour']);
    expect(new Set(md.data_files.map((f) => f.spec_id))).toEqual(new Set([0, 1]));
    for (const f of md.data_files) {
      expect(Object.keys(f.partition).sort()).toEqual(f.spec_id === 0 ? ['event_time_day', 'event_type'] : ['event_time_hour', 'event_type']);
    }
  });
});
