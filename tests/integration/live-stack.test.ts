/**
 * The live stack (`lakehouse stack up`) end to end, on the real services: the producer sends events at 20/s
 * with invalid, late and re-sent ones among them; ingest and the metrics job are killed with SIGKILL in
 * the middle and the supervisor restarts them; the stack goes down and up again in the middle of
 * producing and resumes from the offsets in the table. At the end, each claim is checked by an
 * independent reader: PyIceberg for the tables, a Kafka consumer of our own for both topics, and
 * Superset's API for the charts.
 *
 * To keep CI time down, the stack runs its own processes (producer, ingest, metrics job, Superset, the
 * supervisor) against the shared Kafka, MinIO, REST catalog and Trino (--services-env), with a namespace,
 * topics, group, state folder and ports of its own. Superset reads the tables through the shared Trino (the
 * production route: `dashboard up --database-uri trino://...`, as the stack does whenever it has a Trino).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VENV_TIMEOUT_MS, ensureVenv, pyicebergMetadataRest, readDetailedWithPyIcebergRest, readWithPyIcebergRest } from '../interop/readers.ts';
import { eventRows, expectSameRows, expectedCampaignCharts, expectedHealthCharts, metricsRows } from '../support/dashboard-oracle.ts';
import { readWholeTopic, requireKafkaBrokers, until } from '../support/kafka-test-kit.ts';
import { requireS3Settings } from '../support/s3-settings.ts';
import { SUPERSET_START_TIMEOUT_MS, SupersetClient, lakehouse, lakehouseOk } from '../support/superset-kit.ts';
import { portOpen, stackProcesses } from '../../stack/stack.ts';

interface Part { name: string; kind: string; up: boolean; pid: number | null; restarts: number; status: string; log: string | null }
interface Report { running: boolean; parts: Part[]; kafka_lag: number | null; committed_events: number | null; urls: Record<string, string> }
interface Sent { kind: 'valid' | 'late' | 'invalid' | 'duplicate'; reason?: string; key: string; value: string }

const id = randomBytes(4).toString('hex');
const ns = `live_${id}`;
const topic = `live_${id}_events`;
const dlq = `live_${id}_dlq`;
const group = `live-${id}`;
let dir: string;
let portOffset: number;
let flags: string[];
const s3 = requireS3Settings();
const restUri = process.env.LAKEHOUSE_REST_URI!;

async function status(): Promise<Report> {
  return JSON.parse((await lakehouse(['--json', 'stack', 'status', '--state-dir', dir], { cwd: dir })).stdout) as Report;
}
const part = (r: Report, name: string) => r.parts.find((p) => p.name === name)!;

function sent(): Sent[] {
  const file = path.join(dir, 'sent.ndjson');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sent);
}

function up(events: number): Promise<string> {
  return lakehouseOk(['--json', 'stack', 'up', ...flags, '--events', String(events)], { cwd: dir, timeoutMs: SUPERSET_START_TIMEOUT_MS });
}

/** Processes whose command line names the stack's state folder, with their command lines (for the failure message). */
function leftovers(): string[] {
  return stackProcesses(dir).map((pid) => { try { return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`; } catch { return String(pid); } });
}

/** A port offset at which the stack's Superset (8088 + offset) and ingest-metrics (9464 + offset) ports are free. */
async function freeOffset(): Promise<number> {
  for (;;) {
    const offset = 20_000 + Math.floor(Math.random() * 9000);
    if (!(await portOpen(8088 + offset)) && !(await portOpen(9464 + offset))) return offset;
  }
}

beforeAll(async () => {
  await ensureVenv();
  requireKafkaBrokers();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lakehouse-live-'));
  portOffset = await freeOffset();
  // The shared services' settings, as infra/services.sh writes them.
  const envFile = path.join(dir, 'services.env');
  writeFileSync(envFile, Object.entries(process.env).filter(([k]) => /^LAKEHOUSE_(S3|REST|KAFKA|TRINO)_/.test(k)).map(([k, v]) => `${k}=${v}`).join('\n'));
  flags = ['--state-dir', dir, '--services-env', envFile, '--namespace', ns, '--topic', topic, '--dlq-topic', dlq, '--group', group,
    '--port-offset', String(portOffset), '--rate', '20', '--invalid-rate', '0.03', '--late-rate', '0.05', '--duplicate-rate', '0.03', '--sent-log'];
}, VENV_TIMEOUT_MS);

afterAll(async () => {
  if (!dir) return;
  await lakehouse(['stack', 'down', '--state-dir', dir], { cwd: dir });
  const config = ['--config', path.join(dir, 'lakehouse.config.json'), '--catalog', 'stack'];
  for (const t of ['campaign_metrics', 'campaign_events']) await lakehouse([...config, 'tables', 'drop', `${ns}.${t}`, '--purge'], { cwd: dir });
  await lakehouse([...config, 'namespaces', 'drop', ns], { cwd: dir });
  const kafka = new Kafka({ brokers: requireKafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => {});
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('the live stack', () => {
  it('survives SIGKILLed ingest and metrics and a down/up in the middle: every valid event once in the table, every invalid one in the dead-letter topic with its reason, every chart equal to a PyIceberg read', async () => {
    const first = JSON.parse(await up(1800)) as Report & { already_running: boolean };
    expect(first.already_running).toBe(false);
    expect(first.parts.filter((p) => p.kind !== 'service').map((p) => [p.name, p.up])).toEqual([['superset', true], ['ingest', true], ['metrics', true], ['producer', true]]);

    // A second up while it runs starts no twins.
    const again = JSON.parse(await up(1800)) as Report & { already_running: boolean };
    expect(again.already_running).toBe(true);
    expect(part(again, 'ingest').pid).toBe(part(first, 'ingest').pid);

    // SIGKILL ingest and the metrics job in the middle of the stream; the supervisor restarts both.
    await until('a third of the events sent and some committed', async () => sent().length >= 600 && ((await status()).committed_events ?? 0) > 0, 180_000);
    const before = await status();
    process.kill(part(before, 'ingest').pid!, 'SIGKILL');
    process.kill(part(before, 'metrics').pid!, 'SIGKILL');
    await until('ingest and metrics restarted', async () => {
      const s = await status();
      return ['ingest', 'metrics'].every((n) => part(s, n).up && part(s, n).restarts === 1);
    }, 120_000);
    for (const n of ['ingest', 'metrics']) {
      expect(readFileSync(path.join(dir, 'logs', `${n}.log`), 'utf8')).toMatch(/exited \(signal SIGKILL\) after [\d.]+ s; restart 1 in 1 s/);
    }

    // Down in the middle of producing: nothing of the stack stays running.
    await until('two thirds of the events sent', () => sent().length >= 1200, 180_000);
    await lakehouseOk(['stack', 'down', '--state-dir', dir], { cwd: dir });
    expect(leftovers()).toEqual([]);
    const down = await status();
    expect(down.running).toBe(false);
    expect(down.parts.filter((p) => p.kind !== 'service').every((p) => !p.up)).toBe(true);

    // Up again: ingest resumes from the offsets recorded in the table; the producer sends 300 more.
    const sentBefore = sent().length;
    await up(300);
    await until('the second producer to finish', async () => part(await status(), 'producer').status === 'exited', 180_000);
    expect(sent().length).toBeGreaterThan(sentBefore);
    await until('ingest to catch up (Kafka lag 0)', async () => (await status()).kafka_lag === 0, 180_000);

    // Quiet: no ingest commit and no metrics commit for a whole metrics interval and more.
    const events = { uri: restUri, table: `${ns}.campaign_events`, properties: s3.properties };
    const metrics = { uri: restUri, table: `${ns}.campaign_metrics`, properties: s3.properties };
    const heads = async () => `${(await readDetailedWithPyIcebergRest(events)).snapshotId}/${(await readDetailedWithPyIcebergRest(metrics)).snapshotId}`;
    let last = '';
    await until('campaign_events and campaign_metrics to stop changing', async () => {
      const now = await heads();
      const same = now === last;
      last = now;
      if (!same) await new Promise((r) => setTimeout(r, 15_000));
      return same;
    }, 300_000);

    // What reached the topic (read by a consumer of our own) is what the producer logged before sending,
    // less at most the batch in flight when `down` stopped it. The log says what each message is.
    const messages = sent();
    const kafka = new Kafka({ brokers: requireKafkaBrokers(), logLevel: logLevel.NOTHING });
    const inTopic = (await readWholeTopic(kafka, topic)).map((m) => m.value!.toString('base64'));
    const logged = new Map<string, Sent>();
    for (const m of messages) if (m.kind !== 'duplicate' && !logged.has(m.value)) logged.set(m.value, m);
    expect(inTopic.filter((v) => !logged.has(v))).toEqual([]);
    expect(inTopic.length).toBeGreaterThan(messages.length - 50);
    const kinds = inTopic.map((v) => logged.get(v)!);
    expect(kinds.some((m) => m.kind === 'late')).toBe(true);
    expect(inTopic.length - new Set(inTopic).size).toBeGreaterThan(10); // re-sent messages

    // Every valid (or late) event that reached the topic is in campaign_events exactly once.
    const eventId = (v: string) => (JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as { event_id: string }).event_id;
    const validIds = new Set(kinds.filter((m) => m.kind !== 'invalid').map((m) => eventId(m.value)));
    const rows = await readWithPyIcebergRest(events);
    const ids = rows.map((l) => (JSON.parse(l) as { event_id: string }).event_id);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(validIds);

    // Every invalid message in the topic (each copy of a re-sent one too) is in the dead-letter topic once,
    // with the reason the generator gave it.
    const expectedLetters = kinds.filter((m) => m.kind === 'invalid').map((m) => `${m.reason} ${m.value}`).sort();
    const letters = (await readWholeTopic(kafka, dlq)).map((m) => `${m.headers?.['lakehouse.reason']?.toString()} ${m.value!.toString('base64')}`).sort();
    expect(expectedLetters.length).toBeGreaterThan(10);
    expect(letters).toEqual(expectedLetters);

    // Every chart through Superset's API equals the aggregate of a PyIceberg read of the tables.
    const server = JSON.parse(readFileSync(path.join(dir, 'superset', 'server.json'), 'utf8')) as { url: string; passwordFile: string; dashboards: { id: number; title: string }[] };
    const admin = new SupersetClient(server.url);
    expect((await admin.login('admin', (JSON.parse(readFileSync(server.passwordFile, 'utf8')) as { admin_password: string }).admin_password)).status).toBe(200);
    const chartIds = (title: string) => admin.charts(server.dashboards.find((d) => d.title === title)!.id);
    const campaign = await chartIds('Campaign Performance');
    for (const [name, expected] of Object.entries(expectedCampaignCharts(metricsRows(await readWithPyIcebergRest(metrics))))) {
      expectSameRows(name, (await admin.chartData(campaign.get(name)!)).data, expected);
    }
    const health = await chartIds('Pipeline health');
    const meta = await pyicebergMetadataRest(events);
    for (const [name, expected] of Object.entries(expectedHealthCharts(meta.snapshots, eventRows(rows)))) {
      expectSameRows(name, (await admin.chartData(health.get(name)!)).data, expected);
    }

    await lakehouseOk(['stack', 'down', '--state-dir', dir], { cwd: dir });
    expect(leftovers()).toEqual([]);
  }, 25 * 60_000);

  it('a port already taken is a sentence naming the part and the fix, non-zero exit, and nothing started', async () => {
    const { createServer } = await import('node:net');
    const offset = await freeOffset();
    const blocker = createServer();
    await new Promise<void>((resolve, reject) => { blocker.once('error', reject); blocker.listen(8088 + offset, '127.0.0.1', resolve); });
    try {
      // The later --port-offset wins over the one in flags.
      const r = await lakehouse(['stack', 'up', ...flags, '--port-offset', String(offset)], { cwd: dir, timeoutMs: 120_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`superset: port 127.0.0.1:${8088 + offset} is already in use by another process`);
      expect(r.stderr).toContain('--port-offset');
      expect(leftovers()).toEqual([]);
    } finally {
      blocker.close();
    }
  }, 180_000);

  it('an unreachable Kafka is a sentence naming it, non-zero exit, and nothing started', async () => {
    const offset = await freeOffset();
    const closed = path.join(dir, 'no-kafka.env');
    // A port nothing listens on: the broker of a stack that is not there.
    writeFileSync(closed, readFileSync(path.join(dir, 'services.env'), 'utf8').replace(/LAKEHOUSE_KAFKA_BROKERS=.*/, `LAKEHOUSE_KAFKA_BROKERS=127.0.0.1:${offset + 1}`));
    const r = await lakehouse(['stack', 'up', ...flags, '--port-offset', String(offset), '--services-env', closed], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`kafka: is not reachable at 127.0.0.1:${offset + 1}`);
    expect(leftovers()).toEqual([]);
  }, 180_000);
});
