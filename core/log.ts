import { createRequire } from 'node:module';
import type * as Pino from 'pino';

/**
 * JSON logs through pino: one object per line on stderr (stdout stays free for command output), with
 * `level` (its name), `time` (ISO-8601 UTC), the fields and `msg`. Bigints print as strings, errors as
 * their message and code, Maps as objects, so every line is valid JSON a log shipper can index. The code
 * logs through the small `Logger` interface below; pino stays an implementation detail of this file.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

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
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LEVELS as readonly string[]).includes(s);
}

/**
 * Our JSON rules for a field value, applied before pino serializes it (pino alone prints a bigint as a
 * number, and a Map or an Error as {}). `path` holds the objects being converted, to cut cycles.
 */
function plain(v: unknown, path: object[] = []): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code;
    return code === undefined ? { message: v.message } : { message: v.message, code: plain(code) };
  }
  if (path.includes(v)) return '[Circular]';
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return plain(toJSON.call(v), path);
  path.push(v);
  try {
    if (Array.isArray(v)) return v.map((x) => plain(x, path));
    const out: Record<string, unknown> = {};
    if (v instanceof Map) for (const [k, x] of v) out[String(k)] = plain(x, path);
    else for (const k of Object.keys(v)) out[k] = plain((v as Record<string, unknown>)[k], path);
    return out;
  } finally {
    path.pop();
  }
}

const plainFields = (fields: LogFields) => plain(fields) as LogFields;

let pinoModule: typeof Pino | undefined;
let stderr: Pino.DestinationStream | undefined;

/** pino takes ~50 ms to load: only a command that creates a logger pays it, not `lakehouse --help`. */
function pino(): typeof Pino {
  return (pinoModule ??= createRequire(import.meta.url)('pino') as typeof Pino);
}

/**
 * stderr written synchronously, as process.stderr is for files and pipes: a line is out before the next
 * statement runs, so nothing is lost when the process exits or is killed, and lines interleave in order
 * with the error sentences the CLI writes to stderr.
 */
function stderrDestination(): Pino.DestinationStream {
  return (stderr ??= pino().destination({ fd: 2, sync: true }));
}

class PinoLogger implements Logger {
  constructor(private readonly p: Pino.Logger) {}

  debug(msg: string, fields?: LogFields): void { if (fields) this.p.debug(fields, msg); else this.p.debug(msg); }
  info(msg: string, fields?: LogFields): void { if (fields) this.p.info(fields, msg); else this.p.info(msg); }
  warn(msg: string, fields?: LogFields): void { if (fields) this.p.warn(fields, msg); else this.p.warn(msg); }
  error(msg: string, fields?: LogFields): void { if (fields) this.p.error(fields, msg); else this.p.error(msg); }
  // pino's formatters apply to the fields of a line, not to a child's bindings: convert those here.
  child(fields: LogFields): Logger { return new PinoLogger(this.p.child(plainFields(fields))); }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const now = opts.now ?? Date.now;
  const destination = opts.write ? { write: opts.write } : stderrDestination();
  return new PinoLogger(pino().pino({
    level: opts.level ?? 'info',
    // No pid / hostname on every line: the lines never carried them.
    base: null,
    timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
    formatters: { level: (label) => ({ level: label }), log: plainFields },
  }, destination));
}

/** Drops everything; the default where a caller passes no logger (tests, the demo's quiet mode). */
export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return silentLogger; },
};
