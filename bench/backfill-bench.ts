/**
 * `make bench`: backfill throughput against ingest's from the same NDJSON file, with DuckDB converting the
 * same file to Parquet (read_json -> COPY parquet zstd) as the reference in the same run. Prints a
 * Markdown table for the README. Not a test: nothing here asserts a timing.
 *
 * Each measured run is a child process of its own (fresh heap; peak RSS is the child's), on a fresh
 * local SQLite-catalog warehouse:
 *   - ingest: `Ingestor` over the file (the path `lakehouse ingest --source file:` takes);
 *   - backfill: `backfill()` over the same file (survey pass + write pass), plain and gzip;
 *   - backfill over a table that already holds every event (written by an ingest under another group),
 *     so every event is looked up and skipped: the cost of the event_id index over the source's days;
 *   - dry run: survey and index only.
 *
 *   BACKFILL_EVENTS=1000000 node --import tsx bench/backfill-bench.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { SqlCatalog } from '../catalog/sql-catalog.ts';
import { Table } from '../iceberg/index.ts';
import { LocalFileIO } from '../iceberg/io/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { backfill, backfillGroup } from '../pipeline/backfill.ts';
import { MemoryDeadLetterSink } from '../pipeline/dead-letters.ts';
import { generateMessages } from '../pipeline/event-generator.ts';
import { FileSource } from '../pipeline/file-source.ts';
import { FileSetSource, listSourceFiles } from '../pipeline/file-set-source.ts';
import { Ingestor } from '../pipeline/ingest.ts';

const EVENTS = Number(process.env.BACKFILL_EVENTS ?? 1_000_000);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

type Mode = 'ingest' | 'backfill' | 'backfill-gzip' | 'backfill-held' | 'dry-run';

interface ChildResult {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  written: number;
  skipped: number;
  /** Backfill only: seconds of the survey pass (to the first record of the write pass). */
  surveySeconds?: number;
}

async function openTable(dir: string): Promise<{ catalog: SqlCatalog; table: Table }> {
  const catalog = await SqlCatalog.open({ name: 'bench', uri: `sqlite:///${path.join(dir, 'catalog.db')}`, warehouse: path.join(dir, 'wh') });
  const id = { namespace: ['bench'], name: 'campaign_events' };
  if (!(await catalog.tableExists(id))) {
    await catalog.createNamespace(['bench']);
    await catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec });
  }
  return { catalog, table: new Table(catalog, await catalog.loadTable(id)) };
}

async function ingestFile(table: Table, file: string, group: string) {
  return new Ingestor({ table, source: new FileSource({ location: file }), group, deadLetters: new MemoryDeadLetterSink() }).run();
}

/** One measured run, in this (child) process. */
async function child(mode: Mode, dir: string, file: string): Promise<ChildResult> {
  const { catalog, table } = await openTable(dir);
  try {
    if (mode === 'backfill-held') await ingestFile(table, file, 'live'); // not measured
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let written: number;
    let skipped: number;
    let surveySeconds: number | undefined;
    if (mode === 'ingest') {
      const s = await ingestFile(table, file, 'ingest');
      written = s.written;
      skipped = s.duplicates;
    } else {
      const io = new LocalFileIO();
      const files = await listSourceFiles(io, file);
      const r = await backfill({
        table, group: backfillGroup(file), deadLetters: new MemoryDeadLetterSink(), dryRun: mode === 'dry-run',
        openSource: () => new FileSetSource({ description: file, files, open: (loc) => new FileSource({ location: loc, io }) }),
        onProgress: (p) => { if (p.phase === 'write' && surveySeconds === undefined) surveySeconds = (performance.now() - t0) / 1000; },
      });
      written = r.added;
      skipped = r.skipped;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMiB: process.resourceUsage().maxRSS / 1024, written, skipped, ...(surveySeconds === undefined ? {} : { surveySeconds }) };
  } finally {
    await catalog.close();
  }
}

if (process.argv[2] === '--child') {
  const [mode, dir, file] = process.argv.slice(3) as [Mode, string, string];
  process.stdout.write(JSON.stringify(await child(mode, dir, file)) + '\n');
  process.exit(0);
}

const phase = (what: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);
const root = mkdtempSync(path.join(tmpdir(), 'lakehouse-backfill-bench-'));
try {
  phase(`generating ${EVENTS} events as NDJSON (plain and gzip)`);
  // Messages as apps send them, spread over 30 days of history.
  const parts: Buffer[] = [];
  for (const m of generateMessages({ count: EVENTS, seed: 5, spanMs: 30 * 86_400_000, startMs: Date.UTC(2026, 9, 1) })) parts.push(Buffer.from(m.value), Buffer.from('\n'));
  const plain = path.join(root, 'history.ndjson');
  writeFileSync(plain, Buffer.concat(parts));
  const gz = path.join(root, 'history.ndjson.gz');
  writeFileSync(gz, gzipSync(Buffer.concat(parts)));
  const inputMiB = statSync(plain).size / 1048576;

  const run = (mode: Mode, file: string): ChildResult => {
    phase(`${mode}`);
    const dir = mkdtempSync(path.join(root, `${mode}-`));
    const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', mode, dir, file], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
    rmSync(dir, { recursive: true, force: true });
    return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
  };
  const results: Array<[string, ChildResult]> = [
    ['lakehouse ingest (Ingestor over the file)', run('ingest', plain)],
    ['lakehouse backfill, plain file (survey + write)', run('backfill', plain)],
    ['lakehouse backfill, gzip file', run('backfill-gzip', gz)],
    ['lakehouse backfill over a table holding every event (all skipped)', run('backfill-held', plain)],
    ['lakehouse backfill --dry-run', run('dry-run', plain)],
  ];
  phase('DuckDB reference');
  const ref = JSON.parse(execFileSync(path.join(repo, '.venv/bin/python'), [path.join(repo, 'bench/duckdb_reference.py'), plain, path.join(root, 'ref.parquet')], { encoding: 'utf8' })) as Record<string, { seconds: number; cpu_seconds: number }>;

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const ingest = results[0]![1];
  console.log(`\n${fmt(EVENTS)} events over 30 days, ${inputMiB.toFixed(1)} MiB NDJSON (${(statSync(gz).size / 1048576).toFixed(1)} MiB gzip); node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log('| run | events/s | seconds | of which survey | CPU µs/event | peak RSS | rows written | skipped | vs ingest (time) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [label, r] of results) {
    console.log(`| ${label} | ${fmt(EVENTS / r.seconds)} | ${r.seconds.toFixed(2)} | ${r.surveySeconds === undefined ? '' : r.surveySeconds.toFixed(2)} | ${(r.cpuSeconds * 1e6 / EVENTS).toFixed(1)} | ${r.peakRssMiB.toFixed(0)} MiB | ${fmt(r.written)} | ${fmt(r.skipped)} | ${(r.seconds / ingest.seconds).toFixed(2)}x |`);
  }
  for (const k of ['threads1', 'threads2']) {
    const r = ref[k]!;
    console.log(`| DuckDB read_json -> COPY parquet zstd, ${k.replace('threads', '')} thread(s) | ${fmt(EVENTS / r.seconds)} | ${r.seconds.toFixed(2)} | | ${(r.cpu_seconds * 1e6 / EVENTS).toFixed(1)} | | | | ${(r.seconds / ingest.seconds).toFixed(2)}x |`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
