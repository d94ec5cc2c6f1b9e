/**
 * `make bench`, dashboard part: VIEWERS concurrent viewers refreshing "Campaign Performance" in Superset
 * (started by `lakehouse dashboard up`) over the campaign_metrics of DASHBOARD_EVENTS events. Reports, per
 * mode, chart-data latency p50 / p95 / max, refreshes per second, and Superset's CPU (all gunicorn
 * processes, from /proc). Reference in the same run: the very SQL Superset generated for each chart (its
 * `?type=query` answer), run by VIEWERS threads straight on DuckDB with the same per-connection views and
 * per-snapshot copies (no Superset in between), without pause.
 *
 *   DASHBOARD_EVENTS=10000000 VIEWERS=10 DASHBOARD_SECONDS=60 node --import tsx bench/dashboard-bench.ts
 *   DASHBOARD_MODES=browser,overload   which runs, in order (default both)
 *   DASHBOARD_REFRESH_SECONDS=10       browser mode: each viewer refreshes this often (the dashboard's own period)
 *   DASHBOARD_COMMIT_SECONDS=30        a new metadata file of the metrics table this often while measuring (0: none)
 *   DASHBOARD_DIR=/path                reuse the warehouse a previous run kept (KEEP=1) instead of the setup
 *   DASHBOARD_FORCE=1                  refresh with ?force=true (Superset's default auto-refresh, bypassing the result cache)
 *   LAKEHOUSE_SUPERSET_WARMER=off      without the chart warmer (infra/superset/chart_warmer.py), to compare
 *
 * Setup (timed, not the measured number): `lakehouse demo -n DASHBOARD_EVENTS` in a temp dir (generated
 * events with invalid, late and duplicate ones, through ingest into campaign_events), then `lakehouse metrics
 * run` into campaign_metrics_dims with the platform, country and channel dimensions (the dashboard's
 * filters), then `lakehouse dashboard up` on it. A viewer's refresh asks for the ten charts' data at once.
 * Modes: `browser`, each viewer refreshes every DASHBOARD_REFRESH_SECONDS as the dashboard's timer does in a
 * browser, the viewers' first refreshes spread over one period (people open the page at different times);
 * `overload`, viewers loop without pause, the load of far more than ten people. While measuring, a property
 * change of the metrics table every DASHBOARD_COMMIT_SECONDS writes a new metadata file: to the dashboard
 * that is a new snapshot exactly like a metrics run's commit (a new location, so a new copy is built), which
 * a setup without commits would never pay for. Not a test: nothing asserts a timing, but a chart that
 * answers with an error fails the bench.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { treeCpuSeconds } from './proc-cpu.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'bin', 'lakehouse');
const EVENTS = Number(process.env.DASHBOARD_EVENTS ?? process.env.EVENTS ?? 10_000_000);
const VIEWERS = Number(process.env.VIEWERS ?? 10);
const SECONDS = Number(process.env.DASHBOARD_SECONDS ?? 60);
const PORT = Number(process.env.DASHBOARD_PORT ?? 8097);
const MODES = (process.env.DASHBOARD_MODES ?? 'browser,overload').split(',').map((m) => m.trim()) as Mode[];
const REFRESH_SECONDS = Number(process.env.DASHBOARD_REFRESH_SECONDS ?? 10);
const COMMIT_SECONDS = Number(process.env.DASHBOARD_COMMIT_SECONDS ?? 30);
const FORCE = process.env.DASHBOARD_FORCE === '1';
const METRICS_TABLE = 'campaign_metrics_dims';
type Mode = 'browser' | 'overload';
for (const m of MODES) {
  if (m !== 'browser' && m !== 'overload') throw new Error(`DASHBOARD_MODES takes browser and/or overload (comma-separated), got "${m}".`);
}

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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(label: string, latencies: number[], refreshes: number, seconds: number): void {
  const s = [...latencies].sort((a, b) => a - b);
  console.log(`  ${label}: ${s.length} chart queries, ${(refreshes / seconds).toFixed(2)} dashboard refreshes/s; ` +
    `latency p50 ${percentile(s, 50).toFixed(0)} ms, p95 ${percentile(s, 95).toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface Api { url: string; token: string }

async function login(url: string, user: string, password: string): Promise<Api> {
  const res = await fetch(`${url}/api/v1/security/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user, password, provider: 'db', refresh: true }) });
  if (!res.ok) throw new Error(`login as ${user} failed: ${res.status}`);
  return { url, token: ((await res.json()) as { access_token: string }).access_token };
}

let resets = 0;

async function get<T>(api: Api, pathname: string): Promise<T> {
  const send = () => fetch(`${api.url}${pathname}`, { headers: { Authorization: `Bearer ${api.token}` } });
  // gunicorn closes a keep-alive connection idle for 2 s; a request sent on it at that moment is reset
  // (or finds it closed) before Superset sees it. Browsers resend such a request at once, and so does a
  // viewer here (counted).
  const res = await send().catch((e: Error) => {
    if (!['ECONNRESET', 'UND_ERR_SOCKET'].includes((e.cause as { code?: string } | undefined)?.code ?? '')) throw e;
    resets++;
    return send();
  }).catch((e: Error) => {
    throw new Error(`GET ${pathname}: ${e.message} (${String((e.cause as Error | undefined)?.message ?? e.cause)})`);
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${pathname}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function main(): Promise<void> {
  const reuse = process.env.DASHBOARD_DIR;
  const dir = reuse ?? mkdtempSync(path.join(tmpdir(), 'dashboard-bench-'));
  const warehouse = path.join(dir, 'warehouse');
  const flags = ['--warehouse', warehouse, '--catalog-uri', `sqlite:///${path.join(warehouse, 'catalog.db')}`];
  console.log(`dashboard bench: ${reuse ? 'the warehouse in' : `${EVENTS.toLocaleString('en-US')} events,`} ${dir}; ${VIEWERS} viewers, ` +
    `${SECONDS} s per mode (${MODES.join(', ')}), a new metrics snapshot every ${COMMIT_SECONDS || '-'} s, ` +
    `chart warmer ${process.env.LAKEHOUSE_SUPERSET_WARMER === 'off' ? 'off' : 'on'}`);
  let pid = 0;
  try {
    if (!reuse) {
      await timed(`setup: lakehouse demo -n ${EVENTS}`, () => run(CLI, [...flags, 'demo', '-n', String(EVENTS), '--batch-size', '500000'], dir));
      await timed(`setup: metrics run into ${METRICS_TABLE} (platform, country, channel)`, () =>
        run(CLI, [...flags, 'metrics', 'run', '--table', METRICS_TABLE, '--dimensions', 'platform,country,channel'], dir));
    }
    const info = await timed('setup: lakehouse dashboard up', async () =>
      JSON.parse(await run(CLI, [...flags, '--json', 'dashboard', 'up', '--port', String(PORT), '--table', METRICS_TABLE], dir)) as {
        url: string; pid: number; password_file: string; dashboards: { id: number; title: string }[];
      });
    pid = info.pid;
    const secrets = JSON.parse(readFileSync(info.password_file, 'utf8')) as { viewer_password: string };
    const admin = await login(info.url, 'viewer', secrets.viewer_password);
    const dashboard = info.dashboards.find((d) => d.title === 'Campaign Performance')!;
    const charts = (await get<{ result: { id: number; slice_name: string }[] }>(admin, `/api/v1/dashboard/${dashboard.id}/charts`)).result;
    const rows = await get<{ result: { rowcount: number }[] }>(admin, `/api/v1/chart/${charts.find((c) => c.slice_name === 'Spend, CPC, CPA, ROAS by campaign')!.id}/data/`);
    console.log(`  ${METRICS_TABLE}: ${rows.result[0]!.rowcount} campaigns in the spend table; charts: ${charts.length}`);

    const viewers = await Promise.all(Array.from({ length: VIEWERS }, () => login(info.url, 'viewer', secrets.viewer_password)));
    let tick = 0;
    /** One refresh of the dashboard as a browser does it: the ten charts' data at once, through the result cache (DASHBOARD_AUTO_REFRESH_MODE "fetch") unless DASHBOARD_FORCE. */
    const refresh = (api: Api, latencies: number[]) => Promise.all(charts.map(async (c) => {
      const t = performance.now();
      const body = await get<{ result: { error?: string | null }[] }>(api, `/api/v1/chart/${c.id}/data/${FORCE ? '?force=true' : ''}`);
      if (body.result[0]?.error) throw new Error(`chart ${c.slice_name}: ${body.result[0].error}`);
      latencies.push(performance.now() - t);
    }));
    for (const mode of MODES) {
      const latencies: number[] = [];
      let refreshes = 0;
      let commits = 0;
      const cpuBefore = treeCpuSeconds(pid);
      const started = performance.now();
      const deadline = started + SECONDS * 1000;
      const committer = (async () => {
        while (COMMIT_SECONDS > 0 && performance.now() + COMMIT_SECONDS * 1000 < deadline) {
          await sleep(COMMIT_SECONDS * 1000);
          // A value no earlier run set (a reused warehouse keeps the last one): an unchanged property commits nothing.
          await run(CLI, [...flags, 'tables', 'alter', METRICS_TABLE, 'set-property', 'lakehouse.bench.tick', `${Date.now()}-${++tick}`], dir);
          commits++;
        }
      })();
      await Promise.all(viewers.map(async (api, i) => {
        if (mode === 'overload') {
          while (performance.now() < deadline) { await refresh(api, latencies); refreshes++; }
          return;
        }
        // A browser's timer: every REFRESH_SECONDS from when the page was opened; a refresh that takes
        // longer than the period delays the next one.
        let next = started + (i * REFRESH_SECONDS * 1000) / VIEWERS;
        while (next < deadline) {
          await sleep(next - performance.now());
          await refresh(api, latencies);
          refreshes++;
          next = Math.max(next + REFRESH_SECONDS * 1000, performance.now());
        }
      }));
      await committer;
      const wall = (performance.now() - started) / 1000;
      const cpu = treeCpuSeconds(pid) - cpuBefore;
      summary(`Superset${FORCE ? ' (force)' : ''}, ${mode}, ${VIEWERS} viewers${mode === 'browser' ? ` every ${REFRESH_SECONDS} s` : ', no pause'}, ${commits} new snapshots`, latencies, refreshes, wall);
      console.log(`  Superset CPU (${mode}): ${cpu.toFixed(1)} s over ${wall.toFixed(1)} s = ${(cpu / wall).toFixed(2)} cores, ` +
        `${(cpu / Math.max(1, refreshes)).toFixed(2)} CPU-s per dashboard refresh (gunicorn: 2 workers x 4 threads); ${resets} requests resent after a reset keep-alive connection`);
      resets = 0;
    }

    // Reference: the same SQL straight on DuckDB, VIEWERS threads, same per-connection views.
    const sql: string[] = [];
    for (const c of charts) {
      const q = await get<{ result: { query: string }[] }>(admin, `/api/v1/chart/${c.id}/data/?type=query`);
      sql.push(q.result[0]!.query);
    }
    // The last line: Superset's modules may print a notice before it.
    const reference = JSON.parse((await runReference(info.password_file, sql)).trim().split('\n').pop()!) as { latencies: number[]; refreshes: number; seconds: number; cpu: number };
    summary(`DuckDB reference, ${VIEWERS} threads, same SQL and views, no pause, no new snapshots`, reference.latencies, reference.refreshes, reference.seconds);
    console.log(`  DuckDB reference CPU: ${reference.cpu.toFixed(1)} s over ${reference.seconds.toFixed(1)} s = ${(reference.cpu / reference.seconds).toFixed(2)} cores, ` +
      `${(reference.cpu / Math.max(1, reference.refreshes)).toFixed(2)} CPU-s per dashboard refresh`);
  } finally {
    if (pid) await run(CLI, [...flags, 'dashboard', 'down'], dir).catch(() => {});
    if (process.env.KEEP !== '1' && !reuse) rmSync(dir, { recursive: true, force: true });
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
start, cpu = time.perf_counter(), time.process_time()
threads = [threading.Thread(target=viewer) for _ in range(${VIEWERS})]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"latencies": lat, "refreshes": count[0], "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}))
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
