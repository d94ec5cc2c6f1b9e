import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { stringifyJson } from '../core/json.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { SqlSession, type StatementResult } from '../sql/sql-session.ts';
import { DEFAULT_NAMESPACE, globalOptions, withCatalog } from './context.ts';
import { snapshotId, time } from './options.ts';
import { formatTable, reportError } from './output.ts';
import { type Progress, progress } from './progress.ts';

const FORMATS = ['table', 'csv', 'json', 'parquet'] as const;
type Format = (typeof FORMATS)[number];

interface SqlOptions {
  file?: string;
  format?: Format;
  out?: string;
  asOf?: number;
  snapshotId?: bigint;
  cacheDir?: string;
}

/** `lakehouse sql`: DuckDB over the catalog's Iceberg tables by name, read-only. */
export function sqlCommand(): Command {
  return new Command('sql')
    .argument('[query]', 'SQL to run (several statements separated by ;); without it: -f, standard input, or an interactive prompt')
    .option('-f, --file <file.sql>', 'run the SQL in this file ("-" for standard input)')
    .addOption(new Option('--format <format>', 'output format; parquet needs --out (default: table, or json with --json)').choices(FORMATS))
    .option('-o, --out <file>', 'write the result to this file instead of standard output')
    .option('--as-of <time>', 'read every table as it was at this time (ISO-8601 or epoch ms)', time('--as-of'))
    .option('--snapshot-id <id>', 'read the table at this snapshot (see `lakehouse tables snapshots <table>`)', snapshotId('--snapshot-id'))
    .option('--cache-dir <dir>', 'local cache for data files of object-store tables (default $LAKEHOUSE_CACHE/data-files)')
    .addHelpText('after', `
Tables are named <namespace>.<table>; unqualified names are looked up in "${DEFAULT_NAMESPACE.join('.')}". Each is read at
its current snapshot as the catalog records it, or at --as-of / --snapshot-id. Only queries run (SELECT, WITH,
FROM, DESCRIBE, SHOW, SUMMARIZE): the command cannot change a table. The interactive prompt keeps its history in
$XDG_STATE_HOME/lakehouse/sql_history (default ~/.local/state/lakehouse/sql_history; LAKEHOUSE_SQL_HISTORY to
move it); Tab completes table names; .tables lists them; .quit or Ctrl-D leaves.

Examples:
  $ lakehouse sql "SELECT campaign_id, sum(clicks) FROM lakehouse.campaign_metrics GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
  $ lakehouse sql --as-of 2026-11-01T12:00:00Z "SELECT count(*) FROM campaign_events"
  $ lakehouse sql --format csv --out ctr.csv -f queries/ctr.sql
  $ lakehouse sql --format parquet --out clicks.parquet "FROM campaign_events WHERE event_type = 'click'"
  $ lakehouse sql                                     interactive prompt`)
    .action(async (query: string | undefined, o: SqlOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const format: Format = o.format ?? (g.json ? 'json' : 'table');
      if (format === 'parquet' && !o.out) throw new LakehouseError('INVALID_ARGUMENT', '--format parquet writes a file: add --out FILE.parquet.');
      if (query !== undefined && o.file !== undefined) throw new LakehouseError('INVALID_ARGUMENT', 'Give the SQL either as the argument or with -f, not both.');
      const text = query ?? (o.file !== undefined ? readSql(o.file) : process.stdin.isTTY ? undefined : readSql('-'));
      await withCatalog(g, async (catalog) => {
        const session = await openSession(catalog, o, g.json === true);
        try {
          if (text === undefined) await interactive(session, format);
          else await runOnce(session, text, format, o.out);
        } finally {
          session.close();
        }
      });
    });
}

async function openSession(catalog: Catalog, o: SqlOptions, quiet: boolean): Promise<SqlSession> {
  const bars = new Map<string, Progress>();
  return SqlSession.open({
    catalog, asOfMs: o.asOf, snapshotId: o.snapshotId, cacheDir: o.cacheDir,
    onFetch: (table, done, total) => {
      let bar = bars.get(table);
      if (!bar) bars.set(table, (bar = progress({ label: `fetch ${table} data files`, total, unit: 'count', mode: quiet ? false : 'auto' })));
      bar.update(done);
      if (done === total) bar.finish();
    },
  });
}

function readSql(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new LakehouseError('INVALID_ARGUMENT', `Cannot read the SQL file ${file} (${errorMessage(e)}).`);
  }
}

async function runOnce(session: SqlSession, sql: string, format: Format, out: string | undefined): Promise<void> {
  if (format === 'parquet') {
    await session.exportParquet(sql, path.resolve(out!));
    return;
  }
  const text = render(await session.query(sql), format);
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}

/** Every statement's result in one format, separated by a blank line. */
export function render(results: StatementResult[], format: Exclude<Format, 'parquet'>): string {
  return results.map((r) => {
    const names = r.columns.map((c) => c.name);
    if (format === 'json') {
      const rows = r.values.map((row) => stringifyJson(Object.fromEntries(names.map((n, i) => [n, row[i]]))));
      return rows.length === 0 ? '[]\n' : `[\n${rows.join(',\n')}\n]\n`;
    }
    if (format === 'csv') return [names, ...r.text].map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
    return formatTable(names, r.text.map((row) => row.map((v) => v ?? 'NULL'))) + `(${r.text.length} ${r.text.length === 1 ? 'row' : 'rows'})\n`;
  }).join('\n');
}

/** RFC 4180: quoted when it holds a comma, quote or line break; NULL is an empty field. */
function csvCell(v: string | null): string {
  if (v === null) return '';
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** `$LAKEHOUSE_SQL_HISTORY`, else `$XDG_STATE_HOME/lakehouse/sql_history`, else under ~/.local/state. */
export function historyFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LAKEHOUSE_SQL_HISTORY) return env.LAKEHOUSE_SQL_HISTORY;
  return path.join(env.XDG_STATE_HOME || path.join(homedir(), '.local', 'state'), 'lakehouse', 'sql_history');
}

const HISTORY_SIZE = 1000;

/**
 * The prompt: a statement may span lines and runs when a line ends with `;` (or at once for a dot
 * command). Each entered line is appended to the history file, which the next session loads.
 */
async function interactive(session: SqlSession, format: Format): Promise<void> {
  if (format === 'parquet') throw new LakehouseError('INVALID_ARGUMENT', '--format parquet needs a query (argument, -f or standard input), not the interactive prompt.');
  const file = historyFile();
  let history: string[] = [];
  try {
    history = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').slice(-HISTORY_SIZE).reverse();
  } catch {
    // No history yet.
  }
  let tables = await session.tableNames();
  const completions = () => [...tables, ...tables.filter((t) => t.startsWith(`${DEFAULT_NAMESPACE.join('.')}.`)).map((t) => t.slice(DEFAULT_NAMESPACE.join('.').length + 1))];
  const rl = createInterface({
    input: process.stdin, output: process.stdout, history, historySize: HISTORY_SIZE, removeHistoryDuplicates: true,
    completer: (line: string): [string[], string] => {
      const word = /[\w."]*$/.exec(line)?.[0] ?? '';
      const bare = word.replaceAll('"', '');
      const hits = completions().filter((c) => c.startsWith(bare));
      return [hits, word];
    },
  });
  const remember = (line: string) => {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      appendFileSync(file, line.replace(/\n/g, ' ') + '\n');
    } catch {
      // A read-only home must not stop the prompt; the history is a convenience.
    }
  };
  process.stdout.write(`lakehouse sql: ${tables.length} tables (.tables lists them, .quit leaves). End a statement with ;\n`);
  let buffer = '';
  rl.setPrompt('lakehouse> ');
  rl.prompt();
  for await (const line of rl) {
    if (line.trim() !== '') remember(line);
    const dot = buffer === '' ? line.trim() : '';
    if (dot === '.quit' || dot === '.exit') break;
    if (dot === '.tables') {
      tables = await session.tableNames();
      process.stdout.write(tables.length === 0 ? 'No tables.\n' : tables.join('\n') + '\n');
    } else if (dot === '.help') {
      process.stdout.write('SQL ending in ; runs. .tables lists the tables, .quit leaves. Tab completes table names.\n');
    } else if (dot.startsWith('.')) {
      process.stdout.write(`Unknown command ${dot}; try .help.\n`);
    } else {
      buffer += (buffer === '' ? '' : '\n') + line;
      if (buffer.trim() !== '' && !buffer.trimEnd().endsWith(';')) {
        rl.setPrompt('      ...> ');
        rl.prompt();
        continue;
      }
      const sql = buffer;
      buffer = '';
      if (sql.trim() !== '') {
        try {
          process.stdout.write(render(await session.query(sql), format));
        } catch (e) {
          reportError(e);
        }
      }
    }
    rl.setPrompt('lakehouse> ');
    rl.prompt();
  }
  rl.close();
}
