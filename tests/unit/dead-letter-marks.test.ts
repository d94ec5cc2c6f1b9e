import { describe, expect, it } from 'vitest';
import { type DeadLetter, type DeadLetterResume, DeadLetterSkips, decodeMark, encodeMark, resumeReadPlan } from '../../pipeline/dead-letters.ts';

/** Where a sink is read from on resume, and which letters it then skips: the rules behind exactly-once dead letters. */
const SINK = 'kafka:dlq';
const state = (over: Partial<DeadLetterResume> = {}): DeadLetterResume => ({
  group: 'g', positions: new Map([['events:0', 100n], ['events:1', 50n]]),
  marks: new Map([['events:0', 'kafka:dlq@0=40,1=7'], ['events:1', 'kafka:dlq@0=30,1=9']]), ...over,
});
const letter = (partition: number, offset: bigint, group = 'g'): DeadLetter => ({
  value: null, reason: 'empty', detail: '', topic: 'events', partition, offset, timeMs: 0, group,
});

describe('dead-letter marks', () => {
  it('round-trip per sink partition, and a mark of another sink is not used', () => {
    const at = new Map([[1, 7n], [0, 40n]]);
    expect(encodeMark(SINK, at)).toBe('kafka:dlq@0=40,1=7');
    expect(decodeMark(SINK, 'kafka:dlq@0=40,1=7')).toEqual(at);
    expect(decodeMark(SINK, 'kafka:other@0=40')).toBeUndefined();
    expect(decodeMark(SINK, 'kafka:dlq@0=x')).toBeUndefined();
  });
});

describe('resumeReadPlan', () => {
  it('reads each sink partition from the lowest mark of the source partitions with uncommitted records', () => {
    expect(resumeReadPlan(SINK, state()).from).toEqual(new Map([[0, 30n], [1, 7n]]));
    expect(resumeReadPlan(SINK, state({ uncommitted: ['events:0'] })).from).toEqual(new Map([[0, 40n], [1, 7n]]));
  });

  it('reads nothing when no source partition has records past its position', () => {
    expect(resumeReadPlan(SINK, state({ uncommitted: [] })).from).toBe('nothing');
  });

  it('reads from the beginning for a partition without a mark, or when nothing was ever recorded', () => {
    expect(resumeReadPlan(SINK, state({ uncommitted: ['events:0', 'events:2'] })).from).toEqual(new Map());
    expect(resumeReadPlan(SINK, state({ positions: new Map(), marks: new Map() }))).toEqual({ keys: null, from: new Map() });
  });
});

describe('DeadLetterSkips', () => {
  it('skips exactly the source positions found at or past the recorded position, of this group, once each', () => {
    const skips = new DeadLetterSkips(state(), null);
    skips.note('g', 'events', 0, 99n, 0, 41n); // already committed: not ours to skip
    skips.note('g', 'events', 0, 100n, 0, 42n);
    skips.note('other', 'events', 0, 101n, 0, 43n); // another group's letter
    expect(skips.size).toBe(1);
    expect(skips.take(letter(0, 101n))).toBe(false);
    expect(skips.take(letter(0, 100n, 'other'))).toBe(false);
    expect(skips.take(letter(0, 100n))).toBe(true);
    expect(skips.take(letter(0, 100n))).toBe(false);
  });

  it('holds a partition\'s mark back to a found letter not met again yet, so a second crash still finds it', () => {
    const skips = new DeadLetterSkips(state(), null);
    skips.note('g', 'events', 1, 60n, 0, 35n);
    const known = new Map([[0, 90n], [1, 12n]]);
    expect(skips.hold('events:1', known)).toEqual(new Map([[0, 35n], [1, 12n]]));
    expect(skips.hold('events:0', known)).toEqual(known);
    skips.take(letter(1, 60n));
    expect(skips.hold('events:1', known)).toEqual(known);
  });
});
