import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { requireKafkaBrokers, until, useKafkaTestEnv } from '../support/kafka-test-kit.ts';
import { readWithPyIceberg } from '../interop/readers.ts';

/**
 * `lakehouse dlq` on the dead-letter topic of the real broker, each command as its own process: events
 * produced with `lakehouse produce --invalid-rate` and events whose `quantity` overflows the table's int
 * column go through the ingest path (a Kafka backfill, dead letters to a topic of this test); `dlq stats`
 * equals the topic read raw with kafkajs; after the rule is fixed (`tables alter ... widen-column
 * quantity long`) `dlq replay --reason out_of_range` puts exactly those events into the table once
 * (PyIceberg), a second replay adds nothing, and no replay writes a dead letter again.
 */
const BROKERS = requireKafkaBrokers().join(',');
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const env = useKafkaTestEnv('dlq-kafka');
const unique = (what: string) => `lakehouse-dlq-${what}-${randomBytes(4).toString('hex')}`;
const TABLE = 'interop.events_dlq_kafka';

function cli(...args: string[]): Promise<{ code: number | null; out: Record<string, unknown>; stdout: string; stderr: string }> {
  const all = ['--json', '--warehouse', fileURLToPath(env.wh.warehouse), '--catalog-uri', env.wh.catalogUri, ...args];
  return new Promise((resolve) => {
    const child = execFile(BIN, all, { cwd: env.wh.dir, timeout: 240_000, maxBuffer: 64 << 20, env: { ...process.env, LAKEHOUSE_DEBUG: '' } }, (_e, stdout, stderr) => {
      const json = stdout.indexOf('{');
      let out: Record<string, unknown> = {};
      try { out = json < 0 ? {} : JSON.parse(stdout.slice(json)); } catch { /* shown on failure */ }
      resolve({ code: child.exitCode, out, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<Record<string, unknown>> {
  const r = await cli(...args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.out;
}

/** The dead-letter topic read raw: every record's lakehouse.reason header and value. */
async function readTopicRaw(topic: string): Promise<Array<{ reason: string; value: Buffer }>> {
  const end = (await env.admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  const got: Array<{ reason: string; value: Buffer }> = [];
  if (end === 0) return got;
  const consumer = env.kafka.consumer({ groupId: unique('raw') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { got.push({ reason: String(message.headers?.['lakehouse.reason'] ?? ''), value: message.value ?? Buffer.alloc(0) }); } });
    await until(`${end} records of ${topic}`, () => got.length >= end, 90_000);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

async function rows(): Promise<Array<Record<string, unknown>>> {
  return (await readWithPyIceberg({ catalogUri: env.wh.catalogUri, warehouse: env.wh.warehouse, table: TABLE })).map((l) => JSON.parse(l));
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}
const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

describe('lakehouse dlq on the dead-letter topic (real broker)', () => {
  it('stats equal the topic read raw; after widening the column, replay adds exactly the rejected events once', async () => {
    const topic = unique('events');
    const dlq = unique('dead');
    env.topicsMade.push(topic, dlq);
    await env.admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }, { topic: dlq, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await env.wh.createTable('events_dlq_kafka', campaignEventsSchema, campaignEventsSpec);
    await ok('tables', 'alter', TABLE, 'add-column', 'quantity', 'int');

    const produced = await ok('produce', '--to', 'kafka', '--brokers', BROKERS, '--topic', topic, '--events', '600', '--invalid-rate', '0.1', '--seed', '5');
    // Orders from a producer that counts units past 2^31: valid events, except for the table's int column.
    const base = [...generateMessages({ count: 10, seed: 99, campaigns: 2 })].map((m) => JSON.parse(Buffer.from(m.value).toString('utf8')) as Record<string, unknown>);
    const big: Array<Record<string, unknown>> = base.slice(0, 7).map((e, i) => ({ ...e, event_id: `big-order-${i}`, quantity: 3_000_000_000 + i }));
    const small: Array<Record<string, unknown>> = base.slice(7).map((e, i) => ({ ...e, event_id: `small-order-${i}`, quantity: 5 + i }));
    const producer = env.kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [...big, ...small].map((e) => ({ key: String(e.user_id), value: JSON.stringify(e) })) });
    await producer.disconnect();

    const ingested = await ok('backfill', '--source', 'kafka', '--brokers', BROKERS, '--topic', topic, '--dlq-topic', dlq, '--table', TABLE, '--no-metrics', '--no-progress');
    const raw = await readTopicRaw(dlq);
    expect(raw.length).toBe(ingested.deadLettered);
    expect(raw.length).toBeGreaterThan(7);
    const rawByReason = countBy(raw, (r) => r.reason);
    expect(rawByReason.out_of_range).toBeGreaterThan(7);

    // stats: what the topic holds, by reason, field and source.
    const stats = await ok('dlq', 'stats', '--topic', dlq, '--brokers', BROKERS);
    expect(stats.total).toBe(raw.length);
    expect(sorted(stats.byReason as Record<string, number>)).toEqual(sorted(rawByReason));
    expect((stats.byField as Record<string, number>).quantity).toBe(7);
    expect((stats.topSources as Array<{ source: string; count: number }>).reduce((n, s) => n + s.count, 0)).toBe(raw.length);
    expect((stats.topSources as Array<{ source: string }>).every((s) => s.source.startsWith(`${topic}:`))).toBe(true);
    // The generator's own count of what it made invalid, plus the seven overflowing orders.
    expect(produced.invalid).toBeGreaterThan(0);
    expect(raw.length).toBe(Number(produced.invalid) + 7);

    const shown = await ok('dlq', 'show', '--topic', dlq, '--brokers', BROKERS, '--reason', 'out_of_range', '--limit', '1000');
    const quantityLetters = (shown.letters as Array<{ field: string; text: string; detail: string; topic: string }>).filter((l) => l.field === 'quantity');
    expect(quantityLetters.map((l) => (JSON.parse(l.text) as { event_id: string }).event_id).sort()).toEqual(big.map((e) => String(e.event_id)).sort());
    expect(quantityLetters.every((l) => /outside the int range/.test(l.detail) && l.topic === topic)).toBe(true);

    // Before the fix the rule still rejects them: nothing to add.
    const dry = await ok('dlq', 'replay', '--topic', dlq, '--brokers', BROKERS, '--table', TABLE, '--reason', 'out_of_range', '--dry-run');
    expect(dry).toMatchObject({ added: 0, stillInvalid: rawByReason.out_of_range });

    // The fix: the column holds longs now.
    await ok('tables', 'alter', TABLE, 'widen-column', 'quantity', 'long');
    const before = await rows();
    const replayed = await ok('dlq', 'replay', '--topic', dlq, '--brokers', BROKERS, '--table', TABLE, '--reason', 'out_of_range', '--no-metrics');
    expect(replayed).toMatchObject({ added: 7, stillInvalid: rawByReason.out_of_range! - 7, stillInvalidByReason: { out_of_range: rawByReason.out_of_range! - 7 } });
    const after = await rows();
    expect(after.length).toBe(before.length + 7);
    const byId = countBy(after, (r) => String(r.event_id));
    expect(Object.values(byId).every((c) => c === 1)).toBe(true);
    const landed = after.filter((r) => String(r.event_id).startsWith('big-order-')).map((r) => [r.event_id, String(r.quantity)]).sort();
    expect(landed).toEqual(big.map((e) => [String(e.event_id), String(e.quantity)]).sort());
    expect(after.filter((r) => String(r.event_id).startsWith('small-order-'))).toHaveLength(3);

    // Twice: nothing new to read, nothing added; every reason: the seven are in the table, the rest still invalid.
    expect(await ok('dlq', 'replay', '--topic', dlq, '--brokers', BROKERS, '--table', TABLE, '--reason', 'out_of_range', '--no-metrics')).toMatchObject({ letters: 0, added: 0 });
    const all = await ok('dlq', 'replay', '--topic', dlq, '--brokers', BROKERS, '--table', TABLE, '--no-metrics');
    expect(all).toMatchObject({ letters: raw.length, added: 0, alreadyInTable: 7, stillInvalid: raw.length - 7 });
    expect((await rows()).length).toBe(after.length);
    // No replay wrote a dead letter: the topic holds what ingest put there.
    expect((await env.admin.fetchTopicOffsets(dlq)).reduce((n, p) => n + Number(p.high), 0)).toBe(raw.length);
  });
});
