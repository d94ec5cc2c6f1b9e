/**
 * `make bench`: `lakehouse sql`'s way of reading a table (our planner picks the data files, a DuckDB view
 * reads them with read_parquet by field id) against DuckDB's iceberg extension (`iceberg_scan` on the
 * metadata location the catalog returns), on a demo warehouse, same queries, same DuckDB, same run.
 * First query = in a new session: load the tables from the catalog, plan, create the views (or read the
 * metadata with iceberg_scan), run the query; again = the same query in that session (ours looks the
 * table up in the catalog again, unchanged, so the view is kept). LOADing the extensions is timed apart. Checks both give the same rows. Not a
 * test: nothing asserts a timing.
 *
 *   EVENTS=200000 RUNS=5 node --import tsx bench/sql-bench.ts
 *
 * The extensions come from the PyPI wheels in .venv (infra/setup-python.sh), as in tests/interop.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../catalog/load-catalog.ts';
import { stringifyJson } from '../core/json.ts';
import { DuckDb, sqlString } from '../sql/duckdb.ts';
import { SqlSession } from '../sql/sql-session.ts';

const EVENTS = Number(process.env.EVENTS ?? 200_000);
const RUNS = Number(process.env.RUNS ?? 5);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const QUERIES: { name: string; sql: (t: (name: string) => string) => string }[] = [
  { name: 'count + distinct event_id (campaign_events)', sql: (t) => `SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM ${t('campaign_events')}` },
  { name: 'CTR per campaign (campaign_metrics)', sql: (t) => `SELECT campaign_id, round(100.0 * sum(clicks) / sum(impressions), 3) AS ctr FROM ${t('campaign_metrics')} GROUP BY 1 ORDER BY 1` },
  { name: 'revenue by type, one day (campaign_events)', sql: (t) => `SELECT event_type, round(sum(revenue), 2) AS revenue FROM ${t('campaign_events')} WHERE event_time >= TIMESTAMPTZ '2026-11-01 00:00:00+00' AND event_time < TIMESTAMPTZ '2026-11-02 00:00:00+00' GROUP BY 1 ORDER BY 1` },
];

function extensionPath(name: string): string {
  const site = path.join(repo, '.venv', 'lib');
  const py = readdirSync(site).find((d) => d.startsWith('python'))!;
  const file = path.join(site, py, 'site-packages', `duckdb_extension_${name}`, 'extensions', 'v1.5.5', `${name}.duckdb_extension`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run infra/setup-python.sh first.`);
  return file;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-sql-bench-'));
try {
  execFileSync(path.join(repo, 'bin', 'lakehouse'), ['demo', '-n', String(EVENTS)], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LAKEHOUSE_CONFIG: '' } });
  const open = () => loadCatalog({ cwd: dir, env: {} });

  const ours = async (sql: string) => {
    const catalog = await open();
    const session = await SqlSession.open({ catalog });
    try {
      const [cold, rows] = await timed(async () => (await session.query(sql))[0]!.values);
      const [warm] = await timed(() => session.query(sql));
      return { cold, warm, rows };
    } finally {
      session.close();
      await catalog.close();
    }
  };
  const extension = async (query: (t: (name: string) => string) => string) => {
    const catalog = await open();
    const db = await DuckDb.open({ config: { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' } });
    try {
      const [load] = await timed(() => db.run(`LOAD ${sqlString(extensionPath('avro'))}; LOAD ${sqlString(extensionPath('iceberg'))}; SET TimeZone = 'UTC'`));
      const [cold, rows] = await timed(async () => {
        const locations = new Map<string, string>();
        for (const name of ['campaign_events', 'campaign_metrics']) {
          locations.set(name, (await catalog.loadTable({ namespace: ['lakehouse'], name })).metadataLocation.replace(/^file:\/\//, ''));
        }
        const sql = query((name) => `iceberg_scan(${sqlString(locations.get(name)!)})`);
        return [sql, Object.values(await db.rows(sql)).map((r) => Object.values(r))] as const;
      });
      const [warm] = await timed(() => db.rows(rows[0]));
      return { load, cold, warm, rows: rows[1] };
    } finally {
      db.close();
      await catalog.close();
    }
  };

  console.log(`\n${EVENTS.toLocaleString('en-US')} demo events, median of ${RUNS} (ms):\n`);
  console.log('| query | lakehouse sql: first query (plan + view) | again | iceberg_scan: LOAD extensions | first query | again | same rows |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const q of QUERIES) {
    const a: { cold: number; warm: number }[] = [];
    const b: { load: number; cold: number; warm: number }[] = [];
    let same = true;
    for (let i = 0; i < RUNS; i++) {
      const x = await ours(q.sql((n) => `lakehouse.${n}`));
      const y = await extension(q.sql);
      a.push(x);
      b.push(y);
      same &&= stringifyJson(x.rows) === stringifyJson(y.rows);
    }
    const f = (xs: number[]) => median(xs).toFixed(0);
    console.log(`| ${q.name} | ${f(a.map((r) => r.cold))} | ${f(a.map((r) => r.warm))} | ${f(b.map((r) => r.load))} | ${f(b.map((r) => r.cold))} | ${f(b.map((r) => r.warm))} | ${same ? 'yes' : 'NO'} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
