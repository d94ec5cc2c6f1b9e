import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The CLI as a user runs it: exit codes, sentences on stderr, JSON on stdout. */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
let dir: string;

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, ['--warehouse', path.join(dir, 'wh'), '--catalog-uri', `sqlite:///${path.join(dir, 'catalog.db')}`, ...args],
      { cwd: dir, env: { ...process.env, LAKEHOUSE_DEBUG: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-cli-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lakehouse CLI', () => {
  it('demo creates campaign_events and the tables commands describe it, in text and JSON', async () => {
    const demo = await run('--json', 'demo', '--events', '3000', '--batch-size', '1000');
    expect(demo.code).toBe(0);
    const summary = JSON.parse(demo.stdout);
    // The demo runs the ingest path: of 3000 generated messages the invalid ones become dead letters and
    // duplicates within a flush are dropped, so fewer rows are written; every message is accounted for.
    expect(summary).toMatchObject({ table: 'lakehouse.campaign_events', consumed: 3000, snapshots: 3 });
    expect(summary.totalRecords).toBe(summary.eventsWritten);
    expect(summary.consumed).toBe(summary.eventsWritten + summary.deadLettered + summary.duplicates);
    expect(summary.deadLettered).toBe(summary.generated.invalid);
    expect(summary.deadLettered).toBeGreaterThan(0);
    expect(summary.duplicates).toBeGreaterThan(0);
    expect(readFileSync(summary.deadLetterFile, 'utf8').trim().split('\n')).toHaveLength(summary.deadLettered);

    expect(summary.metrics).toMatchObject({ table: 'lakehouse.campaign_metrics', mode: 'full' });
    expect(readFileSync(summary.report, 'utf8')).toMatch(/^<!DOCTYPE html>/i);
    expect((await run('tables', 'list')).stdout.trim().split('\n').sort()).toEqual(['lakehouse.campaign_events', 'lakehouse.campaign_metrics']);
    const d = JSON.parse((await run('--json', 'tables', 'describe', 'campaign_events')).stdout);
    expect(d.partitionSpec.fields.map((f: { transform: string }) => f.transform)).toEqual(['day', 'identity']);
    expect(d.schema.fields.map((f: { name: string }) => f.name)).toEqual(['event_id', 'user_id', 'campaign_id', 'event_type', 'platform', 'event_time', 'revenue', 'country', 'device_type', 'processed_at', 'channel', 'cost']);
    const snaps = JSON.parse((await run('--json', 'tables', 'snapshots', 'campaign_events')).stdout);
    expect(snaps.map((s: { summary: Record<string, string> }) => s.summary['total-records'])).toEqual(['1000', '2000', String(summary.eventsWritten)]);
    expect(JSON.parse(snaps[2].summary['lakehouse.offsets.lakehouse-demo'])).toEqual({ [`${summary.eventsFile}:0`]: '3000' });
    const files = JSON.parse((await run('--json', 'tables', 'files', 'campaign_events', '--where', "event_type = 'click'")).stdout);
    expect(files.files.length).toBeGreaterThan(0);
    for (const f of files.files) expect(f.partition).toMatch(/event_type=click$/);
  });

  it('demo run again with the same seed stores nothing twice and says why', async () => {
    const again = await run('demo', '--events', '3000', '--batch-size', '1000');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/ 0 written, .* dead-lettered .*, [\d,]+ duplicates dropped\./);
    expect(again.stdout).toMatch(/Every event_id was already in the table: the same seed generates the same events[\s\S]*--seed 43/);
  });

  it('every command has --help that shows an example or its options', async () => {
    for (const args of [['--help'], ['tables', '--help'], ['tables', 'create', '--help'], ['tables', 'files', '--help'], ['tables', 'alter', '--help'], ['demo', '--help'], ['ingest', '--help'], ['produce', '--help'], ['metrics', '--help'], ['metrics', 'run', '--help'], ['metrics', 'rebuild', '--help'], ['metrics', 'report', '--help'], ['backfill', '--help']]) {
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: lakehouse/);
    }
  });

  it('tables alter commits one change, --dry-run commits none, and a refused change is a sentence (exit 2) that leaves the table as it was', async () => {
    await run('tables', 'create', 'evolving', '--schema', 'campaign_events');
    const location = async () => JSON.parse((await run('--json', 'tables', 'describe', 'evolving')).stdout).metadataLocation as string;
    const added = JSON.parse((await run('--json', 'tables', 'alter', 'evolving', 'add-column', 'campaign_name', 'string', '--after', 'campaign_id', '--doc', 'Display name')).stdout);
    expect(added).toMatchObject({ committed: true, schemaId: 1, lastColumnId: 13 });
    expect(added.schema.fields[3]).toEqual({ id: 13, name: 'campaign_name', required: false, type: 'string', doc: 'Display name' });
    expect(added.metadataLocation).toBe(await location());

    const before = await location();
    const dry = await run('tables', 'alter', 'evolving', 'replace-partition-field', 'event_time_day', 'hour(event_time)', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/Would change lakehouse\.evolving: partition spec 1 would be the default \(was 0\): event_type, hour\(event_time\); last partition id 1002/);
    expect(await location()).toBe(before);

    for (const [args, message] of [
      [['widen-column', 'revenue', 'float'], /Cannot change column "revenue" from double to float/],
      [['rename-column', 'nope', 'x'], /Column "nope" is not in the table schema/],
      [['add-column', 'country', 'string'], /Column "country" already exists/],
      [['drop-column', 'event_time'], /source of partition field "event_time_day"/],
      [['add-column', 'n', 'varchar'], /Unsupported Iceberg type "varchar"/],
      [['rename-column', 'country'], /rename-column takes NAME NEW_NAME/],
    ] as [string[], RegExp][]) {
      const r = await run('tables', 'alter', 'evolving', ...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await location()).toBe(before);
  });

  it('an unknown table is a sentence with exit code 1, not a stack trace', async () => {
    const r = await run('tables', 'describe', 'no_such_table');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Table lakehouse\.no_such_table does not exist/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unsupported type in a schema file names the type', async () => {
    const file = path.join(dir, 'bad-schema.json');
    writeFileSync(file, JSON.stringify({ type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'v', required: false, type: 'variant' }] }));
    const r = await run('tables', 'create', 'bad', '--schema', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unsupported Iceberg type "variant"/);
  });

  it('malformed metadata JSON is reported with the file it is in', async () => {
    await run('tables', 'create', 'broken', '--schema', 'campaign_events');
    const d = JSON.parse((await run('--json', 'tables', 'describe', 'broken')).stdout);
    const file = d.metadataLocation.replace(/^file:\/\//, '');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 100));
    const r = await run('tables', 'describe', 'broken');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(file.split('/').pop());
    expect(r.stderr).toMatch(/Malformed|malformed|not valid JSON/);
  });

  it('a bad partition spec or option is a usage error (exit 2) that says how to fix it', async () => {
    const r = await run('tables', 'create', 'x', '--schema', 'campaign_events', '--partition', 'hour(country)');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/transform hour cannot be applied to column "country" of type string/);
    const n = await run('demo', '--events', 'many');
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/--events must be a positive whole number/);
  });
  it('produce writes NDJSON that ingest reads into the table; a second ingest of the same file adds nothing', async () => {
    const file = path.join(dir, 'produced.ndjson');
    const p = await run('--json', 'produce', '--to', `file:${file}`, '--events', '500', '--invalid-rate', '0.04', '--duplicate-rate', '0.02', '--seed', '3');
    expect(p.code).toBe(0);
    const produced = JSON.parse(p.stdout);
    expect(produced).toMatchObject({ messages: 500 });
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(500);

    const dead = path.join(dir, 'ingest-dead.ndjson');
    const args = ['--json', 'ingest', '--source', `file:${file}`, '--table', 'produced_events', '--create-table', '--group', 'cli-test', '--dead-letter-file', dead, '--log-level', 'warn'];
    const first = await run(...args);
    expect(first.code, first.stderr).toBe(0);
    const stats = JSON.parse(first.stdout);
    expect(stats).toMatchObject({ table: 'lakehouse.produced_events', consumed: 500, deadLettered: produced.invalid, stoppedBy: 'end', positions: { [`${file}:0`]: '500' } });
    expect(stats.consumed).toBe(stats.written + stats.deadLettered + stats.duplicates);
    expect(readFileSync(dead, 'utf8').trim().split('\n')).toHaveLength(produced.invalid);

    const again = JSON.parse((await run(...args)).stdout);
    expect(again).toMatchObject({ consumed: 0, commits: 0 });
    const d = JSON.parse((await run('--json', 'tables', 'describe', 'produced_events')).stdout);
    expect(d.currentSnapshot.summary['total-records']).toBe(String(stats.written));
  });

  it('ingest into a missing table suggests --create-table; bad sizes and durations name the flag', async () => {
    const file = path.join(dir, 'one.ndjson');
    writeFileSync(file, '{}\n');
    const r = await run('ingest', '--source', `file:${file}`, '--table', 'not_there');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Table lakehouse\.not_there does not exist\. Run again with --create-table/);
    const b = await run('ingest', '--source', `file:${file}`, '--flush-interval', '5');
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--flush-interval must be a duration with a unit such as 5s/);
    const m = await run('ingest', '--source', `file:${file}`, '--memory-budget', 'lots');
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--memory-budget must be a size such as 256MiB/);
  });

  it('ingest drops events re-sent in a later file (their ids are in the table), stores them again with --dedup-horizon off, and names the flag of a bad horizon', async () => {
    const at = new Date(Date.now() - 3_600_000).toISOString();
    const lines = ['r-1', 'r-2', 'r-3'].map((id) => JSON.stringify({ event_id: id, user_id: 'u', campaign_id: 'c', event_type: 'click', timestamp: at })).join('\n') + '\n';
    const files = ['sent.ndjson', 'resent.ndjson', 'resent-again.ndjson'].map((name) => path.join(dir, name));
    for (const f of files) writeFileSync(f, lines);
    const ingest = async (file: string, ...extra: string[]) => {
      const r = await run('--json', 'ingest', '--source', `file:${file}`, '--table', 'resent_events', '--create-table', '--log-level', 'warn', ...extra);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    expect(await ingest(files[0]!)).toMatchObject({ consumed: 3, written: 3, duplicates: 0 });
    expect(await ingest(files[1]!, '--dedup-horizon', '1h')).toMatchObject({ consumed: 3, written: 0, duplicates: 3 });
    expect(await ingest(files[2]!, '--dedup-horizon', 'off')).toMatchObject({ consumed: 3, written: 3, duplicates: 0 });
    const bad = await run('ingest', '--source', `file:${files[0]}`, '--dedup-horizon', '7');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--dedup-horizon must be a duration with a unit such as 5s/);
  });

  it('ingest --source kafka refuses group timings that would drop live members before connecting, naming the flags', async () => {
    // An unreachable broker: the sentence must come from the flags, before any connection is tried.
    const h = await run('ingest', '--source', 'kafka', '--brokers', '127.0.0.1:1', '--session-timeout', '6s', '--heartbeat-interval', '3s');
    expect(h.code).toBe(2);
    expect(h.stderr).toMatch(/^error: Kafka heartbeat interval 3000 ms \(heartbeatIntervalMs, --heartbeat-interval\) must be at most a third of the session timeout 6000 ms \(sessionTimeoutMs, --session-timeout\)/);
    const r = await run('ingest', '--source', 'kafka', '--brokers', '127.0.0.1:1', '--rebalance-timeout', '2s');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rebalance timeout 2000 ms \(rebalanceTimeoutMs, --rebalance-timeout\) must be at least three heartbeat intervals/);
    const d = await run('ingest', '--source', 'kafka', '--session-timeout', 'soon');
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/--session-timeout must be a duration with a unit such as 5s/);
  });
});

describe('lakehouse namespaces', () => {
  it('creates with properties, lists, describes and drops; the not-found sentence names this command', async () => {
    const missing = await run('tables', 'list', 'analytics');
    expect(missing.code).toBe(1);
    const advice = /`(lakehouse namespaces create analytics)`/.exec(missing.stderr);
    expect(advice).not.toBeNull();
    const created = await run('--json', ...advice![1]!.split(' ').slice(1), '--property', 'owner=marketing');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toEqual({ namespace: 'analytics', created: true });
    expect((await run('namespaces', 'create', 'analytics')).code).toBe(1);
    expect(JSON.parse((await run('--json', 'namespaces', 'create', 'analytics', '--if-not-exists')).stdout)).toEqual({ namespace: 'analytics', created: false });
    expect(JSON.parse((await run('--json', 'namespaces', 'list')).stdout)).toContain('analytics');
    expect(JSON.parse((await run('--json', 'namespaces', 'describe', 'analytics')).stdout).properties).toMatchObject({ owner: 'marketing' });
    expect((await run('tables', 'list', 'analytics')).stdout).toMatch(/No tables in namespace analytics/);
    expect((await run('namespaces', 'drop', 'analytics')).code).toBe(0);
    expect(JSON.parse((await run('--json', 'namespaces', 'list')).stdout)).not.toContain('analytics');
  });
});

describe('table maintenance commands on bad input', () => {
  beforeAll(async () => {
    expect((await run('tables', 'create', 'm.t', '--schema', 'campaign_events')).code).toBe(0);
  });

  it('an unknown table is a sentence and exit 1 for both commands', async () => {
    for (const cmd of ['rewrite-manifests', 'remove-orphans']) {
      const r = await run('tables', cmd, 'm.nope');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: Table m\.nope does not exist/);
    }
  });

  it('a malformed --older-than names the flag and the forms it takes (exit 2)', async () => {
    const r = await run('tables', 'remove-orphans', 'm.t', '--older-than', 'three days');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--older-than must be an age such as 3d, 12h or 90m, or a time such as .*got "three days"/);
  });

  it('an --older-than under an hour is refused unless --allow-short-age says no writer runs', async () => {
    const r = await run('tables', 'remove-orphans', 'm.t', '--older-than', '10m');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at least 1 hour .* commit still in flight\. Pass --allow-short-age/);
    const ok = await run('--json', 'tables', 'remove-orphans', 'm.t', '--older-than', '10m', '--allow-short-age', '--dry-run');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ dryRun: true, orphans: [] });
  });

  it('on an empty table rewrite-manifests has nothing to do; both commands show examples in --help', async () => {
    const r = await run('--json', 'tables', 'rewrite-manifests', 'm.t');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ snapshotId: null, manifestsBefore: 0, replaced: 0 });
    for (const cmd of ['rewrite-manifests', 'remove-orphans']) expect((await run('tables', cmd, '--help')).stdout).toMatch(/Examples:\n  \$ lakehouse tables/);
  });
});
