import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

/**
 * Every way a long-running command can end that the process can see, each one giving back what it holds
 * before the process goes (for `lakehouse ingest`: its Kafka consumer-group membership, so the partitions
 * move at once and not after the session timeout):
 * - the first SIGINT, SIGTERM or SIGHUP asks for a graceful stop (`stop`): the command finishes its work
 *   and closes what it holds on its normal path;
 * - a second one exits at once with 130, after `release` (bounded by releaseTimeoutMs);
 * - an uncaught exception or an unhandled rejection is logged, then `release`, then exit 1 (what Node
 *   itself would exit with, minus the release).
 * An error thrown by the command itself ends on its normal path too (its `finally` closes). SIGKILL and
 * a power cut cannot be caught: for Kafka the next run removes the dead membership (pipeline/kafka-group-members.ts).
 */
export interface ExitPathsOptions {
  stop: (signal: NodeJS.Signals) => void;
  /** Gives back what the command holds; awaited at most releaseTimeoutMs. */
  release: () => Promise<void>;
  log: Logger;
  /** Default 3000 ms: leaving a consumer group takes one request once the current fetch (≤ 0.5 s) ends. */
  releaseTimeoutMs?: number;
  /** Default process.exit; tests pass their own. */
  exit?: (code: number) => void;
}

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const DEFAULT_RELEASE_TIMEOUT_MS = 3000;

/** Installs the handlers; the function returned removes them (call it once the command has ended). */
export function handleExitPaths(opts: ExitPathsOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const timeoutMs = opts.releaseTimeoutMs ?? DEFAULT_RELEASE_TIMEOUT_MS;
  let stopping = false;
  let exiting = false;

  const releaseThenExit = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const released = opts.release().then(() => 'released' as const, (e: unknown) => {
      opts.log.warn('releasing before exit failed', { error: errorMessage(e) });
      return 'failed' as const;
    });
    const outcome = await Promise.race([released, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') opts.log.warn('releasing before exit took too long; exiting anyway', { timeoutMs });
    exit(code);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.log.warn('second signal: exiting without flushing; the next run resumes from the table', { signal });
      void releaseThenExit(130);
      return;
    }
    stopping = true;
    opts.log.info('stopping: flushing what is buffered, then exiting', { signal });
    opts.stop(signal);
  };
  const onFatal = (e: unknown) => {
    opts.log.error('fatal error: leaving, then exiting; the next run resumes from the table', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    void releaseThenExit(1);
  };

  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  return () => {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  };
}
