import { afterEach, describe, expect, it } from 'vitest';
import { type ExitPathsOptions, STOP_SIGNALS, handleExitPaths } from '../../cli/exit-paths.ts';
import type { Logger } from '../../core/log.ts';

/**
 * What a long-running command does on each exit path it can catch: a first stop signal stops it
 * gracefully, a second one, an uncaught exception or an unhandled rejection release (leave the consumer
 * group) before the process exits. Signals are emitted on `process`; exit is a recorder.
 */
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };

let remove: (() => void) | undefined;
afterEach(() => {
  remove?.();
  remove = undefined;
});

type Fatal = 'uncaughtException' | 'unhandledRejection';
type Listener = (...args: unknown[]) => void;
const listenersOf = (event: Fatal) => process.listeners(event as 'uncaughtException') as unknown as Listener[];

function install(extra: Partial<ExitPathsOptions> = {}) {
  const events: string[] = [];
  let exited!: (code: number) => void;
  const exit = new Promise<number>((r) => { exited = r; });
  const before = { uncaughtException: new Set(listenersOf('uncaughtException')), unhandledRejection: new Set(listenersOf('unhandledRejection')) };
  remove = handleExitPaths({
    stop: (signal) => events.push(`stop ${signal}`),
    release: async () => { events.push('release'); },
    log: quiet,
    exit: (code) => { events.push(`exit ${code}`); exited(code); },
    ...extra,
  });
  /**
   * A process-level fatal event delivered to the listeners handleExitPaths added, and to no other: emitting
   * it on `process` would also reach the test runner's own, which reports it as a failure.
   */
  const fatal = (event: Fatal, value: unknown) => {
    for (const l of listenersOf(event)) if (!before[event].has(l)) l(value, Promise.resolve());
  };
  return { events, exit, fatal };
}

describe('handleExitPaths', () => {
  it('SIGINT, SIGTERM and SIGHUP each ask for a graceful stop, and do nothing else', () => {
    for (const signal of STOP_SIGNALS) {
      const { events } = install();
      process.emit(signal, signal);
      expect(events).toEqual([`stop ${signal}`]);
      remove!();
    }
    remove = undefined;
  });

  it('a second signal releases, then exits 130 without waiting for the graceful stop', async () => {
    const { events, exit } = install();
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(await exit).toBe(130);
    expect(events).toEqual(['stop SIGTERM', 'release', 'exit 130']);
  });

  it('an uncaught exception releases, then exits 1', async () => {
    const { events, exit, fatal } = install();
    fatal('uncaughtException', new Error('boom'));
    expect(await exit).toBe(1);
    expect(events).toEqual(['release', 'exit 1']);
  });

  it('an unhandled rejection releases, then exits 1; a second fatal error meanwhile exits only once', async () => {
    const { events, exit, fatal } = install();
    fatal('unhandledRejection', new Error('lost'));
    fatal('uncaughtException', new Error('again'));
    expect(await exit).toBe(1);
    expect(events).toEqual(['release', 'exit 1']);
  });

  it('a release that hangs or fails does not keep the process from exiting', async () => {
    const hung = install({ release: () => new Promise<void>(() => {}), releaseTimeoutMs: 50 });
    hung.fatal('uncaughtException', new Error('boom'));
    expect(await hung.exit).toBe(1);
    remove!();
    const failing = install({ release: async () => { throw new Error('broker gone'); } });
    failing.fatal('uncaughtException', new Error('boom'));
    expect(await failing.exit).toBe(1);
  });

  it('once removed, signals and fatal events no longer reach the command', () => {
    const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'uncaughtException', 'unhandledRejection'] as const;
    const before = events.map((e) => process.listenerCount(e));
    const { events: seen } = install();
    expect(events.map((e) => process.listenerCount(e))).toEqual(before.map((n) => n + 1));
    remove!();
    remove = undefined;
    expect(events.map((e) => process.listenerCount(e))).toEqual(before);
    process.emit('SIGINT', 'SIGINT');
    expect(seen).toEqual([]);
  });
});
