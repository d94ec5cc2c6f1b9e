import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { LakehouseError } from '../../core/errors.ts';
import { Schema, T, Table, type TableIdentifier, rowsToRecordBatch } from '../../iceberg/index.ts';
import { SOURCE_SNAPSHOT_KEY, SOURCE_TABLE_PROPERTY } from '../../domain/campaign-metrics-table.ts';
import { createMaintenanceMetrics } from '../../maintenance/maintenance-metrics.ts';
import { type MaintenanceStep, maintainOnce, maintenanceSteps } from '../../maintenance/maintain.ts';
import { expireKeepingWriters } from '../../maintenance/retention.ts';

/** The maintenance layer on a local SQLite warehouse: what expiry keeps for the metrics job, and how a pass runs its steps. */
const schema = new Schema([T.field(1, 'id', T.long(), true)]);
let dir: string;
let catalog: SqlCatalog;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-maintenance-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(['ns']);
});
afterEach(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

async function table(name: string, properties: Record<string, string> = {}): Promise<Table> {
  const id: TableIdentifier = { namespace: ['ns'], name };
  return new Table(catalog, await catalog.createTable(id, { schema, properties }));
}
const append = (t: Table, id: number, summary: Record<string, string> = {}) => t.append([rowsToRecordBatch(schema, [{ id: BigInt(id) }])], { summary });

describe('expiry keeps what the metrics job reads next', () => {
  it('the events snapshot a metrics table is current with survives, with every snapshot after it', async () => {
    const events = await table('events');
    await append(events, 1);
    const recorded = await append(events, 2);
    await append(events, 3);
    await append(events, 4);
    const metrics = await table('events_metrics', { [SOURCE_TABLE_PROPERTY]: 'ns.events' });
    await append(metrics, 1, { [SOURCE_SNAPSHOT_KEY]: recorded.snapshotId.toString() });

    const r = await expireKeepingWriters(catalog, events, { olderThanMs: Date.now() + 60_000, retainLast: 1 });
    expect(r.expiredSnapshotIds).toHaveLength(1);
    expect(r.retention.metricsReaders).toEqual([{ table: 'ns.events_metrics', sourceSnapshotId: recorded.snapshotId.toString() }]);
    await events.refresh();
    expect(events.metadata.snapshots.map((s) => s.snapshotId)).toContain(recorded.snapshotId);
    expect(events.metadata.snapshots).toHaveLength(3);
  });

  it('a metrics table keeps its newest snapshot recording the events snapshot, with every snapshot after it', async () => {
    const metrics = await table('own_metrics', { [SOURCE_TABLE_PROPERTY]: 'ns.events' });
    await append(metrics, 1, { [SOURCE_SNAPSHOT_KEY]: '1' });
    const recorded = await append(metrics, 2, { [SOURCE_SNAPSHOT_KEY]: '2' });
    await append(metrics, 3);
    await append(metrics, 4);
    const r = await expireKeepingWriters(catalog, metrics, { olderThanMs: Date.now() + 60_000, retainLast: 1 });
    expect(r.expiredSnapshotIds).toHaveLength(1);
    await metrics.refresh();
    expect(metrics.metadata.snapshots.map((s) => s.snapshotId)).toContain(recorded.snapshotId);
  });

  it('without a metrics table only the usual rules apply', async () => {
    const events = await table('alone');
    for (let i = 0; i < 4; i++) await append(events, i);
    const r = await expireKeepingWriters(catalog, events, { olderThanMs: Date.now() + 60_000, retainLast: 1 });
    expect(r.expiredSnapshotIds).toHaveLength(3);
  });
});

describe('a maintenance pass', () => {
  it('runs every step on every table in order; a failing step is recorded and the others still run', async () => {
    const a = await table('a');
    const b = await table('b');
    for (let i = 0; i < 3; i++) { await append(a, i); await append(b, i); }
    const seen: string[] = [];
    const broken: MaintenanceStep = { name: 'broken', run: async (ctx) => { seen.push(`broken ${ctx.table.name}`); throw new LakehouseError('IO_ERROR', 'disk on fire'); } };
    const noting: MaintenanceStep = { name: 'note', run: async (ctx) => { seen.push(`note ${ctx.table.name}`); return {}; } };
    const metrics = createMaintenanceMetrics();
    const pass = await maintainOnce({ catalog, tables: [], steps: [broken, ...maintenanceSteps(), noting], metrics });
    expect(seen).toEqual(['broken ns.a', 'note ns.a', 'broken ns.b', 'note ns.b']);
    expect(pass.steps.map((s) => `${s.table} ${s.step} ${s.outcome}`)).toEqual([
      'ns.a broken failed', 'ns.a compact ok', 'ns.a rewrite-manifests ok', 'ns.a expire ok', 'ns.a remove-event-index ok', 'ns.a remove-orphans ok', 'ns.a note ok',
      'ns.b broken failed', 'ns.b compact ok', 'ns.b rewrite-manifests ok', 'ns.b expire ok', 'ns.b remove-event-index ok', 'ns.b remove-orphans ok', 'ns.b note ok',
    ]);
    expect(pass.steps[0]!.error).toEqual({ code: 'IO_ERROR', message: 'disk on fire' });
    expect(pass.steps[1]!.report).toMatchObject({ filesRemoved: 3, filesAdded: 1 });
    expect(await metrics.steps.get({ step: 'broken', table: 'ns.a', outcome: 'failed' })).toBe(1);
    expect(await metrics.filesCompacted.get({ table: 'ns.b' })).toBe(3);
    expect(await metrics.dataFiles.get({ table: 'ns.a' })).toBe(1);
  });

  it('a stop before the pass skips every step and changes nothing', async () => {
    const a = await table('stopped');
    for (let i = 0; i < 3; i++) await append(a, i);
    const abort = new AbortController();
    abort.abort();
    const pass = await maintainOnce({ catalog, tables: [a.identifier], steps: maintenanceSteps(), signal: abort.signal });
    expect(pass.stopped).toBe(true);
    expect(pass.steps.map((s) => s.outcome)).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
    await a.refresh();
    expect(a.metadata.snapshots).toHaveLength(3);
  });

  it('--dry-run plans the steps and commits nothing', async () => {
    const a = await table('dry');
    for (let i = 0; i < 3; i++) await append(a, i);
    const pass = await maintainOnce({ catalog, tables: [a.identifier], steps: maintenanceSteps({ expire: { olderThanMs: Date.now() + 60_000, retainLast: 1 } }), dryRun: true });
    expect(pass.steps[0]!.report).toMatchObject({ groupsPlanned: 1, filesPlanned: 3, filesRemoved: 0 });
    expect(pass.steps[1]!.report).toMatchObject({ manifestsBefore: 3, replaced: 3, created: 1 });
    expect(pass.steps[2]!.report).toMatchObject({ snapshotsExpired: 2 });
    expect(pass.steps[3]!.report).toMatchObject({ metricsTable: false, unused: 0 });
    expect(pass.steps[4]!.report).toMatchObject({ orphans: 0 });
    await a.refresh();
    expect(a.metadata.snapshots).toHaveLength(3);
  });
});
