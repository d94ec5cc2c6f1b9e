import path from 'node:path';
import { Command, Option } from 'commander';
import { LakehouseError } from '../core/errors.ts';
import { type StackSettings, defaultSettings, defaultStateDir, readSettings } from '../stack/stack-settings.ts';
import { down, up } from '../stack/stack.ts';
import { type StackReport, stackStatus } from '../stack/stack-status.ts';
import { duration, fraction, port, positiveInt } from './options.ts';
import { formatTable, printJson } from './output.ts';

/**
 * `lakehouse stack up|down|status` (`make up`, `make down`, `make status`): the whole system live on one
 * machine (stack/stack.ts says what runs and in which order; stack/supervisor.ts how parts are restarted).
 */
interface UpCliOptions {
  stateDir?: string;
  portOffset: number;
  rate: number;
  invalidRate: number;
  lateRate: number;
  duplicateRate: number;
  events?: number;
  sentLog?: boolean;
  namespace: string;
  topic: string;
  dlqTopic: string;
  group: string;
  flushInterval: number;
  metricsEvery: number;
  trino: boolean;
  servicesEnv?: string;
}

function stateOption(cmd: Command): Command {
  return cmd.option('--state-dir <dir>', 'the stack\'s folder: settings, logs, server data (default $LAKEHOUSE_STACK_DIR or <repo>/.cache/stack)');
}

function stateDirOf(o: { stateDir?: string }): string {
  return o.stateDir ? path.resolve(o.stateDir) : defaultStateDir();
}

/** The settings the running (or last) stack of this folder was started with. */
function settingsOf(o: { stateDir?: string }): StackSettings {
  const dir = stateDirOf(o);
  return readSettings(dir) ?? defaultSettings(dir);
}

export function stackCommand(): Command {
  const stack = new Command('stack');

  stack.addCommand(stateOption(new Command('up'))
    .description('start the whole system on 127.0.0.1, natively: Kafka (KRaft), MinIO, the Iceberg REST catalog, Trino, and supervised: the producer, ingest (with the dead-letter topic), the metrics job every 10 s and Superset with the dashboards')
    .addOption(new Option('--port-offset <n>', 'added to every port (Kafka 19092, MinIO 19000, REST 18181, Trino 18080, Superset 8088, ingest metrics 9464: the services\' and docker-compose\'s defaults), e.g. 10000 beside the test services').default(0).argParser(port('--port-offset')))
    .addOption(new Option('--rate <n>', 'messages per second the producer sends').default(20).argParser(positiveInt('--rate')))
    .addOption(new Option('--invalid-rate <fraction>', 'share of invalid messages (they go to the dead-letter topic)').default(0.01).argParser(fraction('--invalid-rate')))
    .addOption(new Option('--late-rate <fraction>', 'share of valid events 1-6 hours late').default(0.02).argParser(fraction('--late-rate')))
    .addOption(new Option('--duplicate-rate <fraction>', 'share of messages re-sent byte for byte').default(0.01).argParser(fraction('--duplicate-rate')))
    .addOption(new Option('--events <n>', 'the producer stops after this many messages (default: it runs until down)').argParser(positiveInt('--events')))
    .option('--sent-log', 'the producer also writes each message it sends (kind, reject reason, bytes) to <state>/sent.ndjson')
    .option('--namespace <name>', 'namespace of campaign_events and campaign_metrics', 'lakehouse')
    .option('--topic <name>', 'Kafka topic of the events', 'campaign_events')
    .option('--dlq-topic <name>', 'Kafka dead-letter topic', 'dead_letter_queue')
    .option('--group <name>', 'ingest\'s consumer group (its offsets are recorded in campaign_events)', 'lakehouse-ingest')
    .addOption(new Option('--flush-interval <duration>', 'ingest commits at least this often while events arrive').default(2000, '2s').argParser(duration('--flush-interval')))
    .addOption(new Option('--metrics-every <duration>', 'the metrics job runs this often').default(10_000, '10s').argParser(duration('--metrics-every')))
    .option('--no-trino', 'do not run Trino (saves ~0.7 GB and ~20 s of CPU at start)')
    .option('--services-env <file>', 'use the Kafka, MinIO, REST catalog (and Trino) already running that this file names (infra/services.sh writes .cache/services/services.env) instead of starting the stack\'s own')
    .addHelpText('after', `
Every part logs to <state>/logs/<part>.log (the servers to <state>/services/<name>/<name>.log). Running
up again while the stack runs starts nothing. down then up resumes where it stopped: ingest reads on from
the offsets recorded in campaign_events.

Examples:
  $ lakehouse stack up                             the whole system; prints the URLs
  $ lakehouse stack up --rate 200 --port-offset 10000
  $ lakehouse stack up --services-env .cache/services/services.env --namespace live --topic live_events`)
    .action(async (o: UpCliOptions, cmd: Command) => {
      const json = Boolean(cmd.optsWithGlobals().json);
      const dir = stateDirOf(o);
      if (o.invalidRate + o.lateRate + o.duplicateRate > 1) {
        throw new LakehouseError('INVALID_ARGUMENT', `--invalid-rate + --late-rate + --duplicate-rate add up to ${o.invalidRate + o.lateRate + o.duplicateRate}; they are shares of all messages and must add up to at most 1.`);
      }
      const settings: StackSettings = {
        ...defaultSettings(dir), portOffset: o.portOffset, rate: o.rate, invalidRate: o.invalidRate, lateRate: o.lateRate, duplicateRate: o.duplicateRate,
        ...(o.events === undefined ? {} : { events: o.events }), sentLog: Boolean(o.sentLog),
        namespace: o.namespace, topic: o.topic, dlqTopic: o.dlqTopic, group: o.group, flushIntervalMs: o.flushInterval, metricsEveryMs: o.metricsEvery,
        trino: o.trino, servicesEnv: o.servicesEnv ? path.resolve(o.servicesEnv) : null,
      };
      const started = Date.now();
      const r = await up(settings, { onStep: json ? undefined : (m) => process.stderr.write(`stack: ${m}...\n`) });
      const report = await stackStatus(r.alreadyRunning ? settingsOf(o) : settings);
      if (json) { printJson({ already_running: r.alreadyRunning, ...report }); return; }
      process.stdout.write(r.alreadyRunning
        ? `The stack already runs (state ${dir}); nothing was started.\n`
        : `The stack is up in ${Math.round((Date.now() - started) / 1000)} s (state ${dir}).\n`);
      process.stdout.write(formatReport(report));
      process.stdout.write('Stop it with `lakehouse stack down` (make down).\n');
    }));

  stack.addCommand(stateOption(new Command('down'))
    .description('stop everything the stack started: the supervised parts first (ingest flushes and commits), then the servers; data stays for the next up')
    .addHelpText('after', `
Examples:
  $ lakehouse stack down`)
    .action(async (o: { stateDir?: string }, cmd: Command) => {
      const json = Boolean(cmd.optsWithGlobals().json);
      const settings = settingsOf(o);
      const r = await down(settings, { onStep: json ? undefined : (m) => process.stderr.write(`stack: ${m}...\n`) });
      if (r.leftover.length > 0) process.exitCode = 1;
      if (json) { printJson({ state_dir: settings.stateDir, supervisor_stopped: r.supervisor, services_stopped: r.services, still_running: r.leftover }); return; }
      if (r.leftover.length > 0) process.stderr.write(`Processes of the stack still run 30 s after stopping: pids ${r.leftover.join(', ')}; see ${path.join(settings.stateDir, 'logs')}.\n`);
      process.stdout.write(r.supervisor || r.services.length > 0 ? `The stack is down (data kept in ${settings.stateDir}).\n` : `No stack runs for ${settings.stateDir}.\n`);
    }));

  stack.addCommand(stateOption(new Command('status'))
    .description('every part (up or down, pid, restarts), Kafka lag, last commit age, freshness, dead letters per minute, the URLs (exit 1 when a part is down)')
    .addHelpText('after', `
Examples:
  $ lakehouse stack status
  $ lakehouse stack status --json | jq .freshness_seconds`)
    .action(async (o: { stateDir?: string }, cmd: Command) => {
      const json = Boolean(cmd.optsWithGlobals().json);
      const report = await stackStatus(settingsOf(o));
      if (json) printJson(report);
      else process.stdout.write(formatReport(report));
      // A producer that finished its --events is done, not down.
      if (report.parts.some((p) => !p.up && p.status !== 'exited')) process.exitCode = 1;
    }));
  return stack;
}

function formatReport(r: StackReport): string {
  const rows = r.parts.map((p) => [p.name, p.up ? 'up' : p.status === 'exited' ? 'done' : p.status === 'stopped' ? 'down' : p.status, p.pid === null ? '-' : String(p.pid), p.kind === 'service' ? '-' : String(p.restarts), p.log ?? '-']);
  const n = (v: number | null, unit = '') => (v === null ? 'unknown' : `${v.toLocaleString('en-US')}${unit}`);
  const lines = [
    formatTable(['part', 'state', 'pid', 'restarts', 'log'], rows),
    `Kafka lag: ${n(r.kafka_lag, ' messages')}   last commit: ${n(r.last_commit_age_seconds, ' s ago')}   freshness: ${n(r.freshness_seconds, ' s')}   dead letters: ${n(r.dead_letters_per_minute, '/min')}   committed events: ${n(r.committed_events)}\n`,
    ...Object.entries(r.urls).map(([k, v]) => `  ${k}: ${v}\n`),
    ...r.problems.map((p) => `note: ${p}\n`),
  ];
  return lines.join('');
}
