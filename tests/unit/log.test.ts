import { describe, expect, it } from 'vitest';
import { createLogger, isLogLevel } from '../../core/log.ts';

const NOW = Date.UTC(2026, 10, 5, 12, 0, 0);

/** A logger whose lines land in an array, parsed. */
function capture(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  const log = createLogger({ level, now: () => NOW, write: (line) => { lines.push(line); } });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with the level name, ISO time, message and fields', () => {
    const { log, lines, parsed } = capture();
    log.info('committed', { files: 3, seconds: 1.5 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('}\n')).toBe(true);
    expect(parsed()[0]).toEqual({ level: 'info', time: '2026-11-05T12:00:00.000Z', msg: 'committed', files: 3, seconds: 1.5 });
  });

  it('drops lines below its level, info by default', () => {
    const dflt = capture();
    dflt.log.debug('hidden');
    dflt.log.warn('shown');
    expect(dflt.parsed().map((l) => l.level)).toEqual(['warn']);
    const debug = capture('debug');
    debug.log.debug('shown');
    expect(debug.parsed().map((l) => l.level)).toEqual(['debug']);
  });

  it('prints bigints as strings, Maps as objects and errors as their message and code, nested too', () => {
    const { log, parsed } = capture();
    const error = Object.assign(new Error('broker down'), { code: 'KAFKA_UNREACHABLE' });
    log.warn('commit failed', { snapshotId: 8834219893443211234n, positions: new Map([['events:0', 12n]]), error, nested: { causes: [new Error('plain')] } });
    expect(parsed()[0]).toMatchObject({
      snapshotId: '8834219893443211234', positions: { 'events:0': '12' },
      error: { message: 'broker down', code: 'KAFKA_UNREACHABLE' }, nested: { causes: [{ message: 'plain' }] },
    });
  });

  it('a child adds its fields to every line, converted by the same rules, and the line\'s own fields win', () => {
    const { log, parsed } = capture();
    const child = log.child({ component: 'ingest', generation: 4n }).child({ group: 'g' });
    child.info('starting', { group: 'line' });
    expect(parsed()[0]).toMatchObject({ msg: 'starting', component: 'ingest', generation: '4', group: 'line' });
  });

  it('knows the four level names', () => {
    expect(['debug', 'info', 'warn', 'error'].every(isLogLevel)).toBe(true);
    expect(isLogLevel('trace')).toBe(false);
  });
});
