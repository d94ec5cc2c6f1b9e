import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteTopicsAndDisconnect, requireKafkaBrokers } from '../support/kafka-test-kit.ts';

/**
 * `lakehouse ingest --source kafka` as a user runs it against the real broker: missing topics are created
 * as the design says (3 partitions / 24 h, dead letters 1 partition / 7 days), `--no-create-topics` and a
 * wrong broker address end in a sentence and exit 1, SIGTERM flushes and exits 0.
 */
const BROKERS = requireKafkaBrokers().join(',');
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const unique = (what: string) => `lakehouse-cli-${what}-${randomBytes(4).toString('hex')}`;

let dir: string;
let admin: Admin;
const topicsMade: string[] = [];

function args(...rest: string[]): string[] {
  return ['--warehouse', path.join(dir, 'wh'), '--catalog-uri', `sqlite:///${path.join(dir, 'catalog.db')}`, ...rest];
}

function run(...rest: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args(...rest), { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-kafka-cli-'));
  admin = new Kafka({ clientId: 'lakehouse-test', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});
afterAll(async () => {
  await deleteTopicsAndDisconnect(admin, topicsMade);
  rmSync(dir, { recursive: true, force: true });
});

describe('lakehouse ingest --source kafka', () => {
  it('creates missing topics as designed, runs until SIGTERM, then exits 0', async () => {
    const topic = unique('events');
    const dlq = unique('dlq');
    topicsMade.push(topic, dlq);
    const child: ChildProcess = spawn(BIN, args('ingest', '--source', 'kafka', '--brokers', BROKERS, '--topic', topic, '--dlq-topic', dlq,
      '--group', unique('group'), '--create-table', '--flush-interval', '500ms', '--log-level', 'info'), { cwd: dir });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 60_000;
    while (!/"msg":"starting"/.test(stderr)) {
      if (Date.now() > deadline) throw new Error(`ingest did not start:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const meta = await admin.fetchTopicMetadata({ topics: [topic, dlq] });
    expect(meta.topics.find((t) => t.name === topic)!.partitions).toHaveLength(3);
    expect(meta.topics.find((t) => t.name === dlq)!.partitions).toHaveLength(1);
    const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [topic, dlq].map((name) => ({ type: 2, name, configNames: ['retention.ms'] })) });
    expect(configs.resources.map((r) => r.configEntries[0]!.configValue)).toEqual([String(24 * 3_600_000), String(7 * 24 * 3_600_000)]);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
  });

  it('with --no-create-topics a missing topic is a sentence naming it, exit 1', async () => {
    const topic = unique('missing');
    const r = await run('ingest', '--source', 'kafka', '--brokers', BROKERS, '--topic', topic, '--dead-letter-file', 'dl.ndjson', '--create-table', '--no-create-topics');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Kafka topic ${topic} does not exist`);
    expect(r.stderr).toMatch(/--no-create-topics/);
  });

  it('an unreachable broker is a sentence naming the address, exit 1', async () => {
    const r = await run('ingest', '--source', 'kafka', '--brokers', '127.0.0.1:1', '--topic', unique('x'), '--create-table');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/127\.0\.0\.1:1/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
