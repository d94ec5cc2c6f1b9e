/**
 * `make bench`: commit latency and scan planning as commits pile up, with and without manifest merging.
 *
 * One table (campaign_events' schema and partitioning, embedded SQLite catalog, local warehouse) takes
 * COMMITS appends of FILES data files each, as a streaming ingest does at one flush per commit. The
 * data files are one real file's entry (with its column statistics) under new names and partitions:
 * commit and planning read metadata only, so no Parquet is written. At 100, 1,000 and 10,000 commits it
 * reports the commit latency over the last 100 commits (p50, p95, max), a full scan's planning time
 * (best of 3), the manifest count and the metadata file's size; and, as the reference, PyIceberg's
 * `plan_files()` and DuckDB's `iceberg_metadata()` on the same metadata file, timed inside Python.
 *
 * Configurations (CONFIGS, comma-separated): `no-merge` (commit.manifest-merge.enabled=false, what every
 * append did before), `merge` (the defaults: merge at 100 manifests, up to 8 MiB), `maintained` (merge,
 * and every 100 commits what scheduled maintenance does: the day's small files compacted into one per
 * partition, snapshots expired keeping the last 100). Without compaction and expiry the live files and
 * the metadata file grow with every commit, whatever happens to manifests. COMMITS applies to
 * `maintained`; the others stop at UNMAINTAINED_COMMITS (default COMMITS), since their commits slow down
 * as the metadata grows.
 *
 *   COMMITS=10000 UNMAINTAINED_COMMITS=2000 FILES=3 node --import tsx bench/commit-bench.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { type DataFile, readManifestList, rowsToRecordBatch, Table } from '../iceberg/index.ts';
import { toLocalPath } from '../iceberg/io/index.ts';
import { campaignEventsSchema, campaignEventsSpec, EVENT_TYPES } from '../domain/campaign-events.ts';
import { generateEvents } from '../pipeline/event-generator.ts';

const COMMITS = Number(process.env.COMMITS ?? 10_000);
const FILES = Number(process.env.FILES ?? 3);
const UNMAINTAINED_COMMITS = Number(process.env.UNMAINTAINED_COMMITS ?? COMMITS);
const CONFIGS = (process.env.CONFIGS ?? 'no-merge,merge,maintained').split(',').map((s) => s.trim());
const checkpoints = (n: number) => {
  const c = [100, 1_000, 10_000, 100_000].filter((x) => x <= n);
  return c.includes(n) ? c : [...c, n];
};
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const python = path.join(repo, '.venv', 'bin', 'python');

interface Row {
  config: string;
  commits: number;
  p50: number;
  p95: number;
  max: number;
  planMs: number;
  dayPlanMs: number;
  files: number;
  manifests: number;
  metadataKiB: number;
  pyiceberg?: number;
  duckdb?: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** One real data file's entry, with column statistics as ingest writes them. */
async function templateFile(table: Table): Promise<DataFile> {
  const rows = [...generateEvents({ count: 1000, seed: 3 })] as unknown as Record<string, unknown>[];
  const [file] = await table.writeDataFiles([rowsToRecordBatch(campaignEventsSchema, rows)]);
  return file!;
}

/**
 * What scheduled maintenance does once a day's commits are in (every 100 commits here): the day's
 * files compacted into one per partition (a rewrite of the entries; the bench's files hold no rows to
 * read), then snapshots expired keeping the last 100.
 */
async function maintain(table: Table, day: number): Promise<void> {
  const plan = await table.planFiles();
  const byPartition = new Map<string, DataFile[]>();
  for (const f of plan.files) {
    if (Number(f.partition[0]) !== day) continue;
    const key = String(f.partition[1]);
    byPartition.set(key, [...(byPartition.get(key) ?? []), f]);
  }
  const rewrite = table.newRewrite();
  for (const [key, files] of byPartition) {
    if (files.length < 2) continue;
    for (const f of files) rewrite.deleteFile(f);
    rewrite.addFile({ ...files[0]!, filePath: files[0]!.filePath.replace(/[^/]+$/, `compacted-${day}-${key}.parquet`), recordCount: files.reduce((a, f) => a + f.recordCount, 0), fileSizeInBytes: files.reduce((a, f) => a + f.fileSizeInBytes, 0) });
  }
  await rewrite.commit();
  await table.expireSnapshots({ olderThanMs: Date.now() + 1, retainLast: 100 });
}

async function run(config: string): Promise<Row[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-commit-bench-'));
  const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  try {
    await catalog.createNamespace(['bench']);
    const properties: Record<string, string> = config === 'no-merge' ? { 'commit.manifest-merge.enabled': 'false' } : {};
    const table = new Table(catalog, await catalog.createTable({ namespace: ['bench'], name: 'events' }, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec, properties }));
    const template = await templateFile(table);
    const day0 = Number(template.partition[0]);
    const latencies: number[] = [];
    const out: Row[] = [];
    const commits = config === 'maintained' ? COMMITS : UNMAINTAINED_COMMITS;
    const marks = checkpoints(commits);
    const dayText = (i: number) => new Date((day0 + Math.floor(i / 100)) * 86_400_000).toISOString().slice(0, 10);
    for (let i = 1; i <= commits; i++) {
      // A day partition per 100 commits, an event_type per file: what a steady ingest appends.
      const files = Array.from({ length: FILES }, (_, k): DataFile => ({
        ...template, filePath: `${template.filePath.replace(/[^/]+$/, '')}c${i}-${k}.parquet`,
        partition: [day0 + Math.floor(i / 100), EVENT_TYPES[k % EVENT_TYPES.length]!],
      }));
      const t0 = performance.now();
      await table.newAppend().appendFiles(files).commit();
      latencies.push(performance.now() - t0);
      if (config === 'maintained' && i % 100 === 99) await maintain(table, day0 + Math.floor(i / 100));
      if (!marks.includes(i)) continue;
      let planMs = Infinity;
      let dayPlanMs = Infinity;
      let planned = 0;
      const dayFilter = `event_time >= '${dayText(i)}T00:00:00Z' AND event_time < '${dayText(i)}T23:59:59Z'`;
      for (let r = 0; r < 3; r++) {
        const p0 = performance.now();
        planned = (await table.planFiles()).files.length;
        planMs = Math.min(planMs, performance.now() - p0);
        const d0 = performance.now();
        await table.planFiles({ filter: dayFilter });
        dayPlanMs = Math.min(dayPlanMs, performance.now() - d0);
      }
      const last = latencies.slice(-100);
      const row: Row = {
        config, commits: i, p50: quantile(last, 0.5), p95: quantile(last, 0.95), max: Math.max(...last), planMs, dayPlanMs, files: planned,
        manifests: (await readManifestList(table.io, table.currentSnapshot()!.manifestList)).length,
        metadataKiB: statSync(toLocalPath(table.metadataLocation)).size / 1024,
      };
      try {
        const ref = JSON.parse(execFileSync(python, [path.join(repo, 'bench', 'planning_reference.py'), toLocalPath(table.metadataLocation), '3'], { encoding: 'utf8', maxBuffer: 1 << 26 }));
        if (ref.pyiceberg.files !== planned || ref.duckdb.files !== planned) {
          process.stderr.write(`! reference found ${ref.pyiceberg.files} (PyIceberg) / ${ref.duckdb.files} (DuckDB) files, we planned ${planned}\n`);
        }
        row.pyiceberg = ref.pyiceberg.ms;
        row.duckdb = ref.duckdb.ms;
      } catch (e) {
        process.stderr.write(`reference readers failed (run make install for .venv): ${(e as Error).message.split('\n')[0]}\n`);
      }
      out.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
    return out;
  } finally {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const config of CONFIGS) rows.push(...(await run(config)));
const ms = (x: number | undefined) => (x === undefined ? '-' : x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));
console.log(`\nCommit latency (last 100 commits) and full-scan planning, ${FILES} data files per commit, Node ${process.versions.node}, load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
console.log('| config | commits | commit p50 ms | p95 ms | max ms | planning: all ms | one day ms | PyIceberg plan_files ms | DuckDB iceberg_metadata ms | live files | manifests | metadata file |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.config} | ${r.commits.toLocaleString('en-US')} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.max)} | ${ms(r.planMs)} | ${ms(r.dayPlanMs)} | ${ms(r.pyiceberg)} | ${ms(r.duckdb)} | ${r.files.toLocaleString('en-US')} | ${r.manifests} | ${Math.round(r.metadataKiB).toLocaleString('en-US')} KiB |`);
}
