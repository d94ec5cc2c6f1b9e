import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LakehouseError, errorMessage } from '../core/errors.ts';

/**
 * Apache Superset for the lakehouse's dashboards: installed from PyPI into a venv of its own
 * (infra/setup-superset.sh), configured by infra/superset/superset_config.py, its metadata in SQLite in a
 * state folder, served by gunicorn on loopback, the bundle in infra/superset/bundle imported on every `up`.
 *
 * The state folder holds:
 *   secrets.json   SECRET_KEY and the admin and viewer passwords, generated on the first start (mode 0600)
 *   catalog.json   where the catalog is, for the views superset_config.py defines (mode 0600: may hold keys)
 *   superset.db    Superset's metadata (users, the imported dashboards)
 *   server.json    the running server: pid, url, what it reads
 *   superset.log   gunicorn's and Superset's log (no secret is ever written there)
 */

export const DEFAULT_PORT = 8088;
/** Loopback only: the dashboards carry business data, and the test deployment has generated passwords in a file. */
export const HOST = '127.0.0.1';
export const ADMIN_USER = 'admin';
export const VIEWER_USER = 'viewer';

/** Superset's first start (db upgrade + import) takes about a minute on two busy cores; generous bound. */
const PROVISION_TIMEOUT_MS = 10 * 60_000;
const START_TIMEOUT_MS = 5 * 60_000;
const INSTALL_TIMEOUT_MS = 30 * 60_000;
/** Seconds gunicorn keeps an idle connection open: longer than any client keeps one (Node's fetch: 4 s). */
const KEEP_ALIVE_SECONDS = 75;

export interface CatalogSettings {
  /** The catalog's name (SQL catalogs store it in every row). */
  name: string;
  type: 'sql' | 'rest';
  uri: string;
  warehouse?: string;
  namespace: string;
  metricsTable: string;
  eventsTable: string;
  /** REST bearer token, if any. */
  token?: string;
  /** s3.* settings for tables on object storage. */
  properties: Record<string, string>;
}

export interface UpOptions {
  stateDir: string;
  port: number;
  catalog: CatalogSettings;
  /** Replaces the bundle's database: a trino:// URI makes the datasets Trino SQL (infra/superset/trino_datasets.py). */
  databaseUri?: string;
  /** gunicorn worker processes (each with 4 threads). */
  workers?: number;
  onStep?: (step: string) => void;
}

export interface ServerInfo {
  url: string;
  pid: number;
  port: number;
  user: string;
  passwordFile: string;
  viewerUser: string;
  stateDir: string;
  dashboards: { id: number; title: string; slug: string; url: string }[];
  reads: { catalog: string; tables: string[] };
  databaseUri: string;
  startedAt: string;
}

export interface Secrets {
  secret_key: string;
  admin_password: string;
  viewer_password: string;
}

/** The repository's infra/ folder, from the sources (dashboard/) or the build (dist/dashboard/). */
export function infraDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, 'infra', 'superset', 'superset_config.py'))) return path.join(dir, 'infra');
    dir = path.dirname(dir);
  }
  throw new LakehouseError('NOT_FOUND', 'infra/superset/ was not found beside the lakehouse package; run lakehouse from its repository checkout.');
}

/** The state folder for a warehouse: `<warehouse>-superset` beside a local one, else ./lakehouse-superset. */
export function defaultStateDir(warehouse: string | undefined): string {
  if (warehouse && !/^[a-z][a-z0-9+.-]*:\/\//i.test(warehouse.replace(/^file:\/\//, ''))) {
    const local = warehouse.replace(/^file:\/\//, '').replace(/\/+$/, '');
    return `${path.resolve(local)}-superset`;
  }
  return path.resolve('lakehouse-superset');
}

function secretsFile(stateDir: string): string {
  return path.join(stateDir, 'secrets.json');
}

async function writePrivate(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** Generates the secrets on the first start; later starts keep them (and re-tighten the file's mode). */
export async function ensureSecrets(stateDir: string): Promise<Secrets> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = secretsFile(stateDir);
  if (existsSync(file)) {
    if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
    return JSON.parse(await readFile(file, 'utf8')) as Secrets;
  }
  const token = (bytes: number) => randomBytes(bytes).toString('base64url');
  const secrets: Secrets = { secret_key: token(48), admin_password: token(18), viewer_password: token(18) };
  await writePrivate(file, JSON.stringify(secrets, null, 2) + '\n');
  return secrets;
}

export async function readSecrets(stateDir: string): Promise<Secrets> {
  try {
    return JSON.parse(await readFile(secretsFile(stateDir), 'utf8')) as Secrets;
  } catch (e) {
    throw new LakehouseError('NOT_FOUND', `No dashboard credentials in ${stateDir} (${errorMessage(e)}); run \`lakehouse dashboard up\` first.`, { cause: e });
  }
}

interface RunResult { code: number | null; stdout: string; stderr: string }

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function lastLines(text: string, n = 8): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** Installs Superset into its cached venv (a no-op once done) and returns the venv's path. */
export async function ensureInstalled(): Promise<string> {
  const script = path.join(infraDir(), 'setup-superset.sh');
  let r: RunResult;
  try {
    r = await run('bash', [script], process.env, INSTALL_TIMEOUT_MS);
  } catch (e) {
    throw new LakehouseError('DASHBOARD_INSTALL_FAILED', `Superset is not installable here: could not run ${script} (${errorMessage(e)}); it needs bash and Python 3.10 to 3.12.`, { cause: e });
  }
  const venv = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !venv) {
    const why = lastLines(r.stderr, 3) || `exit ${r.code}`;
    throw new LakehouseError('DASHBOARD_INSTALL_FAILED', `Superset is not installable here: ${why}`);
  }
  return venv;
}

/** True when something accepts connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

function serverFile(stateDir: string): string {
  return path.join(stateDir, 'server.json');
}

async function readServer(stateDir: string): Promise<ServerInfo | null> {
  try {
    return JSON.parse(await readFile(serverFile(stateDir), 'utf8')) as ServerInfo;
  } catch {
    return null;
  }
}

/** True when `pid` is alive and is the gunicorn serving this state folder (a stale pid may be reused). */
async function isOurServer(pid: number, stateDir: string): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    return cmdline.includes('gunicorn') && environ.includes(`LAKEHOUSE_SUPERSET_STATE=${stateDir}`);
  } catch {
    return false;
  }
}

export interface Status { running: boolean; healthy: boolean; server: ServerInfo | null }

export async function status(stateDir: string): Promise<Status> {
  const server = await readServer(stateDir);
  if (!server || !(await isOurServer(server.pid, stateDir))) return { running: false, healthy: false, server };
  return { running: true, healthy: await healthy(server.url), server };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

function supersetEnv(venv: string, stateDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${path.join(venv, 'bin')}:${process.env.PATH ?? ''}`,
    SUPERSET_CONFIG_PATH: path.join(infraDir(), 'superset', 'superset_config.py'),
    LAKEHOUSE_SUPERSET_STATE: stateDir,
    LAKEHOUSE_SUPERSET_CATALOG: path.join(stateDir, 'catalog.json'),
    // Superset's own start-up otherwise checks PyPI and prints banners.
    SUPERSET_LOAD_EXAMPLES: 'no',
    PYTHONUNBUFFERED: '1',
  };
}

async function writeCatalogSettings(stateDir: string, c: CatalogSettings): Promise<void> {
  const json = {
    name: c.name, type: c.type, uri: c.uri, warehouse: c.warehouse, namespace: c.namespace,
    metrics_table: c.metricsTable, events_table: c.eventsTable, token: c.token, properties: c.properties,
  };
  await writePrivate(path.join(stateDir, 'catalog.json'), JSON.stringify(json, null, 2) + '\n');
}

/**
 * Installs (once), prepares the state folder, imports the bundle and starts the server unless it runs
 * already; every call re-imports the bundle, which changes nothing when the bundle did not change.
 */
export async function up(o: UpOptions): Promise<ServerInfo> {
  const step = o.onStep ?? (() => {});
  const stateDir = path.resolve(o.stateDir);
  const current = await status(stateDir);
  if (current.running && current.server && current.server.port !== o.port) {
    throw new LakehouseError('INVALID_ARGUMENT', `The dashboard of ${stateDir} already runs on port ${current.server.port}; run \`lakehouse dashboard down\` first to move it to port ${o.port}.`);
  }
  if (!current.running && (await portInUse(o.port))) {
    throw new LakehouseError('PORT_IN_USE', `Port ${HOST}:${o.port} is already in use by another program; stop it or pick another port with --port.`);
  }
  step('installing Superset (once per machine)');
  const venv = await ensureInstalled();
  await ensureSecrets(stateDir);
  await writeCatalogSettings(stateDir, o.catalog);
  const env = supersetEnv(venv, stateDir);

  step('preparing Superset\'s metadata and importing the dashboards');
  const provisionArgs = [path.join(infraDir(), 'superset', 'provision.py'), path.join(infraDir(), 'superset', 'bundle')];
  if (o.databaseUri) provisionArgs.push('--database-uri', o.databaseUri);
  const p = await run(path.join(venv, 'bin', 'python'), provisionArgs, env, PROVISION_TIMEOUT_MS);
  const provisioned = p.code === 0 ? parseLastJson(p.stdout) : null;
  if (!provisioned) {
    throw new LakehouseError('DASHBOARD_START_FAILED', `Superset could not prepare its metadata or import the dashboards (exit ${p.code}):\n${lastLines(p.stderr, 12)}`);
  }

  const url = `http://${HOST}:${o.port}`;
  let pid = current.server?.pid ?? 0;
  if (!current.running) {
    step(`starting Superset on ${url}`);
    pid = await startServer(venv, env, stateDir, o.port, o.workers ?? 2);
  }
  const info: ServerInfo = {
    url, pid, port: o.port, user: ADMIN_USER, passwordFile: secretsFile(stateDir), viewerUser: VIEWER_USER, stateDir,
    dashboards: provisioned.dashboards.map((d) => ({ ...d, url: `${url}/superset/dashboard/${d.slug}/` })),
    reads: { catalog: `${o.catalog.type} ${redactUri(o.catalog.uri)}`, tables: [o.catalog.metricsTable, o.catalog.eventsTable].map((t) => `${o.catalog.namespace}.${t}`) },
    databaseUri: provisioned.database_uri,
    startedAt: current.server?.startedAt ?? new Date().toISOString(),
  };
  await writeFile(serverFile(stateDir), JSON.stringify(info, null, 2) + '\n');
  return info;
}

interface Provisioned { dashboards: { id: number; title: string; slug: string }[]; database_uri: string }

function parseLastJson(stdout: string): Provisioned | null {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  try {
    return line ? (JSON.parse(line) as Provisioned) : null;
  } catch {
    return null;
  }
}

function redactUri(uri: string): string {
  return uri.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

async function startServer(venv: string, env: NodeJS.ProcessEnv, stateDir: string, port: number, workers: number): Promise<number> {
  const log = path.join(stateDir, 'superset.log');
  const fd = openSync(log, 'a');
  const child = spawn(path.join(venv, 'bin', 'gunicorn'), [
    '--bind', `${HOST}:${port}`, '--workers', String(workers), '--worker-class', 'gthread', '--threads', '4',
    // gunicorn closes an idle keep-alive connection after 2 s by default, without saying so in a header; a
    // client that keeps sockets for 4 s (Node's fetch) may reuse one just as it closes ("other side closed").
    // An idle timeout longer than any client's closes that race.
    '--timeout', '120', '--keep-alive', String(KEEP_ALIVE_SECONDS), '--name', 'lakehouse-superset', 'superset.app:create_app()',
    // LAKEHOUSE_SUPERSET_WARM_URL: where the chart warmer (infra/superset/chart_warmer.py) asks for each new snapshot's charts.
  ], { env: { ...env, LAKEHOUSE_SUPERSET_WARM_URL: `http://${HOST}:${port}` }, detached: true, stdio: ['ignore', fd, fd], cwd: stateDir });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new LakehouseError('DASHBOARD_START_FAILED', `gunicorn did not start; see ${log}.`);
  const url = `http://${HOST}:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await healthy(url))) {
    if (!(await isOurServer(pid, stateDir))) {
      const tail = lastLines(await readFile(log, 'utf8').catch(() => ''), 12);
      const taken = /Address already in use/.test(tail);
      throw new LakehouseError(taken ? 'PORT_IN_USE' : 'DASHBOARD_START_FAILED', taken
        ? `Port ${HOST}:${port} is already in use by another program; stop it or pick another port with --port.`
        : `Superset exited during start-up; the end of ${log}:\n${tail}`);
    }
    if (Date.now() > deadline) {
      await stopPid(pid);
      throw new LakehouseError('DASHBOARD_START_FAILED', `Superset did not answer on ${url}/health within ${START_TIMEOUT_MS / 1000} s; see ${log}.`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return pid;
}

async function stopPid(pid: number): Promise<void> {
  const signal = (s: NodeJS.Signals) => { try { process.kill(-pid, s); } catch { /* already gone */ } };
  signal('SIGTERM');
  for (let i = 0; i < 80; i++) {
    try { process.kill(pid, 0); } catch { return; }
    await new Promise((r) => setTimeout(r, 250));
  }
  signal('SIGKILL');
}

/** Stops the server of this state folder; false when none was running. */
export async function down(stateDir: string): Promise<boolean> {
  const dir = path.resolve(stateDir);
  const s = await status(dir);
  if (!s.running || !s.server) return false;
  await stopPid(s.server.pid);
  return true;
}
