import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { CommitConflictError } from '../../iceberg/index.ts';
import { withRetry } from '../../core/retry.ts';

const noSleep = { retries: 3, minWaitMs: 10, maxWaitMs: 100, sleep: async () => {}, random: () => 1 };

describe('withRetry', () => {
  it('retries a retryable error until it succeeds', async () => {
    let calls = 0;
    const waits: number[] = [];
    const v = await withRetry(async () => {
      if (++calls < 3) throw new CommitConflictError('moved');
      return 'ok';
    }, { ...noSleep, onRetry: (_e, _a, w) => waits.push(w) });
    expect(v).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([10, 20]); // minWait * 2^attempt with jitter factor 1
  });

  it('gives up after the bound and rethrows the last error', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw new CommitConflictError('moved'); }, noSleep)).rejects.toThrow('moved');
    expect(calls).toBe(4);
  });

  it('never retries a non-retryable error', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw new LakehouseError('INVALID_ARGUMENT', 'bad'); }, noSleep)).rejects.toThrow('bad');
    expect(calls).toBe(1);
  });
});
