import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Schema, T } from '../../iceberg/index.ts';
import { canonicalRows } from './canonical.ts';
import { ensureBuilt } from '../support/ensure-built.ts';
import { REPO_ROOT, VENV_TIMEOUT_MS, ensureVenv, readDetailedWithPyIceberg, readWithDuckDB, readWithPyIceberg, sqliteCatalogUri, warehouseUri } from './readers.ts';

const run = promisify(execFile);

/**
 * examples/quickstart.ts is what a Node program that uses lakehouse as a library looks like: it
 * compiles against the published types (dist/*.d.ts through package.json `exports`) and runs against
 * the compiled package, and the table it leaves is what PyIceberg and DuckDB read, row for row.
 */
const EXAMPLE = path.join(REPO_ROOT, 'examples', 'quickstart.ts');
let dir: string;

beforeAll(async () => {
  await Promise.all([ensureVenv(), ensureBuilt()]);
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-example-'));
}, VENV_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/quickstart.ts, the library without the CLI', () => {
  it('type-checks against the published declarations', async () => {
    await run('npx', ['tsc', '-p', 'examples/tsconfig.json'], { cwd: REPO_ROOT });
  }, 120_000);

  it('creates, appends, deletes, scans and expires; PyIceberg and DuckDB read exactly the rows left', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', EXAMPLE, dir], { cwd: REPO_ROOT });
    const steps = Object.fromEntries(stdout.trim().split('\n').map((l) => JSON.parse(l) as { step: string }).map((s) => [s.step, s])) as Record<string, Record<string, unknown>>;
    expect(steps.appended).toMatchObject({ snapshots: 2, records: '5' });
    expect(steps.deleted).toMatchObject({ records: '3' });
    expect(steps.scanned).toMatchObject({ orders: [3, 4] });
    expect(steps.expired).toMatchObject({ snapshots: 1, expired: 2 });

    // The rows the example left, written out here by hand: orders 1, 3 (ada) and 4 (cy); bob's are gone.
    const schema = new Schema([
      T.field(1, 'order_id', T.long(), true), T.field(2, 'customer', T.string(), true),
      T.field(3, 'amount', T.double(), true), T.field(4, 'ordered_at', T.timestamptz(), true),
    ]);
    const nov1 = 1_793_491_200_000_000n; // 2026-11-01T00:00:00Z in µs
    const day = 86_400_000_000n;
    const want = canonicalRows(schema, [
      { order_id: 1n, customer: 'ada', amount: 12.5, ordered_at: nov1 + 1_000_000n },
      { order_id: 3n, customer: 'ada', amount: 7.25, ordered_at: nov1 + day + 3_000_000n },
      { order_id: 4n, customer: 'cy', amount: 99.9, ordered_at: nov1 + day + 4_000_000n },
    ]);
    const ref = { catalogUri: sqliteCatalogUri(path.join(dir, 'catalog.db')), warehouse: warehouseUri(dir), table: 'shop.orders' };
    expect(await readWithPyIceberg(ref)).toEqual(want);
    expect(await readWithDuckDB({ metadata: String(steps.expired!.metadata) })).toEqual(want);
  }, 180_000);
});

describe('examples/campaign-sql.ts, the notebook\'s questions through lakehouse/sql', () => {
  it('answers from the same snapshots PyIceberg reads: row counts now and at the first snapshot, dead letters from the summaries', async () => {
    const project = path.join(dir, 'campaign-sql');
    const bin = path.join(REPO_ROOT, 'bin', 'lakehouse');
    await run('mkdir', ['-p', project]);
    await run(bin, ['demo', '-n', '3000', '--batch-size', '1000'], { cwd: project, env: { ...process.env, LAKEHOUSE_CONFIG: '' } });
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'examples', 'campaign-sql.ts'), project], { cwd: REPO_ROOT, env: { ...process.env, LAKEHOUSE_CONFIG: '' } });
    const steps = Object.fromEntries(stdout.trim().split('\n').map((l) => JSON.parse(l) as { step: string }).map((s) => [s.step, s])) as Record<string, Record<string, unknown>>;

    const ref = (table: string) => ({ catalogUri: sqliteCatalogUri(path.join(project, 'warehouse', 'catalog.db')), warehouse: warehouseUri(path.join(project, 'warehouse')), table });
    const events = await readDetailedWithPyIceberg(ref('lakehouse.campaign_events'));
    const metrics = await readDetailedWithPyIceberg(ref('lakehouse.campaign_metrics'));
    const first = await readDetailedWithPyIceberg({ ...ref('lakehouse.campaign_events'), snapshotId: String(steps['first-snapshot']!.snapshotId) });
    expect(steps.tables).toMatchObject({ tables: ['lakehouse.campaign_events', 'lakehouse.campaign_metrics'] });
    expect(steps.current).toMatchObject({ events: String(events.count), metric_rows: String(metrics.count) });
    expect(steps['first-snapshot']).toMatchObject({ events: String(first.count) });
    expect(first.count).toBeLessThan(events.count);
    const letters = readFileSync(path.join(project, 'warehouse', 'demo', 'dead-letters.ndjson'), 'utf8').trim().split('\n').length;
    expect(steps['dead-letters']).toMatchObject({ commits: 3, deadLettered: letters });
    expect((steps['top-campaigns']!.campaigns as unknown[]).length).toBe(5);
  }, 180_000);
});
