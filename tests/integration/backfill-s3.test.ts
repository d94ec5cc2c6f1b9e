import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { S3FileIO } from '../../iceberg/io/index.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { messageEvent } from '../support/campaign-metrics-oracle.ts';
import { randomPrefix, requireS3Settings, s3FileIOOptions } from '../support/s3-settings.ts';
import { type Warehouse, openWarehouse } from '../interop/helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg } from '../interop/readers.ts';

/**
 * `lakehouse backfill --source s3://bucket/prefix/` against MinIO: every file under the prefix (plain
 * and gzip, listed through the S3 FileIO with the catalog's storage settings) is read once, each event
 * once (PyIceberg reads the ids), and the same backfill again adds nothing.
 */
const BIN = fileURLToPath(new URL('../../bin/lakehouse', import.meta.url));
const s3 = requireS3Settings();
const prefix = `s3://${s3.bucket}/${randomPrefix('backfill')}/export`;
let io: S3FileIO;
let wh: Warehouse;
let config: string;

beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('backfill-s3');
  io = new S3FileIO(s3FileIOOptions(s3));
  config = path.join(wh.dir, 'lakehouse.config.json');
  // The catalog is local; its storage settings open the s3:// source, as they would an S3 warehouse.
  writeFileSync(config, JSON.stringify({ 'default-catalog': 'default', catalogs: { default: { type: 'sql', uri: wh.catalogUri, warehouse: wh.warehouse, ...s3.properties } } }));
}, VENV_TIMEOUT_MS);
afterAll(async () => {
  const keys: string[] = [];
  for await (const f of io.list(prefix)) keys.push(f.location);
  await io.deleteMany(keys);
  await io.close();
  await wh?.close();
});

function backfillCli(...rest: string[]): Promise<{ code: number | null; out: Record<string, unknown> | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(BIN, ['--json', '--config', config, 'backfill', '--dead-letter-file', path.join(wh.dir, 'dead.ndjson'), ...rest], { cwd: wh.dir, timeout: 180_000 }, (_e, stdout, stderr) => {
      const json = stdout.indexOf('{');
      resolve({ code: child.exitCode, out: json < 0 ? null : JSON.parse(stdout.slice(json)), stderr });
    });
  });
}

describe('lakehouse backfill from an S3 prefix (MinIO)', () => {
  it('reads every plain and gzip file under the prefix once, each event once, and again adds nothing', async () => {
    const messages = [...generateMessages({ count: 450, seed: 31, campaigns: 3, invalidRate: 0.02, duplicateRate: 0.02 })];
    const lines = (from: number, to: number) => Buffer.concat(messages.slice(from, to).flatMap((m) => [Buffer.from(m.value), Buffer.from('\n')]));
    await io.write(`${prefix}/2026-11-01.ndjson`, lines(0, 150));
    await io.write(`${prefix}/2026-11-02.ndjson.gz`, gzipSync(lines(150, 300)));
    await io.write(`${prefix}/day-3/part-0`, gzipSync(lines(300, 450)));
    await io.write(`${prefix}/_SUCCESS`, new Uint8Array([0x6f, 0x6b]));
    await wh.createTable('bf_s3', campaignEventsSchema, campaignEventsSpec);

    const dry = await backfillCli('--source', `${prefix}/`, '--table', 'interop.bf_s3', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    const first = await backfillCli('--source', `${prefix}/`, '--table', 'interop.bf_s3', '--flush-rows', '200');
    expect(first.code, first.stderr).toBe(0);
    const valid = new Set(messages.filter((m) => m.kind !== 'invalid').map((m) => messageEvent(m, 0n)!.event_id));
    expect(first.out).toMatchObject({ records: 450, added: valid.size });
    expect(dry.out).toMatchObject({ records: 450, added: valid.size, deadLettered: first.out!.deadLettered, skipped: first.out!.skipped });
    expect(Object.values(first.out!.positions as Record<string, string>)).toEqual(['150', '150', '150']);

    const again = await backfillCli('--source', `${prefix}/`, '--table', 'interop.bf_s3');
    expect(again.code, again.stderr).toBe(0);
    expect(again.out).toMatchObject({ records: 0, added: 0 });

    const ids = (await readWithPyIceberg({ catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.bf_s3' })).map((l) => (JSON.parse(l) as { event_id: string }).event_id);
    expect(ids.length).toBe(valid.size);
    expect(new Set(ids)).toEqual(valid);
  });
});
