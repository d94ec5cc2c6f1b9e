import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * infra/services/trino.sh refuses to start when something it needs is missing, with one sentence that
 * names the part and the fix, and leaves nothing running. Each case runs the real script against the
 * installed Trino with a services folder of its own, so the Trino the other tests use is never touched.
 */
const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../infra/services/trino.sh');

let dirs: string[] = [];
let servers: Server[] = [];
async function closeAll(): Promise<void> {
  for (const s of servers) await new Promise((r) => s.close(r));
  servers = [];
}
afterEach(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  await closeAll();
});

/** A port of 127.0.0.1 held by a server of this test until closeAll (then free, as far as anyone knows). */
function listen(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      servers.push(server);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function start(env: Record<string, string>): { status: number | null; stderr: string; servicesDir: string } {
  const servicesDir = mkdtempSync(path.join(tmpdir(), 'lakehouse-trino-svc-'));
  dirs.push(servicesDir);
  const r = spawnSync('bash', [SCRIPT, 'start'], {
    env: { ...process.env, LAKEHOUSE_SERVICES_DIR: servicesDir, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr, servicesDir };
}

/** The machine's Java 17 (the other services run on it): older than the 24 Trino 476 needs. */
function oldJava(): string {
  const java = realpathSync(execFileSync('bash', ['-c', 'command -v java'], { encoding: 'utf8' }).trim());
  const version = spawnSync(java, ['-version'], { encoding: 'utf8' }).stderr;
  const major = Number(/version "(?:1\.)?(\d+)/.exec(version)?.[1]);
  if (!(major < 24)) throw new Error(`this test needs a Java older than 24 on PATH (the services' Java 17); ${java} is ${major}.`);
  return java;
}

describe('infra/services/trino.sh start', () => {
  it('refuses a Java older than 24 with a sentence saying what to install, and starts nothing', () => {
    const java = oldJava();
    const r = start({ LAKEHOUSE_TRINO_JAVA: java });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `trino: LAKEHOUSE_TRINO_JAVA=${java} is not a Java 24 or newer (Trino 476 needs 24+); point it at a JDK 24+ java binary, or unset it to let this script find one.`,
    );
    expect(existsSync(path.join(r.servicesDir, 'trino', 'pid'))).toBe(false);
  });

  it('refuses a port another process holds, naming the port and the setting, and starts nothing', async () => {
    const port = await listen();
    const r = start({ LAKEHOUSE_TRINO_PORT: String(port) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`port 127.0.0.1:${port} is already in use by another process`);
    expect(r.stderr).toContain('set LAKEHOUSE_TRINO_PORT to a free port');
    expect(existsSync(path.join(r.servicesDir, 'trino', 'pid'))).toBe(false);
  });

  it('refuses to start when the REST catalog does not answer, naming it and how to start it', async () => {
    const [restPort, trinoPort] = [await listen(), await listen()];
    await closeAll();
    const r = start({ LAKEHOUSE_REST_URI: `http://127.0.0.1:${restPort}`, LAKEHOUSE_TRINO_PORT: String(trinoPort) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`the Iceberg REST catalog at http://127.0.0.1:${restPort} does not answer`);
    expect(r.stderr).toContain("'infra/services.sh up iceberg-rest'");
    expect(existsSync(path.join(r.servicesDir, 'trino', 'pid'))).toBe(false);
  });
});
