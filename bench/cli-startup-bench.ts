/**
 * `make bench`: how long the compiled CLI takes to start, against `node -e 0` (the floor: Node itself)
 * in the same run. `lakehouse --help` loads no command; `lakehouse tables list` on a SQLite
 * warehouse loads one command, the catalog and the table format, but not DuckDB, kafkajs or the AWS
 * SDK. Prints a Markdown table for the README. Not a test: nothing here asserts a timing.
 *
 *   RUNS=15 node --import tsx bench/cli-startup-bench.ts   (needs `npm run build` first)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.RUNS ?? 15);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const main = path.join(repo, 'dist', 'cli', 'main.js');

function medianMs(args: string[], cwd: string): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(0, 500)}`);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

if (!existsSync(main)) {
  console.error(`${main} is missing: run \`npm run build\` (or \`make install\`) first.`);
  process.exit(1);
}
const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-startup-'));
try {
  const wh = ['--warehouse', path.join(dir, 'wh')];
  const created = spawnSync(process.execPath, [main, ...wh, 'tables', 'create', 'campaign_events', '--schema', 'campaign_events'], { cwd: dir });
  if (created.status !== 0) throw new Error(`could not create the table to list: ${created.stderr.toString()}`);
  const floor = medianMs(['-e', '0'], dir);
  const rows: [string, number][] = [
    ['node -e 0 (the floor)', floor],
    ['lakehouse --help', medianMs([main, '--help'], dir)],
    ['lakehouse tables list (SQLite warehouse, one table)', medianMs([main, ...wh, 'tables', 'list'], dir)],
  ];
  console.log(`\nCLI start-up, compiled (dist/), median of ${RUNS} runs\n`);
  console.log('| command | ms | x node -e 0 |\n| --- | ---: | ---: |');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(0)} | ${(ms / floor).toFixed(1)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
