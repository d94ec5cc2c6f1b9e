/**
 * docker-compose.yml's Superset, run without Docker: its entrypoint (infra/superset/container.py) in the
 * native Superset venv, with the environment the compose file gives the `superset` service and only the
 * addresses swapped for the native services (the running REST catalog, MinIO and Trino). It prepares its
 * state, imports the bundle with the Trino database, serves both dashboards, and a metrics table created
 * after it started shows up in the charts with no re-import, equal to PyIceberg's read.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureInstalled } from '../../dashboard/superset.ts';
import { REPO_ROOT, VENV_TIMEOUT_MS, readWithPyIcebergRest } from '../interop/readers.ts';
import { COMPOSE_FILE, validateCompose } from '../support/compose-file.ts';
import { expectSameRows, expectedCampaignCharts, metricsRows } from '../support/dashboard-oracle.ts';
import { requireS3Settings } from '../support/s3-settings.ts';
import { SUPERSET_START_TIMEOUT_MS, SupersetClient, dropDashboardNamespace, freePort, lakehouseOk, restCatalogFlags } from '../support/superset-kit.ts';

const REST_URI = process.env.LAKEHOUSE_REST_URI;
const TRINO_URI = process.env.LAKEHOUSE_TRINO_URI;
if (!REST_URI || !TRINO_URI) {
  throw new Error('LAKEHOUSE_REST_URI and LAKEHOUSE_TRINO_URI must be set: start the services with `infra/services.sh up trino` and export what .cache/services/services.env says.');
}
const s3 = requireS3Settings();
const ns = `superset_container_${randomBytes(4).toString('hex')}`;

let dir: string;
let rest: string[];
let server: ChildProcess | undefined;
let url: string;
let admin: SupersetClient;
let log = '';

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })).ok;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lakehouse-superset-container-'));
  rest = await restCatalogFlags(dir, REST_URI, s3.properties);
  const file = path.join(dir, 'events.ndjson');
  await lakehouseOk(['produce', '--to', `file:${file}`, '-n', '1500', '--seed', '31', '--campaigns', '3', '--invalid-rate', '0.05', '--duplicate-rate', '0.05'], { cwd: dir });
  await lakehouseOk([...rest, 'ingest', '--source', `file:${file}`, '--create-table', '--table', `${ns}.campaign_events`, '--dead-letter-file', path.join(dir, 'dl.ndjson')], { cwd: dir });

  const { document } = await validateCompose(COMPOSE_FILE);
  const composeEnv = Object.fromEntries(Object.entries(document.services.superset!.environment ?? {}).map(([k, v]) => [k, String(v)]));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const trino = new URL(TRINO_URI);
  const venv = await ensureInstalled();
  server = spawn(path.join(venv, 'bin', 'python'), [path.join(REPO_ROOT, 'infra', 'superset', 'container.py')], {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, ...composeEnv, PATH: `${path.join(venv, 'bin')}:${process.env.PATH ?? ''}`,
      // The containers' addresses, swapped for the native services'.
      LAKEHOUSE_REST_URI: REST_URI, LAKEHOUSE_S3_ENDPOINT: s3.endpoint,
      LAKEHOUSE_SUPERSET_DATABASE_URI: composeEnv.LAKEHOUSE_SUPERSET_DATABASE_URI!.replace('@trino:8080/', `@${trino.host}/`),
      LAKEHOUSE_SUPERSET_HOST: '127.0.0.1', LAKEHOUSE_SUPERSET_PORT: String(port),
      LAKEHOUSE_SUPERSET_STATE: path.join(dir, 'state'),
      LAKEHOUSE_METRICS_TABLE: `${ns}.campaign_metrics`, LAKEHOUSE_EVENTS_TABLE: `${ns}.campaign_events`,
    },
  });
  server.stdout!.on('data', (c: Buffer) => { log += c.toString(); });
  server.stderr!.on('data', (c: Buffer) => { log += c.toString(); });
  const deadline = Date.now() + SUPERSET_START_TIMEOUT_MS;
  while (!(await healthy())) {
    if (server.exitCode !== null) throw new Error(`container.py exited ${server.exitCode}:\n${log.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`Superset did not answer on ${url}/health:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const secrets = JSON.parse(await readFile(path.join(dir, 'state', 'secrets.json'), 'utf8')) as { admin_password: string };
  admin = new SupersetClient(url);
  expect((await admin.login('admin', secrets.admin_password)).status).toBe(200);
}, SUPERSET_START_TIMEOUT_MS + VENV_TIMEOUT_MS);

afterAll(async () => {
  if (server?.pid && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    process.kill(-server.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (server.exitCode === null) process.kill(-server.pid, 'SIGKILL');
  }
  if (rest) await dropDashboardNamespace(rest, ns, dir);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the compose superset service\'s entrypoint, natively', () => {
  it('prepares its state (secrets and catalog settings, mode 0600) and imports the dashboards on the Trino database', async () => {
    for (const f of ['secrets.json', 'catalog.json']) expect((await import('node:fs')).statSync(path.join(dir, 'state', f)).mode & 0o777, f).toBe(0o600);
    const databases = await admin.json<{ result: { database_name: string; backend: string }[] }>('/api/v1/database/');
    expect(databases.result.map((d) => [d.database_name, d.backend])).toEqual([['lakehouse', 'trino']]);
    const dashboards = await admin.json<{ result: { dashboard_title: string }[] }>('/api/v1/dashboard/');
    expect(dashboards.result.map((d) => d.dashboard_title).sort()).toEqual(['Campaign Performance', 'Pipeline health']);
  });

  it('a metrics table created after the start is in the charts with no re-import, equal to PyIceberg\'s read', async () => {
    const dashboards = await admin.json<{ result: { id: number; dashboard_title: string }[] }>('/api/v1/dashboard/');
    const health = await admin.charts(dashboards.result.find((d) => d.dashboard_title === 'Pipeline health')!.id);
    expect((await admin.chartData(health.get('Events per minute')!)).rowcount).toBeGreaterThan(0);
    await lakehouseOk([...rest, 'metrics', 'run', '--events', `${ns}.campaign_events`, '--table', `${ns}.campaign_metrics`, '--window', '1m'], { cwd: dir });
    const campaign = await admin.charts(dashboards.result.find((d) => d.dashboard_title === 'Campaign Performance')!.id);
    const expected = expectedCampaignCharts(metricsRows(await readWithPyIcebergRest({ uri: REST_URI, table: `${ns}.campaign_metrics`, properties: s3.properties })));
    for (const [name, rows] of Object.entries(expected)) expectSameRows(name, (await admin.chartData(campaign.get(name)!)).data, rows);
  });
});
