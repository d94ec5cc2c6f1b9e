/**
 * `make bench`, dashboard part: VIEWERS concurrent viewers refreshing "Campaign Performance" in Superset
 * (started by `lakehouse dashboard up`) over the campaign_metrics of EVENTS events. Reports chart-data
 * latency p50 / p95 / max, refreshes per second, and Superset's CPU (all gunicorn processes, from /proc).
 * Reference in the same run: the very SQL Superset generated for each chart (its `?type=query` answer),
 * run by VIEWERS threads straight on DuckDB with the same per-connection views (no Superset in between).
 *
 *   EVENTS=10000000 VIEWERS=10 DASHBOARD_SECONDS=60 node --import tsx bench/dashboard-bench.ts   (KEEP=1 keeps the temp dir)
 *
 * Setup (timed, not the measured number): `lakehouse demo -n EVENTS` in a temp dir (generated events with
 * invalid, late and duplicate ones, through ingest into campaign_events), then `lakehouse metrics run` into
 * campaign_metrics_dims with the platform, country and channel dimensions (the dashboard's filters), then
 * `lakehouse dashboard up` on it. A viewer's refresh asks for the ten charts' data at once, as a browser does
 * every 10 s; viewers loop without pause for SECONDS, so this is the load of far more than ten people.
 * Not a test: nothing asserts a timing, but a chart that answers with an error fails the bench.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'bin', 'lakehouse');
const EVENTS = Number(process.env.EVENTS ?? 10_000_000);
const VIEWERS = Number(process.env.VIEWERS ?? 10);
const SECONDS = Number(process.env.DASHBOARD_SECONDS ?? 60);
const PORT = Number(process.env.DASHBOARD_PORT ?? 8097);
const TICKS = 100; // USER_HZ on Linux

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const r = await fn();
  console.log(`  ${label}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return r;
}

/** CPU seconds (user + system) of a process and all its descendants. */
function treeCpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      cpu.set(Number(name), (Number(fields[11]) + Number(fields[12])) / TICKS);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch { /* exited meanwhile */ }
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    total += cpu.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(label: string, latencies: number[], refreshes: number, seconds: number): void {
  const s = [...latencies].sort((a, b) => a - b);
  console.log(`  ${label}: ${s.length} chart queries, ${(refreshes / seconds).toFixed(2)} dashboard refreshes/s; ` +
    `latency p50 ${percentile(s, 50).toFixed(0)} ms, p95 ${percentile(s, 95).toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`);
}

interface Api { url: string; token: string }

async function login(url: string, user: string, password: string): Promise<Api> {
  const res = await fetch(`${url}/api/v1/security/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user, password, provider: 'db', refresh: true }) });
  if (!res.ok) throw new Error(`login as ${user} failed: ${res.status}`);
  return { url, token: ((await res.json()) as { access_token: string }).access_token };
}

async function get<T>(api: Api, pathname: string): Promise<T> {
  const res = await fetch(`${api.url}${pathname}`, { headers: { Authorization: `Bearer ${api.token}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${pathname}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-bench-'));
  const warehouse = path.join(dir, 'warehouse');
  const flags = ['--warehouse', warehouse, '--catalog-uri', `sqlite:///${path.join(warehouse, 'catalog.db')}`];
  console.log(`dashboard bench: ${EVENTS.toLocaleString('en-US')} events, ${VIEWERS} viewers, ${SECONDS} s per run (${dir})`);
  let pid = 0;
  try {
    await timed(`setup: lakehouse demo -n ${EVENTS}`, () => run(CLI, [...flags, 'demo', '-n', String(EVENTS), '--batch-size', '500000'], dir));
    await timed('setup: metrics run into campaign_metrics_dims (platform, country, channel)', () =>
      run(CLI, [...flags, 'metrics', 'run', '--table', 'campaign_metrics_dims', '--dimensions', 'platform,country,channel'], dir));
    const info = await timed('setup: lakehouse dashboard up', async () =>
      JSON.parse(await run(CLI, [...flags, '--json', 'dashboard', 'up', '--port', String(PORT), '--table', 'campaign_metrics_dims'], dir)) as {
        url: string; pid: number; password_file: string; dashboards: { id: number; title: string }[];
      });
    pid = info.pid;
    const secrets = JSON.parse(readFileSync(info.password_file, 'utf8')) as { viewer_password: string };
    const admin = await login(info.url, 'viewer', secrets.viewer_password);
    const dashboard = info.dashboards.find((d) => d.title === 'Campaign Performance')!;
    const charts = (await get<{ result: { id: number; slice_name: string }[] }>(admin, `/api/v1/dashboard/${dashboard.id}/charts`)).result;
    const rows = await get<{ result: { rowcount: number }[] }>(admin, `/api/v1/chart/${charts.find((c) => c.slice_name === 'Spend, CPC, CPA, ROAS by campaign')!.id}/data/`);
    console.log(`  campaign_metrics_dims: ${rows.result[0]!.rowcount} campaigns in the spend table; charts: ${charts.length}`);

    // Superset, VIEWERS viewers in a loop.
    const viewers = await Promise.all(Array.from({ length: VIEWERS }, () => login(info.url, 'viewer', secrets.viewer_password)));
    const latencies: number[] = [];
    let refreshes = 0;
    const cpuBefore = treeCpuSeconds(pid);
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    await Promise.all(viewers.map(async (api) => {
      while (performance.now() < deadline) {
        await Promise.all(charts.map(async (c) => {
          const t = performance.now();
          const body = await get<{ result: { error?: string | null }[] }>(api, `/api/v1/chart/${c.id}/data/?force=true`);
          if (body.result[0]?.error) throw new Error(`chart ${c.slice_name}: ${body.result[0].error}`);
          latencies.push(performance.now() - t);
        }));
        refreshes++;
      }
    }));
    const wall = (performance.now() - started) / 1000;
    const cpu = treeCpuSeconds(pid) - cpuBefore;
    summary(`Superset, ${VIEWERS} viewers`, latencies, refreshes, wall);
    console.log(`  Superset CPU: ${cpu.toFixed(1)} s over ${wall.toFixed(1)} s = ${(cpu / wall).toFixed(2)} cores (gunicorn: 2 workers x 4 threads)`);

    // Reference: the same SQL straight on DuckDB, VIEWERS threads, same per-connection views.
    const sql: string[] = [];
    for (const c of charts) {
      const q = await get<{ result: { query: string }[] }>(admin, `/api/v1/chart/${c.id}/data/?type=query`);
      sql.push(q.result[0]!.query);
    }
    // The last line: Superset's modules may print a notice before it.
    const reference = JSON.parse((await runReference(info.password_file, sql)).trim().split('\n').pop()!) as { latencies: number[]; refreshes: number; seconds: number };
    summary(`DuckDB reference, ${VIEWERS} threads, same SQL and views`, reference.latencies, reference.refreshes, reference.seconds);
  } finally {
    if (pid) await run(CLI, [...flags, 'dashboard', 'down'], dir).catch(() => {});
    if (process.env.KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the chart SQL in Superset's venv with lakehouse_views, VIEWERS threads for SECONDS. */
function runReference(passwordFile: string, sql: string[]): Promise<string> {
  const stateDir = path.dirname(passwordFile);
  const script = `
import json, sys, threading, time, copy
sys.path.insert(0, ${JSON.stringify(path.join(REPO, 'infra', 'superset'))})
import duckdb_engine, lakehouse_views
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool
@event.listens_for(duckdb_engine.Dialect, "do_connect")
def c(dialect, rec, cargs, cparams):
    p = copy.deepcopy(cparams); con = dialect.connect(*cargs, **cparams)
    lakehouse_views.install(con, lambda: dialect.connect(*cargs, **copy.deepcopy(p))); return con
engine = create_engine("duckdb:///:memory:lakehouse", poolclass=NullPool)
sql = json.load(sys.stdin)
lat, count, lock = [], [0], threading.Lock()
deadline = time.perf_counter() + ${SECONDS}
def viewer():
    while time.perf_counter() < deadline:
        for q in sql:
            t = time.perf_counter()
            with engine.connect() as con:
                con.execute(text(q)).fetchall()
            with lock: lat.append((time.perf_counter() - t) * 1000)
        with lock: count[0] += 1
with engine.connect() as con: pass
start = time.perf_counter()
threads = [threading.Thread(target=viewer) for _ in range(${VIEWERS})]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"latencies": lat, "refreshes": count[0], "seconds": time.perf_counter() - start}))
`;
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(REPO, 'infra', 'setup-superset.sh')], (err, stdout) => {
      if (err) return reject(err);
      const python = path.join(stdout.trim().split('\n').pop()!, 'bin', 'python');
      const child = spawn(python, ['-c', script], { env: { ...process.env, LAKEHOUSE_SUPERSET_CATALOG: path.join(stateDir, 'catalog.json') }, stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`reference exited ${code}`))));
      child.stdin.end(JSON.stringify(sql));
    });
  });
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
