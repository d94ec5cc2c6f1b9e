import { LakehouseError } from './errors.ts';

/** Bounded exponential backoff with full jitter, only for errors marked retryable: one policy for every retry in the project. */
export interface RetryOptions {
  /** Retries after the first attempt (Iceberg `commit.retry.num-retries`, default 4). */
  retries: number;
  /** First wait in ms (`commit.retry.min-wait-ms`, default 100). */
  minWaitMs: number;
  /** Upper bound of one wait in ms (`commit.retry.max-wait-ms`, default 60000). */
  maxWaitMs: number;
  /** Growth factor between waits (Iceberg uses 2). */
  factor?: number;
  /** Decides retryability; defaults to `LakehouseError.retryable`. */
  isRetryable?: (e: unknown) => boolean;
  /** Called before each wait, e.g. to log. */
  onRetry?: (e: unknown, attempt: number, waitMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 4, minWaitMs: 100, maxWaitMs: 60_000, factor: 2 };

export function backoffMs(attempt: number, opts: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxWaitMs, opts.minWaitMs * Math.pow(opts.factor ?? 2, attempt));
  // Full jitter keeps racing committers from retrying in lock step.
  return Math.max(opts.minWaitMs, Math.floor(ceiling * random()));
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = DEFAULT_RETRY): Promise<T> {
  const isRetryable = opts.isRetryable ?? ((e: unknown) => e instanceof LakehouseError && e.retryable);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= opts.retries || !isRetryable(e)) throw e;
      const wait = backoffMs(attempt, opts, opts.random);
      opts.onRetry?.(e, attempt + 1, wait);
      await sleep(wait);
    }
  }
}
