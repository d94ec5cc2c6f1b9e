/**
 * `make bench`, production-route half (run only when Trino is up): the dashboard's queries over
 * campaign_metrics, answered by Trino 476 (Iceberg connector -> the REST catalog -> files on MinIO) and by
 * DuckDB in this process (iceberg_scan of the table's current metadata file, which it looks up in the same
 * REST catalog before every query, as a dashboard must to see new commits; files from MinIO through httpfs).
 * Not a test: nothing asserts a timing, but the two engines must return the same answer, or the bench fails.
 *
 *   TRINO_EVENTS=200000 TRINO_COMMITS=10 TRINO_RUNS=20 TRINO_WARMUP=3 node --import tsx bench/trino-bench.ts
 *   (TRINO_*: make bench passes EVENTS and RUNS to the other benches.)
 *
 * Setup (not measured): campaign_events with TRINO_EVENTS events over the last 2 hours, in TRINO_COMMITS appends through
 * the REST catalog, each followed by `metrics run` with 1-minute windows (as the live stack's job keeps up, one
 * campaign_metrics snapshot per commit), so "the last 15 minutes" holds 15 windows per campaign. The queries, as Superset's charts ask them (one cutoff time for both engines):
 *   ctr_trend     CTR per campaign per window over the last 2 hours
 *   revenue       revenue, conversions and spend per campaign, all time
 *   last_15m      totals (impressions, clicks, conversions, revenue) over the last 15 minutes
 * Each query runs TRINO_WARMUP times unmeasured, then TRINO_RUNS times alternating the engines; p50 / p95 of the wall
 * time seen by this process (Trino: every HTTP round trip of its protocol; DuckDB: the pointer lookup plus
 * the scan). The namespace is dropped at the end (KEEP=1 keeps it).
 *
 * Settings: LAKEHOUSE_TRINO_URI, LAKEHOUSE_REST_URI and LAKEHOUSE_S3_*, else .cache/services/services.env.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRestCatalog } from '../catalog/rest-catalog.ts';
import { rowsToRecordBatch, Table, type TableIdentifier } from '../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { generateEvents } from '../pipeline/event-generator.ts';
import { runMetrics } from '../sql/campaign-metrics-job.ts';
import { DuckDb, sqlString } from '../sql/duckdb.ts';
import { TrinoClient } from '../sql/trino-client.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = Number(process.env.TRINO_EVENTS ?? 200_000);
const COMMITS = Number(process.env.TRINO_COMMITS ?? 10);
const RUNS = Number(process.env.TRINO_RUNS ?? 20);
const WARMUP = Number(process.env.TRINO_WARMUP ?? 3);
const SPAN_MS = 2 * 3600_000;

/** The settings of the running services: the environment first, else what infra/services.sh wrote. */
function setting(key: string): string {
  const file = path.join(process.env.LAKEHOUSE_SERVICES_DIR ?? path.join(REPO, '.cache/services'), 'services.env');
  const fromFile = existsSync(file) ? new RegExp(`^${key}=(.*)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1]?.trim() : undefined;
  const value = process.env[key] || fromFile;
  if (!value) throw new Error(`${key} is not set and ${file} does not name it: start the services with \`bash infra/services.sh up trino\`.`);
  return value;
}

const s3 = {
  endpoint: setting('LAKEHOUSE_S3_ENDPOINT'),
  accessKey: setting('LAKEHOUSE_S3_ACCESS_KEY'),
  secretKey: setting('LAKEHOUSE_S3_SECRET_KEY'),
  region: process.env.LAKEHOUSE_S3_REGION || 'us-east-1',
};
const s3Properties = {
  's3.endpoint': s3.endpoint, 's3.access-key-id': s3.accessKey, 's3.secret-access-key': s3.secretKey,
  's3.region': s3.region, 's3.path-style-access': 'true',
};

/** DuckDB's extensions for Iceberg on S3, from the DuckDB wheels in .venv (the same DuckDB version). */
function extensionFiles(): string[] {
  const lib = path.join(REPO, '.venv/lib');
  const site = existsSync(lib) ? readdirSync(lib).map((p) => path.join(lib, p, 'site-packages')).find((p) => existsSync(p)) : undefined;
  if (!site) throw new Error('No .venv with the DuckDB extension wheels: run `bash infra/setup-python.sh` (make install does).');
  return ['httpfs', 'avro', 'iceberg'].map((ext) => {
    const dir = path.join(site, `duckdb_extension_${ext}`);
    const file = existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).find((f) => f.endsWith('.duckdb_extension')) : undefined;
    if (!file) throw new Error(`${dir} has no .duckdb_extension file: run \`bash infra/setup-python.sh\`.`);
    return path.join(dir, file);
  });
}

interface Query {
  name: string;
  trino: (table: string) => string;
  duckdb: (scan: string) => string;
}

/** UTC timestamp literal text both engines parse to the same instant. */
const literal = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

function queries(nowMs: number): Query[] {
  const trend = literal(nowMs - SPAN_MS);
  const recent = literal(nowMs - 15 * 60_000);
  const ts = { trino: (t: string) => `TIMESTAMP '${t} UTC'`, duckdb: (t: string) => `TIMESTAMPTZ '${t}+00'` };
  return [
    {
      name: 'ctr_trend',
      trino: (m) => `SELECT window_start, campaign_id, 100 * CAST(sum(clicks) AS double) / nullif(sum(impressions), 0) AS ctr FROM ${m}
        WHERE window_start >= ${ts.trino(trend)} GROUP BY 1, 2 ORDER BY 1, 2`,
      duckdb: (m) => `SELECT window_start, campaign_id, 100 * CAST(sum(clicks) AS double) / nullif(sum(impressions), 0) AS ctr FROM ${m}
        WHERE window_start >= ${ts.duckdb(trend)} GROUP BY 1, 2 ORDER BY 1, 2`,
    },
    {
      name: 'revenue',
      trino: (m) => `SELECT campaign_id, sum(revenue) AS revenue, sum(conversions) AS conversions, sum(spend) AS spend FROM ${m}
        GROUP BY 1 ORDER BY revenue DESC, campaign_id`,
      duckdb: (m) => `SELECT campaign_id, sum(revenue) AS revenue, sum(conversions) AS conversions, sum(spend) AS spend FROM ${m}
        GROUP BY 1 ORDER BY revenue DESC, campaign_id`,
    },
    {
      name: 'last_15m',
      trino: (m) => `SELECT sum(impressions) AS impressions, sum(clicks) AS clicks, sum(conversions) AS conversions, sum(revenue) AS revenue
        FROM ${m} WHERE window_start >= ${ts.trino(recent)}`,
      duckdb: (m) => `SELECT sum(impressions) AS impressions, sum(clicks) AS clicks, sum(conversions) AS conversions, sum(revenue) AS revenue
        FROM ${m} WHERE window_start >= ${ts.duckdb(recent)}`,
    },
  ];
}

/** Same rows from both engines: integers exactly, doubles to 1e-9 relative (sums in another order). */
function sameAnswer(name: string, a: Record<string, unknown>[], b: Record<string, unknown>[]): void {
  const norm = (v: unknown): unknown => (typeof v === 'number' && !Number.isInteger(v) ? v : typeof v === 'number' ? BigInt(v) : v);
  const differs = a.length !== b.length || a.some((row, i) => Object.keys(row).some((k) => {
    const x = norm(row[k]);
    const y = norm(b[i]![k]);
    if (typeof x === 'number' && typeof y === 'number') return Math.abs(x - y) > 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
    return x !== y;
  }));
  if (differs) {
    const show = (rows: Record<string, unknown>[]) => JSON.stringify(rows.slice(0, 3), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    throw new Error(`${name}: Trino and DuckDB disagree (${a.length} vs ${b.length} rows; first rows ${show(a)} vs ${show(b)}).`);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function main(): Promise<void> {
  const trino = new TrinoClient({ uri: setting('LAKEHOUSE_TRINO_URI'), catalog: 'iceberg' });
  const catalog = await createRestCatalog('rest', { uri: setting('LAKEHOUSE_REST_URI'), ...s3Properties });
  const ns = [`bench_trino_${randomBytes(3).toString('hex')}`];
  const events: TableIdentifier = { namespace: ns, name: 'campaign_events' };
  const metrics: TableIdentifier = { namespace: ns, name: 'campaign_metrics' };
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-trino-bench-'));
  const duck = await DuckDb.open();
  try {
    const setupStart = process.hrtime.bigint();
    const nowMs = Date.now();
    await catalog.createNamespace(ns);
    const table = new Table(catalog, await catalog.createTable(events, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
    const perCommit = Math.ceil(EVENTS / COMMITS);
    for (let c = 0; c < COMMITS; c++) {
      const count = Math.min(perCommit, EVENTS - c * perCommit);
      const rows = [...generateEvents({ count, seed: c + 1, startMs: nowMs - SPAN_MS + (c * SPAN_MS) / COMMITS, spanMs: SPAN_MS / COMMITS })]
        .map((e, i) => ({ ...e, event_id: `${e.event_id}-c${c}`, processed_at: BigInt(nowMs) * 1000n + BigInt(c * perCommit + i), cost: i % 4 ? 0.02 : null }));
      await table.append([rowsToRecordBatch(campaignEventsSchema, rows)]);
      // After every commit, as `metrics run --every` keeps up in the live stack: one snapshot each.
      await runMetrics({ catalog, events, metrics, window: '1m', cacheDir: path.join(dir, 'cache') });
    }
    console.error(`setup: ${EVENTS} events in ${COMMITS} commits, campaign_metrics with 1-minute windows, in ${(ms(setupStart) / 1000).toFixed(1)} s`);

    for (const f of extensionFiles()) await duck.run(`LOAD ${sqlString(f)}`);
    const endpoint = new URL(s3.endpoint);
    await duck.run(`CREATE SECRET lakehouse_s3 (TYPE s3, KEY_ID ${sqlString(s3.accessKey)}, SECRET ${sqlString(s3.secretKey)}, REGION ${sqlString(s3.region)},
      ENDPOINT ${sqlString(endpoint.host)}, USE_SSL ${endpoint.protocol === 'https:'}, URL_STYLE 'path')`);

    const trinoTable = `"${ns[0]}"."campaign_metrics"`;
    const viaTrino = async (q: Query) => (await trino.query(q.trino(trinoTable))).rows;
    let lookupMs: number[] = [];
    const viaDuckDb = async (q: Query) => {
      const t0 = process.hrtime.bigint();
      const { metadataLocation } = await catalog.loadTable(metrics);
      lookupMs.push(ms(t0));
      return duck.rows(q.duckdb(`iceberg_scan(${sqlString(metadataLocation)})`));
    };

    const lines: string[] = [];
    for (const q of queries(nowMs)) {
      const answer = await viaTrino(q);
      sameAnswer(q.name, answer, await viaDuckDb(q));
      for (let w = 0; w < WARMUP; w++) {
        await viaTrino(q);
        await viaDuckDb(q);
      }
      const times = { trino: [] as number[], duckdb: [] as number[] };
      lookupMs = [];
      for (let r = 0; r < RUNS; r++) {
        let t0 = process.hrtime.bigint();
        await viaTrino(q);
        times.trino.push(ms(t0));
        t0 = process.hrtime.bigint();
        await viaDuckDb(q);
        times.duckdb.push(ms(t0));
      }
      const t = times.trino.sort((a, b) => a - b);
      const d = times.duckdb.sort((a, b) => a - b);
      const l = lookupMs.sort((a, b) => a - b);
      lines.push(`| ${q.name} | ${answer.length} | ${percentile(t, 0.5).toFixed(0)} / ${percentile(t, 0.95).toFixed(0)} | ${percentile(d, 0.5).toFixed(0)} / ${percentile(d, 0.95).toFixed(0)} (lookup ${percentile(l, 0.5).toFixed(0)}) | ${(percentile(t, 0.5) / percentile(d, 0.5)).toFixed(1)}x |`);
      console.error(lines[lines.length - 1]);
    }
    const snapshots = (await trino.query(`SELECT count(*) AS n FROM "${ns[0]}"."campaign_metrics$snapshots"`)).rows[0]!.n;
    console.log(`Dashboard queries over campaign_metrics (${EVENTS.toLocaleString('en-US')} events, 1-minute windows, ${String(snapshots)} snapshots), ${RUNS} runs each after ${WARMUP} warm-up, ms:`);
    console.log('| query | rows | Trino p50 / p95 | DuckDB iceberg_scan p50 / p95 (REST lookup p50) | Trino / DuckDB at p50 |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const line of lines) console.log(line);
  } finally {
    duck.close();
    if (process.env.KEEP !== '1') {
      for (const id of [metrics, events]) await catalog.dropTable(id, { purge: true }).catch(() => {});
      await catalog.dropNamespace(ns).catch(() => {});
    }
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
