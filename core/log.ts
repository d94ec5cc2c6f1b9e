/**
 * JSON logs: one object per line on stderr (stdout stays free for command output), with `level`,
 * `time` (ISO-8601 UTC), `msg`, then the fields. Bigints print as strings, errors as their message and
 * code, so every line is valid JSON a log shipper can index.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lines below this level are dropped; default `info`. */
  level?: LogLevel;
  /** Where lines go; default process.stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in LEVELS;
}

function replacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code;
    return code === undefined ? { message: v.message } : { message: v.message, code };
  }
  if (v instanceof Map) return Object.fromEntries(v);
  return v;
}

class JsonLogger implements Logger {
  constructor(private readonly min: number, private readonly out: (line: string) => void, private readonly now: () => number, private readonly base: LogFields) {}

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < this.min) return;
    const line = JSON.stringify({ level, time: new Date(this.now()).toISOString(), msg, ...this.base, ...fields }, replacer);
    this.out(line + '\n');
  }

  debug(msg: string, fields?: LogFields): void { this.log('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.log('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.log('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.log('error', msg, fields); }
  child(fields: LogFields): Logger { return new JsonLogger(this.min, this.out, this.now, { ...this.base, ...fields }); }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const write = opts.write ?? ((line: string) => { process.stderr.write(line); });
  return new JsonLogger(LEVELS[opts.level ?? 'info'], write, opts.now ?? Date.now, {});
}

/** Drops everything; the default where a caller passes no logger (tests, the demo's quiet mode). */
export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return silentLogger; },
};
