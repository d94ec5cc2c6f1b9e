import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Table } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { decodeEvent, isRejection } from '../../pipeline/event-decoder.ts';
import { type GeneratedMessage, generateMessages } from '../../pipeline/event-generator.ts';
import { produceMessages } from '../../pipeline/kafka-producer.ts';
import { ensureTopics } from '../../pipeline/kafka-topics.ts';
import { recordedPositions } from '../../pipeline/offsets.ts';
import { readWithPyIceberg } from '../interop/readers.ts';
import { highWatermarks, requireKafkaBrokers, until, useKafkaTestEnv } from '../support/kafka-test-kit.ts';

/**
 * `lakehouse ingest --source kafka` and its consumer-group membership across restarts, against the real
 * broker: a run killed with -9 cannot leave its group, and the broker keeps it as a member until its
 * session times out; a restart on the same host must not wait for that (it removes the dead run's
 * membership: pipeline/kafka-group-members.ts). Every exit the process can catch leaves the group.
 *
 * The runs use a 60 s session. A restart that waited for the killed run's session would get its first
 * partition about 60 s after the kill (the rebalance waits for the dead member until its session ends;
 * the rebalance timeout is 60 s too), so a first commit within RESTART_BOUND_MS of the kill shows it did
 * not wait, with room for a slow start on a loaded machine. A member that did not leave on exit would be
 * listed by the broker for 60 s; the tests look right after the exit. Rows are checked with PyIceberg:
 * every produced event exactly once, whatever the kills.
 */
const brokers = requireKafkaBrokers();
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const PARTITIONS = 3;
const SESSION = ['--session-timeout', '60s', '--heartbeat-interval', '1s'];
const RESTART_BOUND_MS = 45_000;

const unique = (what: string) => `lakehouse-restart-${what}-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const kit = useKafkaTestEnv('kafka-restart');

interface Scenario {
  topic: string;
  dlqTopic: string;
  group: string;
  /** `ns.table` */
  table: string;
  handle: Table;
  /** Every message produced so far, and where the next ones come from (one generator: no event id twice). */
  produced: GeneratedMessage[];
  generator: Iterator<GeneratedMessage>;
}

async function scenario(): Promise<Scenario> {
  const topic = unique('events');
  const dlqTopic = unique('dlq');
  kit.topicsMade.push(topic, dlqTopic);
  await ensureTopics(brokers, [
    { topic, partitions: PARTITIONS, retentionMs: 3_600_000 },
    { topic: dlqTopic, partitions: 1, retentionMs: 3_600_000 },
  ]);
  const namespace = unique('ns').replace(/-/g, '_');
  await kit.wh.catalog.createNamespace([namespace]);
  const id = { namespace: [namespace], name: 'campaign_events' };
  const handle = new Table(kit.wh.catalog, await kit.wh.catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
  const generator = generateMessages({ count: Number.MAX_SAFE_INTEGER, seed: randomBytes(2).readUInt16LE() });
  return { topic, dlqTopic, group: unique('group'), table: `${namespace}.campaign_events`, handle, produced: [], generator };
}

/** `count` more generated messages. */
async function produce(s: Scenario, count: number): Promise<void> {
  const messages = Array.from({ length: count }, () => s.generator.next().value as GeneratedMessage);
  await produceMessages({ brokers, topic: s.topic, messages });
  s.produced.push(...messages);
}

/** A producer sending `perSecond` messages until stop() (which resolves once they are all sent). */
function flow(s: Scenario, perSecond: number): { stop: () => Promise<void> } {
  let on = true;
  const run = (async () => {
    while (on) {
      await produce(s, Math.ceil(perSecond / 5));
      await sleep(200);
    }
  })();
  run.catch(() => {}); // observed by stop()
  return { stop: async () => { on = false; await run; } };
}

interface Run {
  child: ChildProcess;
  pid: number;
  /** Parsed JSON log lines so far. */
  lines: Array<Record<string, unknown>>;
  commits: () => number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  text: () => string;
}

function startIngest(s: Scenario, ...extra: string[]): Run {
  const args = ['--warehouse', kit.wh.warehouse, '--catalog-uri', kit.wh.catalogUri, 'ingest', '--source', 'kafka', '--brokers', brokers.join(','),
    '--topic', s.topic, '--dlq-topic', s.dlqTopic, '--group', s.group, '--table', s.table, '--no-create-topics',
    '--flush-rows', '300', '--flush-interval', '300ms', ...SESSION, ...extra];
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  kit.running.add(child);
  const lines: Array<Record<string, unknown>> = [];
  let text = '';
  let partial = '';
  child.stderr!.on('data', (c: Buffer) => {
    text += c.toString();
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ msg: p });
      }
    }
  });
  child.stdout!.on('data', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      kit.running.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, pid: child.pid!, lines, commits: () => lines.filter((l) => l.msg === 'committed').length, exited, text: () => text.split('\n').slice(-25).join('\n') };
}

/** The client ids of the members a run removed from the group before it joined. */
function removedMembers(r: Run): string[] {
  return r.lines.filter((l) => l.msg === 'removed group members of earlier runs on this host that ended without leaving the group')
    .flatMap((l) => (l.members as Array<{ clientId: string }>).map((m) => m.clientId));
}

async function groupMembers(group: string): Promise<string[]> {
  const { groups } = await kit.admin.describeGroups([group]);
  return (groups[0]?.members ?? []).map((m) => m.clientId);
}

/** The table's recorded positions reach every partition's high watermark. */
async function drained(s: Scenario): Promise<boolean> {
  const high = await highWatermarks(kit.admin, s.topic);
  await s.handle.refresh();
  const recorded = recordedPositions(s.handle.metadata, s.group);
  return [...high].every(([k, h]) => (recorded.get(k) ?? 0n) >= h);
}

/** PyIceberg reads every produced event exactly once, and nothing else. */
async function expectEveryEventOnce(s: Scenario): Promise<void> {
  const valid = s.produced.filter((m) => !isRejection(decodeEvent(m.value, Date.now())));
  expect(valid.length).toBe(s.produced.length);
  const want = valid.map((m) => (JSON.parse(Buffer.from(m.value).toString('utf8')) as { event_id: string }).event_id).sort();
  const rows = await readWithPyIceberg({ catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: s.table });
  const got = rows.map((line) => (JSON.parse(line) as { event_id: string }).event_id).sort();
  expect(got.length).toBe(want.length);
  expect(got).toEqual(want);
}

/**
 * The runs drain the topic and stop on SIGTERM (exit 0, having left the group: no member is listed right
 * after), and PyIceberg reads every produced event exactly once.
 */
async function drainStopAndCheck(s: Scenario, runs: Run[]): Promise<void> {
  await until('the topic to be drained', () => drained(s), 60_000);
  for (const r of runs) r.child.kill('SIGTERM');
  for (const r of runs) expect((await r.exited).code, r.text()).toBe(0);
  expect(await groupMembers(s.group)).toEqual([]);
  await expectEveryEventOnce(s);
}

async function waitFor(what: string, r: Run, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  let exited = false;
  void r.exited.then(() => { exited = true; });
  await until(what, () => {
    if (exited && !cond()) throw new Error(`${what}: the run exited first. Its log:\n${r.text()}`);
    return cond();
  }, timeoutMs);
}

describe('lakehouse ingest --source kafka: group membership across restarts', () => {
  it('after kill -9, a restarted run removes the dead membership and commits long before its 60 s session could end; every event once', async () => {
    const s = await scenario();
    await produce(s, 1500);
    const first = startIngest(s);
    await waitFor('the first run to commit', first, () => first.commits() >= 1);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const killedAt = Date.now();
    // The killed run is still a member: it could not leave.
    expect(await groupMembers(s.group)).toEqual([expect.stringContaining(`/${first.pid}/`)]);

    const events = flow(s, 1000);
    const second = startIngest(s);
    try {
      await waitFor('the restarted run to commit', second, () => second.commits() >= 1, RESTART_BOUND_MS + 15_000);
      const tookMs = Date.now() - killedAt;
      expect(tookMs, `first commit of the restarted run, ms after the kill. Its log:\n${second.text()}`).toBeLessThan(RESTART_BOUND_MS);
      expect(removedMembers(second)).toEqual([expect.stringContaining(`/${first.pid}/`)]);
    } finally {
      await events.stop();
    }
    await drainStopAndCheck(s, [second]);
  }, 240_000);

  it('one of two instances killed with -9 and restarted: only the dead membership is removed, the restart commits within the bound, every event once', async () => {
    const s = await scenario();
    await produce(s, 600);
    const events = flow(s, 600);
    // A supervisor per instance: a run that joins while the other's flush is in flight may have its
    // commit fenced by the table (it stops with "Not committing offsets"); it is started again.
    const fenced: string[] = [];
    const supervise = (r: Run, slot: { run: Run }) => {
      void r.exited.then(({ code, signal }) => {
        if (slot.run !== r || signal === 'SIGKILL' || stopping) return;
        if (code !== 0 && /Not committing offsets/.test(r.text())) {
          fenced.push(r.text());
          slot.run = startIngest(s);
          supervise(slot.run, slot);
        }
      });
    };
    let stopping = false;
    const a = { run: startIngest(s) };
    supervise(a.run, a);
    await waitFor('instance A to commit', a.run, () => a.run.commits() >= 1);
    const b = { run: startIngest(s) };
    supervise(b.run, b);
    await until('both instances to commit', () => a.run.commits() >= 1 && b.run.commits() >= 1, 60_000);
    const members = await groupMembers(s.group);
    expect(members).toHaveLength(2);

    const killed = b.run;
    killed.child.kill('SIGKILL');
    await killed.exited;
    const killedAt = Date.now();
    const restarted = startIngest(s);
    b.run = restarted;
    supervise(restarted, b);
    try {
      // b.run: the restarted run, or the one its supervisor started after a fenced commit.
      await until('the restarted instance to commit', () => b.run.commits() >= 1, RESTART_BOUND_MS + 15_000);
      expect(Date.now() - killedAt, `first commit of the restarted instance, ms after the kill (${fenced.length} fenced run(s) restarted). Its log:\n${b.run.text()}`).toBeLessThan(RESTART_BOUND_MS);
    } finally {
      await events.stop();
    }
    // Before joining, the restart removed the killed run's membership, and only that one: A's process runs.
    expect(removedMembers(restarted)).toEqual([expect.stringContaining(`/${killed.pid}/`)]);
    // Drained while the supervisors still restart a fenced run; then stopped.
    await until('the topic to be drained', () => drained(s), 60_000);
    stopping = true;
    await drainStopAndCheck(s, [a.run, b.run]);
  }, 300_000);

  it('SIGHUP stops gracefully and a second signal exits 130 at once; both leave the group before exiting', async () => {
    const s = await scenario();
    await produce(s, 300);
    const hup = startIngest(s);
    await waitFor('the run to commit', hup, () => hup.commits() >= 1);
    hup.child.kill('SIGHUP');
    expect((await hup.exited).code, hup.text()).toBe(0);
    expect(await groupMembers(s.group)).toEqual([]);

    await produce(s, 300);
    const twice = startIngest(s);
    await waitFor('the second run to commit', twice, () => twice.commits() >= 1);
    // Two different signals: the kernel does not merge them, so the second lands while the first stop runs.
    twice.child.kill('SIGTERM');
    twice.child.kill('SIGINT');
    expect((await twice.exited).code, twice.text()).toBe(130);
    expect(twice.lines.some((l) => l.msg === 'second signal: exiting without flushing; the next run resumes from the table')).toBe(true);
    expect(await groupMembers(s.group)).toEqual([]);

    // Nothing was lost by the hurried exit: the next run resumes from the table.
    const last = startIngest(s);
    await waitFor('the last run to be assigned its partitions', last, () => last.lines.some((l) => l.msg === 'Kafka partitions sought to table positions'));
    await drainStopAndCheck(s, [last]);
  }, 240_000);

  it('a session timeout the broker does not allow is a sentence naming --session-timeout and the broker settings, exit 2', async () => {
    const s = await scenario();
    const r = startIngest(s, '--session-timeout', '1s', '--heartbeat-interval', '300ms');
    const { code } = await r.exited;
    expect(code).toBe(2);
    expect(r.text()).toMatch(/refused the session timeout of 1000 ms \(sessionTimeoutMs, --session-timeout\).*group\.min\.session\.timeout\.ms and group\.max\.session\.timeout\.ms/);
  }, 60_000);
});
