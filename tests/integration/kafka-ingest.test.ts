import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Table } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { decodeEvent, isRejection } from '../../pipeline/event-decoder.ts';
import { type GeneratedMessage, generateMessages } from '../../pipeline/event-generator.ts';
import { Ingestor, type IngestStats, type IngestorOptions } from '../../pipeline/ingest.ts';
import { DLQ_HEADERS, KafkaDeadLetterSink } from '../../pipeline/kafka-dead-letters.ts';
import { produceMessages } from '../../pipeline/kafka-producer.ts';
import { createKafkaSource } from '../../pipeline/kafka-source.ts';
import { ensureTopics } from '../../pipeline/kafka-topics.ts';
import { OffsetsFencedError, recordedPositions } from '../../pipeline/offsets.ts';
import { positionKey } from '../../pipeline/source.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { highWatermarks, requireKafkaBrokers, until, useKafkaTestEnv } from '../support/kafka-test-kit.ts';
import { readWithPyIceberg } from '../interop/readers.ts';
import { appendFileSync } from 'node:fs';
import { createLogger, type Logger } from '../../core/log.ts';

/**
 * Kafka -> Ingestor -> Iceberg end to end against the real broker (infra/services/kafka.sh): generated
 * messages produced with pipeline/kafka-producer.ts, ingested through createKafkaSource and the Kafka
 * dead-letter sink into a SqlCatalog (SQLite) table on a local warehouse, and read back independently by
 * PyIceberg. Checks go through kafkajs directly (kit.admin for watermarks, a plain consumer for the DLQ).
 * Every test has its own topics, group and table.
 *
 * Messages are produced without duplicates, so every valid message must be in the table exactly once,
 * whatever the flushes, restarts and rebalances; one test then re-sends copies of messages already
 * committed (what a retrying producer does), and the table must still hold each event once.
 */
const brokers = requireKafkaBrokers();
/** Decoding clock: after the generator's event times (November 2026), so none is "in the future". */
const NOW = Date.UTC(2026, 10, 5, 12, 0, 0);
const NOW_MICROS = BigInt(NOW) * 1000n;
const MESSAGES = 3000;
const PARTITIONS = 3;

/** LAKEHOUSE_TEST_LOG=FILE: the sources' and ingestors' debug lines go to FILE (for a stall that only shows under load). */
const testLog: Logger | undefined = process.env.LAKEHOUSE_TEST_LOG
  ? createLogger({ level: 'debug', write: (line: string) => appendFileSync(process.env.LAKEHOUSE_TEST_LOG!, line) })
  : undefined;

const unique = (what: string) => `lakehouse-test-${what}-${randomBytes(4).toString('hex')}`;

const kit = useKafkaTestEnv('kafka-ingest');

interface Scenario {
  topic: string;
  dlqTopic: string;
  group: string;
  tableName: string;
  messages: GeneratedMessage[];
  /** Canonical rows every valid message must give, exactly once. */
  expectedRows: string[];
  invalid: GeneratedMessage[];
}

/** Topics (3 partitions, 1 for the DLQ), a table, and MESSAGES generated messages produced to the topic. */
async function scenario(seed: number): Promise<Scenario> {
  const topic = unique('events');
  const dlqTopic = unique('dlq');
  kit.topicsMade.push(topic, dlqTopic);
  const made = await ensureTopics(brokers, [
    { topic, partitions: PARTITIONS, retentionMs: 3_600_000 },
    { topic: dlqTopic, partitions: 1, retentionMs: 3_600_000 },
  ]);
  expect(made.created.sort()).toEqual([topic, dlqTopic].sort());
  const messages = [...generateMessages({ count: MESSAGES, seed, invalidRate: 0.05, lateRate: 0.03, duplicateRate: 0 })];
  const { sent } = await produceMessages({ brokers, topic, messages });
  expect(sent).toBe(MESSAGES);

  const rows: Record<string, unknown>[] = [];
  const invalid: GeneratedMessage[] = [];
  for (const m of messages) {
    const decoded = decodeEvent(m.value, NOW);
    if (m.kind === 'invalid') {
      // The generator's own record of what is invalid, checked against the decoder.
      expect(isRejection(decoded) && decoded.reason).toBe(m.reason);
      invalid.push(m);
    } else {
      if (isRejection(decoded)) throw new Error(`generated ${m.kind} message rejected: ${decoded.detail}`);
      rows.push({ ...decoded, processed_at: NOW_MICROS });
    }
  }
  expect(invalid.length).toBeGreaterThan(50);
  expect(new Set(rows.map((r) => r.event_id)).size).toBe(rows.length);
  const tableName = unique('table').replace(/-/g, '_');
  await kit.wh.createTable(tableName, campaignEventsSchema, campaignEventsSpec);
  return { topic, dlqTopic, group: unique('group'), tableName, messages, expectedRows: canonicalRows(campaignEventsSchema, rows), invalid };
}

async function loadTable(s: Scenario): Promise<Table> {
  return new Table(kit.wh.catalog, await kit.wh.catalog.loadTable({ namespace: ['interop'], name: s.tableName }));
}

/** One ingest process: its own table handle, Kafka source and dead-letter producer. */
function startIngest(s: Scenario, over: Partial<IngestorOptions> = {}): { ingest: Promise<Ingestor>; run: Promise<IngestStats>; stop: () => void } {
  const abort = new AbortController();
  let ingest!: Ingestor;
  const log = testLog?.child({ run: randomBytes(2).toString('hex') });
  const source = createKafkaSource({
    log,
    brokers, topic: s.topic, group: s.group, heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, maxWaitTimeMs: 200,
    positionsFor: () => ingest.positionsFor(),
    onAssignment: () => ingest.discardUncommitted(),
  });
  const deadLetters = new KafkaDeadLetterSink({ brokers, topic: s.dlqTopic });
  const ready = loadTable(s).then((table) => {
    ingest = new Ingestor({ table, source, group: s.group, deadLetters, log, now: () => NOW, flushRows: 1000, flushIntervalMs: 300, ...over });
    return ingest;
  });
  const run = ready.then((i) => i.run(abort.signal)).finally(async () => {
    await source.close().catch(() => {});
    await deadLetters.close().catch(() => {});
  });
  run.catch(() => {}); // observed by the caller
  return { ingest: ready, run, stop: () => abort.abort() };
}

/** True once the table's recorded positions of the group reach every partition's high watermark. */
async function allRecorded(s: Scenario, table: Table): Promise<boolean> {
  const high = await highWatermarks(kit.admin, s.topic);
  await table.refresh();
  const recorded = recordedPositions(table.metadata, s.group);
  return [...high].every(([k, h]) => (recorded.get(k) ?? 0n) >= h);
}

interface Letter { value: string; reason: string | undefined; source: string }

/** Every message in the DLQ topic (read with a plain kafkajs consumer), once `expected` arrived and a bit more. */
async function readDeadLetters(topic: string, expected: number): Promise<Letter[]> {
  const consumer = kit.kafka.consumer({ groupId: unique('dlq-reader'), maxWaitTimeInMs: 200 });
  const out: Letter[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const h = (name: string) => message.headers?.[name]?.toString();
        out.push({
          value: message.value ? message.value.toString('hex') : '',
          reason: h(DLQ_HEADERS.reason),
          source: `${h(DLQ_HEADERS.topic)}:${h(DLQ_HEADERS.partition)}:${h(DLQ_HEADERS.offset)}`,
        });
      },
    });
    await until(`${expected} dead letters in ${topic}`, () => out.length >= expected);
    const end = (await kit.admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0);
    await until(`the rest of ${topic}`, () => out.length >= end);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The table as PyIceberg reads it equals the valid messages, each exactly once; the DLQ holds the invalid ones. */
async function expectExactlyOnce(s: Scenario, opts: { dlqExactlyOnce: boolean }): Promise<void> {
  const rows = await readWithPyIceberg({ catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: `interop.${s.tableName}` });
  expect(rows.length).toBe(s.expectedRows.length);
  expect(rows).toEqual(s.expectedRows);

  const letters = await readDeadLetters(s.dlqTopic, s.invalid.length);
  const want = s.invalid.map((m) => `${Buffer.from(m.value).toString('hex')}|${m.reason}`).sort();
  const got = letters.map((l) => `${l.value}|${l.reason}`);
  if (opts.dlqExactlyOnce) {
    expect(got.sort()).toEqual(want);
  } else {
    // At least once: a rebalance may dead-letter a record again; by source position, each is there.
    const bySource = new Map(letters.map((l) => [l.source, `${l.value}|${l.reason}`]));
    expect([...bySource.values()].sort()).toEqual(want);
  }
  for (const l of letters) expect(l.source.startsWith(`${s.topic}:`)).toBe(true);
}

describe('Kafka ingest end to end', () => {
  it('writes every valid message exactly once and dead-letters exactly the invalid ones', async () => {
    const s = await scenario(101);
    const table = await loadTable(s);
    const one = startIngest(s);
    await until('the table to record every partition\'s high watermark', () => allRecorded(s, table));
    one.stop();
    const stats = await one.run;

    expect(stats.stoppedBy).toBe('abort');
    expect(stats.consumed).toBe(MESSAGES);
    expect(stats.written).toBe(s.expectedRows.length);
    expect(stats.deadLettered).toBe(s.invalid.length);
    expect(stats.duplicates).toBe(0);
    expect(stats.consumed).toBe(stats.written + stats.deadLettered);
    expect(stats.commits).toBeGreaterThan(1);
    expect(stats.positions).toEqual(await highWatermarks(kit.admin, s.topic));
    const byReason: Record<string, number> = {};
    for (const m of s.invalid) byReason[m.reason!] = (byReason[m.reason!] ?? 0) + 1;
    expect(stats.deadLetteredByReason).toEqual(byReason);

    // The group's committed offsets are a copy of the table's positions.
    const [committed] = await kit.admin.fetchOffsets({ groupId: s.group, topics: [s.topic] });
    expect(new Map(committed!.partitions.map((p) => [positionKey(s.topic, p.partition), BigInt(p.offset)]))).toEqual(stats.positions);

    await expectExactlyOnce(s, { dlqExactlyOnce: true });
  });

  it('a new ingest process in the same group resumes where the aborted one committed', async () => {
    const s = await scenario(202);
    const table = await loadTable(s);
    const first = startIngest(s, { flushRows: 300, pollMaxRecords: 100 });
    await until('the first commit', async () => {
      await table.refresh();
      return recordedPositions(table.metadata, s.group).size > 0;
    });
    first.stop();
    const a = await first.run;
    expect(a.commits).toBeGreaterThan(0);
    expect(a.consumed).toBeLessThan(MESSAGES);

    const second = startIngest(s);
    await until('the table to record every partition\'s high watermark', () => allRecorded(s, table));
    second.stop();
    const b = await second.run;
    expect(b.resumedFrom).toEqual(a.positions);
    expect(a.consumed + b.consumed).toBe(MESSAGES);
    expect(a.written + b.written).toBe(s.expectedRows.length);

    await expectExactlyOnce(s, { dlqExactlyOnce: true });
  });

  it('copies re-sent after their first copy was committed are dropped, by the kit.running process and by a restarted one', async () => {
    const s = await scenario(404);
    const table = await loadTable(s);
    const valid = s.messages.filter((m) => m.kind !== 'invalid');
    const first = startIngest(s);
    await until('the table to record every partition\'s high watermark', () => allRecorded(s, table));
    // Byte-for-byte copies with the same key (so the same partition), read by the process that committed the originals.
    await produceMessages({ brokers, topic: s.topic, messages: valid.slice(0, 40) });
    await until('the copies to be committed', () => allRecorded(s, table));
    first.stop();
    const a = await first.run;
    expect(a).toMatchObject({ consumed: MESSAGES + 40, written: s.expectedRows.length, duplicates: 40 });

    // A new process knows the committed ids from the table alone.
    await produceMessages({ brokers, topic: s.topic, messages: valid.slice(100, 130) });
    const second = startIngest(s);
    await until('the later copies to be committed', () => allRecorded(s, table));
    second.stop();
    const b = await second.run;
    expect(b).toMatchObject({ consumed: 30, written: 0, duplicates: 30 });

    await expectExactlyOnce(s, { dlqExactlyOnce: true });
  });

  it('two ingest processes in one group on one table write every event and every dead letter exactly once, and neither is stopped by a fence', async () => {
    const s = await scenario(303);
    const table = await loadTable(s);
    const fenced: unknown[] = [];
    let stopping = false;
    const stats: IngestStats[] = [];
    const commitsBy = new Map<number, number>();
    // A supervisor, to count runs that end fenced: a member that joins while the other's flush of a moved
    // partition is in flight seeks to the table again instead of ending (none may end that way).
    const worker = async (id: number, startWhen: () => Promise<boolean>) => {
      await until(`worker ${id} to start`, startWhen);
      // At least one run each, even if the other member drained the topic before this one joined.
      do {
        const p = startIngest(s, { flushRows: 150, pollMaxRecords: 50 });
        const stop = () => p.stop();
        stoppers.add(stop);
        if (stopping) p.stop();
        try {
          const st = await p.run;
          commitsBy.set(id, (commitsBy.get(id) ?? 0) + st.commits);
          stats.push(st);
        } catch (e) {
          if (!(e instanceof OffsetsFencedError)) throw e;
          fenced.push(e);
        } finally {
          stoppers.delete(stop);
        }
      } while (!stopping);
    };
    const stoppers = new Set<() => void>();
    // The second joins once the first has committed: a rebalance mid-stream.
    let failure: unknown;
    const firstCommitted = async () => {
      await table.refresh();
      return recordedPositions(table.metadata, s.group).size > 0;
    };
    const workers = Promise.all([worker(0, async () => true), worker(1, firstCommitted)]);
    workers.catch((e) => { failure = e; });
    await until('the table to record every partition\'s high watermark', () => {
      if (failure) throw failure;
      return allRecorded(s, table);
    }, 50_000);
    stopping = true;
    for (const stop of stoppers) stop();
    await workers;

    expect(fenced).toEqual([]);
    expect(stats.length).toBeGreaterThanOrEqual(2);
    // Whether the second member commits depends on how fast the first drains the topic (the rebalance
    // takes a heartbeat or two), so it is not asserted; exactly-once must hold either way.
    expect(commitsBy.get(0)).toBeGreaterThan(0);
    expect(stats.reduce((n, x) => n + x.written, 0)).toBe(s.expectedRows.length);
    await table.refresh();
    expect(recordedPositions(table.metadata, s.group)).toEqual(await highWatermarks(kit.admin, s.topic));

    await expectExactlyOnce(s, { dlqExactlyOnce: true });
  });
});
