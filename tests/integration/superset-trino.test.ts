/**
 * The Trino route of the dashboards: one real Superset (started by `lakehouse dashboard up`), the same
 * bundle, the same Iceberg tables on the REST catalog + MinIO, read first through DuckDB inside Superset
 * and then through the running Trino (`dashboard up --database-uri trino://...`). Every chart of both
 * dashboards must return the same rows through Superset's API on both routes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalChartRows } from '../support/dashboard-oracle.ts';
import { requireS3Settings } from '../support/s3-settings.ts';
import { SUPERSET_START_TIMEOUT_MS, SupersetClient, type UpInfo, dropDashboardNamespace, freePort, lakehouse, lakehouseOk, passwords, restCatalogFlags } from '../support/superset-kit.ts';
import { requireTrino } from '../support/trino-reads.ts';

const REST_URI = process.env.LAKEHOUSE_REST_URI;
const TRINO_URI = process.env.LAKEHOUSE_TRINO_URI;
if (!REST_URI || !TRINO_URI) {
  throw new Error('LAKEHOUSE_REST_URI and LAKEHOUSE_TRINO_URI must be set: this test reads the REST catalog\'s tables through DuckDB and through Trino. Start them with `infra/services.sh up trino` and export what .cache/services/services.env says.');
}
const s3 = requireS3Settings();
const trino = requireTrino();
const ns = `superset_trino_${randomBytes(4).toString('hex')}`;
const trinoDatabaseUri = `trino://lakehouse@${new URL(TRINO_URI).host}/iceberg`;
/** Moves with the clock: compared within the time between the two reads instead of exactly. */
const FRESHNESS = 'Freshness (s)';
/** Doubles: SUM over doubles in another order may differ in the last bits; 12 significant digits are compared. */
const DIGITS = 12;

let dir: string;
let rest: string[];
let tables: string[];
let port: number;
let info: UpInfo;

type ChartRows = Map<string, Record<string, unknown>[]>;

/** Every chart of both dashboards through Superset's API, by "dashboard / chart" name. */
async function allCharts(client: SupersetClient): Promise<ChartRows> {
  const out: ChartRows = new Map();
  for (const d of info.dashboards) {
    for (const [name, id] of await client.charts(d.id)) {
      const result = await client.chartData(id);
      expect(result.error ?? null, `${d.title} / ${name}`).toBeNull();
      out.set(`${d.title} / ${name}`, result.data);
    }
  }
  return out;
}

async function up(extra: string[]): Promise<UpInfo & { database_uri: string }> {
  return JSON.parse(await lakehouseOk([...rest, '--json', 'dashboard', 'up', '--port', String(port), '--state-dir', path.join(dir, 'state'), ...tables, ...extra], { cwd: dir })) as UpInfo & { database_uri: string };
}

async function login(): Promise<SupersetClient> {
  const client = new SupersetClient(info.url);
  expect((await client.login('admin', passwords(info).admin)).status).toBe(200);
  return client;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lakehouse-superset-trino-'));
  rest = await restCatalogFlags(dir, REST_URI, s3.properties);
  tables = ['--table', `${ns}.campaign_metrics`, '--events', `${ns}.campaign_events`];
  // Two ingest commits with invalid, late and re-sent events, so the health charts have several minutes,
  // dead-letter reasons and duplicates to show; metrics over three dimensions in 1-minute windows.
  for (const [seed, n] of [[21, 2500], [22, 1500]] as const) {
    const file = path.join(dir, `events-${seed}.ndjson`);
    await lakehouseOk(['produce', '--to', `file:${file}`, '-n', String(n), '--seed', String(seed), '--campaigns', '4',
      '--invalid-rate', '0.05', '--late-rate', '0.1', '--duplicate-rate', '0.05'], { cwd: dir });
    await lakehouseOk([...rest, 'ingest', '--source', `file:${file}`, '--create-table', '--table', `${ns}.campaign_events`,
      '--dead-letter-file', path.join(dir, 'dead-letters.ndjson')], { cwd: dir });
  }
  await lakehouseOk([...rest, 'metrics', 'run', '--events', `${ns}.campaign_events`, '--table', `${ns}.campaign_metrics`,
    '--dimensions', 'platform,country,channel', '--window', '1m'], { cwd: dir });
  port = await freePort();
  info = await up([]);
}, SUPERSET_START_TIMEOUT_MS);

afterAll(async () => {
  if (info) await lakehouse([...rest, 'dashboard', 'down', '--state-dir', path.join(dir, 'state')], { cwd: dir });
  if (rest) await dropDashboardNamespace(rest, ns, dir);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the dashboards through Trino', () => {
  it('every chart of both dashboards returns the same rows through Trino as through DuckDB, over the same REST + MinIO tables', async () => {
    const client = await login();
    const t0 = Date.now();
    const duck = await allCharts(client);

    const viaTrino = await up(['--database-uri', trinoDatabaseUri]);
    expect(viaTrino.pid).toBe(info.pid);
    expect(viaTrino.database_uri).toBe(trinoDatabaseUri);
    const fromTrino = await allCharts(client);
    const t3 = Date.now();

    expect([...fromTrino.keys()].sort()).toEqual([...duck.keys()].sort());
    expect(duck.size).toBe(15);
    for (const [chart, rows] of duck) {
      if (chart.endsWith(FRESHNESS)) continue;
      // No chart may pass by being empty on both routes: every one has data in these tables.
      expect(rows.length, chart).toBeGreaterThan(0);
      expect(canonicalChartRows(fromTrino.get(chart)!, DIGITS), chart).toEqual(canonicalChartRows(rows, DIGITS));
    }
    // Freshness is now minus the newest event: the two reads differ by at most the time between them.
    const freshness = (rows: ChartRows) => [...rows].find(([k]) => k.endsWith(FRESHNESS))![1][0]!.freshness_seconds as number;
    expect(Math.abs(freshness(fromTrino) - freshness(duck))).toBeLessThanOrEqual((t3 - t0) / 1000 + 1);

    // Trino ran the chart queries: its own query history names the namespace's tables.
    const { rows } = await trino.query(`SELECT count(*) AS n FROM system.runtime.queries WHERE query LIKE '%${ns}%' AND "user" = 'lakehouse' AND state = 'FINISHED'`);
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(15);
  });

  it('the datasets stay readable: the Trino route answers with the tables\' current snapshot after a new commit', async () => {
    const client = await login();
    const ids = await client.charts(info.dashboards.find((d) => d.title === 'Pipeline health')!.id);
    const before = (await client.chartData(ids.get('Duplicates dropped')!)).data;
    const file = path.join(dir, 'events-23.ndjson');
    await lakehouseOk(['produce', '--to', `file:${file}`, '-n', '500', '--seed', '23', '--campaigns', '4', '--duplicate-rate', '0.2'], { cwd: dir });
    await lakehouseOk([...rest, 'ingest', '--source', `file:${file}`, '--table', `${ns}.campaign_events`], { cwd: dir });
    const after = (await client.chartData(ids.get('Duplicates dropped')!)).data;
    expect(Number(after[0]!.duplicates)).toBeGreaterThan(Number(before[0]!.duplicates));
  });

  it('an unreachable Trino is refused with a sentence naming it, and the running dashboard keeps its database', async () => {
    const closed = await freePort();
    const r = await lakehouse([...rest, 'dashboard', 'up', '--port', String(port), '--state-dir', path.join(dir, 'state'), ...tables,
      '--database-uri', `trino://lakehouse@127.0.0.1:${closed}/iceberg`], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Trino at 127\\.0\\.0\\.1:${closed} did not answer the dashboard's column lookup .*; start it \\(infra/services\\.sh up trino\\) or fix --database-uri`));
    const status = JSON.parse(await lakehouseOk([...rest, '--json', 'dashboard', 'status', '--state-dir', path.join(dir, 'state')], { cwd: dir })) as { database_uri: string };
    expect(status.database_uri).toBe(trinoDatabaseUri);
  });
});
