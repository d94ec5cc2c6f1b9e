import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Table, ancestorsOf, currentSnapshot } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { CRASH_AT_ENV, FLUSH_CRASH_POINTS, TABLE_CRASH_POINTS } from '../../pipeline/crash-points.ts';
import { decodeEvent, isRejection } from '../../pipeline/event-decoder.ts';
import { type GeneratedMessage, generateMessages, seededRandom } from '../../pipeline/event-generator.ts';
import { DLQ_HEADERS } from '../../pipeline/kafka-dead-letters.ts';
import { produceMessages } from '../../pipeline/kafka-producer.ts';
import { ensureTopics } from '../../pipeline/kafka-topics.ts';
import { CONSUMED_KEY, DEAD_LETTERED_KEY, DUPLICATES_KEY, decodePositions, offsetsKey, recordedPositions } from '../../pipeline/offsets.ts';
import { positionKey } from '../../pipeline/source.ts';
import { canonicalRow } from '../interop/canonical.ts';
import { highWatermarks, requireKafkaBrokers, until, useKafkaTestEnv } from '../support/kafka-test-kit.ts';
import { readWithPyIceberg } from '../interop/readers.ts';
import type { WorkerConfig } from '../support/ingest-crash-worker.ts';

/**
 * The crash test: while generated events are produced to a real Kafka topic, the ingest
 * process (tests/support/ingest-crash-worker.ts, the wiring of `lakehouse ingest --source kafka`) is
 * killed with SIGKILL again and again and restarted each time: at random moments, and once at every
 * named point inside a flush (pipeline/crash-points.ts, through LAKEHOUSE_CRASH_AT). Every run joins
 * the same consumer group, so each restart finds its killed predecessor still a member and removes it
 * (pipeline/kafka-group-members.ts), and often finds group offsets behind the table's (a kill at
 * flush.table-committed), where the table's positions must win. A last clean run drains the topic. Then PyIceberg reads the table, and it must hold every valid event produced.
 *
 * Exactly once, precisely: the producer sends some byte-for-byte duplicate messages, as retrying apps
 * do. A copy is dropped when its first copy is in the same flush or in an earlier committed snapshot
 * (ingest's de-duplication horizon, 7 days, covers the whole test; a restarted process reloads it from
 * the table). So the expected rows are computed per snapshot, from the offset range each one records
 * (the previous snapshot's positions up to its own) and the topic's contents read back independently:
 * each snapshot must hold the valid events of its range whose id no earlier snapshot holds, its summary
 * must count the rest as duplicates (consumed = added + dead-lettered + duplicates), the ranges must tile
 * the topic without gap or overlap, and the table must be the union of all that. Independently of flush
 * boundaries: the event ids are exactly the valid ones, each in the table once, even across the kills
 * (records replayed after a kill are not taken for copies of themselves). Every invalid message is in
 * the dead-letter topic exactly once, with its bytes and reason, although many kills come after a
 * flush's dead letters were sent and before its commit (the restart reads them back and skips them).
 */
const brokers = requireKafkaBrokers();
const WORKER = fileURLToPath(new URL('../support/ingest-crash-worker.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));

const PARTITIONS = 3;
/**
 * The producer sends this many messages at once, once a second, until the kills are done (about five
 * minutes: enough flushes to be killed in, little enough data to check quickly).
 */
const BURST = 300;
const BURST_EVERY_MS = 1000;
/** Small flushes, so a run of a second or two commits several snapshots. */
const FLUSH_ROWS = 500;
const FLUSH_INTERVAL_MS = 300;
/** Every named point, with the arrival that kills (see pipeline/crash-points.ts). */
const NAMED_CRASHES = [
  `${FLUSH_CRASH_POINTS.deadLettersFlushed}:1`,
  // The second data file: the first flush writes one per day and event type, so this is mid-flush.
  `${TABLE_CRASH_POINTS.dataFileWritten}:2`,
  `${FLUSH_CRASH_POINTS.filesWritten}:2`,
  `${TABLE_CRASH_POINTS.manifestListWritten}:1`,
  `${TABLE_CRASH_POINTS.metadataWritten}:2`,
  `${FLUSH_CRASH_POINTS.tableCommitted}:1`,
  `${FLUSH_CRASH_POINTS.sourceCommitted}:2`,
];
const RANDOM_KILLS = 100;
/** A random kill comes this long after the start: some during start-up, most while reading and flushing. */
const RANDOM_DELAY_MS = { min: 300, max: 3000 };
/** A named point is reached within a few flushes; this only bounds a run that never gets there. */
const NAMED_CRASH_TIMEOUT_MS = 45_000;
const unique = (what: string) => `lakehouse-crash-${what}-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const kit = useKafkaTestEnv('kafka-crash', 'lakehouse-crash-test');

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The point named by the worker's last words, when a crash point killed it. */
  crashedAt: string | null;
  stdout: string;
  /** The last lines of its JSON log, for failure messages. */
  logTail: string[];
  /** Dead letters its sink found already sent (by a killed run) when it started or was assigned partitions. */
  lettersAlreadySent: number;
}

interface Worker {
  child: ChildProcess;
  done: Promise<RunResult>;
  exited: () => boolean;
}

function startWorker(config: WorkerConfig, crashAt?: string): Worker {
  const env = { ...process.env };
  delete env[CRASH_AT_ENV];
  if (crashAt) env[CRASH_AT_ENV] = crashAt;
  const child = spawn(process.execPath, ['--no-warnings', '--import', TSX, WORKER, JSON.stringify(config)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  kit.running.add(child);
  let stdout = '';
  let partial = '';
  const logTail: string[] = [];
  let crashedAt: string | null = null;
  let lettersAlreadySent = 0;
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => {
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const point = /^\{"crashPoint":"([^"]+)"/.exec(line);
      if (point) crashedAt = point[1]!;
      const found = /"lettersAlreadySent":(\d+)/.exec(line);
      if (found) lettersAlreadySent += Number(found[1]);
      logTail.push(line.slice(0, 600));
      if (logTail.length > 30) logTail.shift();
    }
  });
  let exited = false;
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      kit.running.delete(child);
      if (partial) logTail.push(partial.slice(0, 600));
      resolve({ code, signal, crashedAt, stdout, logTail, lettersAlreadySent });
    });
  });
  return { child, done, exited: () => exited };
}

interface TopicRecord {
  partition: number;
  offset: bigint;
  value: Buffer;
  headers: Record<string, string>;
}

/** Every record of a topic up to its current high watermarks, read with a plain kafkajs consumer. */
async function readTopic(topic: string): Promise<TopicRecord[]> {
  const high = await highWatermarks(kit.admin, topic);
  const total = [...high.values()].reduce((a, b) => a + Number(b), 0);
  const out: TopicRecord[] = [];
  if (total === 0) return out;
  const consumer = kit.kafka.consumer({ groupId: unique('reader'), maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
        out.push({ partition, offset: BigInt(message.offset), value: message.value ?? Buffer.alloc(0), headers });
      },
    });
    await until(`${total} records of ${topic}`, () => out.length >= total, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The producer: bursts of generated messages (some invalid, late or duplicate) until stop() is called. */
function startProducer(topic: string, seed: number): { sent: Map<string, GeneratedMessage>; stop: () => Promise<number> } {
  const sent = new Map<string, GeneratedMessage>();
  let producing = true;
  async function* bursts(): AsyncGenerator<GeneratedMessage> {
    let n = 0;
    for (const m of generateMessages({ count: 1_000_000, seed, invalidRate: 0.05, lateRate: 0.03, duplicateRate: 0.02 })) {
      if (n > 0 && n % BURST === 0) {
        await sleep(BURST_EVERY_MS);
        if (!producing) return;
      }
      sent.set(hex(m.value), m);
      n++;
      yield m;
    }
  }
  const run = produceMessages({ brokers, topic, messages: bursts(), batchSize: BURST });
  run.catch(() => {}); // observed by stop()
  return {
    sent,
    stop: async () => {
      producing = false;
      return (await run).sent;
    },
  };
}

describe('Kafka ingest under kill -9', () => {
  it(`restarted after ${NAMED_CRASHES.length + RANDOM_KILLS} SIGKILLs (at random and at every flush step) holds every produced event exactly once, as PyIceberg reads it, and every invalid one once in the dead letters`, async () => {
    const seed = randomBytes(4).readUInt32LE();
    const rnd = seededRandom(seed);
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
    const table = new Table(kit.wh.catalog, await kit.wh.catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec }));
    const group = unique('group');
    const config: WorkerConfig = {
      brokers, topic, dlqTopic, group,
      catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: `${namespace}.campaign_events`,
      flushRows: FLUSH_ROWS, flushIntervalMs: FLUSH_INTERVAL_MS,
    };
    const failure = (what: string, r: RunResult) =>
      `${what} (seed ${seed}): exit code ${r.code}, signal ${r.signal}, crash point ${r.crashedAt}. Last log lines:\n${r.logTail.join('\n')}`;

    // Kills: the named points spread among the random ones, every third run.
    const schedule: string[] = [];
    const named = [...NAMED_CRASHES];
    for (let i = 0, random = RANDOM_KILLS; named.length > 0 || random > 0; i++) {
      if (named.length > 0 && (i % 3 === 0 || random === 0)) schedule.push(named.shift()!);
      else { schedule.push('random'); random--; }
    }

    const producer = startProducer(topic, seed);
    /** Per kill done: `random` or the LAKEHOUSE_CRASH_AT value. */
    const kills: string[] = [];
    let lettersAlreadySent = 0;
    try {
      await until('the first burst in the topic', async () => [...(await highWatermarks(kit.admin, topic)).values()].some((h) => h > 0n), 20_000);
      for (const [run, how] of schedule.entries()) {
        if (how === 'random') {
          const w = startWorker(config);
          await Promise.race([w.done, sleep(RANDOM_DELAY_MS.min + rnd() * (RANDOM_DELAY_MS.max - RANDOM_DELAY_MS.min))]);
          if (w.exited()) throw new Error(failure(`run ${run} exited by itself before its random kill`, await w.done));
          w.child.kill('SIGKILL');
          const r = await w.done;
          lettersAlreadySent += r.lettersAlreadySent;
          expect(r.signal, failure(`run ${run}`, r)).toBe('SIGKILL');
        } else {
          const w = startWorker(config, how);
          const r = await Promise.race([w.done, sleep(NAMED_CRASH_TIMEOUT_MS).then(() => null)]);
          if (r === null) {
            w.child.kill('SIGKILL');
            throw new Error(failure(`run ${run} did not reach crash point ${how} within ${NAMED_CRASH_TIMEOUT_MS} ms`, await w.done));
          }
          lettersAlreadySent += r.lettersAlreadySent;
          expect(r.signal, failure(`run ${run} (${how})`, r)).toBe('SIGKILL');
          expect(r.crashedAt, failure(`run ${run} (${how})`, r)).toBe(how.split(':')[0]);
        }
        kills.push(how);
      }
    } finally {
      await producer.stop();
    }
    expect(kills.length).toBeGreaterThanOrEqual(100);
    expect(new Set(kills)).toEqual(new Set(['random', ...NAMED_CRASHES]));

    // A clean run drains the topic, then stops gracefully (SIGTERM: flush, commit, exit 0).
    const high = await highWatermarks(kit.admin, topic);
    const last = startWorker(config);
    let lastFailure: RunResult | null = null;
    void last.done.then((r) => { lastFailure = r; });
    await until('the clean run to record every partition\'s high watermark', async () => {
      if (lastFailure) throw new Error(failure('the clean run exited by itself', lastFailure));
      await table.refresh();
      const recorded = recordedPositions(table.metadata, group);
      return [...high].every(([k, h]) => (recorded.get(k) ?? 0n) >= h);
    }, 60_000);
    last.child.kill('SIGTERM');
    const lastRun = await last.done;
    expect(lastRun.code, failure('the clean run', lastRun)).toBe(0);
    // Kills between a flush's dead letters and its commit did happen, and restarts found those letters.
    expect(lettersAlreadySent + lastRun.lettersAlreadySent).toBeGreaterThan(0);

    // What the topic holds, read back independently, matched to what the generator made.
    const records = await readTopic(topic);
    expect(records.length).toBe([...high.values()].reduce((a, b) => a + Number(b), 0));
    const kindOf = (r: TopicRecord): GeneratedMessage => {
      const m = producer.sent.get(hex(r.value));
      if (!m) throw new Error(`partition ${r.partition} offset ${r.offset} holds a message the producer did not send`);
      return m;
    };
    // Indexed by offset: a fresh topic written without transactions has offsets 0, 1, 2, ...
    const byPartition = new Map<string, TopicRecord[]>([...high.keys()].map((k) => [k, []]));
    for (const r of records) byPartition.get(positionKey(topic, r.partition))![Number(r.offset)] = r;
    for (const [key, list] of byPartition) expect(list.length, key).toBe(Number(high.get(key)));
    const eventId = (r: TopicRecord): string => (JSON.parse(r.value.toString('utf8')) as { event_id: string }).event_id;
    const canonicalOf = new Map<string, string>();
    const copies = new Map<string, number>();
    const invalid: TopicRecord[] = [];
    for (const r of records) {
      const m = kindOf(r);
      if (m.kind === 'invalid') { invalid.push(r); continue; }
      const id = eventId(r);
      copies.set(id, (copies.get(id) ?? 0) + 1);
      const decoded = decodeEvent(r.value, Date.now());
      if (isRejection(decoded)) throw new Error(`generated ${m.kind} message rejected: ${decoded.detail}`);
      canonicalOf.set(id, JSON.stringify(canonicalRow(campaignEventsSchema, { ...decoded, processed_at: 0n })));
    }
    expect([...copies.values()].some((n) => n > 1)).toBe(true);
    expect(invalid.length).toBeGreaterThan(0);

    // Per snapshot: the records between the previous snapshot's positions and its own.
    await table.refresh();
    const lineage = ancestorsOf(table.metadata, currentSnapshot(table.metadata)?.snapshotId ?? null).reverse();
    const expectedCount = new Map<string, number>();
    let droppedInFlush = 0;
    let droppedAcross = 0;
    const committedIds = new Set<string>();
    let previous: Map<string, bigint> = new Map();
    for (const s of lineage) {
      const text = s.summary[offsetsKey(group)];
      expect(text, `snapshot ${s.snapshotId} records no positions`).toBeDefined();
      const positions = decodePositions(text!);
      const ids = new Set<string>();
      let consumed = 0;
      let deadLettered = 0;
      let duplicates = 0;
      for (const key of high.keys()) {
        const from = previous.get(key) ?? 0n;
        const to = positions.get(key) ?? from;
        expect(to >= from && to <= high.get(key)!, `snapshot ${s.snapshotId} moves ${key} from ${from} to ${to} (high watermark ${high.get(key)})`).toBe(true);
        const list = byPartition.get(key)!;
        for (let o = Number(from); o < Number(to); o++) {
          const r = list[o]!;
          consumed++;
          if (kindOf(r).kind === 'invalid') deadLettered++;
          else if (ids.has(eventId(r))) { duplicates++; droppedInFlush++; }
          else if (committedIds.has(eventId(r))) { duplicates++; droppedAcross++; }
          else ids.add(eventId(r));
        }
      }
      const where = `snapshot ${s.snapshotId} (positions ${text})`;
      expect(s.summary[CONSUMED_KEY], where).toBe(String(consumed));
      expect(s.summary['added-records'] ?? '0', where).toBe(String(ids.size));
      expect(s.summary[DEAD_LETTERED_KEY], where).toBe(String(deadLettered));
      expect(s.summary[DUPLICATES_KEY], where).toBe(String(duplicates));
      for (const i of ids) {
        expectedCount.set(i, (expectedCount.get(i) ?? 0) + 1);
        committedIds.add(i);
      }
      previous = positions;
    }
    expect(previous).toEqual(high);
    // Some duplicates had both copies in one flush and some had the first copy committed before, so
    // both kinds of dropping were exercised.
    expect(droppedInFlush).toBeGreaterThan(0);
    expect(droppedAcross).toBeGreaterThan(0);

    // The table as PyIceberg reads it.
    const rows = await readWithPyIceberg({ catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: `${namespace}.campaign_events` });
    const seen = new Map<string, number>();
    for (const line of rows) {
      const row = JSON.parse(line) as Record<string, unknown>;
      const id = row.event_id as string;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      expect(JSON.stringify({ ...row, processed_at: '0' }), `row of ${id}`).toBe(canonicalOf.get(id));
    }
    const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    expect(sorted(seen)).toEqual(sorted(expectedCount));
    // Whatever the flush boundaries and kills: every valid event is there, once.
    expect(new Set(seen.keys())).toEqual(new Set(copies.keys()));
    expect([...seen].filter(([, n]) => n !== 1)).toEqual([]);

    // Every invalid message is in the dead-letter topic exactly once, with its bytes and reason.
    const got: string[] = [];
    for (const l of await readTopic(dlqTopic)) {
      expect(l.headers[DLQ_HEADERS.group]).toBe(group);
      got.push(`${l.headers[DLQ_HEADERS.topic]}:${l.headers[DLQ_HEADERS.partition]}:${l.headers[DLQ_HEADERS.offset]} ${hex(l.value)} ${l.headers[DLQ_HEADERS.reason]}`);
    }
    const want = invalid.map((r) => `${topic}:${r.partition}:${r.offset} ${hex(r.value)} ${kindOf(r).reason}`).sort();
    expect(got.sort()).toEqual(want);
  }, 900_000);
});
