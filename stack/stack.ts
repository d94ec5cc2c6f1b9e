import { spawn, execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../catalog/index.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../domain/campaign-events.ts';
import { CAMPAIGN_EVENTS_TOPIC, DEAD_LETTER_TOPIC, ensureTopics } from '../pipeline/kafka-topics.ts';
import { type Endpoints, type StackSettings, CATALOG_NAME, endpointsFrom, parseEnvFile, repoRoot, stackPaths, stackPorts } from './stack-settings.ts';
import { type PartSpec, type SupervisorSpec, type SupervisorState, SPEC_FILE, STATE_FILE, alive } from './supervisor.ts';

/**
 * `lakehouse stack up|down`: the whole system on one machine, natively, on 127.0.0.1.
 *
 * up: (1) refuses to start twins (a live supervisor of this state folder means the stack runs: nothing
 * is started again); (2) checks every port it will listen on before anything starts; (3) starts Kafka,
 * MinIO, the Iceberg REST catalog and Trino through infra/services.sh with the stack's own state folder
 * and ports (or uses running ones from a services.env); (4) creates the topics, the namespace and
 * campaign_events; (5) starts the supervisor, which starts the producer, ingest, the metrics job and
 * Superset; (6) waits until each of those is up. A failure at any step stops what this `up` started
 * (nothing half-started stays) and says which part failed and how to fix it.
 */
export class StackError extends LakehouseError {
  constructor(readonly part: string, message: string, cause?: unknown) {
    super('STACK_FAILED', `${part}: ${message}`, cause === undefined ? {} : { cause });
  }
}

/** Infra services in start order (iceberg-rest needs MinIO; Trino needs both). */
const SERVICES = ['minio', 'iceberg-rest', 'kafka', 'trino'] as const;
type Service = (typeof SERVICES)[number];

const SUPERVISOR_MAIN = fileURLToPath(new URL(`./supervisor-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
/** Superset's first start installs it (~1 GB from PyPI) and provisions its database: minutes, once. */
const READY_TIMEOUT_MS = Number(process.env.LAKEHOUSE_STACK_READY_TIMEOUT_MS ?? 20 * 60_000);
const SUPERVISOR_STOP_TIMEOUT_MS = 90_000;

export function services(s: StackSettings): Service[] {
  return SERVICES.filter((x) => x !== 'trino' || s.trino);
}

/** The environment infra/services.sh runs with for this stack: its state folder and ports. */
export function servicesEnv(s: StackSettings): NodeJS.ProcessEnv {
  const p = stackPorts(s.portOffset);
  return {
    ...process.env,
    LAKEHOUSE_SERVICES_DIR: stackPaths(s.stateDir).services,
    LAKEHOUSE_KAFKA_PORT: String(p.kafka), LAKEHOUSE_KAFKA_CONTROLLER_PORT: String(p.kafkaController),
    LAKEHOUSE_MINIO_PORT: String(p.minio), LAKEHOUSE_MINIO_CONSOLE_PORT: String(p.minioConsole),
    LAKEHOUSE_REST_PORT: String(p.rest), LAKEHOUSE_TRINO_PORT: String(p.trino),
  };
}

interface Exec { code: number; stdout: string; stderr: string }

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30 * 60_000): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(file, args, { env, maxBuffer: 16 << 20, timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

export function servicesScript(cmd: string, names: string[], s: StackSettings): Promise<Exec> {
  return run('bash', [path.join(repoRoot(), 'infra', 'services.sh'), cmd, ...names], servicesEnv(s));
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host });
    sock.setTimeout(1000);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('timeout', () => { sock.destroy(); resolve(false); });
    sock.once('error', () => resolve(false));
  });
}

// ---- the supervisor's state --------------------------------------------------------------------------

export function readSupervisorState(stateDir: string): SupervisorState | null {
  try {
    return JSON.parse(readFileSync(path.join(stateDir, STATE_FILE), 'utf8')) as SupervisorState;
  } catch {
    return null;
  }
}

/** The pid of this state folder's supervisor when it is alive (checked against /proc, not just the pid). */
export function supervisorPid(stateDir: string): number | null {
  const st = readSupervisorState(stateDir);
  if (!st || !alive(st.pid)) return null;
  try {
    const cmdline = readFileSync(`/proc/${st.pid}/cmdline`, 'utf8').split('\0').join(' ');
    return cmdline.includes('supervisor-main') && cmdline.includes(stateDir) ? st.pid : null;
  } catch {
    return null;
  }
}

// ---- up ------------------------------------------------------------------------------------------------

export interface UpOptions {
  onStep?: (message: string) => void;
}

export interface UpResult {
  /** True when the stack was already running: nothing was started. */
  alreadyRunning: boolean;
  endpoints: Endpoints;
}

export async function up(s: StackSettings, o: UpOptions = {}): Promise<UpResult> {
  const step = o.onStep ?? (() => {});
  const paths = stackPaths(s.stateDir);
  mkdirSync(paths.logs, { recursive: true });
  if (supervisorPid(s.stateDir) !== null) {
    const running = JSON.parse(readFileSync(paths.settings, 'utf8')) as StackSettings;
    return { alreadyRunning: true, endpoints: await endpointsOf(running) };
  }
  const started: Service[] = [];
  try {
    await checkPorts(s);
    if (s.servicesEnv === null) {
      const wanted = services(s);
      const before = await runningServices(s);
      for (const name of wanted) {
        if (before.has(name)) continue;
        step(`starting ${name}`);
        const r = await servicesScript('up', [name], s);
        if (r.code !== 0) throw new StackError(name, `did not start. ${lastLines(r.stderr || r.stdout)}`);
        started.push(name);
      }
    }
    const endpoints = await endpointsOf(s);
    writeFileSync(paths.settings, `${JSON.stringify(s, null, 2)}\n`);
    writeFileSync(paths.config, `${JSON.stringify({ catalogs: { [CATALOG_NAME]: { type: 'rest', uri: endpoints.restUri, ...endpoints.s3 } } }, null, 2)}\n`);
    step('creating the topics, campaign_events and campaign_metrics');
    await prepare(s, endpoints);
    step('starting the producer, ingest, the metrics job and Superset (the supervisor)');
    await startSupervisor(s, endpoints);
    await waitReady(s, step);
    return { alreadyRunning: false, endpoints };
  } catch (e) {
    // Nothing half-started: the supervisor (and what it started), then the servers this up started.
    await stopSupervisor(s.stateDir).catch(() => {});
    if (started.length > 0) await servicesScript('down', [...started].reverse(), s);
    throw e;
  }
}

/** The services of this stack's own state folder that run now. */
async function runningServices(s: StackSettings): Promise<Set<Service>> {
  const out = new Set<Service>();
  await Promise.all(services(s).map(async (name) => {
    if ((await servicesScript('status', [name], s)).code === 0) out.add(name);
  }));
  return out;
}

/** A port the stack would listen on, already taken by someone else: one sentence naming the part. */
async function checkPorts(s: StackSettings): Promise<void> {
  const p = stackPorts(s.portOffset);
  const ours = s.servicesEnv === null ? await runningServices(s) : new Set<Service>();
  const wanted: [string, number][] = [['superset', p.superset], ['ingest (Prometheus metrics)', p.ingestMetrics]];
  if (s.servicesEnv === null) {
    const byService: Record<Service, [string, number][]> = {
      minio: [['minio', p.minio], ['minio (console)', p.minioConsole]],
      'iceberg-rest': [['iceberg-rest', p.rest]],
      kafka: [['kafka', p.kafka], ['kafka (controller)', p.kafkaController]],
      trino: [['trino', p.trino]],
    };
    for (const name of services(s)) if (!ours.has(name)) wanted.push(...byService[name]);
  }
  for (const [part, port] of wanted) {
    if (await portOpen(port)) {
      throw new StackError(part, `port 127.0.0.1:${port} is already in use by another process. Stop that process (the test services? bash infra/services.sh down), or move every port of the stack with --port-offset (e.g. 10000; now ${s.portOffset}), or use servers already running with --services-env .cache/services/services.env.`);
    }
  }
}

async function endpointsOf(s: StackSettings): Promise<Endpoints> {
  const file = s.servicesEnv ?? path.join(stackPaths(s.stateDir).services, 'services.env');
  const e = endpointsFrom(parseEnvFile(file), file);
  if (s.servicesEnv === null) e.minioConsole = `http://127.0.0.1:${stackPorts(s.portOffset).minioConsole}`;
  if (!s.trino) e.trinoUri = null;
  return e;
}

async function prepare(s: StackSettings, e: Endpoints): Promise<void> {
  const brokers = e.brokers.split(',');
  // A broker that has just started may answer a topic creation with "does not host this topic-partition"
  // while its metadata settles: a few tries, 2 s apart, before it counts as unreachable.
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopics(brokers, [{ ...CAMPAIGN_EVENTS_TOPIC, topic: s.topic }, { ...DEAD_LETTER_TOPIC, topic: s.dlqTopic }]);
      break;
    } catch (err) {
      if (attempt >= 5) throw new StackError('kafka', `is not reachable at ${e.brokers}: ${errorMessage(err)} Check that it runs (lakehouse stack status).`, err);
      await sleep(2000);
    }
  }
  let catalog;
  try {
    catalog = await loadCatalog({ name: CATALOG_NAME, configFile: stackPaths(s.stateDir).config, env: {}, overrides: {} });
    const id = { namespace: [s.namespace], name: 'campaign_events' };
    if (!(await catalog.namespaceExists(id.namespace))) await catalog.createNamespace(id.namespace);
    if (!(await catalog.tableExists(id))) await catalog.createTable(id, { schema: campaignEventsSchema, partitionSpec: campaignEventsSpec });
  } catch (err) {
    throw new StackError('iceberg-rest', `creating ${s.namespace}.campaign_events through the REST catalog at ${e.restUri} failed: ${errorMessage(err)} Check the catalog and MinIO (lakehouse stack status, and the logs in ${stackPaths(s.stateDir).services}).`, err);
  } finally {
    await catalog?.close();
  }
  // campaign_metrics too, with its dimensions, before Superset imports the dashboards: on the Trino route the
  // datasets take the columns the tables have at import.
  const r = await run(cliCommand(s)[0]!, [...cliCommand(s).slice(1), ...metricsArgs(s)], process.env, 300_000);
  if (r.code !== 0) throw new StackError('metrics', `the first run (creating ${s.namespace}.campaign_metrics) failed: ${lastLines(r.stderr || r.stdout)}`);
}

/** `bin/lakehouse` on the stack's catalog config. */
function cliCommand(s: StackSettings): string[] {
  return [path.join(repoRoot(), 'bin', 'lakehouse'), '--config', stackPaths(s.stateDir).config, '--catalog', CATALOG_NAME];
}

/** The metrics job's arguments: 1-minute windows and the dimensions the dashboards' filters use. */
function metricsArgs(s: StackSettings): string[] {
  return ['metrics', 'run', '--events', `${s.namespace}.campaign_events`, '--table', `${s.namespace}.campaign_metrics`,
    '--window', '1m', '--dimensions', 'platform,country,channel'];
}

/** The supervised parts: each a `bin/lakehouse` command on the stack's catalog config. */
export function partSpecs(s: StackSettings, e: Endpoints): PartSpec[] {
  const paths = stackPaths(s.stateDir);
  const p = stackPorts(s.portOffset);
  const cli = cliCommand(s);
  const events = `${s.namespace}.campaign_events`;
  const metrics = `${s.namespace}.campaign_metrics`;
  const seconds = (ms: number) => `${ms / 1000}s`;
  // The production route: Superset's dashboards read through Trino when the stack has one.
  const engine = s.trino && e.trinoUri ? ['--database-uri', `trino://lakehouse@${new URL(e.trinoUri).host}/iceberg`] : [];
  return [
    {
      // First: its first start in a new state folder provisions Superset for a minute or two, and the
      // producer waits for it, so the dashboards see the stream from its first event.
      name: 'superset', kind: 'daemon', pidFile: path.join(paths.superset, 'server.json'),
      argv: [...cli, 'dashboard', 'up', '--port', String(p.superset), '--state-dir', paths.superset, '--table', metrics, '--events', events, ...engine],
      stopArgv: [...cli, 'dashboard', 'down', '--state-dir', paths.superset],
    },
    {
      name: 'ingest', kind: 'process',
      argv: [...cli, 'ingest', '--source', 'kafka', '--brokers', e.brokers, '--topic', s.topic, '--dlq-topic', s.dlqTopic, '--group', s.group,
        '--table', events, '--create-table', '--flush-interval', seconds(s.flushIntervalMs), '--metrics-port', String(p.ingestMetrics)],
    },
    {
      name: 'metrics', kind: 'process',
      argv: [...cli, ...metricsArgs(s), '--every', seconds(s.metricsEveryMs), '--log-level', 'info'],
    },
    {
      // Each start gets a new seed (its start time): a restarted producer must not send the event_ids of
      // the previous run again, which ingest would rightly drop as duplicates.
      name: 'producer', kind: 'process', after: 'superset',
      argv: [...cli, 'produce', '--to', 'kafka', '--brokers', e.brokers, '--topic', s.topic, '--rate', String(s.rate),
        '--events', String(s.events ?? Number.MAX_SAFE_INTEGER), '--seed', '{start_seconds}',
        '--invalid-rate', String(s.invalidRate), '--late-rate', String(s.lateRate), '--duplicate-rate', String(s.duplicateRate),
        ...(s.sentLog ? ['--sent-log', paths.sentLog] : [])],
    },
  ];
}

async function startSupervisor(s: StackSettings, e: Endpoints): Promise<void> {
  const paths = stackPaths(s.stateDir);
  const spec: SupervisorSpec = { stateDir: s.stateDir, logsDir: paths.logs, parts: partSpecs(s, e) };
  const specFile = path.join(s.stateDir, SPEC_FILE);
  writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`);
  const out = openSync(path.join(paths.logs, 'supervisor.log'), 'a');
  // Detached (its own session): it outlives this command and a Ctrl-C in the terminal that ran `up`.
  const child = spawn(process.execPath, [...process.execArgv, SUPERVISOR_MAIN, specFile], { detached: true, stdio: ['ignore', out, out], cwd: s.stateDir });
  closeSync(out);
  child.unref();
  const deadline = Date.now() + 30_000;
  while (supervisorPid(s.stateDir) !== child.pid) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new StackError('supervisor', `did not start; see ${path.join(paths.logs, 'supervisor.log')}.`);
    }
    await sleep(200);
  }
}

/** Until every part is up; a part that crashes before it ever was fails the up, with its log's tail. */
async function waitReady(s: StackSettings, step: (m: string) => void): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let announced = '';
  for (;;) {
    if (supervisorPid(s.stateDir) === null) {
      throw new StackError('supervisor', `stopped during start-up (by lakehouse stack down, or see ${path.join(stackPaths(s.stateDir).logs, 'supervisor.log')}).`);
    }
    const st = readSupervisorState(s.stateDir);
    const parts = st?.parts ?? [];
    const failed = parts.find((p) => p.restarts > 0);
    if (failed) {
      throw new StackError(failed.name, `exited during start-up (${failed.last_exit?.signal ?? `code ${failed.last_exit?.code}`}); its log ${failed.log} ends with:\n${tail(failed.log)}\nFix what it says and run lakehouse stack up again.`);
    }
    const waiting = parts.filter((p) => !(p.ready || p.status === 'exited'));
    if (parts.length > 0 && waiting.length === 0) return;
    const names = waiting.map((p) => p.name).join(', ');
    if (names !== announced) { step(`waiting for ${names}`); announced = names; }
    if (Date.now() > deadline) {
      throw new StackError(waiting[0]?.name ?? 'supervisor', `did not come up within ${READY_TIMEOUT_MS / 1000} s; see its log in ${stackPaths(s.stateDir).logs}.`);
    }
    await sleep(500);
  }
}

// ---- down ----------------------------------------------------------------------------------------------

/** SIGTERM to the supervisor (it stops every part: ingest flushes and commits) and waits until it is gone. */
export async function stopSupervisor(stateDir: string): Promise<boolean> {
  const pid = supervisorPid(stateDir);
  if (pid === null) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + SUPERVISOR_STOP_TIMEOUT_MS;
  while (alive(pid) && Date.now() < deadline) await sleep(250);
  if (alive(pid)) {
    // It did not finish in time: nothing of the stack may stay, so its parts go with it.
    for (const p of readSupervisorState(stateDir)?.parts ?? []) if (p.pid !== null && p.kind === 'process') try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    process.kill(pid, 'SIGKILL');
  }
  return true;
}

export interface DownResult { supervisor: boolean; services: string[]; leftover: number[] }

/**
 * Processes (other than this one) whose command line names the state folder: the supervisor, its parts,
 * Superset's gunicorn and workers, the servers of the stack's own services folder.
 */
export function stackProcesses(stateDir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(stateDir)) out.push(Number(entry));
    } catch { /* gone */ }
  }
  return out;
}

export async function down(s: StackSettings, o: UpOptions = {}): Promise<DownResult> {
  const step = o.onStep ?? (() => {});
  step('stopping the producer, ingest, the metrics job and Superset');
  const supervisor = await stopSupervisor(s.stateDir);
  const stopped: string[] = [];
  if (s.servicesEnv === null) {
    const running = await runningServices(s);
    const names = services({ ...s, trino: true }).filter((n) => running.has(n)).reverse();
    if (names.length > 0) {
      step(`stopping ${names.join(', ')}`);
      const r = await servicesScript('down', names, s);
      if (r.code !== 0) throw new StackError(names.join(', '), `did not stop cleanly: ${lastLines(r.stderr || r.stdout)}`);
      stopped.push(...names);
    }
  }
  // Superset's workers leave a moment after their master: down returns when they are gone.
  const deadline = Date.now() + 30_000;
  let leftover = stackProcesses(s.stateDir);
  while (leftover.length > 0 && Date.now() < deadline) {
    await sleep(250);
    leftover = stackProcesses(s.stateDir);
  }
  return { supervisor, services: stopped, leftover };
}

// ---- helpers ---------------------------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function lastLines(text: string, n = 12): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

function tail(file: string, n = 15): string {
  try {
    return lastLines(readFileSync(file, 'utf8'), n);
  } catch {
    return '(no log)';
  }
}
