import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { CRASH_AT_ENV, FLUSH_CRASH_POINTS } from '../../pipeline/crash-points.ts';
import { type GeneratedMessage, generateMessages } from '../../pipeline/event-generator.ts';
import { messageEvent } from '../support/campaign-metrics-oracle.ts';
import { requireKafkaBrokers, until, useKafkaTestEnv } from '../support/kafka-test-kit.ts';
import { readWithPyIceberg } from '../interop/readers.ts';

/**
 * `lakehouse backfill --source kafka` against the real broker: an offset range per partition and a time
 * range give exactly the records in them (PyIceberg reads the ids), the same range again adds nothing,
 * and a range past the end of a partition or ending in the future is a sentence with nothing written.
 */
const BROKERS = requireKafkaBrokers().join(',');
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const env = useKafkaTestEnv('backfill-kafka');
const unique = (what: string) => `lakehouse-backfill-${what}-${randomBytes(4).toString('hex')}`;
const PARTITIONS = 3;
/** Broker timestamps of the produced records: record i at BASE + i seconds. */
const BASE_MS = Date.now() - 3_600_000;

interface Produced {
  topic: string;
  messages: GeneratedMessage[];
  /** The message at each partition and offset. */
  at: (partition: number, offset: number) => GeneratedMessage;
}

/** Message i to partition i % 3 (so offset i / 3 there), with broker timestamp BASE_MS + i s. */
async function produce(count: number, seed: number): Promise<Produced> {
  const topic = unique('events');
  env.topicsMade.push(topic);
  await env.admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  const messages = [...generateMessages({ count, seed, campaigns: 3, invalidRate: 0.03 })];
  const producer = env.kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: messages.map((m, i) => ({ partition: i % PARTITIONS, key: m.key, value: Buffer.from(m.value), timestamp: String(BASE_MS + i * 1000) })),
    });
  } finally {
    await producer.disconnect();
  }
  return { topic, messages, at: (p, o) => messages[o * PARTITIONS + p]! };
}

function backfillCli(table: string, topic: string, ...rest: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: Record<string, unknown> | null; stderr: string }> {
  return backfillCliCrashing(undefined, table, topic, ...rest);
}

/** `lakehouse backfill` killing itself with SIGKILL at `crashAt` (pipeline/crash-points.ts) when given. */
function backfillCliCrashing(crashAt: string | undefined, table: string, topic: string, ...rest: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: Record<string, unknown> | null; stderr: string }> {
  const args = ['--json', '--warehouse', fileURLToPath(env.wh.warehouse), '--catalog-uri', env.wh.catalogUri, 'backfill', '--source', 'kafka',
    '--brokers', BROKERS, '--topic', topic, '--table', `interop.${table}`, '--dead-letter-file', path.join(env.wh.dir, 'dead.ndjson'), '--flush-rows', '50', ...rest];
  return new Promise((resolve) => {
    const childEnv = { ...process.env, LAKEHOUSE_DEBUG: '', [CRASH_AT_ENV]: crashAt ?? '' };
    const child = execFile(BIN, args, { cwd: env.wh.dir, timeout: 180_000, env: childEnv }, (_e, stdout, stderr) => {
      const json = stdout.indexOf('{');
      resolve({ code: child.exitCode, signal: child.signalCode, out: json < 0 ? null : JSON.parse(stdout.slice(json)), stderr });
    });
  });
}

async function tableIds(table: string): Promise<string[]> {
  const lines = await readWithPyIceberg({ catalogUri: env.wh.catalogUri, warehouse: env.wh.warehouse, table: `interop.${table}` });
  return lines.map((l) => (JSON.parse(l) as { event_id: string }).event_id).sort();
}

/** The valid event ids among `messages`, as the generator made them. */
const idsOf = (messages: GeneratedMessage[]) => messages.filter((m) => m.kind !== 'invalid').map((m) => messageEvent(m, 0n)!.event_id).sort();

describe('lakehouse backfill --source kafka (real broker)', () => {
  it('reads exactly the per-partition offset range, and the same range again adds nothing', async () => {
    const p = await produce(300, 21);
    await env.wh.createTable('bf_kafka_offsets', campaignEventsSchema, campaignEventsSpec);
    // Partition 0 offsets 10..59, partition 1 offsets 0..39; partition 2 is not read.
    const range = ['--from-offset', '0:10,1:0', '--to-offset', '0:60,1:40'];
    const first = await backfillCli('bf_kafka_offsets', p.topic, ...range);
    expect(first.code, first.stderr).toBe(0);
    const wanted = [...Array.from({ length: 50 }, (_, k) => p.at(0, 10 + k)), ...Array.from({ length: 40 }, (_, k) => p.at(1, k))];
    expect(first.out).toMatchObject({ records: 90, added: idsOf(wanted).length });
    expect(first.out!.positions).toEqual({ [`${p.topic}:0`]: '60', [`${p.topic}:1`]: '40' });
    expect(await tableIds('bf_kafka_offsets')).toEqual(idsOf(wanted));

    const again = await backfillCli('bf_kafka_offsets', p.topic, ...range);
    expect(again.code, again.stderr).toBe(0);
    expect(again.out).toMatchObject({ records: 0, added: 0, commits: 0 });
    expect(await tableIds('bf_kafka_offsets')).toEqual(idsOf(wanted));
  });

  it('reads exactly the records whose broker timestamps fall in a time range, on every partition', async () => {
    const p = await produce(240, 22);
    await env.wh.createTable('bf_kafka_times', campaignEventsSchema, campaignEventsSpec);
    const r = await backfillCli('bf_kafka_times', p.topic, '--from-time', new Date(BASE_MS + 100_000).toISOString(), '--to-time', new Date(BASE_MS + 190_000).toISOString());
    expect(r.code, r.stderr).toBe(0);
    expect(r.out).toMatchObject({ records: 90 });
    expect(await tableIds('bf_kafka_times')).toEqual(idsOf(p.messages.slice(100, 190)));
  });

  it('a range past the end of a partition, or ending in the future, is a sentence and exit 2 (a wrong argument); a missing topic exit 1; nothing written', async () => {
    const p = await produce(30, 23);
    await env.wh.createTable('bf_kafka_bad', campaignEventsSchema, campaignEventsSpec);
    const past = await backfillCli('bf_kafka_bad', p.topic, '--to-offset', '0:5,1:500');
    expect(past.code).toBe(2);
    expect(past.stderr).toMatch(/past the end of partition 1 of .*: it ends at offset 500, but the partition's next offset is 10/);
    const future = await backfillCli('bf_kafka_bad', p.topic, '--to-time', new Date(Date.now() + 3_600_000).toISOString());
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/--to-time .* is in the future/);
    const missing = await backfillCli('bf_kafka_bad', unique('nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    expect((await env.wh.catalog.loadTable({ namespace: ['interop'], name: 'bf_kafka_bad' })).metadata.snapshots).toHaveLength(0);
  });

  it('a range ending on a transaction marker (a transactional producer\'s commit) ends instead of waiting for a record that never comes', async () => {
    const topic = unique('tx');
    env.topicsMade.push(topic);
    await env.admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const messages = [...generateMessages({ count: 40, seed: 24 })];
    const producer = env.kafka.producer({ transactionalId: unique('txid'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: messages.map((m) => ({ partition: 0, key: m.key, value: Buffer.from(m.value) })) });
      await tx.commit();
    } finally {
      await producer.disconnect();
    }
    // The log ends one past the commit marker, which holds no record (once the broker has written the
    // marker, the stable end of the log moves there).
    await until('the transaction\'s commit marker', async () => (await env.admin.fetchTopicOffsets(topic))[0]!.high === '41', 30_000);
    await env.wh.createTable('bf_kafka_tx', campaignEventsSchema, campaignEventsSpec);
    const r = await backfillCli('bf_kafka_tx', topic);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out).toMatchObject({ records: 40, added: idsOf(messages).length, positions: { [`${topic}:0`]: '40' } });
    expect(await tableIds('bf_kafka_tx')).toEqual(idsOf(messages));
  });

  it('killed with kill -9 after a commit and again before one, it resumes each partition at the table\'s position: every record of the range once', async () => {
    const p = await produce(270, 25);
    await env.wh.createTable('bf_kafka_crash', campaignEventsSchema, campaignEventsSpec);
    const range = ['--to-offset', '80', '--flush-rows', '40'];
    const killed = await backfillCliCrashing(`${FLUSH_CRASH_POINTS.tableCommitted}:2`, 'bf_kafka_crash', p.topic, ...range);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const killedAgain = await backfillCliCrashing(`${FLUSH_CRASH_POINTS.filesWritten}:2`, 'bf_kafka_crash', p.topic, ...range);
    expect(killedAgain.signal, killedAgain.stderr).toBe('SIGKILL');
    const finished = await backfillCli('bf_kafka_crash', p.topic, ...range);
    expect(finished.code, finished.stderr).toBe(0);
    expect(Object.keys(finished.out!.resumedFrom as object).length).toBeGreaterThan(0);
    expect(finished.out!.positions).toEqual({ [`${p.topic}:0`]: '80', [`${p.topic}:1`]: '80', [`${p.topic}:2`]: '80' });
    const ids = await tableIds('bf_kafka_crash');
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(idsOf(p.messages.slice(0, 240)));
  });
});
