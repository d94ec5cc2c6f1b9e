/**
 * vitest globalSetup for the integration tests: brings up the real services (MinIO, PostgreSQL,
 * moto's Glue, the Iceberg REST server) with `infra/services.sh up` and exports what
 * `.cache/services/services.env` says about them (LAKEHOUSE_S3_*, LAKEHOUSE_REST_*, LAKEHOUSE_PG_URI,
 * LAKEHOUSE_GLUE_*) into process.env. globalSetup runs in vitest's main process before any worker
 * is forked, and forked workers inherit process.env, so every test file sees the same settings.
 *
 * It fails loudly when a service cannot start: these tests exist to run against real servers,
 * and a skipped integration suite looks green while proving nothing.
 *
 * teardown stops the services only if this run started them: services someone brought up with
 * `make services-up` (to keep them warm across test runs) are left running. LAKEHOUSE_SERVICES_KEEP=1
 * keeps them running in any case.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'infra', 'services.sh');
const ENV_FILE = path.join(process.env.LAKEHOUSE_SERVICES_DIR ?? path.join(ROOT, '.cache', 'services'), 'services.env');
/** The first `up` on a fresh machine builds MinIO from source (about 3 min on 2 cores); generous margin. */
const UP_TIMEOUT_MS = 25 * 60_000;
const DOWN_TIMEOUT_MS = 2 * 60_000;

let startedHere = false;

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs infra/services.sh; `echo` streams its lines to stderr so a long first install shows progress. */
function runServices(args: string[], timeoutMs: number, echo: boolean): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (echo) process.stderr.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${SCRIPT}: ${err.message}; it needs bash on PATH.`, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** KEY=VALUE lines; blank lines and # comments are ignored. Values are taken verbatim (no quoting). */
function parseServicesEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${ENV_FILE}: malformed line '${line}' (expected KEY=VALUE).`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

export async function setup(): Promise<void> {
  const before = await runServices(['status'], DOWN_TIMEOUT_MS, false);
  const up = await runServices(['up'], UP_TIMEOUT_MS, true);
  if (up.code !== 0) {
    const tail = up.output.trim().split('\n').slice(-40).join('\n');
    throw new Error(
      `infra/services.sh up failed (${up.code === null ? `killed after ${UP_TIMEOUT_MS / 60_000} min` : `exit ${up.code}`}). ` +
        'The integration tests need these real services and do not skip without them; fix the cause below ' +
        `(or run \`bash infra/services.sh up\` by hand to see it again).\n${tail}`,
    );
  }
  startedHere = before.code !== 0;
  const env = parseServicesEnv(readFileSync(ENV_FILE, 'utf8'));
  if (Object.keys(env).length === 0) {
    throw new Error(`${ENV_FILE} lists no service after a successful 'infra/services.sh up'; run 'bash infra/services.sh status'.`);
  }
  Object.assign(process.env, env);
}

export async function teardown(): Promise<void> {
  if (!startedHere || process.env.LAKEHOUSE_SERVICES_KEEP === '1') return;
  const down = await runServices(['down'], DOWN_TIMEOUT_MS, false);
  if (down.code !== 0) {
    throw new Error(`infra/services.sh down failed (exit ${down.code}); stop the services with 'bash infra/services.sh down'.\n${down.output}`);
  }
}
