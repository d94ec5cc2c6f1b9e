import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { Schema, T, Table, type TableIdentifier, rowsToRecordBatch } from '../../iceberg/index.ts';

/**
 * `lakehouse compact` and `lakehouse maintain` as a user runs them (bin/lakehouse on a local SQLite
 * warehouse): bad input is one sentence, a non-zero exit and nothing written; --dry-run writes nothing;
 * --json is parseable; maintain serves its metrics and stops on SIGTERM with exit 0 and no half commit.
 */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'kind', T.string(), true)]);

let dir: string;
let catalog: SqlCatalog;
const catalogUri = () => `sqlite:///${path.join(dir, 'catalog.db')}`;
const globals = () => ['--warehouse', path.join(dir, 'wh'), '--catalog-uri', catalogUri()];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-cli-maint-'));
  catalog = await SqlCatalog.open({ name: 'default', uri: catalogUri(), warehouse: path.join(dir, 'wh') });
  await catalog.createNamespace(['lakehouse']);
});
afterAll(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A table `name` in namespace lakehouse with `appends` small files per kind (partitioned by kind). */
async function smallFilesTable(name: string, appends: number): Promise<Table> {
  const id: TableIdentifier = { namespace: ['lakehouse'], name };
  const t = new Table(catalog, await catalog.createTable(id, { schema, partitionSpec: { specId: 0, fields: [{ sourceId: 2, fieldId: 1000, name: 'kind', transform: 'identity' }] } }));
  for (let a = 0; a < appends; a++) await t.append([rowsToRecordBatch(schema, [{ id: BigInt(2 * a), kind: 'x' }, { id: BigInt(2 * a + 1), kind: 'y' }])]);
  return t;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, [...globals(), ...args], (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
}

/** Data files under the table's location, counted on disk (not through our planner). */
const filesOnDisk = (name: string) => readdirSync(path.join(dir, 'wh', 'lakehouse', name), { recursive: true }).filter((f) => String(f).endsWith('.parquet')).length;

describe('lakehouse compact, bad input', () => {
  it('an unknown table: a sentence naming it, exit 1', async () => {
    const r = await run(['compact', 'no_such_table']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Table lakehouse\.no_such_table does not exist/);
  });

  it('--where on a column the table lacks: a sentence naming it, exit 2, nothing written', async () => {
    const t = await smallFilesTable('bad_where', 3);
    const files = filesOnDisk('bad_where');
    const r = await run(['compact', 'bad_where', '--where', "campaign = 'x'"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: Cannot filter on column "campaign": it is not in the table schema/);
    await t.refresh();
    expect(t.metadata.snapshots).toHaveLength(3);
    expect(filesOnDisk('bad_where')).toBe(files);
  });

  it('maintain with an unknown table: a sentence, exit 1, no other table touched', async () => {
    const t = await smallFilesTable('maintain_typo', 3);
    const r = await run(['maintain', 'maintain_typo', 'no_such_table']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Table lakehouse\.no_such_table does not exist/);
    await t.refresh();
    expect(t.metadata.snapshots).toHaveLength(3);
  });
  it('maintain --where on a column a table lacks: a sentence naming table and column, exit 2, nothing written', async () => {
    const t = await smallFilesTable('maintain_where', 3);
    const r = await run(['maintain', 'maintain_where', '--where', "campaign = 'x'", '--older-than', String(Date.now() + 60_000), '--retain-last', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --where does not fit table lakehouse\.maintain_where: Cannot filter on column "campaign"/);
    await t.refresh();
    expect(t.metadata.snapshots).toHaveLength(3);
  });
});

describe('lakehouse compact', () => {
  it('--dry-run --json prints the plan and writes nothing; a real run merges each partition\'s files', async () => {
    const t = await smallFilesTable('cli_compact', 4);
    const dry = await run(['--json', 'compact', 'cli_compact', '--dry-run']);
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.plan.groups.map((g: { partition: string; files: number }) => [g.partition, g.files]).sort()).toEqual([['kind=x', 4], ['kind=y', 4]]);
    expect(plan.committed).toEqual([]);
    await t.refresh();
    expect(t.metadata.snapshots).toHaveLength(4);

    const real = await run(['--json', 'compact', 'cli_compact']);
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ filesRemoved: 8, filesAdded: 2 });
    await t.refresh();
    expect((await t.planFiles()).files).toHaveLength(2);
    expect(real.stderr).not.toMatch(/\x1b\[/); // no bar drawn into a pipe or with --json
  });
});

describe('lakehouse maintain', () => {
  it('serves its Prometheus metrics and stops on SIGTERM with exit 0, every commit whole', async () => {
    const t = await smallFilesTable('maintained', 4);
    const child: ChildProcess = spawn(BIN, [...globals(), 'maintain', 'maintained', '--every', '1s', '--metrics-port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += String(d); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!url || !/"step":"remove-orphans"/.test(stderr)) {
        if (Date.now() > deadline) throw new Error(`maintain did not finish a pass: ${stderr}`);
        url ??= /"url":"([^"]+)"/.exec(stderr)?.[1];
        await new Promise((r) => setTimeout(r, 100));
      }
      const body = await (await fetch(url)).text();
      expect(body).toMatch(/lakehouse_maintain_steps_total\{step="compact",table="lakehouse.maintained",outcome="ok"\} [1-9]/);
      expect(body).toMatch(/lakehouse_maintain_compacted_files_total\{table="lakehouse.maintained"\} 8/);
      expect(body).toMatch(/lakehouse_maintain_data_files\{table="lakehouse.maintained"\} 2/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    await t.refresh();
    expect(t.currentSnapshot()!.summary.operation).toBe('replace');
    expect((await t.readRows()).map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
