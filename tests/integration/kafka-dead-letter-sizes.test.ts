import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Table } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { decodeEvent, isRejection } from '../../pipeline/event-decoder.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { Ingestor } from '../../pipeline/ingest.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, DLQ_HEADERS, KafkaDeadLetterSink } from '../../pipeline/kafka-dead-letters.ts';
import { createKafkaSource } from '../../pipeline/kafka-source.ts';
import { ensureTopics } from '../../pipeline/kafka-topics.ts';
import { recordedPositions } from '../../pipeline/offsets.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { readWithPyIceberg } from '../interop/readers.ts';
import { highWatermarks, requireKafkaBrokers, until, useKafkaTestEnv } from '../support/kafka-test-kit.ts';

/**
 * A dead-letter topic created with the broker's defaults (max.message.bytes ≈ 1 MiB) must never stop the
 * pipeline: thousands of ~1 KB invalid records (more than one request's worth) and a 2 MiB garbage record
 * (larger than the topic takes) all reach the dead letters, once per source position, the big one cut with
 * a header saying how long it was, while every valid event lands in the table (read back by PyIceberg).
 */
const brokers = requireKafkaBrokers();
const NOW = Date.UTC(2026, 10, 5, 12, 0, 0);
const SMALL_INVALID = 3000;
const BIG_BYTES = 2 * 1024 * 1024;

const unique = (what: string) => `lakehouse-test-${what}-${randomBytes(4).toString('hex')}`;

const kit = useKafkaTestEnv('kafka-dlq-sizes');

interface Letter { value: Buffer; reason: string | undefined; truncatedFrom: string | undefined; source: string }

async function readLetters(topic: string, expected: number): Promise<Letter[]> {
  const consumer = kit.kafka.consumer({ groupId: unique('dlq-reader'), maxWaitTimeInMs: 200, maxBytes: 16 * 1024 * 1024 });
  const out: Letter[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const h = (name: string) => message.headers?.[name]?.toString();
        out.push({
          value: message.value ?? Buffer.alloc(0), reason: h(DLQ_HEADERS.reason), truncatedFrom: h(DLQ_HEADERS.truncatedFrom),
          source: `${h(DLQ_HEADERS.topic)}:${h(DLQ_HEADERS.partition)}:${h(DLQ_HEADERS.offset)}`,
        });
      },
    });
    await until(`${expected} dead letters in ${topic}`, () => out.length >= expected, 120_000);
    const end = (await kit.admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0);
    await until(`the rest of ${topic}`, () => out.length >= end);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe('a dead-letter topic with the broker default size limit', () => {
  it('takes thousands of small and one huge invalid record, and ingest goes on: rows exact, letters once each', async () => {
    const topic = unique('events');
    const dlqTopic = unique('dlq');
    kit.topicsMade.push(topic, dlqTopic);
    // The source topic was made by someone else to take large records; the DLQ is ours, with defaults.
    await kit.admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }] }] });
    await ensureTopics(brokers, [{ topic: dlqTopic, partitions: 1, retentionMs: 3_600_000 }]);

    const valid = [...generateMessages({ count: 200, seed: 11, invalidRate: 0, lateRate: 0, duplicateRate: 0 })].map((m) => Buffer.from(m.value));
    const small = Array.from({ length: SMALL_INVALID }, (_, i) => Buffer.from(`{"not json ${i} ${'x'.repeat(1000)}`));
    const big = Buffer.alloc(BIG_BYTES, 0x7b); // 2 MiB of "{", not JSON
    // Valid events before, between and after the invalid ones, so good records sit behind bad ones.
    const values = [...valid.slice(0, 50), ...small.slice(0, 1500), big, ...valid.slice(50, 150), ...small.slice(1500), ...valid.slice(150)];
    const producer = kit.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      for (let i = 0; i < values.length; i += 500) {
        await producer.send({ topic, acks: -1, messages: values.slice(i, i + 500).map((value) => ({ value })) });
      }
    } finally {
      await producer.disconnect();
    }

    const tableName = unique('table').replace(/-/g, '_');
    await kit.wh.createTable(tableName, campaignEventsSchema, campaignEventsSpec);
    const table = new Table(kit.wh.catalog, await kit.wh.catalog.loadTable({ namespace: ['interop'], name: tableName }));
    const group = unique('group');
    let ingest!: Ingestor;
    const source = createKafkaSource({
      brokers, topic, group, heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, maxWaitTimeMs: 200,
      positionsFor: () => ingest.positionsFor(), onAssignment: () => ingest.discardUncommitted(),
    });
    const deadLetters = new KafkaDeadLetterSink({ brokers, topic: dlqTopic });
    ingest = new Ingestor({ table, source, group, deadLetters, now: () => NOW, flushRows: 5000, flushIntervalMs: 300 });
    const abort = new AbortController();
    const run = ingest.run(abort.signal).finally(async () => {
      await source.close().catch(() => {});
      await deadLetters.close().catch(() => {});
    });
    try {
      await until('every message recorded in the table', async () => {
        const high = await highWatermarks(kit.admin, topic);
        await table.refresh();
        const recorded = recordedPositions(table.metadata, group);
        return [...high].every(([k, h]) => (recorded.get(k) ?? 0n) >= h);
      }, 180_000);
    } finally {
      abort.abort();
    }
    const stats = await run;
    expect(deadLetters.messageByteLimit).toBe(DEFAULT_MAX_MESSAGE_BYTES);
    expect(stats.deadLettered).toBe(SMALL_INVALID + 1);

    const rows = valid.map((v) => {
      const d = decodeEvent(v, NOW);
      if (isRejection(d)) throw new Error(`generated valid message rejected: ${d.detail}`);
      return { ...d, processed_at: BigInt(NOW) * 1000n };
    });
    expect(await readWithPyIceberg({ catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: `interop.${tableName}` }))
      .toEqual(canonicalRows(campaignEventsSchema, rows));

    const letters = await readLetters(dlqTopic, SMALL_INVALID + 1);
    expect(letters).toHaveLength(SMALL_INVALID + 1);
    expect(new Set(letters.map((l) => l.source)).size).toBe(SMALL_INVALID + 1);
    expect(letters.every((l) => l.reason !== undefined && l.reason !== '')).toBe(true);
    const cut = letters.filter((l) => l.truncatedFrom !== undefined);
    expect(cut).toHaveLength(1);
    expect(cut[0]!.truncatedFrom).toBe(String(BIG_BYTES));
    expect(cut[0]!.value.length).toBeLessThan(DEFAULT_MAX_MESSAGE_BYTES);
    expect(cut[0]!.value.length).toBeGreaterThan(DEFAULT_MAX_MESSAGE_BYTES / 2);
    expect(big.subarray(0, cut[0]!.value.length).equals(cut[0]!.value)).toBe(true);
    const whole = letters.filter((l) => l.truncatedFrom === undefined).map((l) => l.value.toString()).sort();
    expect(whole).toEqual(small.map((b) => b.toString()).sort());
  }, 300_000);
});
