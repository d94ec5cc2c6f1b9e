/**
 * `make bench`, restart half: how long `lakehouse ingest --source kafka` takes from a restart to its
 * first commit, while events flow. Not a test: nothing here asserts a timing. Prints a Markdown table.
 *
 *   RESTARTS=5 RESTART_RATE=2000 EXTRA_FLAGS="--session-timeout 30s" node --import tsx bench/restart-bench.ts
 *
 * Broker: as bench/ingest-bench.ts finds it (loopback only). Every topic, group and table is new and
 * the topics are deleted at the end. Each child is the real CLI (bin/lakehouse: dist/ when built and
 * current, else the sources through tsx) on a SQLite catalog (the cold start creates the table), with
 * --flush-interval 1s so the first commit follows the first records by about a second, --from-latest so
 * a new group starts at the end of the topic instead of at its backlog, and EXTRA_FLAGS. A producer
 * sends RESTART_RATE events/s throughout.
 *
 * Per round (a fresh group and table each, RESTARTS rounds, medians reported):
 * - cold start: spawn -> first commit (a group nobody was ever a member of: the reference);
 * - restart after kill -9: SIGKILL of a child that has been committing -> first commit of the child
 *   spawned right after it (the dead member is still registered in the group);
 * - restart after SIGTERM: exit of the gracefully stopped child -> first commit of the next one;
 * - one of two instances killed with -9 and restarted: SIGKILL -> first commit of the restarted one,
 *   while the other instance keeps its group membership.
 * "first commit" is the child's `committed` log line (written after the Iceberg commit landed);
 * "assigned" is its `Kafka partitions sought to table positions` line. A child whose commit is fenced
 * is restarted at once, as a supervisor would, and the count is reported.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateMessages } from '../pipeline/event-generator.ts';
import { createKafkaClient } from '../pipeline/kafka-client.ts';
import { type ProducedMessage, produceMessages } from '../pipeline/kafka-producer.ts';
import { ensureTopics } from '../pipeline/kafka-topics.ts';
import { benchBrokers } from './ingest-bench.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'bin/lakehouse');
const NAMESPACE = 'bench';
/** A child that has not committed by then is stuck; the bench stops rather than wait forever. */
const COMMIT_TIMEOUT_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ChildSettings {
  brokers: string[];
  topic: string;
  dlqTopic: string;
  group: string;
  dir: string;
  table: string;
  /** Extra `lakehouse ingest` flags (EXTRA_FLAGS), e.g. --session-timeout 10s. */
  extra: string[];
}

const running = new Set<ChildProcess>();

/**
 * One ingest instance as a supervisor runs it: a child that exits by itself is started again at once.
 * The only exit expected is a fenced commit (a member that joins while another one's flush is in flight
 * may read a range that flush then commits; it stops, and its restart resumes from the table: see
 * tests/integration/kafka-ingest.test.ts); any other is an error.
 */
class Instance {
  private child!: ChildProcess;
  private stopping = false;
  /** performance.now() of every `committed` line, and of every `Kafka partitions sought` line. */
  readonly commits: number[] = [];
  readonly assignments: number[] = [];
  fenced = 0;
  /** Flushes refused by the table that the run survived by seeking to the table's positions again. */
  reseeks = 0;
  spawnedAt = 0;
  private tail: string[] = [];
  private exited!: Promise<number>;
  failure: Error | null = null;

  constructor(private readonly s: ChildSettings) {
    this.spawn();
  }

  spawn(): void {
    const s = this.s;
    const args = [
      '--catalog-uri', `sqlite:///${path.join(s.dir, 'catalog.db')}`, '--warehouse', path.join(s.dir, 'warehouse'),
      'ingest', '--source', 'kafka', '--brokers', s.brokers.join(','), '--topic', s.topic, '--dlq-topic', s.dlqTopic,
      '--group', s.group, '--table', `${NAMESPACE}.${s.table}`, '--create-table', '--flush-interval', '1s', '--from-latest', '--no-create-topics',
      ...s.extra,
    ];
    this.stopping = false;
    this.spawnedAt = performance.now();
    const child = spawn(CLI, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    running.add(child);
    let partial = '';
    child.stderr!.on('data', (c: Buffer) => {
      const now = performance.now();
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        this.tail.push(line.slice(0, 400));
        if (this.tail.length > 20) this.tail.shift();
        if (line.includes('"msg":"committed"')) this.commits.push(now);
        else if (line.includes('"msg":"Kafka partitions sought to table positions"')) this.assignments.push(now);
        else if (line.includes('seeking to the table\'s positions again')) this.reseeks++;
      }
    });
    this.exited = new Promise<number>((resolve) => {
      child.on('exit', (code) => {
        running.delete(child);
        const at = performance.now();
        resolve(at);
        if (this.stopping) return;
        if (code !== 0 && this.tail.some((l) => l.includes('Not committing offsets'))) {
          this.fenced++;
          this.spawn();
        } else {
          this.failure ??= new Error(`ingest child exited with code ${code}; its last log lines:\n${this.tail.join('\n')}`);
        }
      });
    });
  }

  /** Sends `signal` and resolves with the time it exited. */
  async stop(signal: NodeJS.Signals): Promise<number> {
    this.stopping = true;
    this.child.kill(signal);
    return withTimeout(`exit after ${signal}`, this.exited, 60_000);
  }

  /** The time of the first commit after `t`. */
  async commitAfter(what: string, t: number): Promise<number> {
    return this.waitFor(what, () => this.commits.find((c) => c > t));
  }

  async assignedAfter(what: string, t: number): Promise<number> {
    return this.waitFor(what, () => this.assignments.find((c) => c > t));
  }

  /** Waits until this instance has committed `n` more times from now (so it holds partitions and records positions). */
  async moreCommits(n: number): Promise<void> {
    const target = this.commits.length + n;
    await this.waitFor(`${n} more commits`, () => (this.commits.length >= target ? 0 : undefined));
  }

  private async waitFor<T>(what: string, found: () => T | undefined): Promise<T> {
    const deadline = performance.now() + COMMIT_TIMEOUT_MS;
    for (;;) {
      if (this.failure) throw this.failure;
      const v = found();
      if (v !== undefined) return v;
      if (performance.now() > deadline) throw new Error(`${what}: nothing within ${COMMIT_TIMEOUT_MS / 1000} s; last log lines:\n${this.tail.join('\n')}`);
      await sleep(20);
    }
  }
}

async function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms / 1000} s`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

interface Round {
  coldMs: number;
  killMs: number;
  killAssignMs: number;
  termMs: number;
  pairKillMs: number;
  /** Fenced runs restarted (see Instance): in the whole round, and while the restarted instance of the pair came back. */
  fenced: number;
  pairFenced: number;
  reseeks: number;
}

async function round(base: Omit<ChildSettings, 'group' | 'table'>, i: number, id: string): Promise<Round> {
  const s: ChildSettings = { ...base, group: `lakehouse-bench-${id}-g${i}`, table: `restart_${id}_${i}` };
  const one = new Instance(s);
  const coldMs = (await one.commitAfter('cold start', 0)) - one.spawnedAt;
  await one.moreCommits(2);
  const killedAt = performance.now();
  await one.stop('SIGKILL');
  one.spawn();
  const killMs = (await one.commitAfter('restart after kill -9', killedAt)) - killedAt;
  const killAssignMs = (await one.assignedAfter('assignment after kill -9', killedAt)) - killedAt;
  await one.moreCommits(2);
  const exitedAt = await one.stop('SIGTERM');
  one.spawn();
  const termMs = (await one.commitAfter('restart after SIGTERM', exitedAt)) - exitedAt;

  // Two instances share the group; the first one is killed and restarted.
  const two = new Instance(s);
  await two.moreCommits(2);
  await one.moreCommits(2);
  const pairKilledAt = performance.now();
  const fencedBefore = one.fenced + two.fenced;
  await one.stop('SIGKILL');
  one.spawn();
  const pairKillMs = (await one.commitAfter('restart of one of two after kill -9', pairKilledAt)) - pairKilledAt;
  const pairFenced = one.fenced + two.fenced - fencedBefore;
  await Promise.all([one.stop('SIGTERM'), two.stop('SIGTERM')]);
  return { coldMs, killMs, killAssignMs, termMs, pairKillMs, fenced: one.fenced + two.fenced, pairFenced, reseeks: one.reseeks + two.reseeks };
}

async function main(): Promise<void> {
  const RESTARTS = Number(process.env.RESTARTS ?? 5);
  const RATE = Number(process.env.RESTART_RATE ?? 2000);
  const extra = (process.env.EXTRA_FLAGS ?? '').split(/\s+/).filter(Boolean);
  for (const [k, v] of Object.entries({ RESTARTS, RESTART_RATE: RATE })) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${k} must be a positive whole number, got ${process.env[k]}`);
  }
  const brokers = benchBrokers();
  const id = randomBytes(4).toString('hex');
  const topic = `lakehouse-bench-${id}-restart`;
  const dlqTopic = `lakehouse-bench-${id}-restart-dlq`;
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-restart-bench-'));
  const loads: number[] = [];
  const phase = (what: string) => {
    loads.push(loadavg()[0]!);
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);
  };
  let made: string[] = [];
  let producing = true;
  let producer: Promise<unknown> = Promise.resolve();
  try {
    phase(`creating topics ${topic} (3 partitions) and ${dlqTopic} on ${brokers.join(', ')}`);
    made = (await ensureTopics(brokers, [
      { topic, partitions: 3, retentionMs: 3_600_000 },
      { topic: dlqTopic, partitions: 1, retentionMs: 3_600_000 },
    ])).created;
    async function* flow(): AsyncGenerator<ProducedMessage> {
      for (const m of generateMessages({ count: Number.MAX_SAFE_INTEGER, seed: 11, clock: Date.now })) {
        if (!producing) return;
        yield m;
      }
    }
    producer = produceMessages({ brokers, topic, ratePerSecond: RATE, messages: flow() });
    producer.catch(() => {}); // awaited in finally

    const rounds: Round[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      phase(`round ${i + 1} of ${RESTARTS}: cold start, kill -9 + restart, SIGTERM + restart, one of two killed + restarted`);
      const r = await round({ brokers, topic, dlqTopic, dir, extra }, i, id);
      phase(`  cold ${(r.coldMs / 1000).toFixed(2)} s, after kill -9 ${(r.killMs / 1000).toFixed(2)} s (assigned ${(r.killAssignMs / 1000).toFixed(2)} s), after SIGTERM ${(r.termMs / 1000).toFixed(2)} s, one of two after kill -9 ${(r.pairKillMs / 1000).toFixed(2)} s; fenced runs restarted: ${r.fenced} (${r.pairFenced} before that restart's first commit)`);
      rounds.push(r);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
    const row = (what: string, pick: (r: Round) => number) => {
      const xs = rounds.map(pick);
      console.log(`| ${what} | ${(median(xs) / 1000).toFixed(2)} | ${(Math.min(...xs) / 1000).toFixed(2)} | ${(Math.max(...xs) / 1000).toFixed(2)} | ${(median(xs) / median(rounds.map((r) => r.coldMs))).toFixed(2)} |`);
    };
    const build = existsSync(path.join(REPO, 'dist/.built')) ? 'dist/ if current, else tsx' : 'tsx (no dist/ build)';
    console.log(`\nrestart to first commit, ${RESTARTS} rounds, ${RATE} events/s flowing, --flush-interval 1s${extra.length ? ` ${extra.join(' ')}` : ''}; CLI through ${build}; load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}\n`);
    console.log('| from | to first commit, median (s) | min | max | x cold start |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    row('cold start (spawn, new group)', (r) => r.coldMs);
    row('kill -9, restarted at once', (r) => r.killMs);
    row('kill -9, restarted at once: to partitions assigned', (r) => r.killAssignMs);
    row('SIGTERM (exit), restarted', (r) => r.termMs);
    row('kill -9 of one of two instances, restarted', (r) => r.pairKillMs);
    console.log(`\nfenced runs restarted per round (a member that joins while another's flush is in flight): ${rounds.map((r) => `${r.fenced} (${r.pairFenced} before the pair restart's first commit)`).join(', ')}`);
    console.log(`flushes refused by the table and sought again instead, per round: ${rounds.map((r) => r.reseeks).join(', ')}`);
  } finally {
    producing = false;
    for (const child of running) child.kill('SIGKILL');
    await producer.catch((e) => phase(`producer failed: ${(e as Error).message}`));
    if (made.length > 0) {
      const admin = createKafkaClient({ brokers, clientId: 'lakehouse-bench' }).admin();
      await admin.connect().then(() => admin.deleteTopics({ topics: made })).catch((e) => phase(`could not delete topics ${made.join(', ')}: ${(e as Error).message}`));
      await admin.disconnect().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
