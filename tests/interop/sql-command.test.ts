import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../catalog/load-catalog.ts';
import { parseJson } from '../../core/json.ts';
import { type IcebergType, Schema, T, Table, currentSchema, rowsToRecordBatch, schemaById } from '../../iceberg/index.ts';
import { DuckDb } from '../../sql/duckdb.ts';
import { localPath, openWarehouse } from './helpers.ts';
import { SqlSession } from '../../sql/sql-session.ts';
import { canonicalRows } from './canonical.ts';
import { ensureBuilt } from '../support/ensure-built.ts';
import { VENV_PYTHON, VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg, sqliteCatalogUri, warehouseUri } from './readers.ts';

/**
 * `lakehouse sql` on a demo warehouse (three ingest snapshots, a metrics table), checked against
 * PyIceberg reading the same snapshot through the same SQLite catalog file.
 */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let dir: string;

interface Run { code: number; stdout: string; stderr: string }

function lakehouse(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(BIN, args, { cwd: dir, maxBuffer: 1 << 28, env: { ...process.env, LAKEHOUSE_CACHE: path.join(dir, 'cache'), LAKEHOUSE_CONFIG: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const ref = (table: string) => ({ catalogUri: sqliteCatalogUri(path.join(dir, 'warehouse', 'catalog.db')), warehouse: warehouseUri(path.join(dir, 'warehouse')), table });

/** PyIceberg's read of the current campaign_events, once for the tests that compare with it (before the rename). */
let currentEvents: Promise<string[]> | undefined;
const pyCurrentEvents = () => (currentEvents ??= readWithPyIceberg(ref('lakehouse.campaign_events')));

async function withTable<T>(name: string, fn: (t: Table) => Promise<T>): Promise<T> {
  const catalog = await loadCatalog({ cwd: dir, env: {} });
  try {
    return await fn(new Table(catalog, await catalog.loadTable({ namespace: ['lakehouse'], name })));
  } finally {
    await catalog.close();
  }
}

/** `--format json` rows in the canonical form of the interop readers, typed by the table's schema. */
function canonicalFromJson(schema: Schema, stdout: string): string[] {
  const rows = parseJson(stdout, 'lakehouse sql --format json') as Record<string, unknown>[];
  const typed = rows.map((r) => Object.fromEntries(schema.fields.map((f) => [f.name, fromJson(f.type, r[f.name])])));
  return canonicalRows(schema, typed);
}

function fromJson(type: IcebergType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type.kind === 'timestamptz' || type.kind === 'timestamp') {
    const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{6})Z?$/.exec(String(v))!;
    return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(m[2]!);
  }
  if (type.kind === 'long') return BigInt(v as number | bigint);
  return v;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-sql-'));
  // The compiled CLI (bin/lakehouse runs dist/ when it is current) starts in a fraction of tsx's time.
  await ensureBuilt();
  const [demo] = await Promise.all([lakehouse('demo', '-n', '3000', '--batch-size', '1000', '--late-rate', '0.05'), ensureVenv()]);
  expect(demo.code, demo.stderr).toBe(0);
}, VENV_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lakehouse sql reads what PyIceberg reads', () => {
  it.each(['campaign_events', 'campaign_metrics'])('SELECT * FROM lakehouse.%s equals PyIceberg at the current snapshot', async (name) => {
    const r = await lakehouse('sql', '--format', 'json', `SELECT * FROM lakehouse.${name}`);
    expect(r.code, r.stderr).toBe(0);
    const schema = await withTable(name, async (t) => currentSchema(t.metadata));
    const ours = canonicalFromJson(schema, r.stdout);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours).toEqual(await (name === 'campaign_events' ? pyCurrentEvents() : readWithPyIceberg(ref(`lakehouse.${name}`))));
  }, 60_000);

  it('--snapshot-id and --as-of read an earlier snapshot, as PyIceberg reads it', async () => {
    const { first, schema } = await withTable('campaign_events', async (t) => {
      const s = [...t.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber)[0]!;
      return { first: s, schema: schemaById(t.metadata, s.schemaId ?? t.metadata.currentSchemaId) };
    });
    const want = await readWithPyIceberg({ ...ref('lakehouse.campaign_events'), snapshotId: first.snapshotId });
    const current = await pyCurrentEvents();
    expect(want.length).toBeLessThan(current.length);
    const byId = await lakehouse('sql', '--format', 'json', '--snapshot-id', String(first.snapshotId), 'SELECT * FROM campaign_events');
    expect(byId.code, byId.stderr).toBe(0);
    expect(canonicalFromJson(schema, byId.stdout)).toEqual(want);
    const asOf = await lakehouse('sql', '--format', 'json', '--as-of', new Date(first.timestampMs).toISOString(), 'SELECT * FROM campaign_events');
    expect(canonicalFromJson(schema, asOf.stdout)).toEqual(want);
  }, 60_000);

  it('an aggregate over the current snapshot equals the same aggregate over PyIceberg\'s rows', async () => {
    const r = await lakehouse('sql', '--format', 'csv', "SELECT event_type, count(*) AS n FROM lakehouse.campaign_events GROUP BY 1 ORDER BY 1");
    expect(r.code, r.stderr).toBe(0);
    const counts = new Map<string, number>();
    for (const line of await pyCurrentEvents()) {
      const t = (JSON.parse(line) as { event_type: string }).event_type;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    const want = ['event_type,n', ...[...counts].sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `${t},${n}`)].join('\n') + '\n';
    expect(r.stdout).toBe(want);
  }, 60_000);

  it('--format parquet writes the result, which DuckDB (Python) reads back with the same rows', async () => {
    const out = path.join(dir, 'clicks.parquet');
    const r = await lakehouse('sql', '--format', 'parquet', '--out', out, "FROM lakehouse.campaign_events WHERE event_type = 'click' -- trailing comment");
    expect(r.code, r.stderr).toBe(0);
    const py = await new Promise<string>((resolve, reject) => execFile(VENV_PYTHON, ['-c', `import duckdb; print(duckdb.sql("SELECT count(*), count(DISTINCT event_type) FROM '${out}'").fetchone())`], (e, so) => (e ? reject(e) : resolve(so))));
    const clicks = (await pyCurrentEvents()).filter((l) => (JSON.parse(l) as { event_type: string }).event_type === 'click').length;
    expect(py.trim()).toBe(`(${clicks}, 1)`);
  }, 60_000);
});

describe('lakehouse sql without a query: the interactive prompt', () => {
  it('completes a table name with Tab, runs a statement ended by ;, and keeps the lines in the history file', async () => {
    const history = path.join(dir, 'state', 'sql_history');
    // `script` gives the prompt a terminal, as a person's shell would; keys are typed only once it is drawn.
    const child = spawn('script', ['-qfec', `${BIN} sql`, '/dev/null'], { cwd: dir, env: { ...process.env, LAKEHOUSE_SQL_HISTORY: history, LAKEHOUSE_CONFIG: '' } });
    let screen = '';
    const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} on the screen: ${screen}`)), 30_000);
      const check = () => { if (re.test(screen)) { clearTimeout(timer); child.stdout.off('data', onData); resolve(); } };
      const onData = (b: Buffer) => { screen += b.toString(); check(); };
      child.stdout.on('data', onData);
      check();
    });
    await waitFor(/lakehouse> /);
    child.stdin.write('SELECT sum(impressions) AS total FROM lakehouse.campaign_met\t');
    await waitFor(/campaign_metrics/);
    child.stdin.write(';\r');
    await waitFor(/\(1 row\)/);
    child.stdin.write('.quit\r');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const total = (await lakehouse('sql', '--format', 'csv', 'SELECT sum(impressions) FROM campaign_metrics')).stdout.split('\n')[1];
    expect(screen).toMatch(new RegExp(`total\\s+-+\\s+${total}\\s+\\(1 row\\)`));
    expect(readFileSync(history, 'utf8')).toBe('SELECT sum(impressions) AS total FROM lakehouse.campaign_metrics;\n.quit\n');
  }, 60_000);
});

describe('lakehouse sql refuses and explains', () => {
  it('an unknown table: one sentence that lists the tables there are, exit 1', async () => {
    const r = await lakehouse('sql', 'SELECT * FROM lakehouse.campaign_metricz');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: Table lakehouse.campaign_metricz does not exist; the catalog has: lakehouse.campaign_events, lakehouse.campaign_metrics.\n');
  }, 30_000);

  it('an SQL error: DuckDB\'s own message, exit 1', async () => {
    const r = await lakehouse('sql', 'SELECT no_such_column FROM lakehouse.campaign_events');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Binder Error: Referenced column "no_such_column" not found/);
  }, 30_000);

  it('every statement that is not a query is refused, and the tables, their pointers and files stay as they were', async () => {
    const before = await snapshotOfWarehouse();
    const catalog = await loadCatalog({ cwd: dir, env: {} });
    const session = await SqlSession.open({ catalog, cacheDir: path.join(dir, 'cache') });
    const files = readdirRecursive(path.join(dir, 'warehouse', 'lakehouse', 'campaign_events', 'data'));
    const statements = [
      "INSERT INTO lakehouse.campaign_events (event_id) VALUES ('x')",
      "UPDATE lakehouse.campaign_metrics SET clicks = 0",
      'DELETE FROM lakehouse.campaign_events',
      'DROP VIEW lakehouse.campaign_events',
      'CREATE TABLE lakehouse.t AS SELECT 1',
      'CREATE OR REPLACE VIEW lakehouse.campaign_events AS SELECT 1',
      `COPY (SELECT 1 AS a) TO '${files[0]}' (FORMAT parquet)`,
      `ATTACH '${path.join(dir, 'warehouse', 'catalog.db')}' AS c (TYPE sqlite)`,
      'INSTALL httpfs', 'LOAD httpfs', "SET enable_external_access = true", 'PRAGMA version', 'CHECKPOINT',
      'SELECT 1; DELETE FROM lakehouse.campaign_events',
    ];
    try {
      for (const sql of statements) {
        await expect(session.query(sql), sql).rejects.toMatchObject({ code: 'READ_ONLY', message: expect.stringMatching(/only reads tables/) });
      }
      // The session still answers, from the same data.
      const [n] = await session.query('SELECT count(*) AS n FROM lakehouse.campaign_events');
      expect(n!.values[0]![0]).toBe(BigInt(before.rows));
    } finally {
      session.close();
      await catalog.close();
    }
    expect(await snapshotOfWarehouse()).toEqual(before);
    const cli = await lakehouse('sql', 'DELETE FROM lakehouse.campaign_events');
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^error: lakehouse sql only reads tables, so DELETE statements are refused/);
  }, 60_000);
});

describe('lakehouse sql matches columns by field id', () => {
  it('after a rename, the current snapshot reads the old files under the new name and an earlier one under the old name', async () => {
    const first = await withTable('campaign_events', async (t) => {
      const schema = currentSchema(t.metadata);
      const renamed = schema.fields.map((f) => (f.name === 'platform' ? { ...f, name: 'ad_platform' } : f));
      await t.catalog.commitTable(t.identifier, [{ type: 'assert-current-schema-id', currentSchemaId: schema.schemaId }], [
        { action: 'add-schema', schema: new Schema(renamed, schema.schemaId + 1) },
        { action: 'set-current-schema', schemaId: -1 },
      ]);
      return [...t.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber)[0]!.snapshotId;
    });
    const now = await lakehouse('sql', '--format', 'csv', 'SELECT ad_platform, count(*) FROM lakehouse.campaign_events GROUP BY 1 ORDER BY 1 NULLS FIRST');
    expect(now.code, now.stderr).toBe(0);
    const counts = new Map<string, number>();
    for (const line of await readWithPyIceberg(ref('lakehouse.campaign_events'))) {
      const p = (JSON.parse(line) as { ad_platform: string | null }).ad_platform ?? '';
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect(counts.size).toBeGreaterThan(1);
    const want = ['ad_platform,count_star()', ...[...counts].sort(([a], [b]) => a.localeCompare(b)).map(([p, n]) => `${p},${n}`)].join('\n') + '\n';
    expect(now.stdout).toBe(want);
    const then = await lakehouse('sql', '--snapshot-id', String(first), '--format', 'csv', 'SELECT count(platform) > 0 AS has FROM campaign_events');
    expect(then.stdout).toBe('has\ntrue\n');
  }, 60_000);
});

describe('lakehouse sql refuses a file it cannot match by field id', () => {
  it('a data file without Iceberg field ids is a sentence naming the file, not a column of NULLs', async () => {
    const wh = await openWarehouse('sql-no-ids');
    try {
      const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string(), false)]);
      const t = await wh.createTable('people', schema);
      await t.append([rowsToRecordBatch(schema, [{ id: 1n, name: 'ada' }])]);
      // The same file rewritten by a writer that knows nothing of Iceberg (as add_files would bring in).
      const file = localPath((await t.planFiles()).files[0]!.filePath);
      const db = await DuckDb.open();
      try {
        await db.run(`COPY (SELECT 1::BIGINT AS id, 'ada' AS name) TO '${file}' (FORMAT parquet)`);
      } finally {
        db.close();
      }
      const session = await SqlSession.open({ catalog: wh.catalog });
      try {
        await expect(session.query('SELECT * FROM interop.people')).rejects.toMatchObject({
          code: 'UNSUPPORTED', message: expect.stringContaining(`interop.people: data file ${file} has no Iceberg field ids`),
        });
      } finally {
        session.close();
      }
    } finally {
      await wh.close();
    }
  }, 60_000);
});

function readdirRecursive(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? readdirRecursive(path.join(d, e.name)) : [path.join(d, e.name)]));
}

/** What a write would change: each table's metadata pointer, every file's size and mtime, the row count. */
async function snapshotOfWarehouse(): Promise<{ pointers: string[]; files: string[]; rows: number }> {
  const pointers = await Promise.all(['campaign_events', 'campaign_metrics'].map((n) => withTable(n, async (t) => t.metadataLocation)));
  const files = readdirRecursive(path.join(dir, 'warehouse', 'lakehouse')).map((f) => `${f} ${statSync(f).size} ${statSync(f).mtimeMs}`).sort();
  const rows = Number(await withTable('campaign_events', async (t) => t.currentSnapshot()!.summary['total-records']));
  return { pointers, files, rows };
}
