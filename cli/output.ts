import { LakehouseError } from '../core/errors.ts';
import { stringifyJson } from '../core/json.ts';

/** How commands print: a human table by default, JSON (`--json`) for scripts. */
export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(stringifyJson(value, 2) + '\n');
}

/** A plain aligned text table; cells are already strings. */
export function printTable(headers: string[], rows: string[][]): void {
  process.stdout.write(formatTable(headers, rows));
}

/** The text printTable prints: a header, a rule, one line per row, each line ending in a newline. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), h.length));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd() + '\n';
  return line(headers) + line(widths.map((w) => '-'.repeat(w))) + rows.map(line).join('');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/**
 * Every command's failure ends here: a sentence on stderr and a non-zero exit code, never a stack trace
 * (set LAKEHOUSE_DEBUG=1 for one). Exit 1 = the operation failed, 2 = the command line was wrong.
 */
export function reportError(e: unknown, json = false): number {
  const code = e instanceof LakehouseError ? e.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  if (json) process.stderr.write(JSON.stringify({ error: { code, message } }) + '\n');
  else process.stderr.write(`error: ${message}\n`);
  if (process.env.LAKEHOUSE_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  else if (!(e instanceof LakehouseError)) process.stderr.write('(unexpected error; run again with LAKEHOUSE_DEBUG=1 for the stack trace and please report it)\n');
  return code === 'INVALID_ARGUMENT' || code === 'INVALID_CONFIG' ? 2 : 1;
}
