/**
 * The dashboards on a real Apache Superset (installed from PyPI and started by `lakehouse dashboard up`
 * in beforeAll, once for this file) over a local warehouse with a SQLite catalog: chart data through
 * Superset's API against PyIceberg's reading of the same tables, freshness without re-import, the viewer
 * role, CSRF, loopback, the bad-input sentences, and the dashboards in headless Chromium.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { REPO_ROOT, VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadata, readWithPyIceberg, readWithPyIcebergRest, sqliteCatalogUri, warehouseUri } from '../interop/readers.ts';
import { requireS3Settings } from '../support/s3-settings.ts';
import { eventRows, expectSameRows, expectedCampaignCharts, expectedHealthCharts, metricsRows, sumBy } from '../support/dashboard-oracle.ts';
import { type ChartResult, SUPERSET_START_TIMEOUT_MS, SupersetClient, type UpInfo, freePort, lakehouse, lakehouseOk, passwords } from '../support/superset-kit.ts';

let dir: string;
let warehouse: string;
let flags: string[];
let info: UpInfo;
let admin: SupersetClient;
let port: number;
const ARTIFACTS = path.join(REPO_ROOT, '.cache', 'test-artifacts');

const CAMPAIGN_CHARTS = [
  'Impressions, last 15 min', 'Clicks, last 15 min', 'Conversions, last 15 min', 'Revenue, last 15 min', 'CTR %, last 15 min',
  'CTR per campaign (hourly)', 'Revenue by campaign', 'Impressions, clicks, conversions over time', 'CVR per campaign (hourly)',
  'Spend, CPC, CPA, ROAS by campaign',
];

function table(name: string) {
  return { catalogUri: sqliteCatalogUri(path.join(warehouse, 'catalog.db')), warehouse: warehouseUri(warehouse), table: `lakehouse.${name}` };
}

/** Generates events (invalid, late and duplicate ones among them) and ingests them. */
async function ingestBatch(name: string, seed: number, events: number): Promise<void> {
  const file = path.join(dir, `${name}.ndjson`);
  await lakehouseOk([...flags, 'produce', '--to', `file:${file}`, '-n', String(events), '--seed', String(seed), '--campaigns', '4',
    '--invalid-rate', '0.05', '--late-rate', '0.1', '--duplicate-rate', '0.05'], { cwd: dir });
  await lakehouseOk([...flags, 'ingest', '--source', `file:${file}`, '--create-table', '--dead-letter-file', path.join(dir, 'dead-letters.ndjson')], { cwd: dir });
}

async function runMetrics(): Promise<void> {
  await lakehouseOk([...flags, 'metrics', 'run', '--dimensions', 'platform,country,channel', '--window', '1m'], { cwd: dir });
}

async function chartIds(dashboard: string): Promise<Map<string, number>> {
  return admin.charts(info.dashboards.find((d) => d.title === dashboard)!.id);
}

async function expectCampaignChartsMatch(metricLines: string[]): Promise<void> {
  const expected = expectedCampaignCharts(metricsRows(metricLines));
  const ids = await chartIds('Campaign Performance');
  expect([...ids.keys()].sort()).toEqual([...CAMPAIGN_CHARTS].sort());
  for (const [name, rows] of Object.entries(expected)) {
    const got = await admin.chartData(ids.get(name)!);
    expectSameRows(name, got.data, rows);
  }
}

interface AdHocResult { data: Record<string, unknown>[]; query: string; error?: string | null }

/** An ad-hoc query of the campaign_metrics dataset through Superset's chart-data API, as a native filter or Explore sends it. */
async function datasetQuery(query: { columns: string[]; metrics: string[]; filters?: { col: string; op: string; val: unknown }[] }): Promise<AdHocResult> {
  const datasets = await admin.json<{ result: { id: number; table_name: string }[] }>('/api/v1/dataset/?q=(page_size:100)');
  const id = datasets.result.find((d) => d.table_name === 'campaign_metrics')!.id;
  const body = await admin.json<{ result: AdHocResult[] }>('/api/v1/chart/data', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ datasource: { id, type: 'table' }, result_format: 'json', result_type: 'full', queries: [{ filters: [], row_limit: 10000, ...query }] }),
  });
  expect(body.result[0]!.error ?? null).toBeNull();
  return body.result[0]!;
}

/** The chart warmer's lines in superset.log: each names the metadata locations it warmed. */
async function warmLines(): Promise<string[]> {
  const log = await readFile(path.join(info.state_dir, 'superset.log'), 'utf8');
  return log.split('\n').filter((l) => l.includes('chart requests for new snapshots'));
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function expectChartsMatchPyIceberg(): Promise<void> {
  await expectCampaignChartsMatch(await readWithPyIceberg(table('campaign_metrics')));
  const events = eventRows(await readWithPyIceberg(table('campaign_events')));
  const meta = await pyicebergMetadata(table('campaign_events'));
  const health = await chartIds('Pipeline health');
  for (const [name, rows] of Object.entries(expectedHealthCharts(meta.snapshots, events))) {
    expectSameRows(name, (await admin.chartData(health.get(name)!)).data, rows);
  }
}

beforeAll(async () => {
  await ensureVenv();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lakehouse-superset-'));
  warehouse = path.join(dir, 'warehouse');
  await mkdir(warehouse);
  flags = ['--warehouse', warehouse, '--catalog-uri', `sqlite:///${path.join(warehouse, 'catalog.db')}`];
  await ingestBatch('events-1', 7, 3000);
  port = await freePort();
  info = JSON.parse(await lakehouseOk([...flags, '--json', 'dashboard', 'up', '--port', String(port)], { cwd: dir })) as UpInfo;
  admin = new SupersetClient(info.url);
  const login = await admin.login('admin', passwords(info).admin);
  expect(login.status).toBe(200);
}, SUPERSET_START_TIMEOUT_MS + VENV_TIMEOUT_MS);

afterAll(async () => {
  if (info) await lakehouse([...flags, 'dashboard', 'down'], { cwd: dir });
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('lakehouse dashboard on a SQLite catalog', () => {
  it('up prints the URL, the admin user and a 0600 password file that holds no default password', async () => {
    expect(info.url).toBe(`http://127.0.0.1:${port}`);
    expect(info.user).toBe('admin');
    expect((await import('node:fs')).statSync(info.password_file).mode & 0o777).toBe(0o600);
    const p = passwords(info);
    expect(p.admin).not.toBe('admin');
    expect(p.admin.length).toBeGreaterThanOrEqual(20);
    const log = await readFile(path.join(info.state_dir, 'superset.log'), 'utf8');
    expect(log).not.toContain(p.admin);
    expect(log).not.toContain(p.viewer);
  });

  it('before campaign_metrics exists, its charts answer with no rows and no error', async () => {
    const ids = await chartIds('Campaign Performance');
    const revenue = await admin.chartData(ids.get('Revenue by campaign')!);
    expect(revenue.rowcount).toBe(0);
    expect(revenue.error ?? null).toBeNull();
  });

  it('every chart of both dashboards equals the aggregate of a PyIceberg read, with late, duplicate and invalid events and three dimensions', async () => {
    await runMetrics();
    await expectChartsMatchPyIceberg();
  });

  it('new events and a metrics run show up through the API with no re-import and no restart', async () => {
    const ids = await chartIds('Campaign Performance');
    const before = await admin.chartData(ids.get('Revenue by campaign')!);
    // The same snapshot again: Superset's result cache answers, with the same rows.
    const again = await admin.chartData(ids.get('Revenue by campaign')!);
    expect(again).toMatchObject({ is_cached: true, data: before.data });
    const pidBefore = info.pid;
    await ingestBatch('events-2', 8, 1500);
    await runMetrics();
    // A new snapshot is a new cache key: no timeout to wait for. The warmer computes the charts asked for
    // at the last snapshot as soon as the catalog points at the new one: once it says so, they are cached.
    const described = JSON.parse(await lakehouseOk([...flags, '--json', 'tables', 'describe', 'campaign_metrics'], { cwd: dir })) as { metadataLocation: string };
    await waitFor(async () => (await warmLines()).some((l) => l.includes(JSON.stringify(described.metadataLocation))), 'the chart warmer to warm the new snapshot');
    const after = await admin.chartData(ids.get('Revenue by campaign')!);
    expect(after.is_cached).toBe(true);
    expect(after.data).not.toEqual(before.data);
    await expectChartsMatchPyIceberg();
    const status = JSON.parse(await lakehouseOk([...flags, '--json', 'dashboard', 'status'], { cwd: dir })) as { running: boolean; pid: number };
    expect(status).toMatchObject({ running: true, pid: pidBefore });
  });

  it('identical queries at once compute once: the others wait for it and read its result from the cache', async () => {
    const datasets = await admin.json<{ result: { id: number; table_name: string }[] }>('/api/v1/dataset/?q=(page_size:100)');
    const id = datasets.result.find((d) => d.table_name === 'campaign_metrics')!.id;
    // A query nobody asked before (its row limit), so neither the cache nor the warmer has it.
    const body = JSON.stringify({ datasource: { id, type: 'table' }, result_format: 'json', result_type: 'full',
      queries: [{ columns: ['campaign_id', 'platform'], metrics: ['clicks'], filters: [], row_limit: 9973 }] });
    const answers = await Promise.all(Array.from({ length: 4 }, () => admin.json<{ result: ChartResult[] }>('/api/v1/chart/data', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
    })));
    expect(answers.map((a) => a.result[0]!.is_cached ?? false).sort()).toEqual([false, true, true, true]);
    for (const a of answers) expect(a.result[0]!.data).toEqual(answers[0]!.result[0]!.data);
  });

  it('a platform filter reads every row of the table: revenue by campaign for one platform equals PyIceberg\'s rows of that platform', async () => {
    const rows = metricsRows(await readWithPyIceberg(table('campaign_metrics')));
    const platform = rows[0]!.platform!;
    const got = await datasetQuery({ columns: ['campaign_id'], metrics: ['revenue'], filters: [{ col: 'platform', op: 'IN', val: [platform] }] });
    expectSameRows('revenue by campaign, one platform', got.data,
      [...sumBy(rows.filter((r) => r.platform === platform), (r) => r.campaign)].map(([c, s]) => ({ campaign_id: c, revenue: s.revenue })));
    // The unfiltered charts read the per-snapshot rollup without dimensions, a filtered query the table itself.
    expect(got.query).toMatch(/lakehouse\.campaign_metrics\b(?!_rollup)/);
    const revenue = (await chartIds('Campaign Performance')).get('Revenue by campaign')!;
    const sql = await admin.json<{ result: { query: string }[] }>(`/api/v1/chart/${revenue}/data/?type=query`);
    expect(sql.result[0]!.query).toMatch(/lakehouse\.campaign_metrics_rollup\b/);
  });

  it('COUNT, MAX and SELECT * over campaign_metrics in SQL Lab see every row of the table, not the rollup of its sums', async () => {
    const rows = metricsRows(await readWithPyIceberg(table('campaign_metrics')));
    const database = (await admin.json<{ result: { id: number }[] }>('/api/v1/database/')).result[0]!.id;
    const sql = async (text: string) => (await admin.json<{ data: Record<string, unknown>[] }>('/api/v1/sqllab/execute/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ database_id: database, sql: text, runAsync: false }),
    })).data;
    expect(await sql('SELECT COUNT(*) AS n, MAX(impressions) AS m FROM lakehouse.campaign_metrics')).toEqual([{ n: rows.length, m: Math.max(...rows.map((r) => r.impressions)) }]);
    expect((await sql('SELECT * FROM lakehouse.campaign_metrics LIMIT 100000')).length).toBe(rows.length);
  });

  it('a metrics table without dimensions: platform, country and channel read as "all", and every Campaign Performance chart equals PyIceberg\'s read', async () => {
    await lakehouseOk([...flags, 'metrics', 'run', '--table', 'campaign_metrics_plain', '--window', '1m'], { cwd: dir });
    await lakehouseOk([...flags, '--json', 'dashboard', 'up', '--port', String(port), '--table', 'campaign_metrics_plain'], { cwd: dir });
    try {
      const rows = metricsRows(await readWithPyIceberg(table('campaign_metrics_plain')));
      expect(rows[0]!.platform).toBeUndefined();
      const got = await datasetQuery({ columns: ['platform', 'country', 'channel'], metrics: ['revenue'] });
      expectSameRows('revenue by dimensions', got.data, [{ platform: 'all', country: 'all', channel: 'all', revenue: rows.reduce((a, r) => a + r.revenue, 0) }]);
      await expectCampaignChartsMatch(await readWithPyIceberg(table('campaign_metrics_plain')));
    } finally {
      await lakehouseOk([...flags, '--json', 'dashboard', 'up', '--port', String(port)], { cwd: dir });
    }
  });

  it('freshness is now minus the newest committed event_time', async () => {
    const events = eventRows(await readWithPyIceberg(table('campaign_events')));
    const newest = Math.max(...events.map((e) => e.eventTimeMs));
    const ids = await chartIds('Pipeline health');
    const from = Date.now();
    const got = await admin.chartData(ids.get('Freshness (s)')!);
    const to = Date.now();
    const seconds = got.data[0]!.freshness_seconds as number;
    // It reads the clock, so it is never served from the result cache (which holds the snapshot, not the time).
    expect(got.is_cached ?? false).toBe(false);
    expect(seconds).toBeGreaterThanOrEqual((from - newest) / 1000 - 1);
    expect(seconds).toBeLessThanOrEqual((to - newest) / 1000 + 1);
  });

  it('a second up re-imports the bundle and changes nothing', async () => {
    const snapshot = async () => {
      const dashboards = await admin.json<{ result: { id: number; json_metadata: string; position_json: string }[] }>('/api/v1/dashboard/?q=(page_size:100)');
      const out: unknown[] = [];
      for (const d of dashboards.result) {
        const full = await admin.json<{ result: { json_metadata: string; position_json: string; dashboard_title: string } }>(`/api/v1/dashboard/${d.id}`);
        out.push([d.id, full.result.dashboard_title, full.result.json_metadata, full.result.position_json]);
      }
      const charts = await admin.json<{ result: { id: number; slice_name: string; params: string; query_context: string }[] }>(
        '/api/v1/chart/?q=(columns:!(id,slice_name,params,query_context,datasource_id),page_size:100)');
      const datasets = await admin.json<{ result: { id: number }[] }>('/api/v1/dataset/?q=(page_size:100)');
      const detail = [];
      for (const d of datasets.result) {
        const full = await admin.json<{ result: { table_name: string; columns: { column_name: string; type: string }[]; metrics: { metric_name: string; expression: string }[] } }>(`/api/v1/dataset/${d.id}`);
        detail.push([d.id, full.result.table_name, full.result.columns.map((c) => [c.column_name, c.type]), full.result.metrics.map((m) => [m.metric_name, m.expression])]);
      }
      return { out, charts: charts.result.sort((a, b) => a.id - b.id), detail };
    };
    const before = await snapshot();
    const again = JSON.parse(await lakehouseOk([...flags, '--json', 'dashboard', 'up', '--port', String(port)], { cwd: dir })) as UpInfo;
    expect(again.pid).toBe(info.pid);
    expect(await snapshot()).toEqual(before);
  });

  it('the viewer sees both dashboards and their data, but cannot edit them or run SQL', async () => {
    const viewer = new SupersetClient(info.url);
    expect((await viewer.login('viewer', passwords(info).viewer)).status).toBe(200);
    const list = await viewer.json<{ result: { dashboard_title: string }[] }>('/api/v1/dashboard/');
    expect(list.result.map((d) => d.dashboard_title).sort()).toEqual(['Campaign Performance', 'Pipeline health']);
    const ids = await chartIds('Campaign Performance');
    expect((await viewer.chartData(ids.get('Revenue by campaign')!)).rowcount).toBeGreaterThan(0);
    const id = info.dashboards[0]!.id;
    const edit = await viewer.request(`/api/v1/dashboard/${id}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ dashboard_title: 'changed' }) });
    expect(edit.status).toBe(403);
    const database = (await admin.json<{ result: { id: number }[] }>('/api/v1/database/')).result[0]!.id;
    const sql = await viewer.request('/api/v1/sqllab/execute/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ database_id: database, sql: 'SELECT 1' }) });
    expect(sql.status).toBe(403);
  });

  it('a wrong password is refused', async () => {
    const res = await new SupersetClient(info.url).login('admin', 'admin');
    expect(res.status).toBe(401);
  });

  it('CSRF protection is on: a logged-in browser session cannot change anything without the CSRF token', async () => {
    const cookie = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('session='))!;
    const page = await fetch(`${info.url}/login/`);
    const token = /name="csrf_token"[^>]*value="([^"]+)"/.exec(await page.text())![1]!;
    const login = await fetch(`${info.url}/login/`, {
      method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie(page) },
      body: new URLSearchParams({ username: 'admin', password: passwords(info).admin, csrf_token: token }).toString(),
    });
    expect(login.status).toBe(302);
    const session = cookie(login);
    expect((await fetch(`${info.url}/api/v1/dashboard/`, { headers: { Cookie: session } })).status).toBe(200);
    const create = await fetch(`${info.url}/api/v1/dashboard/`, {
      method: 'POST', headers: { Cookie: session, 'Content-Type': 'application/json' }, body: JSON.stringify({ dashboard_title: 'forged' }),
    });
    expect(create.status).toBe(400);
    expect(await create.text()).toMatch(/The CSRF token is missing/);
  });

  it('the server listens on 127.0.0.1 only', async () => {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const listening = (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1).map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '0A').map((f) => f[1]);
    expect(listening).toEqual([`0100007F:${hex}`]);
    const v6 = (await readFile('/proc/net/tcp6', 'utf8').catch(() => '')).split('\n').filter((l) => l.includes(`:${hex} `) && l.includes(' 0A '));
    expect(v6).toEqual([]);
  });
});

describe('lakehouse dashboard refuses bad input with a sentence', () => {
  it('a port in use by another program', async () => {
    const taken: Server = createServer();
    const busy = await freePort();
    await new Promise<void>((r) => taken.listen(busy, '127.0.0.1', r));
    try {
      const r = await lakehouse([...flags, 'dashboard', 'up', '--port', String(busy), '--state-dir', path.join(dir, 'other-state')], { cwd: dir });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`Port 127\\.0\\.0\\.1:${busy} is already in use by another program; stop it or pick another port with --port`));
    } finally {
      taken.close();
    }
  });

  it('a warehouse that does not exist', async () => {
    const missing = path.join(dir, 'nowhere');
    const r = await lakehouse(['--warehouse', missing, '--catalog-uri', `sqlite:///${missing}/catalog.db`, 'dashboard', 'up', '--port', String(await freePort())], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No warehouse here: the catalog .*nowhere\/catalog\.db does not exist/);
  });

  it('Superset that cannot be installed (no suitable Python)', async () => {
    const r = await lakehouse([...flags, 'dashboard', 'up', '--port', String(await freePort()), '--state-dir', path.join(dir, 'other-state')], { cwd: dir, env: { PYTHON: '/bin/false' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Superset is not installable here: .*\/bin\/false is not a Python 3\.10 to 3\.12, which Superset 6\.1 needs/);
  });
});

describe('the dashboards in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  });
  afterAll(async () => { await browser?.close(); });

  for (const [slug, charts] of [['campaign-performance', 10], ['pipeline-health', 5]] as const) {
    it(`${slug}: every chart renders, no error message, no failed request (screenshot kept)`, async () => {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1400 } });
      const failed: string[] = [];
      page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
      page.on('requestfailed', (r) => {
        // Navigations away abort the previous page's pending calls; those are not failures of the dashboard.
        if (r.failure()?.errorText !== 'net::ERR_ABORTED') failed.push(`${r.failure()?.errorText} ${r.url()}`);
      });
      // Log in through the login form's own POST in the browser's cookie jar (filling the React form races
      // its hydration on a busy machine).
      const form = await (await page.request.get(`${info.url}/login/`)).text();
      const token = /name="csrf_token"[^>]*value="([^"]+)"/.exec(form)![1]!;
      const login = await page.request.post(`${info.url}/login/`, { form: { username: 'admin', password: passwords(info).admin, csrf_token: token }, maxRedirects: 0 });
      expect(login.status()).toBe(302);
      await page.goto(`${info.url}/superset/dashboard/${slug}/`);
      failed.length = 0;
      // A chart has rendered when its holder shows an ECharts canvas, a table or a big number.
      const rendered = page.locator('.dashboard-component-chart-holder').filter({ has: page.locator('canvas, table, .header-line') });
      await expect.poll(() => rendered.count(), { timeout: 120_000, interval: 1000 }).toBe(charts);
      await expect.poll(() => page.locator('.loading').count(), { timeout: 60_000 }).toBe(0);
      const errors = await page.locator('[data-test="chart-error"], .alert-danger, .ant-alert-error').allInnerTexts();
      expect(errors).toEqual([]);
      expect(await page.locator('text=Unexpected error').count()).toBe(0);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `superset-${slug}.png`), fullPage: true });
      expect(failed).toEqual([]);
      await page.close();
    });
  }
});

describe('the same bundle over the REST catalog with the files on MinIO', () => {
  it('up points the running Superset at the REST catalog, and every Campaign Performance chart equals PyIceberg\'s read through it', async () => {
    if (!process.env.LAKEHOUSE_REST_URI) throw new Error('LAKEHOUSE_REST_URI is not set: run the integration project, which starts the services.');
    const s3 = requireS3Settings();
    const config = path.join(dir, 'rest.config.json');
    await writeFile(config, JSON.stringify({ catalogs: { rest: { type: 'rest', uri: process.env.LAKEHOUSE_REST_URI, ...s3.properties } } }));
    const ns = `superset_${Date.now().toString(36)}`;
    const rest = ['--config', config, '--catalog', 'rest'];
    const file = path.join(dir, 'rest-events.ndjson');
    await lakehouseOk(['produce', '--to', `file:${file}`, '-n', '2000', '--seed', '9', '--campaigns', '3', '--invalid-rate', '0.05', '--late-rate', '0.1', '--duplicate-rate', '0.05'], { cwd: dir });
    await lakehouseOk([...rest, 'ingest', '--source', `file:${file}`, '--create-table', '--table', `${ns}.campaign_events`, '--dead-letter-file', path.join(dir, 'rest-dl.ndjson')], { cwd: dir });
    await lakehouseOk([...rest, 'metrics', 'run', '--events', `${ns}.campaign_events`, '--table', `${ns}.campaign_metrics`, '--dimensions', 'platform,country,channel', '--window', '1m'], { cwd: dir });
    const up = JSON.parse(await lakehouseOk([...rest, '--json', 'dashboard', 'up', '--port', String(port), '--state-dir', info.state_dir,
      '--table', `${ns}.campaign_metrics`, '--events', `${ns}.campaign_events`], { cwd: dir })) as UpInfo & { reads: { catalog: string; tables: string[] } };
    expect(up.pid).toBe(info.pid);
    expect(up.reads.catalog).toBe(`rest ${process.env.LAKEHOUSE_REST_URI}`);
    try {
      await expectCampaignChartsMatch(await readWithPyIcebergRest({ uri: process.env.LAKEHOUSE_REST_URI, table: `${ns}.campaign_metrics`, properties: s3.properties }));
    } finally {
      for (const t of ['campaign_metrics', 'campaign_events']) await lakehouse([...rest, 'tables', 'drop', `${ns}.${t}`, '--purge'], { cwd: dir });
      await lakehouse([...rest, 'namespaces', 'drop', ns], { cwd: dir });
    }
  });
});
