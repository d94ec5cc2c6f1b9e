import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.ts';
import { STATE_FILE, Supervisor, type SupervisorState, alive, backoffMs } from '../../stack/supervisor.ts';

/** The live stack's supervisor with real child processes (node -e scripts), not the lakehouse commands. */
let dir: string;
let supervisor: Supervisor | null = null;

function setup(parts: ConstructorParameters<typeof Supervisor>[0]['parts']): Supervisor {
  dir = mkdtempSync(path.join(os.tmpdir(), 'supervisor-'));
  supervisor = new Supervisor({ stateDir: dir, logsDir: path.join(dir, 'logs'), parts, readyAfterMs: 200, stopGraceMs: 2000 }, silentLogger);
  supervisor.start();
  return supervisor;
}

const state = () => JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')) as SupervisorState;
const log = (part: string) => readFileSync(path.join(dir, 'logs', `${part}.log`), 'utf8');

// Generous: on a busy shared machine a Node child takes seconds to start. Nothing here asserts a time.
async function until(cond: () => boolean, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterEach(async () => {
  await supervisor?.stop();
  supervisor = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the stack supervisor', { timeout: 180_000 }, () => {
  it('backs off exponentially from 1 s to at most 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('restarts a part killed with SIGKILL and logs the exit and the restart in the part\'s log', async () => {
    setup([{ name: 'worker', kind: 'process', argv: [process.execPath, '-e', 'console.log("working"); setInterval(() => {}, 1000)'] }]);
    await until(() => state().parts[0]!.ready);
    const first = state().parts[0]!.pid!;
    process.kill(first, 'SIGKILL');
    await until(() => state().parts[0]!.restarts === 1 && state().parts[0]!.status === 'running');
    const p = state().parts[0]!;
    expect(p.pid).not.toBe(first);
    expect(alive(p.pid!)).toBe(true);
    expect(p.last_exit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(log('worker')).toMatch(/exited \(signal SIGKILL\) after [\d.]+ s; restart 1 in 1 s/);
    // The restarted child runs the same command again.
    await until(() => log('worker').match(/^working$/gm)?.length === 2);
  });

  it('leaves a part that exits 0 stopped (done), and restarts one that exits non-zero', async () => {
    setup([
      { name: 'done', kind: 'process', argv: [process.execPath, '-e', 'process.exit(0)'] },
      { name: 'crash', kind: 'process', argv: [process.execPath, '-e', 'process.exit(3)'] },
    ]);
    await until(() => state().parts[1]!.restarts >= 1);
    const [done, crash] = state().parts;
    expect(done).toMatchObject({ status: 'exited', restarts: 0 });
    expect(crash!.last_exit).toMatchObject({ code: 3, signal: null });
    expect(log('crash')).toContain('exited (code 3)');
  });

  it('starts a part only once the part it comes after is ready', async () => {
    setup([
      { name: 'first', kind: 'process', argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] },
      { name: 'second', kind: 'process', after: 'first', argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] },
    ]);
    await until(() => state().parts[1]!.status === 'running');
    const [first, second] = state().parts;
    expect(Date.parse(second!.started_at!) - Date.parse(first!.started_at!)).toBeGreaterThanOrEqual(200);
  });

  it('watches a daemon by the pid its start command records, and starts it again when it is gone', async () => {
    const pidFile = path.join(os.tmpdir(), `daemon-${process.pid}-${Date.now()}.json`);
    // The start command starts a detached server, writes its pid and exits 0, as `dashboard up` does.
    const start = `const { spawn } = require('child_process'); const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' }); c.unref(); require('fs').writeFileSync(${JSON.stringify(pidFile)}, JSON.stringify({ pid: c.pid }));`;
    const stop = `try { process.kill(JSON.parse(require('fs').readFileSync(${JSON.stringify(pidFile)}, 'utf8')).pid) } catch {}`;
    setup([{ name: 'server', kind: 'daemon', pidFile, argv: [process.execPath, '-e', start], stopArgv: [process.execPath, '-e', stop] }]);
    await until(() => state().parts[0]!.ready);
    const first = state().parts[0]!.pid!;
    process.kill(first, 'SIGKILL');
    await until(() => state().parts[0]!.restarts === 1 && state().parts[0]!.ready);
    const second = state().parts[0]!.pid!;
    expect(second).not.toBe(first);
    await supervisor!.stop();
    supervisor = null;
    await until(() => !alive(second));
    writeFileSync(pidFile, '{}');
    rmSync(pidFile, { force: true });
  });

  it('stop sends SIGTERM and waits: a part that handles it finishes its work first', async () => {
    setup([{ name: 'graceful', kind: 'process', argv: [process.execPath, '-e', 'process.on("SIGTERM", () => { console.log("flushed"); process.exit(0) }); setInterval(() => {}, 1000)'] }]);
    await until(() => state().parts[0]!.ready);
    const pid = state().parts[0]!.pid!;
    await supervisor!.stop();
    supervisor = null;
    expect(alive(pid)).toBe(false);
    expect(log('graceful')).toContain('flushed');
    expect(state().parts[0]).toMatchObject({ status: 'stopped', restarts: 0 });
  });
});
