import { describe, expect, it } from 'vitest';
import { formatSeconds, progress } from '../../cli/progress.ts';

/** A stream that keeps what was written, with a chosen isTTY. */
function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream };
}

describe('progress', () => {
  it('draws a bar in place with rate and ETA on a terminal', () => {
    let t = 0;
    const out = sink(true);
    const p = progress({ label: 'compact', total: 100, stream: out.stream, now: () => t });
    t = 1000;
    p.update(25);
    expect(out.chunks[0]).toBe('\r\x1b[2K[#######.....................] compact 25/100 (25%) 25/s ETA 3.0s');
    t = 4000;
    p.finish();
    expect(out.chunks.at(-1)).toMatch(/compact 25\/100 .* in 4\.0s\n$/);
  });

  it('prints plain lines at most every plainEveryMs when not on a terminal', () => {
    let t = 0;
    const out = sink(false);
    const p = progress({ label: 'backfill', total: 10, stream: out.stream, now: () => t, plainEveryMs: 1000 });
    p.update(1);
    t = 500;
    p.update(2);
    t = 1500;
    p.update(3);
    expect(out.chunks).toHaveLength(2);
    expect(out.chunks.every((c) => c.endsWith('\n') && !c.includes('\r'))).toBe(true);
  });

  it('prints bytes as sizes and stays silent in mode false', () => {
    const out = sink(false);
    const p = progress({ label: 'x', total: 2048, unit: 'bytes', stream: out.stream, now: () => 0 });
    p.update(1024);
    expect(out.chunks[0]).toContain('1.0 KiB/2.0 KiB');
    const quiet = sink(true);
    const q = progress({ label: 'x', total: 1, stream: quiet.stream, mode: false });
    q.update(1);
    q.finish();
    expect(quiet.chunks).toHaveLength(0);
  });

  it('formats seconds for humans', () => {
    expect(formatSeconds(4.2)).toBe('4.2s');
    expect(formatSeconds(75)).toBe('1m15s');
    expect(formatSeconds(7260)).toBe('2h1m');
  });
});
