import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import { LakehouseError } from '../core/errors.ts';
import { type LogLevel, createLogger } from '../core/log.ts';
import { CAMPAIGN_EVENTS_TABLE, EVENT_RULES } from '../domain/campaign-events.ts';
import { CAMPAIGN_METRICS_TABLE } from '../domain/campaign-metrics-table.ts';
import { identifierToString, Table } from '../iceberg/index.ts';
import { resolveFileIO } from '../iceberg/io/index.ts';
import { type BackfillResult, type SourceHooks, backfill, backfillGroup } from '../pipeline/backfill.ts';
import {
  type DeadLetterFilter, DeadLetterReplaySource, DeadLetterStats, type ReplayCounts, type StoredDeadLetter, deadLetterFileSource,
  exportLine, letterFromLine, letterFromTopicRecord, matchesFilter, readDeadLetterFile, rejectedField, validateFilter,
} from '../pipeline/dead-letter-reader.ts';
import { CountingDeadLetterSink } from '../pipeline/dead-letters.ts';
import { REJECT_REASONS } from '../pipeline/event-decoder.ts';
import { DEFAULT_FLUSH_ROWS } from '../pipeline/ingest.ts';
import type { KafkaConnectionOptions } from '../pipeline/kafka-client.ts';
import { DEAD_LETTER_TOPIC } from '../pipeline/kafka-topics.ts';
import type { Source } from '../pipeline/source.ts';
import { updateMetrics } from './backfill.ts';
import { catalogConfig, globalOptions, tableId, withCatalog } from './context.ts';
import { type KafkaSecurityFlags, kafkaSecurity, kafkaSecurityFlags } from './ingest.ts';
import { collect, duration, fileSourceLocation, positiveInt, time } from './options.ts';
import { printJson, printTable } from './output.ts';

/**
 * `lakehouse dlq`: what went to the dead letters and why (stats, show, export), and `replay`, which
 * sends dead letters through the ingest path again once a producer or a rule is fixed. Reading is in
 * pipeline/dead-letter-reader.ts; a replay is a backfill (pipeline/backfill.ts) whose source is the
 * dead-letter store, so it de-duplicates by event_id against the table and records how far it read.
 */

interface StoreFlags extends KafkaSecurityFlags {
  file?: string;
  topic?: string;
  brokers?: string;
  reason?: string[];
  since?: number;
  until?: number;
}

/** The flags that choose the dead letters: the store (topic or file) and the filter. */
function storeFlags(cmd: Command): Command {
  return kafkaSecurityFlags(cmd
    .option('--file <path>', 'read this dead-letter file (ingest --dead-letter-file, or a dlq export) instead of the topic')
    .option('--topic <name>', `dead-letter topic (ingest --dlq-topic; default ${DEAD_LETTER_TOPIC.topic})`)
    .option('--brokers <list>', 'kafka: comma-separated host:port list (default $KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--reason <reason>', `only this reason (repeat for several): ${REJECT_REASONS.join(', ')}`, collect)
    .addOption(new Option('--since <time>', 'only letters dead-lettered at or after this (ISO-8601 or epoch ms)').argParser(time('--since')))
    .addOption(new Option('--until <time>', 'only letters dead-lettered before this').argParser(time('--until'))));
}

interface Store {
  /** `kafka:<topic>` or `file:<path>`. */
  name: string;
  filter: DeadLetterFilter;
  /** Every letter in store order, matching or not; lines that hold none go to onUnreadable. */
  read(onLetter: (l: StoredDeadLetter) => void, onUnreadable: () => void): Promise<void>;
  /** The store as a source for a replay (each pass opens it afresh). */
  openReplay(group: string, hooks: SourceHooks): Promise<DeadLetterReplaySource>;
}

async function openStore(o: StoreFlags, ioProperties: Record<string, string>): Promise<Store> {
  const reasons = (o.reason ?? []).flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean);
  for (const r of reasons) {
    if (!(REJECT_REASONS as readonly string[]).includes(r)) throw new LakehouseError('INVALID_ARGUMENT', `--reason ${r} is not a reason ingest gives; choose from ${REJECT_REASONS.join(', ')}.`);
  }
  const filter = validateFilter({
    ...(reasons.length > 0 ? { reasons } : {}),
    ...(o.since !== undefined ? { sinceMs: o.since } : {}),
    ...(o.until !== undefined ? { untilMs: o.until } : {}),
  });
  if (o.file !== undefined && o.topic !== undefined) throw new LakehouseError('INVALID_ARGUMENT', 'Give --file or --topic, not both: dead letters are read from one store at a time.');
  if (o.file !== undefined) {
    const location = fileSourceLocation(o.file);
    const io = resolveFileIO(location, ioProperties);
    if (!(await io.exists(location))) throw new LakehouseError('NOT_FOUND', `There is no dead-letter file ${location}. Check --file (ingest writes ./dead-letters.ndjson for file sources unless --dead-letter-file says otherwise).`);
    const name = `file:${location}`;
    return {
      name, filter,
      read: (onLetter, onUnreadable) => readDeadLetterFile(location, onLetter, onUnreadable, io),
      openReplay: async () => new DeadLetterReplaySource(deadLetterFileSource(location, io), (r) => (r.value ? letterFromLine(name, r.offset, r.value) : undefined), filter),
    };
  }
  const topic = o.topic ?? DEAD_LETTER_TOPIC.topic;
  const brokers = (o.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  const conn: KafkaConnectionOptions = { brokers, ...kafkaSecurity(o) };
  // kafkajs loads only when the store is a topic.
  const kafka = () => Promise.all([import('../pipeline/kafka-dead-letters.ts'), import('../pipeline/kafka-range-source.ts')]);
  return {
    name: `kafka:${topic}`, filter,
    read: async (onLetter) => (await kafka())[0].readDeadLetterTopic({ ...conn, topic }, onLetter),
    openReplay: async (group, hooks) => {
      const [, { KafkaRangeSource, resolveKafkaRange }] = await kafka();
      const ranges = await resolveKafkaRange(conn, topic, {});
      const source = new KafkaRangeSource({ ...conn, topic, group: `lakehouse-${group}`, ranges, ...hooks });
      return new DeadLetterReplaySource(source, (r) => letterFromTopicRecord(topic, { ...r, headers: r.headers ?? {} }), filter);
    },
  };
}

function filterText(f: DeadLetterFilter): string {
  const parts: string[] = [];
  if (f.reasons) parts.push(`reason ${f.reasons.join(' or ')}`);
  if (f.sinceMs !== undefined) parts.push(`since ${new Date(f.sinceMs).toISOString()}`);
  if (f.untilMs !== undefined) parts.push(`until ${new Date(f.untilMs).toISOString()}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

const n = (x: number) => x.toLocaleString('en-US');
const out = (s: string) => process.stdout.write(`${s}\n`);

// ---- stats ----------------------------------------------------------------------------------------

function statsCommand(): Command {
  return storeFlags(new Command('stats')
    .description('counts of dead letters by reason and by field over a time range, and the sources with the most')
    .addOption(new Option('--top <n>', 'how many sources to list').default(10).argParser(positiveInt('--top'))))
    .addHelpText('after', `
Time is when a record was dead-lettered (the lakehouse.time header, or the file's "time"); --since is
inclusive, --until exclusive. The field is the one the rejection names ("(message)" when it is about the
whole message: bad JSON, not UTF-8, oversize, empty).

Examples:
  $ lakehouse dlq stats
  $ lakehouse dlq stats --since 2026-11-01 --until 2026-11-02 --json
  $ lakehouse dlq stats --file dead-letters.ndjson --reason wrong_type`)
    .action(async (o: StoreFlags & { top: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const store = await openStore(o, (await catalogConfig(g)).properties);
      const stats = new DeadLetterStats(store.name);
      await store.read((l) => { if (matchesFilter(l, store.filter)) stats.add(l); }, () => { stats.unreadable++; });
      const r = stats.result(o.top);
      if (g.json) {
        printJson({ ...r, filter: store.filter });
        return;
      }
      out(`${n(r.total)} dead letter(s) in ${store.name}${filterText(store.filter)}${r.firstTime ? `, dead-lettered ${r.firstTime} .. ${r.lastTime}` : ''}.`);
      if (r.total > 0) {
        out('');
        printTable(['reason', 'count'], Object.entries(r.byReason).map(([k, v]) => [k, n(v)]));
        out('');
        printTable(['field', 'count'], Object.entries(r.byField).map(([k, v]) => [k, n(v)]));
        out('');
        printTable(['source (topic:partition)', 'count'], r.topSources.map((s) => [s.source, n(s.count)]));
      }
      if (r.truncated > 0) out(`\n${n(r.truncated)} were cut to fit the topic (lakehouse.truncated-from): they cannot be replayed.`);
      if (r.unreadable > 0) out(`\n${n(r.unreadable)} line(s) of the file hold no dead letter (cut by a crash?); they are skipped.`);
    });
}

// ---- show -----------------------------------------------------------------------------------------

/** A value for a person: its text (shortened), or its size when it is not UTF-8. */
function preview(l: StoredDeadLetter, width = 60): string {
  const line = exportLine(l);
  if (typeof line.text === 'string') return line.text.length > width ? `${line.text.slice(0, width - 1)}…` : line.text;
  return l.value === null ? '(no value)' : `(${n(l.value.length)} bytes, not UTF-8)`;
}

function showCommand(): Command {
  return storeFlags(new Command('show')
    .description('dead letters with reason, detail and position, a page at a time')
    .addOption(new Option('--limit <n>', 'letters per page').default(20).argParser(positiveInt('--limit')))
    .addOption(new Option('--offset <n>', 'skip this many matching letters (the next page starts at offset + limit)').default(0).argParser((v) => {
      if (!/^\d+$/.test(v.trim())) throw new LakehouseError('INVALID_ARGUMENT', `--offset must be 0 or a positive whole number, got "${v}".`);
      return Number(v);
    })))
    .addHelpText('after', `
Letters are listed in the order of the store (per partition of the topic, by offset; a file by line),
numbered from 0 among those that match, so --offset pages through them. --json prints each letter as
\`dlq export\` writes it, plus "next": the --offset of the next page (null after the last).

Examples:
  $ lakehouse dlq show --limit 10
  $ lakehouse dlq show --reason bad_json --offset 20 --limit 20
  $ lakehouse dlq show --file dead-letters.ndjson --since 2026-11-01T10:00:00Z --json`)
    .action(async (o: StoreFlags & { limit: number; offset: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const store = await openStore(o, (await catalogConfig(g)).properties);
      // Kept in the store's order so pages do not overlap: per partition by offset, then partition.
      const page: StoredDeadLetter[] = [];
      const matched = new Map<number, StoredDeadLetter[]>();
      await store.read((l) => {
        if (!matchesFilter(l, store.filter)) return;
        let list = matched.get(l.storePartition);
        if (!list) matched.set(l.storePartition, list = []);
        list.push(l);
      }, () => {});
      let total = 0;
      for (const [, list] of [...matched].sort((a, b) => a[0] - b[0])) {
        for (const l of list) {
          if (total >= o.offset && total < o.offset + o.limit) page.push(l);
          total++;
        }
      }
      const next = o.offset + o.limit < total ? o.offset + o.limit : null;
      if (g.json) {
        printJson({ store: store.name, filter: store.filter, total, offset: o.offset, limit: o.limit, next, letters: page.map(exportLine) });
        return;
      }
      out(`${n(total)} dead letter(s) in ${store.name}${filterText(store.filter)}; ${page.length === 0 ? 'none' : `${o.offset}..${o.offset + page.length - 1}`} shown.`);
      if (page.length > 0) {
        out('');
        printTable(['#', 'dead-lettered', 'reason', 'field', 'source position', 'detail', 'value'], page.map((l, i) => [
          String(o.offset + i), new Date(l.timeMs).toISOString(), l.reason, rejectedField(l.detail) ?? '(message)',
          `${l.topic}:${l.partition}@${l.offset}`, l.detail.length > 100 ? `${l.detail.slice(0, 99)}…` : l.detail, preview(l),
        ]));
      }
      if (next !== null) out(`\nNext page: --offset ${next}`);
    });
}

// ---- export ---------------------------------------------------------------------------------------

function exportCommand(): Command {
  return storeFlags(new Command('export')
    .description('write the dead letters (original values, with reason, detail and position) to an NDJSON file')
    .requiredOption('-o, --out <file>', 'NDJSON file to write (- for stdout)'))
    .addHelpText('after', `
One JSON object per line: the value as "text" when its bytes are valid UTF-8, otherwise as "value"
(base64, the bytes exactly), with key (base64), headers, reason, field, detail, topic, partition, offset,
time and where it lay in the store. Fix "text" (an editor, jq) and replay the file with
\`lakehouse dlq replay --file\`: an export is a dead-letter file.

Examples:
  $ lakehouse dlq export --out dead-letters.ndjson
  $ lakehouse dlq export --reason unknown_event_type --since 2026-11-01 --out to-fix.ndjson
  $ jq -c '.text |= (fromjson | .event_type |= ascii_downcase | tojson)' to-fix.ndjson > fixed.ndjson
  $ lakehouse dlq replay --file fixed.ndjson`)
    .action(async (o: StoreFlags & { out: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const store = await openStore(o, (await catalogConfig(g)).properties);
      const toStdout = o.out === '-';
      const stream = toStdout ? process.stdout : createWriteStream(o.out);
      let written = 0;
      let unreadable = 0;
      let blocked: Promise<unknown> | null = null;
      // Letters arrive from a callback: lines wait in memory only while the file is behind.
      const pending: string[] = [];
      await store.read((l) => {
        if (!matchesFilter(l, store.filter)) return;
        pending.push(JSON.stringify(exportLine(l)) + '\n');
        written++;
        if (pending.length >= 1000 && !blocked) {
          const ok = stream.write(pending.splice(0).join(''));
          if (!ok) blocked = once(stream, 'drain').then(() => { blocked = null; });
        }
      }, () => { unreadable++; });
      if (blocked) await blocked;
      if (pending.length > 0) stream.write(pending.join(''));
      if (!toStdout) {
        (stream as NodeJS.WritableStream).end();
        await once(stream, 'finish');
      }
      // With --out - the letters are stdout; a summary there would corrupt them.
      if (toStdout) return;
      if (g.json) printJson({ store: store.name, filter: store.filter, out: o.out, exported: written, unreadable });
      else out(`Exported ${n(written)} dead letter(s) from ${store.name}${filterText(store.filter)} to ${o.out}.${unreadable > 0 ? ` ${n(unreadable)} unreadable line(s) skipped.` : ''}`);
    });
}

// ---- replay ---------------------------------------------------------------------------------------

interface ReplayCliOptions extends StoreFlags {
  table: string;
  dryRun?: boolean;
  group?: string;
  metrics: boolean;
  metricsTable?: string;
  allowedLateness: number;
  cacheDir?: string;
  flushRows: number;
  logLevel: LogLevel;
}

function replayCommand(): Command {
  return storeFlags(new Command('replay')
    .description('send dead letters through the ingest path again (after a producer or rule was fixed), each event_id once')
    .option('-t, --table <name>', 'events table, [namespace.]table', CAMPAIGN_EVENTS_TABLE)
    .option('--dry-run', 'count what would be added, what is still invalid (by reason) and what is already in the table; write nothing')
    .option('-g, --group <name>', 'the name its positions are recorded under in the table (default: backfill-<hash of the store, filter, table schema and validation rules>, so the same replay run again reads only letters that arrived since)')
    .option('--no-metrics', 'do not bring campaign_metrics up to date afterwards')
    .option('--metrics-table <name>', `metrics table to bring up to date (default: ${CAMPAIGN_METRICS_TABLE} in the events table's namespace)`)
    .addOption(new Option('--allowed-lateness <duration>', 'for the metrics run: watermark = newest event_time minus this').default(10 * 60_000, '10m').argParser(duration('--allowed-lateness')))
    .option('--cache-dir <dir>', 'for the metrics run: local copies of object-store data files')
    .addOption(new Option('--flush-rows <n>', 'rows per commit').default(DEFAULT_FLUSH_ROWS).argParser(positiveInt('--flush-rows')))
    .addOption(new Option('--log-level <level>', 'JSON logs on stderr from this level').choices(['debug', 'info', 'warn', 'error']).default('warn')))
    .addHelpText('after', `
Each matching letter's original value goes through the ingest path (the same decoder and rules, Parquet,
Iceberg commits) as a backfill does: first the store is read to collect the event_ids (a dry run stops
there), then it is read again to write. Exactly once: an event whose event_id the table already holds
is skipped, and each commit records how far the store was read (lakehouse.offsets.backfill-<hash>), so
running the same replay again adds nothing and reads only letters that arrived since. Where it stopped
is remembered per store, filter, table schema and validation rules: after a fix that changes the schema
(\`lakehouse tables alter\`) the letters are read again from the start (the event_id check still keeps
each event once); after another kind of fix, give a new --group to read them all again.

Letters still invalid are counted by reason and left where they are: nothing is written to the dead
letters again, so a replay cannot loop or duplicate them. Fix the producer or the rule (for instance
widen a column with \`lakehouse tables alter\`), or export, correct and replay the file. Letters cut to fit
the topic (lakehouse.truncated-from) cannot be replayed and are counted apart.

Examples:
  $ lakehouse dlq replay --reason out_of_range --dry-run
  $ lakehouse dlq replay --reason out_of_range --since 2026-11-01
  $ lakehouse dlq replay --file fixed.ndjson --json`)
    .action(async (o: ReplayCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const log = createLogger({ level: o.logLevel });
      const store = await openStore(o, (await catalogConfig(g)).properties);
      await withCatalog(g, async (catalog) => {
        const id = tableId(o.table);
        if (!(await catalog.tableExists(id))) {
          throw new LakehouseError('TABLE_NOT_FOUND', `Table ${identifierToString(id)} does not exist, so there is nothing to replay into. Check --table and --catalog.`);
        }
        const table = new Table(catalog, await catalog.loadTable(id));
        const f = store.filter;
        // Positions are remembered per store, filter, table schema and validation rules: a replay after a
        // fix that changes one of them (a widened column, a new limit) reads the letters still invalid
        // before it again, while the event_id check keeps those already added from being added twice.
        const identity = `dlq:${store.name}|reasons=${[...(f.reasons ?? [])].sort().join(',')}|since=${f.sinceMs ?? ''}|until=${f.untilMs ?? ''}`
          + `|schema=${table.metadata.currentSchemaId}|rules=${JSON.stringify(EVENT_RULES)}`;
        const group = o.group ?? backfillGroup(identity);
        // Each pass opens the store afresh (backfill reads it twice); the last one opened says what it left out.
        let last: DeadLetterReplaySource | null = null;
        const openSource = (hooks: SourceHooks): Source => new LazySource(() => store.openReplay(group, hooks).then((s) => { last = s; return s; }));
        const result = await backfill({
          table, group, openSource, dryRun: o.dryRun, flushRows: o.flushRows, log,
          ...(o.dryRun ? {} : { deadLetters: new CountingDeadLetterSink() }),
        });
        const counts: ReplayCounts = (last as DeadLetterReplaySource | null)?.counts ?? { replayed: 0, truncated: 0, notMatching: 0, unreadable: 0 };
        const metrics = await updateMetrics(catalog, id, o, result, log);
        report(store.name, f, result, counts, metrics, Boolean(g.json));
      });
    });
}

function report(store: string, f: DeadLetterFilter, r: BackfillResult, c: ReplayCounts, metrics: Awaited<ReturnType<typeof updateMetrics>>, json: boolean): void {
  const resumed = r.resumedFrom.size > 0;
  if (json) {
    printJson({
      store, filter: f, table: r.table, group: r.group, dryRun: r.dryRun, stoppedBy: r.stoppedBy, resumed,
      letters: c.replayed, added: r.added, alreadyInTable: r.alreadyInTable, repeated: r.repeatedInSource,
      stillInvalid: r.deadLettered, stillInvalidByReason: r.deadLetteredByReason,
      truncated: c.truncated, notMatching: c.notMatching, unreadable: c.unreadable,
      commits: r.commits, snapshotId: r.snapshotId, metrics,
    });
    return;
  }
  const verb = r.dryRun ? 'would be' : 'were';
  out(`${r.dryRun ? 'Dry run: ' : ''}${n(c.replayed)} dead letter(s) of ${store}${filterText(f)}${resumed ? ' (those past where this replay stopped before)' : ''} into ${r.table}: ${n(r.added)} ${verb} added, ${n(r.alreadyInTable + r.repeatedInSource)} ${verb} skipped (event_id already in the table or repeated), ${n(r.deadLettered)} still invalid.${r.dryRun ? ' Nothing was written.' : ''}`);
  if (r.deadLettered > 0) out(`  still invalid, left in the dead letters: ${Object.entries(r.deadLetteredByReason).map(([k, v]) => `${k} ${n(v)}`).join(', ')}`);
  if (c.truncated > 0) out(`  ${n(c.truncated)} letter(s) were cut to fit the topic and cannot be replayed`);
  if (c.unreadable > 0) out(`  ${n(c.unreadable)} line(s) of the file hold no dead letter and were skipped`);
  if (c.replayed === 0 && resumed) out('  Nothing new: this replay was done before (its positions are in the table).');
  if (metrics.ran) out(`  campaign_metrics: ${metrics.mode === 'noop' ? 'already up to date' : `${metrics.mode} run recomputed ${metrics.windowsRecomputed} window(s)`}`);
  else if (!r.dryRun) out(`  campaign_metrics not updated: ${metrics.reason}`);
}

/** A source opened at start(): opening the Kafka store is async (it resolves the topic's range). */
class LazySource implements Source {
  private inner: Source | null = null;
  constructor(private readonly open: () => Promise<Source>) {}
  get description(): string { return this.inner?.description ?? 'dead letters'; }
  async start(resume: Map<string, bigint>): Promise<void> {
    this.inner = await this.open();
    await this.inner.start(resume);
  }
  poll(max: number, waitMs: number) { return this.inner!.poll(max, waitMs); }
  ended(): boolean { return this.inner?.ended() ?? false; }
  commit(positions: Map<string, bigint>): Promise<void> { return this.inner!.commit(positions); }
  pause(): void { this.inner?.pause(); }
  resume(): void { this.inner?.resume(); }
  async close(): Promise<void> { await this.inner?.close(); }
}

export function dlqCommand(): Command {
  return new Command('dlq')
    .description('what went to the dead letters and why; replay them after a fix')
    .addCommand(statsCommand())
    .addCommand(showCommand())
    .addCommand(exportCommand())
    .addCommand(replayCommand())
    .addHelpText('after', `
Dead letters are read from the dead-letter topic (default ${DEAD_LETTER_TOPIC.topic}; --topic, --brokers and the
Kafka TLS/SASL flags as for ingest) or from a dead-letter file (--file). --reason, --since and --until
select which.

Examples:
  $ lakehouse dlq stats --since 2026-11-01
  $ lakehouse dlq show --reason wrong_type --limit 5
  $ lakehouse dlq export --out dead-letters.ndjson
  $ lakehouse dlq replay --reason out_of_range --dry-run`);
}
