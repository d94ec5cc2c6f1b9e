import { formatBytes } from './output.ts';

/** What a long command reports as it goes: done so far out of a total (bytes, files, events). */
export interface Progress {
  /** Sets how much is done (absolute, not a delta) and redraws at most every `redrawMs`. */
  update(done: number, note?: string): void;
  /** Raises the total when the work turns out larger than planned (a re-planned group). */
  setTotal(total: number): void;
  /** Final line: always printed, also when nothing was drawn yet. */
  finish(note?: string): void;
}

export interface ProgressOptions {
  /** Shown before the bar: "compact lakehouse.campaign_events". */
  label: string;
  total: number;
  /** How `done` and `total` are printed: bytes as KiB/MiB, or plain counts. */
  unit?: 'bytes' | 'count';
  /** Where to draw; stderr keeps stdout clean for --json and pipes. */
  stream?: NodeJS.WriteStream;
  /**
   * A bar redrawn in place on a terminal; plain lines (one per `plainEveryMs`) otherwise, so CI logs and
   * `| tee` stay readable. `false` prints nothing (--json, --quiet).
   */
  mode?: 'auto' | 'bar' | 'lines' | false;
  redrawMs?: number;
  plainEveryMs?: number;
  /** For tests: the clock. */
  now?: () => number;
}

const WIDTH = 28;

/** A progress bar with rate and ETA on a terminal, periodic log lines elsewhere. */
export function progress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const mode = opts.mode === undefined || opts.mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : opts.mode;
  const every = mode === 'bar' ? (opts.redrawMs ?? 100) : (opts.plainEveryMs ?? 5000);
  const started = now();
  let total = Math.max(0, opts.total);
  let done = 0;
  let last = -Infinity;

  const amount = (n: number) => (opts.unit === 'bytes' ? formatBytes(n) : n.toLocaleString('en-US'));
  const line = (note?: string): string => {
    const elapsed = (now() - started) / 1000;
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 && total > done ? formatSeconds((total - done) / rate) : share >= 1 ? '0s' : '?';
    const rateText = opts.unit === 'bytes' ? `${formatBytes(rate)}/s` : `${Math.round(rate).toLocaleString('en-US')}/s`;
    const head = `${opts.label} ${amount(done)}/${amount(total)} (${Math.floor(share * 100)}%) ${rateText} ETA ${eta}`;
    const bar = mode === 'bar' ? `[${'#'.repeat(Math.round(share * WIDTH)).padEnd(WIDTH, '.')}] ` : '';
    return `${bar}${head}${note ? ` ${note}` : ''}`;
  };
  const draw = (text: string, final: boolean) => {
    if (mode === 'bar') stream.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else stream.write(`${text}\n`);
  };

  return {
    update(value, note) {
      done = value;
      if (mode === false) return;
      const t = now();
      if (t - last < every) return;
      last = t;
      draw(line(note), false);
    },
    setTotal(value) {
      total = Math.max(0, value);
    },
    finish(note) {
      if (mode === false) return;
      const text = `${line(note)} in ${formatSeconds((now() - started) / 1000)}`;
      draw(text, true);
    },
  };
}

/** 75 -> "1m15s", 4.2 -> "4.2s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60) > 0 ? `${Math.floor(s / 60)}m` : ''}${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`;
}
