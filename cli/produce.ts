import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { resolveFileIO } from '../iceberg/io/index.ts';
import { type GeneratedMessage, type MessageKind, type ProduceOptions, generateMessages } from '../pipeline/event-generator.ts';
import { catalogConfig, globalOptions } from './context.ts';
import { fileSourceLocation, fraction, positiveInt } from './options.ts';
import { printJson } from './output.ts';

/**
 * `lakehouse produce`: generated campaign events (80 % impressions, 15 % clicks, 5 % conversions), as
 * apps send them, optionally with invalid, late and duplicate messages mixed in, to an NDJSON file that
 * `lakehouse ingest --source file:...` reads (or to Kafka once the producer is there).
 */
interface ProduceCliOptions {
  to: string;
  events: number;
  seed: number;
  campaigns: number;
  users: number;
  invalidRate: number;
  lateRate: number;
  duplicateRate: number;
  rate?: number;
  append?: boolean;
  brokers?: string;
  topic: string;
  sentLog?: string;
}

export type KindCounts = Record<MessageKind, number>;

export function produceCommand(): Command {
  return new Command('produce')
    .requiredOption('--to <target>', 'file:PATH, file:///abs/path, s3://bucket/key.ndjson, or kafka')
    .addOption(new Option('-n, --events <n>', 'messages to produce').default(10_000).argParser(positiveInt('--events')))
    .addOption(new Option('--seed <n>', 'random seed (same seed, same messages)').default(42).argParser(positiveInt('--seed')))
    .addOption(new Option('--campaigns <n>', 'distinct campaigns').default(20).argParser(positiveInt('--campaigns')))
    .addOption(new Option('--users <n>', 'distinct users').default(10_000).argParser(positiveInt('--users')))
    .addOption(new Option('--invalid-rate <fraction>', 'share of invalid messages (every reject reason in turn)').default(0).argParser(fraction('--invalid-rate')))
    .addOption(new Option('--late-rate <fraction>', 'share of valid events 1-6 hours older than the rest').default(0).argParser(fraction('--late-rate')))
    .addOption(new Option('--duplicate-rate <fraction>', 'share of messages re-sent byte for byte').default(0).argParser(fraction('--duplicate-rate')))
    .addOption(new Option('--rate <n>', 'messages per second (default: as fast as possible); event times then follow the clock').argParser(positiveInt('--rate')))
    .option('--append', 'append to the file instead of replacing it (ingest resumes after the lines it has)')
    .option('--brokers <list>', 'kafka: comma-separated host:port list (default $KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--topic <name>', 'kafka: topic to produce to', 'campaign_events')
    .option('--sent-log <file>', 'kafka: append one JSON line per message, before it is sent: {sent_at (ms), kind, reason, key, value (base64)}; for checking what arrived where, and when')
    .addHelpText('after', `
Examples:
  $ lakehouse produce --to file:events.ndjson --events 100000 --invalid-rate 0.01 --late-rate 0.02 --duplicate-rate 0.01
  $ lakehouse ingest --source file:events.ndjson --create-table`)
    .action(async (o: ProduceCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const genOpts: ProduceOptions = {
        count: o.events, seed: o.seed, campaigns: o.campaigns, users: o.users,
        invalidRate: o.invalidRate, lateRate: o.lateRate, duplicateRate: o.duplicateRate,
        ...(o.rate ? { clock: Date.now } : {}),
      };
      const messages = paced(generateMessages(genOpts), o.rate);
      const started = performance.now();
      let counts: KindCounts;
      let target: string;
      if (o.to === 'kafka' || o.to.startsWith('kafka:')) {
        target = `kafka:${o.to.startsWith('kafka:') ? o.to.slice('kafka:'.length) : o.topic}`;
        counts = await produceToKafka(o, messages);
      } else {
        target = fileSourceLocation(o.to);
        const props = target.startsWith('s3') ? (await catalogConfig(g)).properties : {};
        counts = await writeMessagesToFile(target, messages, { append: Boolean(o.append), ioProperties: props });
      }
      const seconds = (performance.now() - started) / 1000;
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      if (g.json) { printJson({ target, messages: total, ...counts, seconds: Number(seconds.toFixed(2)) }); return; }
      process.stdout.write(`Produced ${total.toLocaleString('en-US')} messages to ${target} in ${seconds.toFixed(1)} s: ${counts.valid} valid, ${counts.late} late, ${counts.invalid} invalid, ${counts.duplicate} duplicates.\n`);
    });
}

function emptyCounts(): KindCounts {
  return { valid: 0, late: 0, invalid: 0, duplicate: 0 };
}

/** At most `rate` messages per second, in slices of 1/10 s so the output is smooth. */
async function* paced(messages: Iterable<GeneratedMessage>, rate: number | undefined): AsyncGenerator<GeneratedMessage> {
  if (!rate) { yield* messages; return; }
  const started = performance.now();
  let n = 0;
  for (const m of messages) {
    const due = started + (n / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 100) await new Promise((r) => setTimeout(r, wait));
    n++;
    yield m;
  }
}

const NEWLINE = new Uint8Array([0x0a]);

/**
 * Messages as NDJSON lines (raw bytes: some invalid messages are deliberately not UTF-8). Local files are
 * streamed; an object store cannot append or stream here, so an s3:// file is assembled and put whole.
 */
export async function writeMessagesToFile(
  location: string,
  messages: AsyncIterable<GeneratedMessage> | Iterable<GeneratedMessage>,
  opts: { append?: boolean; ioProperties?: Record<string, string> } = {},
): Promise<KindCounts> {
  const counts = emptyCounts();
  if (/^s3[an]?:\/\//.test(location)) {
    if (opts.append) throw new LakehouseError('INVALID_ARGUMENT', `--append is not possible for ${location}: objects in S3 cannot be appended to. Write a new object instead.`);
    const parts: Uint8Array[] = [];
    for await (const m of messages) { parts.push(m.value, NEWLINE); counts[m.kind]++; }
    await resolveFileIO(location, opts.ioProperties ?? {}).write(location, Buffer.concat(parts));
    return counts;
  }
  const file = path.resolve(location);
  if (!existsSync(path.dirname(file))) mkdirSync(path.dirname(file), { recursive: true });
  const out = createWriteStream(file, { flags: opts.append ? 'a' : 'w' });
  const failed = new Promise<never>((_, reject) => out.once('error', (e) => reject(new LakehouseError('IO_ERROR', `Cannot write ${file}: ${errorMessage(e)}`, { cause: e }))));
  failed.catch(() => {});
  const write = async (chunk: Uint8Array) => {
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  };
  for await (const m of messages) {
    await write(m.value);
    await write(NEWLINE);
    counts[m.kind]++;
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return counts;
}

// ---- Kafka ----------------------------------------------------------------------------------------

async function produceToKafka(o: ProduceCliOptions, messages: AsyncIterable<GeneratedMessage>): Promise<KindCounts> {
  // kafkajs loads only when producing to Kafka.
  const { produceMessages } = await import('../pipeline/kafka-producer.ts');
  const counts = emptyCounts();
  // Written synchronously, before the message is handed to the producer: a message in the topic is in
  // the log even when the producer is killed the moment after.
  const log = o.sentLog ? openSync(path.resolve(o.sentLog), 'a') : null;
  async function* counted(): AsyncGenerator<GeneratedMessage> {
    for await (const m of messages) {
      counts[m.kind]++;
      if (log !== null) writeSync(log, `${JSON.stringify({ sent_at: Date.now(), kind: m.kind, ...(m.reason ? { reason: m.reason } : {}), key: m.key, value: Buffer.from(m.value).toString('base64') })}\n`);
      yield m;
    }
  }
  const brokers = (o.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  try {
    // With --rate the messages arrive paced (paced()): send a tenth of a second's worth at a time, or each
    // would wait in a 1000-message batch for up to 1000 / rate seconds before it left.
    const batchSize = o.rate ? Math.max(1, Math.ceil(o.rate / 10)) : undefined;
    await produceMessages({ brokers, topic: o.to.startsWith('kafka:') ? o.to.slice('kafka:'.length) : o.topic, messages: counted(), ...(batchSize ? { batchSize } : {}) });
  } finally {
    if (log !== null) closeSync(log);
  }
  return counts;
}
// ---- end of Kafka hook -------------------------------------------------------------------------
