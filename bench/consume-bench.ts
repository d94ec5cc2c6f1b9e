/**
 * Raw consume rate of one Kafka client on a topic already filled with `count` messages: read them all
 * from the earliest offset in a fresh consumer group, touch nothing but the lengths, stop. Run by
 * bench/ingest-bench.ts as a child process per client, so each one's RSS and CPU are its own
 * (kafkajs against @platformatic/kafka on the same broker, to know what the client costs).
 *
 *   node --import tsx bench/consume-bench.ts <client> <brokers> <topic> <count>
 *
 * Clients:
 * - `kafkajs`: a kafkajs consumer with the settings pipeline/kafka-source.ts uses (client from
 *   pipeline/kafka-client.ts, eachBatch, manual offset resolution, no auto commit, 500 ms max wait,
 *   kafkajs' default fetch sizes: 1 MiB per partition, 10 MiB per request).
 * - `source`: the project's KafkaSource (kafkajs underneath) drained through pollBatches(), i.e. what
 *   the Ingestor sees: adds the bounded queue and a batch per partition run (its bytes count values
 *   only: keys are not part of a batch).
 * - `platformatic`: @platformatic/kafka 1.35 Consumer stream with its defaults (10 MiB per request and
 *   per partition, 1024-message stream buffer), values left as Buffers, no auto commit.
 *   PLATFORMATIC_OPTIONS='{"highWaterMark":16384}' (JSON) overrides consume() options, to try its
 *   settings; highWaterMark, maxBytesPerPartition 1 MiB, isolationLevel 0 and autocommit did not
 *   change its CPU per message by more than the run-to-run noise here.
 *
 * Prints one JSON line: messages, bytes (key + value), the time from joining the group to the last
 * message, and this process's CPU time and peak RSS. @platformatic/kafka is a devDependency and is
 * imported here only, when its client runs.
 */
import { randomBytes } from 'node:crypto';
import { createKafkaClient } from '../pipeline/kafka-client.ts';
import { groupTimings } from '../pipeline/kafka-group-members.ts';
import { createKafkaSource } from '../pipeline/kafka-source.ts';

export type ConsumeClient = 'kafkajs' | 'source' | 'platformatic';
export const CONSUME_CLIENTS: readonly ConsumeClient[] = ['kafkajs', 'source', 'platformatic'];

export interface ConsumeResult {
  client: ConsumeClient;
  messages: number;
  /** Key + value bytes of the messages read. */
  bytes: number;
  /** From start-up to the group assignment (ms). */
  joinMs: number;
  /** From the group assignment to the last message (s). */
  seconds: number;
  /** User + system CPU of this process over the same window (s). */
  cpuSeconds: number;
  maxRssBytes: number;
}

interface Window {
  joinedAt: number;
  cpuAtJoin: NodeJS.CpuUsage;
}

function finish(client: ConsumeClient, started: number, w: Window, messages: number, bytes: number): ConsumeResult {
  const end = performance.now();
  const cpu = process.cpuUsage(w.cpuAtJoin);
  return {
    client, messages, bytes, joinMs: w.joinedAt - started, seconds: (end - w.joinedAt) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

const mark = (): Window => ({ joinedAt: performance.now(), cpuAtJoin: process.cpuUsage() });
const group = (client: string) => `lakehouse-bench-consume-${client}-${randomBytes(4).toString('hex')}`;

async function kafkajs(brokers: string[], topic: string, count: number): Promise<ConsumeResult> {
  const started = performance.now();
  const timings = groupTimings({});
  const consumer = createKafkaClient({ brokers, clientId: 'lakehouse-bench' }).consumer({
    groupId: group('kafkajs'), sessionTimeout: timings.sessionTimeoutMs, heartbeatInterval: timings.heartbeatIntervalMs,
    rebalanceTimeout: timings.rebalanceTimeoutMs, maxWaitTimeInMs: 500, allowAutoTopicCreation: false,
  });
  let w: Window | undefined;
  consumer.on(consumer.events.GROUP_JOIN, () => { w ??= mark(); });
  let messages = 0;
  let bytes = 0;
  let done!: (r: ConsumeResult) => void;
  const result = new Promise<ConsumeResult>((r) => { done = r; });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (batch.messages.length === 0 || messages >= count) return;
      for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
      messages += batch.messages.length;
      resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      if (messages >= count) done(finish('kafkajs', started, w ?? mark(), messages, bytes));
    },
  });
  const r = await result;
  await consumer.disconnect();
  return r;
}

async function source(brokers: string[], topic: string, count: number): Promise<ConsumeResult> {
  const started = performance.now();
  let w: Window | undefined;
  const src = createKafkaSource({ brokers, topic, group: group('source'), clientId: 'lakehouse-bench', onAssignment: () => { w ??= mark(); } });
  await src.start(new Map());
  let messages = 0;
  let bytes = 0;
  while (messages < count) {
    // The Ingestor's poll size and the wait it uses with the default 5 s flush interval.
    for (const b of await src.pollBatches(10_000, 250)) {
      for (let i = 0; i < b.values.length; i++) bytes += b.values[i]?.length ?? 0;
      messages += b.values.length;
    }
  }
  const r = finish('source', started, w ?? mark(), messages, bytes);
  await src.close();
  return r;
}

async function platformatic(brokers: string[], topic: string, count: number): Promise<ConsumeResult> {
  const started = performance.now();
  // Loaded here only, so the ingest bench that imports this file's types and client list never loads it.
  const { Consumer: PlatformaticConsumer, MessagesStreamModes } = await import('@platformatic/kafka');
  const consumer = new PlatformaticConsumer({ groupId: group('platformatic'), clientId: 'lakehouse-bench', bootstrapBrokers: brokers, autocommit: false });
  let w: Window | undefined;
  consumer.on('consumer:group:join', () => { w ??= mark(); });
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, ...JSON.parse(process.env.PLATFORMATIC_OPTIONS ?? '{}') });
  let messages = 0;
  let bytes = 0;
  const r = await new Promise<ConsumeResult>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('data', (m) => {
      bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
      if (++messages === count) resolve(finish('platformatic', started, w ?? mark(), messages, bytes));
    });
  });
  await stream.close();
  await consumer.close(true);
  return r;
}

const RUNNERS: Record<ConsumeClient, (brokers: string[], topic: string, count: number) => Promise<ConsumeResult>> = { kafkajs, source, platformatic };

if (import.meta.url === `file://${process.argv[1]}`) {
  const [client, brokerList, topic, countText] = process.argv.slice(2);
  const count = Number(countText);
  if (!CONSUME_CLIENTS.includes(client as ConsumeClient) || !brokerList || !topic || !(count > 0)) {
    process.stderr.write(`usage: node --import tsx bench/consume-bench.ts ${CONSUME_CLIENTS.join('|')} <brokers> <topic> <count>\n`);
    process.exit(2);
  }
  const result = await RUNNERS[client as ConsumeClient](brokerList.split(','), topic, count);
  process.stdout.write(JSON.stringify(result) + '\n');
  // Client sockets and timers may linger after close; the measurement is done.
  process.exit(0);
}
