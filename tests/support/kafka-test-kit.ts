import type { ChildProcess } from 'node:child_process';
import { Kafka, logLevel, type Admin, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import { type Warehouse, openWarehouse } from '../interop/helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv } from '../interop/readers.ts';
import { positionKey } from '../../pipeline/source.ts';

/**
 * Small helpers the Kafka integration tests share (tests/integration/kafka-*.test.ts): waiting for a
 * condition, a topic's high watermarks, deleting the topics a test file made, and the set-up and clean-up
 * every file with a warehouse repeats (useKafkaTestEnv).
 */

/**
 * The test broker from LAKEHOUSE_KAFKA_BROKERS (what infra/services.sh writes); fails loudly without it,
 * since these tests exist to run against a real broker.
 */
export function requireKafkaBrokers(): string[] {
  const env = process.env.LAKEHOUSE_KAFKA_BROKERS;
  if (!env) {
    throw new Error(
      'LAKEHOUSE_KAFKA_BROKERS is not set: these tests need a real Kafka broker. Start one with ' +
        '`bash infra/services/kafka.sh start` and export what `bash infra/services/kafka.sh env` prints ' +
        '(or run them through vitest --project integration, whose setup starts it).',
    );
  }
  return env.split(',').map((b) => b.trim());
}

/** Polls `cond` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `<topic>:<partition>` -> the partition's high watermark (the next offset to be written). */
export async function highWatermarks(admin: Admin, topic: string): Promise<Map<string, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [positionKey(topic, o.partition), BigInt(o.high)]));
}

/** Every record of `topic` up to its high watermarks now, read by a consumer of a fresh group. */
export async function readWholeTopic(kafka: Kafka, topic: string): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await highWatermarks(admin, topic);
  await admin.disconnect();
  const out: KafkaMessage[] = [];
  const next = new Map<string, bigint>();
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Date.now()}-${Math.random().toString(16).slice(2)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = positionKey(topic, partition);
        if (BigInt(message.offset) < (ends.get(key) ?? 0n)) out.push(message);
        next.set(key, BigInt(message.offset) + 1n);
      },
    });
    await until(`reading ${topic} to its end`, () => [...ends].every(([k, end]) => end === 0n || (next.get(k) ?? 0n) >= end), 120_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Deletes those of `topics` that exist (an afterAll clean-up), then disconnects the admin. */
export async function deleteTopicsAndDisconnect(admin: Admin | undefined, topics: string[]): Promise<void> {
  if (!admin) return;
  const present = new Set(await admin.listTopics());
  const ours = topics.filter((t) => present.has(t));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  await admin.disconnect();
}

/** What a Kafka integration test file shares: a client, its admin, a warehouse, and what to clean up. */
export interface KafkaTestEnv {
  kafka: Kafka;
  admin: Admin;
  wh: Warehouse;
  /** Topics the file made; deleted after its tests. */
  topicsMade: string[];
  /** Child processes still running; killed after its tests. */
  running: Set<ChildProcess>;
}

/**
 * Registers the file's beforeAll/afterAll: a connected admin on the test broker, a warehouse named
 * `warehouse` (tests/interop/helpers.ts) and the readers' venv; afterwards kills leftover children,
 * deletes the topics the tests made and closes the warehouse. Fields are set once beforeAll ran.
 */
export function useKafkaTestEnv(warehouse: string, clientId = 'lakehouse-test'): KafkaTestEnv {
  const env = { topicsMade: [], running: new Set() } as unknown as KafkaTestEnv;
  beforeAll(async () => {
    env.kafka = new Kafka({ clientId, brokers: requireKafkaBrokers(), logLevel: logLevel.NOTHING });
    env.admin = env.kafka.admin();
    await env.admin.connect();
    env.wh = await openWarehouse(warehouse);
    await ensureVenv();
  }, VENV_TIMEOUT_MS);
  afterAll(async () => {
    for (const child of env.running) child.kill('SIGKILL');
    await deleteTopicsAndDisconnect(env.admin, env.topicsMade);
    await env.wh?.close();
  });
  return env;
}
