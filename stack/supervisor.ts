import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/log.ts';

/**
 * The supervisor of the live stack's own processes: one small detached Node process that starts each
 * part, restarts a part that dies with exponential backoff, logs every exit and restart, and writes what
 * it sees to a state file that `lakehouse stack status` reads.
 *
 * Two kinds of part:
 * - `process`: the supervisor owns the child (producer, ingest, metrics). Exit code 0 means the part is
 *   done (a producer given a fixed number of events) and it stays down; any other exit, or a signal, is a
 *   crash and the part is started again.
 * - `daemon`: a command that starts a server which detaches itself (Superset's gunicorn, started by
 *   `lakehouse dashboard up`) and records its pid in a JSON file. The supervisor runs the command, then
 *   watches that pid; when it is gone it runs the command again, with the same backoff.
 *
 * Backoff: 1 s after the first crash, doubling up to 30 s; a part that stayed up for a minute starts over
 * at 1 s. The state file is rewritten (atomically) on every change.
 */
export type PartKind = 'process' | 'daemon';

export interface PartSpec {
  name: string;
  kind: PartKind;
  /** Command and arguments. `{start_seconds}` in an argument becomes the start's Unix time in seconds. */
  argv: string[];
  env?: Record<string, string>;
  /** daemon: the JSON file (with a numeric `pid`) the started server writes. */
  pidFile?: string;
  /** daemon: the command that stops it (run on shutdown). */
  stopArgv?: string[];
  /** Start only once this part has been up for `readyAfterMs` (the table it creates must exist first). */
  after?: string;
}

export interface SupervisorSpec {
  /** Where supervisor.json (state) lives; part logs go to <logsDir>/<part>.log. */
  stateDir: string;
  logsDir: string;
  parts: PartSpec[];
  /** A process part counts as up once it has run this long (default 3 s). */
  readyAfterMs?: number;
  /** Grace for a process part to flush and commit after SIGTERM before SIGKILL (default 30 s). */
  stopGraceMs?: number;
}

export type PartStatus = 'waiting' | 'starting' | 'running' | 'backoff' | 'exited' | 'stopped';

export interface PartState {
  name: string;
  kind: PartKind;
  status: PartStatus;
  pid: number | null;
  restarts: number;
  started_at: string | null;
  /** True once the part has been running for readyAfterMs since its latest start. */
  ready: boolean;
  last_exit: { code: number | null; signal: string | null; at: string; after_seconds: number } | null;
  next_start_at: string | null;
  log: string;
}

export interface SupervisorState {
  pid: number;
  started_at: string;
  stopping: boolean;
  parts: PartState[];
}

export const STATE_FILE = 'supervisor.json';
export const SPEC_FILE = 'supervisor.spec.json';

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** A part up this long is healthy again: its next crash waits FIRST_BACKOFF_MS. */
const STABLE_AFTER_MS = 60_000;
const DAEMON_POLL_MS = 2000;

/** Delay before restart number `failures` (1-based) in a row: 1 s, 2 s, 4 s, ... at most 30 s. */
export function backoffMs(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, failures - 1));
}

interface Running {
  spec: PartSpec;
  state: PartState;
  child: ChildProcess | null;
  startedAtMs: number;
  failures: number;
  timer: NodeJS.Timeout | null;
}

export class Supervisor {
  private readonly parts: Running[];
  private stopping = false;
  private readonly startedAt = new Date().toISOString();
  private readonly readyAfterMs: number;
  private readonly stopGraceMs: number;
  private poller: NodeJS.Timeout | null = null;

  constructor(private readonly spec: SupervisorSpec, private readonly log: Logger) {
    this.readyAfterMs = spec.readyAfterMs ?? 3000;
    this.stopGraceMs = spec.stopGraceMs ?? 30_000;
    mkdirSync(spec.logsDir, { recursive: true });
    this.parts = spec.parts.map((p) => ({
      spec: p, child: null, startedAtMs: 0, failures: 0, timer: null,
      state: {
        name: p.name, kind: p.kind, status: 'waiting', pid: null, restarts: 0, started_at: null, ready: false,
        last_exit: null, next_start_at: null, log: this.logFile(p.name),
      },
    }));
  }

  logFile(part: string): string {
    return path.join(this.spec.logsDir, `${part}.log`);
  }

  start(): void {
    this.writeState();
    this.poller = setInterval(() => this.poll(), 500);
    this.poll();
  }

  /** Starts parts whose `after` part is ready, marks parts ready, and watches daemons' pids. */
  private poll(): void {
    if (this.stopping) return;
    let changed = false;
    const now = Date.now();
    for (const r of this.parts) {
      if (r.state.status === 'waiting') {
        const dep = r.spec.after ? this.parts.find((p) => p.spec.name === r.spec.after) : undefined;
        if (!dep || dep.state.ready) { this.launch(r); changed = true; }
      } else if (r.state.status === 'running' && !r.state.ready && r.spec.kind === 'process' && now - r.startedAtMs >= this.readyAfterMs) {
        r.state.ready = true;
        changed = true;
      } else if (r.state.status === 'running' && r.spec.kind === 'daemon' && now - r.startedAtMs >= DAEMON_POLL_MS && !r.timer) {
        if (r.state.pid !== null && !alive(r.state.pid)) this.crashed(r, null, 'gone');
      }
      if (r.state.status === 'running' && now - r.startedAtMs >= STABLE_AFTER_MS) r.failures = 0;
    }
    if (changed) this.writeState();
  }

  private note(part: string, line: string): void {
    // The restart is told in the part's own log too, where whoever reads why it died looks first.
    appendLine(this.logFile(part), `[supervisor ${new Date().toISOString()}] ${line}`);
  }

  private launch(r: Running): void {
    r.timer = null;
    if (this.stopping) return;
    const argv = r.spec.argv.map((a) => a.replaceAll('{start_seconds}', String(Math.floor(Date.now() / 1000))));
    const out = openSync(this.logFile(r.spec.name), 'a');
    r.startedAtMs = Date.now();
    r.state.status = 'starting';
    r.state.ready = false;
    r.state.started_at = new Date(r.startedAtMs).toISOString();
    r.state.next_start_at = null;
    this.note(r.spec.name, `starting: ${argv.join(' ')}`);
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...r.spec.env }, stdio: ['ignore', out, out] });
    closeSync(out);
    r.child = child;
    child.once('error', (e) => this.note(r.spec.name, `could not start: ${e.message}`));
    if (r.spec.kind === 'process') {
      r.state.pid = child.pid ?? null;
      r.state.status = 'running';
      this.log.info('part started', { part: r.spec.name, pid: r.state.pid, restarts: r.state.restarts });
      child.once('exit', (code, signal) => {
        r.child = null;
        if (this.stopping) return;
        if (code === 0) {
          r.state.status = 'exited';
          r.state.pid = null;
          r.state.last_exit = exitInfo(code, signal, r.startedAtMs);
          this.note(r.spec.name, 'exited 0: done, not restarted');
          this.log.info('part finished', { part: r.spec.name });
          this.writeState();
          return;
        }
        this.crashed(r, code, signal);
      });
    } else {
      child.once('exit', (code, signal) => {
        r.child = null;
        if (this.stopping) return;
        const pid = code === 0 ? readPid(r.spec.pidFile!) : null;
        if (pid === null || !alive(pid)) { this.crashed(r, code, signal); return; }
        r.state.pid = pid;
        r.state.status = 'running';
        r.state.ready = true;
        r.startedAtMs = Date.now();
        this.note(r.spec.name, `running (pid ${pid})`);
        this.log.info('part started', { part: r.spec.name, pid, restarts: r.state.restarts });
        this.writeState();
      });
    }
    this.writeState();
  }

  private crashed(r: Running, code: number | null, signal: string | null): void {
    r.failures++;
    r.state.restarts++;
    const wait = backoffMs(r.failures);
    r.state.last_exit = exitInfo(code, signal, r.startedAtMs);
    r.state.status = 'backoff';
    r.state.ready = false;
    r.state.pid = null;
    r.state.next_start_at = new Date(Date.now() + wait).toISOString();
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.note(r.spec.name, `exited (${how}) after ${r.state.last_exit.after_seconds} s; restart ${r.state.restarts} in ${wait / 1000} s`);
    this.log.warn('part exited; restarting with backoff', { part: r.spec.name, code, signal, restart: r.state.restarts, backoff_ms: wait });
    r.timer = setTimeout(() => this.launch(r), wait);
    this.writeState();
  }

  /** Stops every part, the last started first, and waits until each is gone. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.poller) clearInterval(this.poller);
    this.writeState();
    // The reverse of the spec's order (the stack lists the producer last): the producer stops first, so
    // ingest's final flush commits all it read; what it had not read yet, the next up reads from the
    // offsets in the table.
    for (const r of [...this.parts].reverse()) {
      if (r.timer) { clearTimeout(r.timer); r.timer = null; }
      if (r.spec.kind === 'daemon') {
        // Its start command may still be running (Superset's first start takes minutes): stop that first,
        // then the server, which may have been started already.
        if (r.child && r.child.exitCode === null && r.child.signalCode === null) await stopChild(r.child, this.stopGraceMs);
        if (r.state.status !== 'waiting' && r.spec.stopArgv) {
          this.note(r.spec.name, 'stopping');
          await runToEnd(r.spec.stopArgv, { ...process.env, ...r.spec.env }, this.logFile(r.spec.name));
        }
      } else if (r.child && r.child.exitCode === null && r.child.signalCode === null) {
        this.note(r.spec.name, 'stopping (SIGTERM)');
        await stopChild(r.child, this.stopGraceMs);
      }
      r.state.status = 'stopped';
      r.state.pid = null;
      r.state.ready = false;
      this.writeState();
    }
    this.log.info('supervisor stopped every part');
  }

  state(): SupervisorState {
    return { pid: process.pid, started_at: this.startedAt, stopping: this.stopping, parts: this.parts.map((r) => ({ ...r.state })) };
  }

  private writeState(): void {
    const file = path.join(this.spec.stateDir, STATE_FILE);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(this.state(), null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }
}

function exitInfo(code: number | null, signal: string | null, startedAtMs: number): PartState['last_exit'] & object {
  return { code, signal, at: new Date().toISOString(), after_seconds: Number(((Date.now() - startedAtMs) / 1000).toFixed(1)) };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | null {
  try {
    const pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : null;
  } catch {
    return null;
  }
}

function appendLine(file: string, line: string): void {
  const fd = openSync(file, 'a');
  try { writeSync(fd, `${line}\n`); } finally { closeSync(fd); }
}

function runToEnd(argv: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<void> {
  const out = openSync(logFile, 'a');
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', out, out] });
  closeSync(out);
  return new Promise((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
}

/** SIGTERM, then SIGKILL after `graceMs`: ingest flushes, commits and leaves its group on SIGTERM. */
function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}
