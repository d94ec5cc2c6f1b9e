import type { Admin } from 'kafkajs';
import { positionKey } from '../../pipeline/source.ts';

/**
 * Small helpers the Kafka integration tests share (tests/integration/kafka-*.test.ts): waiting for a
 * condition, a topic's high watermarks, and deleting the topics a test file made.
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

/** Deletes those of `topics` that exist (an afterAll clean-up), then disconnects the admin. */
export async function deleteTopicsAndDisconnect(admin: Admin | undefined, topics: string[]): Promise<void> {
  if (!admin) return;
  const present = new Set(await admin.listTopics());
  const ours = topics.filter((t) => present.has(t));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  await admin.disconnect();
}
