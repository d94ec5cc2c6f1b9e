/**
 * `make bench`, live-stack half: end-to-end freshness in the running system, from the moment the producer
 * hands an event to Kafka to the moment a chart fetched through Superset's API includes it; p50 / p99 over
 * every valid event, at 20 events/s and at 20 k events/s. Not a test: nothing asserts a timing.
 *
 *   STACK_RATES=20,20000 STACK_SECONDS=60,15 node --import tsx bench/stack-freshness-bench.ts
 *
 * How: for each rate, `lakehouse stack up` runs the stack's own processes (producer, ingest with a 2 s
 * flush interval, metrics job, Superset) against the running services (.cache/services/services.env, or
 * LAKEHOUSE_SERVICES_ENV), in a namespace and topics of their own, with the producer's --sent-log (each
 * message and the time it was handed to Kafka). Meanwhile this process asks Superset for the "Events per
 * minute" chart (Pipeline health; it reads campaign_events' snapshot summaries at the current snapshot,
 * force=true so nothing is cached) back to back and notes, per answer, the time it arrived and the
 * events it counts. Afterwards the table says which events each ingest snapshot added (its data files'
 * event_id column) and the running total after it; an event is visible from the first chart answer whose
 * count reaches that total. Freshness = that answer's arrival - the event's send time.
 *
 * Reference, same run: produced -> committed (the snapshot's timestamp - send time), so the remainder is
 * what Superset adds (its answer latency and the polling interval). CPU: ingest's and the producer's CPU
 * time per event, from /proc. The machine is shared: wall times are noisy, the ratios less so.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { loadCatalog } from '../catalog/index.ts';
import { DEAD_LETTERED_KEY } from '../domain/ingest-summary-keys.ts';
import { Table, ancestorsOf, currentSchema, currentSnapshot, readParquetBytes, snapshotChanges } from '../iceberg/index.ts';
import { processCpuSeconds } from './proc-cpu.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAKEHOUSE = path.join(ROOT, 'bin', 'lakehouse');
const RATES = (process.env.STACK_RATES ?? '20,20000').split(',').map(Number);
const SECONDS = (process.env.STACK_SECONDS ?? '60,15').split(',').map(Number);
const SERVICES_ENV = process.env.LAKEHOUSE_SERVICES_ENV ?? path.join(ROOT, '.cache', 'services', 'services.env');

interface Poll { at: number; count: number; queryMs: number }
interface Sent { sent_at: number; kind: string; value: string }

function lakehouse(args: string[]): string {
  return execFileSync(LAKEHOUSE, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function superset(stateDir: string) {
  const server = JSON.parse(readFileSync(path.join(stateDir, 'superset', 'server.json'), 'utf8')) as { url: string; passwordFile: string; dashboards: { id: number; title: string }[] };
  const password = (JSON.parse(readFileSync(server.passwordFile, 'utf8')) as { admin_password: string }).admin_password;
  const login = await fetch(`${server.url}/api/v1/security/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password, provider: 'db', refresh: true }) });
  const token = ((await login.json()) as { access_token: string }).access_token;
  const get = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${server.url}${p}`, { headers: { Authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    return (await res.json()) as T;
  };
  const health = server.dashboards.find((d) => d.title === 'Pipeline health')!;
  const charts = await get<{ result: { id: number; slice_name: string }[] }>(`/api/v1/dashboard/${health.id}/charts`);
  const chart = charts.result.find((c) => c.slice_name === 'Events per minute')!.id;
  /** Events committed, as the chart shows them now. */
  return async (): Promise<number> => {
    const body = await get<{ result: { data: { written: number }[] }[] }>(`/api/v1/chart/${chart}/data/?force=true`);
    return body.result[0]!.data.reduce((a, r) => a + Number(r.written), 0);
  };
}

async function runAt(rate: number, seconds: number): Promise<void> {
  const id = randomBytes(3).toString('hex');
  const stateDir = mkdtempSync(path.join(tmpdir(), 'stack-bench-'));
  const ns = `bench_${id}`;
  const events = rate * seconds;
  const up = ['stack', 'up', '--state-dir', stateDir, '--services-env', SERVICES_ENV, '--namespace', ns, '--topic', `${ns}_events`, '--dlq-topic', `${ns}_dlq`,
    '--group', `bench-${id}`, '--port-offset', String(21_000 + Math.floor(Math.random() * 8000)), '--rate', String(rate), '--events', String(events), '--sent-log',
    '--invalid-rate', '0.01', '--late-rate', '0', '--duplicate-rate', '0.01'];
  const config = ['--config', path.join(stateDir, 'lakehouse.config.json'), '--catalog', 'stack'];
  const polls: Poll[] = [];
  try {
    lakehouse(up);
    type Status = { parts: { name: string; pid: number | null; status: string }[]; kafka_lag: number | null };
    // Asynchronous: the chart polling goes on while it runs. (`stack status` exits 1 once the producer is done.)
    const status = async (): Promise<Status> => {
      const r = await promisify(execFile)(LAKEHOUSE, ['--json', 'stack', 'status', '--state-dir', stateDir], { maxBuffer: 16 << 20 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '{}' }));
      return JSON.parse(r.stdout) as Status;
    };
    let s = await status();
    const pidOf = (n: string) => s.parts.find((p) => p.name === n)?.pid ?? null;
    const ingestPid = pidOf('ingest');
    const producerPid = pidOf('producer');
    const cpu0 = { ingest: processCpuSeconds(ingestPid), producer: processCpuSeconds(producerPid) };
    let cpuProducer: number | null = null;
    const count = await superset(stateDir);
    // Poll the chart back to back until the producer is done and the chart shows everything ingest
    // committed. The stack's status (a CLI process: seconds on a busy machine) is checked beside it, not
    // between polls, so it does not coarsen the polling.
    let finished = false;
    let lastCount = -1;
    let stableSince = Date.now();
    let errors = 0;
    const started = Date.now();
    const watcher = (async () => {
      while (!finished) {
        const p = processCpuSeconds(producerPid);
        if (p !== null) cpuProducer = p;
        s = await status();
        if (s.parts.find((x) => x.name === 'producer')?.status === 'exited' && s.kafka_lag === 0) finished = true;
        else await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    for (;;) {
      const t0 = Date.now();
      let c: number;
      try {
        c = await count();
      } catch (e) {
        // A worker restarted by gunicorn (its timeout, on a busy machine) drops the connection: ask again.
        errors++;
        if (errors > 50) throw e;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const at = Date.now();
      polls.push({ at, count: c, queryMs: at - t0 });
      if (c !== lastCount) { lastCount = c; stableSince = at; }
      if (finished && at - stableSince > 10_000) break;
      if (Date.now() - started > (seconds + 600) * 1000) throw new Error('the stack did not catch up within 10 minutes after the producer');
    }
    await watcher;
    const cpuIngest = processCpuSeconds(ingestPid);

    // Which events each ingest snapshot added, and the running total after it.
    const catalog = await loadCatalog({ name: 'stack', configFile: path.join(stateDir, 'lakehouse.config.json'), env: {}, overrides: {} });
    const table = new Table(catalog, await catalog.loadTable({ namespace: [ns], name: 'campaign_events' }));
    const schema = currentSchema(table.metadata);
    const committedAt = new Map<string, { total: number; ts: number }>();
    const snaps = ancestorsOf(table.metadata, currentSnapshot(table.metadata)!.snapshotId).filter((x) => x.summary[DEAD_LETTERED_KEY] !== undefined);
    for (const snap of snaps) {
      const total = Number(snap.summary['total-records']);
      for (const f of (await snapshotChanges(table.io, snap)).added) {
        const ids = readParquetBytes(await table.io.read(f.filePath), schema).getChild('event_id')!;
        for (let i = 0; i < ids.length; i++) committedAt.set(String(ids.get(i)), { total, ts: snap.timestampMs });
      }
    }
    await catalog.close();

    const sent = readFileSync(path.join(stateDir, 'sent.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sent);
    const firstSent = new Map<string, number>();
    for (const m of sent) {
      if (m.kind !== 'valid') continue;
      const eventId = (JSON.parse(Buffer.from(m.value, 'base64').toString('utf8')) as { event_id: string }).event_id;
      if (!firstSent.has(eventId)) firstSent.set(eventId, m.sent_at);
    }
    const visible: number[] = [];
    const committed: number[] = [];
    let missing = 0;
    for (const [eventId, sentAt] of firstSent) {
      const c = committedAt.get(eventId);
      const poll = c && polls.find((p) => p.count >= c.total);
      if (!c || !poll) { missing++; continue; }
      visible.push(poll.at - sentAt);
      committed.push(c.ts - sentAt);
    }
    visible.sort((a, b) => a - b);
    committed.sort((a, b) => a - b);
    const queries = polls.map((p) => p.queryMs).sort((a, b) => a - b);
    const achieved = sent.length / ((sent[sent.length - 1]!.sent_at - sent[0]!.sent_at) / 1000 || 1);
    const us = (cpu: number | null, from: number | null) => (cpu === null || from === null ? 'n/a' : `${(((cpu - from) * 1e6) / sent.length).toFixed(1)} µs`);
    console.log(`\n== ${rate.toLocaleString('en-US')} events/s for ${seconds} s: ${sent.length.toLocaleString('en-US')} messages sent (achieved ${Math.round(achieved).toLocaleString('en-US')}/s), ${visible.length.toLocaleString('en-US')} valid events measured${missing ? `, ${missing} not found` : ''}, ${snaps.length} ingest commits`);
    console.log(`produced -> visible in a chart through Superset's API: p50 ${(percentile(visible, 50) / 1000).toFixed(2)} s, p99 ${(percentile(visible, 99) / 1000).toFixed(2)} s, max ${(visible[visible.length - 1]! / 1000).toFixed(2)} s`);
    console.log(`reference, produced -> committed (snapshot timestamp): p50 ${(percentile(committed, 50) / 1000).toFixed(2)} s, p99 ${(percentile(committed, 99) / 1000).toFixed(2)} s`);
    console.log(`Superset chart answer (Events per minute, force=true): p50 ${percentile(queries, 50)} ms, p99 ${percentile(queries, 99)} ms over ${queries.length} polls (${errors} dropped connections retried)`);
    console.log(`CPU per message sent: ingest ${us(cpuIngest, cpu0.ingest)}, producer ${us(cpuProducer, cpu0.producer)}`);
  } finally {
    try { lakehouse(['stack', 'down', '--state-dir', stateDir]); } catch { /* reported above */ }
    if (!process.env.KEEP) {
      for (const t of ['campaign_metrics', 'campaign_events']) try { lakehouse([...config, 'tables', 'drop', `${ns}.${t}`, '--purge']); } catch { /* absent */ }
      try { lakehouse([...config, 'namespaces', 'drop', ns]); } catch { /* absent */ }
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
}

if (!existsSync(SERVICES_ENV)) {
  console.log(`stack-freshness-bench: skipped (no ${SERVICES_ENV}; start the services with 'bash infra/services.sh up minio iceberg-rest kafka')`);
} else {
  for (let i = 0; i < RATES.length; i++) await runAt(RATES[i]!, SECONDS[i] ?? SECONDS[SECONDS.length - 1]!);
}
