import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import type { DeadLetter } from '../../pipeline/dead-letters.ts';
import { DLQ_HEADERS, KafkaDeadLetterSink } from '../../pipeline/kafka-dead-letters.ts';
import { type KafkaAssignment, type KafkaSource, createKafkaSource } from '../../pipeline/kafka-source.ts';
import { ensureTopics } from '../../pipeline/kafka-topics.ts';
import { type Positions, type SourceRecord, positionKey } from '../../pipeline/source.ts';
import { requireKafkaBrokers, until } from '../support/kafka-test-kit.ts';

/**
 * The Kafka adapters against a real Apache Kafka broker (KRaft, infra/services/kafka.sh). Setup and
 * checks go through kafkajs directly (its admin, producer and a plain consumer), not through the code
 * under test. Every test has its own topic and consumer group.
 */
const brokers = requireKafkaBrokers();
const PARTITIONS = 3;
const PER_PARTITION = 20;

const unique = (what: string) => `lakehouse-test-${what}-${randomBytes(4).toString('hex')}`;
const uniqueTopic = (what: string) => {
  const topic = unique(what);
  topicsMade.push(topic);
  return topic;
};
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : null);

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const open: Array<{ close(): Promise<void> }> = [];
/** Deleted after the file, so test topics do not pile up in the broker's data dir across runs. */
const topicsMade: string[] = [];

beforeAll(async () => {
  kafka = new Kafka({ clientId: 'lakehouse-test', brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  const present = new Set(await admin.listTopics());
  const ours = topicsMade.filter((t) => present.has(t));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  await producer?.disconnect();
  await admin?.disconnect();
});

async function createTopic(partitions = PARTITIONS): Promise<string> {
  const topic = uniqueTopic('topic');
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
  return topic;
}

/** `perPartition` records into each partition, value `<partition>-<index>`, so a record names its own place. */
async function produce(topic: string, perPartition = PER_PARTITION, partitions = PARTITIONS): Promise<void> {
  for (let p = 0; p < partitions; p++) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: perPartition }, (_, i) => ({
        partition: p,
        key: `k${i}`,
        value: `${p}-${i}`,
        headers: { origin: 'test', seq: String(i) },
      })),
    });
  }
}

function source(topic: string, group: string, extra: Partial<Parameters<typeof createKafkaSource>[0]> = {}): KafkaSource {
  const s = createKafkaSource({ brokers, topic, group, heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, ...extra });
  open.push(s);
  return s;
}

/** Polls until `n` records arrived or `timeoutMs` passed; then a short extra poll must bring nothing more. */
async function pollExactly(s: KafkaSource, n: number, timeoutMs = 30_000): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < deadline) out.push(...(await s.poll(1000, 200)));
  out.push(...(await s.poll(1000, 500)));
  return out;
}

/** Offsets received per partition, in arrival order. */
function offsetsByPartition(records: SourceRecord[]): Map<number, bigint[]> {
  const out = new Map<number, bigint[]>();
  for (const r of records) out.set(r.partition, [...(out.get(r.partition) ?? []), r.offset]);
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => BigInt(from + i));

async function groupOffsets(group: string, topic: string): Promise<Map<number, string>> {
  const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map(entry!.partitions.map((p) => [p.partition, p.offset]));
}

describe('KafkaSource', () => {
  it('polls every record of three partitions with its topic, partition, offset, key and headers', async () => {
    const topic = await createTopic();
    await produce(topic);
    const s = source(topic, unique('group'));
    await s.start(new Map());
    expect(s.assignment()).toEqual([0, 1, 2]);
    // Nothing polled, no position anywhere: lag counts from the earliest offset.
    expect(await s.refreshLag()).toEqual(new Map([0, 1, 2].map((p) => [positionKey(topic, p), BigInt(PER_PARTITION)])));

    const records = await pollExactly(s, PARTITIONS * PER_PARTITION);
    expect(records).toHaveLength(PARTITIONS * PER_PARTITION);
    for (const r of records) {
      expect(r.topic).toBe(topic);
      expect(text(r.value)).toBe(`${r.partition}-${r.offset}`);
      expect(text(r.key)).toBe(`k${r.offset}`);
      expect(r.headers).toEqual({ origin: 'test', seq: String(r.offset) });
      expect(r.timestampMs).toBeGreaterThan(Date.now() - 600_000);
    }
    const byPartition = offsetsByPartition(records);
    for (let p = 0; p < PARTITIONS; p++) expect(byPartition.get(p)).toEqual(range(0, PER_PARTITION));

    const lag = await s.refreshLag();
    expect(lag).toEqual(new Map([0, 1, 2].map((p) => [positionKey(topic, p), 0n])));
  });

  it('start() seeks each partition exactly to its resume position; partitions without one start at the earliest', async () => {
    const topic = await createTopic();
    await produce(topic);
    const s = source(topic, unique('group'));
    await s.start(new Map([[positionKey(topic, 0), 5n], [positionKey(topic, 2), 19n]]));

    const byPartition = offsetsByPartition(await pollExactly(s, 15 + 20 + 1));
    expect(byPartition.get(0)).toEqual(range(5, 20));
    expect(byPartition.get(1)).toEqual(range(0, 20));
    expect(byPartition.get(2)).toEqual([19n]);
  });

  it('fromBeginning: false starts a partition without any offset at the end', async () => {
    const topic = await createTopic();
    await produce(topic, 5);
    const s = source(topic, unique('group'), { fromBeginning: false });
    await s.start(new Map());
    expect(await s.poll(100, 1500)).toEqual([]);
    await producer.send({ topic, acks: -1, messages: [{ partition: 1, value: 'late' }] });
    const records = await pollExactly(s, 1);
    expect(records.map((r) => [r.partition, r.offset, text(r.value)])).toEqual([[1, 5n, 'late']]);
  });

  it('a new member without resume positions starts after the offsets the group committed', async () => {
    const topic = await createTopic();
    await produce(topic);
    const group = unique('group');
    const first = source(topic, group);
    await first.start(new Map());
    expect(await pollExactly(first, 60)).toHaveLength(60);
    const result = await first.commitOffsets(new Map([[positionKey(topic, 0), 10n], [positionKey(topic, 1), 20n], [positionKey(topic, 2), 3n]]));
    expect(result.skipped).toEqual([]);
    expect(await groupOffsets(group, topic)).toEqual(new Map([[0, '10'], [1, '20'], [2, '3']]));
    await first.close();

    const second = source(topic, group);
    await second.start(new Map());
    const byPartition = offsetsByPartition(await pollExactly(second, 10 + 17));
    expect(byPartition.get(0)).toEqual(range(10, 20));
    expect(byPartition.get(1)).toBeUndefined();
    expect(byPartition.get(2)).toEqual(range(3, 20));
  });

  it('two members split the partitions; when one leaves, the other takes all and seeks to positionsFor()', async () => {
    const topic = await createTopic();
    await produce(topic);
    const group = unique('group');
    // What "the table" holds by the time of the rebalance.
    const table: Positions = new Map([[positionKey(topic, 0), 2n], [positionKey(topic, 1), 4n], [positionKey(topic, 2), 6n]]);
    const assignmentsOfA: KafkaAssignment[] = [];
    const a = source(topic, group, { positionsFor: async () => table, onAssignment: (x) => assignmentsOfA.push(x) });
    const b = source(topic, group, { positionsFor: async () => table });
    await a.start(new Map());
    await b.start(new Map());
    await until('both members to hold partitions', () => {
      return a.assignment().length > 0 && b.assignment().length > 0 && a.assignment().length + b.assignment().length === PARTITIONS;
    });
    expect(new Set([...a.assignment(), ...b.assignment()])).toEqual(new Set([0, 1, 2]));

    await b.close();
    // Not polling meanwhile: records polled here would be lost to the check below.
    await until('A to own all partitions again', () => {
      return a.assignment().length === PARTITIONS && assignmentsOfA.at(-1)?.partitions.length === PARTITIONS;
    });
    const last = assignmentsOfA.at(-1)!;
    expect(last.generation).toBeGreaterThanOrEqual(3);
    expect(last.positions).toEqual(table);

    const byPartition = offsetsByPartition(await pollExactly(a, 18 + 16 + 14));
    expect(a.generation).toBe(last.generation);
    expect(byPartition.get(0)).toEqual(range(2, 20));
    expect(byPartition.get(1)).toEqual(range(4, 20));
    expect(byPartition.get(2)).toEqual(range(6, 20));
  });

  it('a member whose partitions moved in a rebalance skips the commit of what it read before (fencing)', async () => {
    const topic = await createTopic();
    await produce(topic);
    const group = unique('group');
    const a = source(topic, group, { positionsFor: async () => new Map() });
    await a.start(new Map());
    expect(await pollExactly(a, 60)).toHaveLength(60);
    const readByA: Positions = new Map([0, 1, 2].map((p) => [positionKey(topic, p), 20n]));

    const b = source(topic, group, { positionsFor: async () => new Map() });
    await b.start(new Map());
    // A does not poll in its new generation, as a zombie busy flushing would not.
    await until('the rebalance to reach A', () => {
      return a.generation >= 2 && a.assignment().length + b.assignment().length === PARTITIONS;
    });

    const zombie = await a.commitOffsets(readByA);
    expect(zombie.committed.size).toBe(0);
    expect(zombie.skipped.map((x) => x.key).sort()).toEqual([...readByA.keys()].sort());
    for (const p of b.assignment()) {
      expect(zombie.skipped.find((x) => x.key === positionKey(topic, p))?.reason).toMatch(/not assigned to this member/);
    }
    for (const p of a.assignment()) {
      expect(zombie.skipped.find((x) => x.key === positionKey(topic, p))?.reason).toMatch(/not read in the current generation/);
    }
    expect([...(await groupOffsets(group, topic)).values()]).toEqual(['-1', '-1', '-1']);

    // The new owner reads its partitions again and may commit them.
    const owned = b.assignment();
    const readByB = offsetsByPartition(await pollExactly(b, owned.length * PER_PARTITION));
    expect([...readByB.keys()].sort()).toEqual(owned);
    const ok = await b.commitOffsets(new Map(owned.map((p) => [positionKey(topic, p), 20n])));
    expect(ok.skipped).toEqual([]);
    const offsets = await groupOffsets(group, topic);
    for (const p of owned) expect(offsets.get(p)).toBe('20');
  });

  it('a queue bound far below the topic size still delivers every record once and in order (pause and resume)', async () => {
    const topic = await createTopic();
    await produce(topic);
    const s = source(topic, unique('group'), { maxQueuedRecords: 4 });
    await s.start(new Map());
    const records: SourceRecord[] = [];
    while (records.length < 60) {
      const got = await s.poll(3, 5000);
      expect(got.length).toBeGreaterThan(0);
      records.push(...got);
      // One fetched batch may overshoot the bound; after that fetching must stop.
      expect(s.queued.records).toBeLessThanOrEqual(4 + PER_PARTITION);
    }
    const byPartition = offsetsByPartition(records);
    for (let p = 0; p < PARTITIONS; p++) expect(byPartition.get(p)).toEqual(range(0, PER_PARTITION));
  });

  it('reseek() gives back the queued records of partitions without a table position, from where kafkajs started them', async () => {
    // The stall of a two-member ingest: a member reseeks (another writer committed part of its flush),
    // the queue is dropped, and a partition the table has no position for must be fetched again.
    const topic = await createTopic();
    await produce(topic);
    const positions = new Map([[positionKey(topic, 1), 5n]]);
    const s = source(topic, unique('group'), { positionsFor: async () => positions });
    await s.start(new Map());
    await until('every record to be queued', () => s.queued.records >= 2 * PER_PARTITION + 15);
    const before = offsetsByPartition(await s.poll(7, 0));
    expect([...before.values()].flat()).toHaveLength(7);
    s.reseek();
    // The table moved on for partition 1 meanwhile; partitions 0 and 2 still have no position.
    positions.set(positionKey(topic, 1), 12n);
    const byPartition = offsetsByPartition(await pollExactly(s, 2 * PER_PARTITION + 8));
    expect(byPartition.get(0)).toEqual(range(0, PER_PARTITION));
    expect(byPartition.get(1)).toEqual(range(12, PER_PARTITION));
    expect(byPartition.get(2)).toEqual(range(0, PER_PARTITION));
    // A second reseek still knows where they started.
    s.reseek();
    const again = offsetsByPartition(await pollExactly(s, 2 * PER_PARTITION + 8));
    expect(again.get(0)).toEqual(range(0, PER_PARTITION));
    expect(again.get(2)).toEqual(range(0, PER_PARTITION));
  });

  it('start() on a missing topic or an unreachable broker fails with a sentence', async () => {
    const missing = unique('missing');
    const err1 = await source(missing, unique('group')).start(new Map()).catch((e: unknown) => e);
    expect(err1).toBeInstanceOf(LakehouseError);
    expect((err1 as LakehouseError).code).toBe('NOT_FOUND');
    expect((err1 as Error).message).toContain(`Kafka topic ${missing} does not exist on ${brokers.join(', ')}`);

    const dead = createKafkaSource({ brokers: ['127.0.0.1:1'], topic: 'campaign_events', group: unique('group'), retries: 1 });
    open.push(dead);
    const err2 = await dead.start(new Map()).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/^Cannot reach Kafka at 127\.0\.0\.1:1 .*; check --brokers and that the broker runs/);
  });
});

describe('KafkaDeadLetterSink', () => {
  it('produces dead letters with the original bytes, key, headers and every lakehouse.* header', async () => {
    const topic = await createTopic(1);
    const sink = new KafkaDeadLetterSink({ brokers, topic });
    open.push(sink);
    const notUtf8 = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
    const letters: DeadLetter[] = [
      { value: notUtf8, key: Buffer.from('k1'), headers: { origin: 'app', [DLQ_HEADERS.reason]: 'stale' }, reason: 'not_utf8', detail: 'value is not UTF-8', topic: 'campaign_events', partition: 2, offset: 9007199254740993n, timeMs: Date.UTC(2026, 0, 2, 3, 4, 5), sourceTimestampMs: Date.UTC(2026, 0, 1) },
      { value: null, reason: 'empty', detail: 'tombstone', topic: 'campaign_events', partition: 0, offset: 0n, timeMs: Date.UTC(2026, 0, 2) },
      { value: Buffer.from('{"event_id":'), reason: 'invalid_json', detail: 'Unexpected end of JSON input', topic: 'campaign_events', partition: 1, offset: 42n, timeMs: Date.UTC(2026, 0, 2) },
    ];
    for (const l of letters) await sink.send(l);
    await sink.flush();
    expect(sink.count).toBe(3);

    const received: Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, string> }> = [];
    const consumer = kafka.consumer({ groupId: unique('dlq-reader') });
    await consumer.connect();
    open.push({ close: () => consumer.disconnect() });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        received.push({ key: message.key, value: message.value, headers });
      },
    });
    await until('3 dead letters in the topic', () => received.length >= 3);

    expect(received).toHaveLength(3);
    expect(Buffer.compare(received[0]!.value!, Buffer.from(notUtf8))).toBe(0);
    expect(received[0]!.key?.toString()).toBe('k1');
    expect(received[0]!.headers).toEqual({
      origin: 'app',
      'lakehouse.reason': 'not_utf8',
      'lakehouse.detail': 'value is not UTF-8',
      'lakehouse.source.topic': 'campaign_events',
      'lakehouse.source.partition': '2',
      'lakehouse.source.offset': '9007199254740993',
      'lakehouse.source.timestamp': '2026-01-01T00:00:00.000Z',
      'lakehouse.time': '2026-01-02T03:04:05.000Z',
    });
    expect(received[1]!.value).toBeNull();
    expect(received[1]!.headers['lakehouse.reason']).toBe('empty');
    expect(received[2]!.value?.toString()).toBe('{"event_id":');
    expect(received[2]!.headers['lakehouse.source.offset']).toBe('42');
  });

  it('flush() against an unreachable broker fails with a sentence and keeps the letters', async () => {
    const sink = new KafkaDeadLetterSink({ brokers: ['127.0.0.1:1'], topic: 'dead_letter_queue', retries: 1 });
    open.push({ close: () => sink.close().catch(() => {}) });
    sink.send({ value: Buffer.from('x'), reason: 'r', detail: 'd', topic: 't', partition: 0, offset: 1n, timeMs: 0 });
    const err = await sink.flush().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^Cannot reach Kafka at 127\.0\.0\.1:1 /);
    expect(sink.count).toBe(1);
  });
});

describe('ensureTopics', () => {
  it('creates missing topics with their partition counts and retention, and leaves them alone the second time', async () => {
    const events = uniqueTopic('events');
    const dlq = uniqueTopic('dlq');
    const specs = [
      { topic: events, partitions: 3, retentionMs: 24 * 3_600_000 },
      { topic: dlq, partitions: 1, retentionMs: 7 * 24 * 3_600_000 },
    ];
    const first = await ensureTopics(brokers, specs);
    expect(first).toEqual({ created: [events, dlq], existing: [], differing: [] });

    const meta = await admin.fetchTopicMetadata({ topics: [events, dlq] });
    expect(meta.topics.find((t) => t.name === events)?.partitions).toHaveLength(3);
    expect(meta.topics.find((t) => t.name === dlq)?.partitions).toHaveLength(1);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [events, dlq].map((name) => ({ type: 2 /* TOPIC */, name, configNames: ['retention.ms'] })),
    });
    const retention = (name: string) => configs.resources.find((r) => r.resourceName === name)?.configEntries.find((c) => c.configName === 'retention.ms')?.configValue;
    expect(retention(events)).toBe('86400000');
    expect(retention(dlq)).toBe('604800000');

    const second = await ensureTopics(brokers, specs);
    expect(second).toEqual({ created: [], existing: [events, dlq], differing: [] });
    const differing = await ensureTopics(brokers, [{ topic: dlq, partitions: 2, retentionMs: 1000 }]);
    expect(differing.differing).toEqual([{ topic: dlq, partitions: 1, expected: 2 }]);
  });

  it('a missing topic with creation turned off is an error that names it', async () => {
    const topic = unique('absent');
    const err = await ensureTopics(brokers, [{ topic, partitions: 3, retentionMs: 1000 }], { create: false }).catch((e: unknown) => e);
    expect((err as LakehouseError).code).toBe('NOT_FOUND');
    expect((err as Error).message).toContain(`Kafka topic ${topic} does not exist on ${brokers.join(', ')} and topic creation is disabled`);
    expect((await admin.listTopics()).includes(topic)).toBe(false);
  });

  it('an unreachable broker is a sentence with the brokers tried', async () => {
    const err = await ensureTopics(['127.0.0.1:1', '127.0.0.1:2'], [{ topic: 'x', partitions: 1, retentionMs: 1000 }], { retries: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LakehouseError);
    expect((err as Error).message).toMatch(/^Cannot reach Kafka at 127\.0\.0\.1:1, 127\.0\.0\.1:2 \(.*\); check --brokers and that the broker runs/);
  });
});
