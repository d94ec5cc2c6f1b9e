import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { rowsToRecordBatch } from '../../iceberg/arrow/arrow-rows.ts';
import { LakehouseError } from '../../core/errors.ts';
import { S3FileIO, S3_DELETE_BATCH } from '../../iceberg/io/s3-file-io.ts';
import { Schema } from '../../iceberg/spec/schema.ts';
import { Table } from '../../iceberg/table.ts';
import { mapLimit } from '../../iceberg/scan/table-scan.ts';
import { T } from '../../iceberg/spec/types.ts';
import { catalogConformance } from '../catalog-conformance.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { ensureVenv, readWithDuckDB, readWithPyIceberg, sqliteCatalogUri, VENV_TIMEOUT_MS } from '../interop/readers.ts';
import { S3FaultProxy } from '../support/s3-fault-proxy.ts';
import { randomPrefix, requireS3Settings, s3FileIOOptions } from '../support/s3-settings.ts';

/**
 * S3FileIO against a real S3-compatible server (MinIO from infra/services/minio.sh). Failures a healthy
 * server does not produce (503 SlowDown, resets, lost responses, stalls) are injected by a proxy in
 * front of it (tests/support/s3-fault-proxy.ts); the server behind the proxy still does the S3 work.
 * Everything is written under a random prefix and deleted afterwards.
 */
const s3 = requireS3Settings();
const MiB = 1024 * 1024;
const prefix = randomPrefix('s3-file-io');
const root = `s3://${s3.bucket}/${prefix}`;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** Deterministic, non-repeating-per-part bytes, so a part put in the wrong place changes the hash. */
const bytesOf = (n: number) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 2654435761) >>> 24;
  return out;
};
let n = 0;
/** A fresh key under the run's prefix. */
const key = (name: string) => `${root}/${name}-${++n}`;

async function errorOf(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw e;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

async function listAll(io: S3FileIO, location: string): Promise<string[]> {
  const out: string[] = [];
  for await (const f of io.list(location)) out.push(f.location);
  return out.sort();
}

const isList = (m: string, u: string) => m === 'GET' && u.includes('list-type=2');
const isDeleteBatch = (m: string, u: string) => m === 'POST' && /[?&]delete(=|&|$)/.test(u);
const isCreateUpload = (m: string, u: string) => m === 'POST' && /[?&]uploads(=|&|$)/.test(u);
const isPart = (m: string, u: string) => m === 'PUT' && u.includes('partNumber=');
const isComplete = (m: string, u: string) => m === 'POST' && u.includes('uploadId=');

let io: S3FileIO;
let proxy: S3FaultProxy;
/** The same server through the fault proxy, with quick retries. */
let proxied: S3FileIO;
/** Through the proxy, multipart above 5 MiB in 5 MiB parts (S3's minimum part size). */
let multipart: S3FileIO;

beforeAll(async () => {
  io = new S3FileIO(s3FileIOOptions(s3));
  proxy = await S3FaultProxy.start(s3.endpoint);
  const fast = { endpoint: proxy.endpoint, retryMinWaitMs: 5, retryMaxWaitMs: 50 };
  proxied = new S3FileIO(s3FileIOOptions(s3, fast));
  multipart = new S3FileIO(s3FileIOOptions(s3, { ...fast, multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB }));
});

afterAll(async () => {
  if (io) {
    await io.deleteMany(await listAll(io, root)).catch(() => undefined);
    io.close();
  }
  proxied?.close();
  multipart?.close();
  await proxy?.close();
});

beforeEach(() => proxy.reset());

describe('S3FileIO on a real server: objects', () => {
  it('writes an object and reads it back whole and by byte range', async () => {
    const loc = key('obj');
    await io.write(loc, enc('hello, iceberg on s3'));
    expect(dec(await io.read(loc))).toBe('hello, iceberg on s3');
    expect(dec(await io.readRange(loc, 7, 7))).toBe('iceberg');
    expect(dec(await io.readRange(loc, 0, 1))).toBe('h');
    expect(await io.readRange(loc, 3, 0)).toEqual(new Uint8Array(0));
  });

  it('answers exists and size for a present object, false and NOT_FOUND for a missing one', async () => {
    const loc = key('sized');
    await io.write(loc, new Uint8Array(1234));
    expect(await io.exists(loc)).toBe(true);
    expect(await io.size(loc)).toBe(1234);
    expect(await io.exists(`${loc}.missing`)).toBe(false);
    expect((await errorOf(io.size(`${loc}.missing`))).code).toBe('NOT_FOUND');
    expect((await errorOf(io.read(`${loc}.missing`))).code).toBe('NOT_FOUND');
  });

  it('deletes an object, and deleting a missing one is not an error', async () => {
    const loc = key('gone');
    await io.write(loc, enc('x'));
    await io.delete(loc);
    expect(await io.exists(loc)).toBe(false);
    await io.delete(loc);
  });

  it('refuses a range past the end of an object with IO_ERROR instead of returning short bytes', async () => {
    const loc = key('short');
    await io.write(loc, enc('12345'));
    expect((await errorOf(io.readRange(loc, 3, 10))).code).toBe('IO_ERROR');
  });
});

describe('S3FileIO on a real server: multipart upload', () => {
  it('uploads a 12 MiB file as three 5 MiB-or-less parts and reads the same bytes back', async () => {
    const loc = key('big');
    const data = bytesOf(12 * MiB);
    await multipart.write(loc, data);
    const seen = proxy.requests;
    expect(seen.filter((r) => isCreateUpload(r.method, r.url))).toHaveLength(1);
    expect(seen.filter((r) => isPart(r.method, r.url))).toHaveLength(3);
    expect(seen.filter((r) => isComplete(r.method, r.url))).toHaveLength(1);
    expect(await io.size(loc)).toBe(12 * MiB);
    expect(sha(await io.read(loc))).toBe(sha(data));
    // Bytes that straddle the first part boundary.
    expect(await io.readRange(loc, 5 * MiB - 3, 6)).toEqual(data.subarray(5 * MiB - 3, 5 * MiB + 3));
  });

  it('writes a file at or below the threshold with one PUT', async () => {
    const loc = key('small');
    await multipart.write(loc, bytesOf(5 * MiB));
    expect(proxy.requests.map((r) => r.method)).toEqual(['PUT']);
    expect(await io.size(loc)).toBe(5 * MiB);
  });
});

describe('S3FileIO on a real server: listing and batch deletes', () => {
  it(`lists ${S3_DELETE_BATCH + 5} objects over two pages and deletes them in two batches`, async () => {
    const dir = key('many');
    const count = S3_DELETE_BATCH + 5;
    const locations = Array.from({ length: count }, (_, i) => `${dir}/f-${String(i).padStart(5, '0')}`);
    await mapLimit(locations, 32, (loc) => io.write(loc, enc('.')));
    // A sibling whose name starts with the folder's: a listing of the folder must not include it.
    await io.write(`${dir}-sibling/x`, enc('.'));

    expect(await listAll(proxied, dir)).toEqual(locations);
    // S3 pages hold at most 1000 keys: the listing followed one continuation token.
    expect(proxy.requests.filter((r) => isList(r.method, r.url))).toHaveLength(2);

    proxy.reset();
    await proxied.deleteMany(locations);
    expect(proxy.requests.filter((r) => isDeleteBatch(r.method, r.url))).toHaveLength(2);
    expect(await listAll(io, dir)).toEqual([]);
    expect(await io.exists(`${dir}-sibling/x`)).toBe(true);
  }, 120_000);

  it('lists nested keys with their sizes, and an empty folder as nothing', async () => {
    const dir = key('tree');
    await io.write(`${dir}/a`, enc('1'));
    await io.write(`${dir}/sub/b`, enc('22'));
    const infos = [];
    for await (const f of io.list(`${dir}/`)) infos.push({ location: f.location, size: f.size, hasTime: typeof f.lastModifiedMs === 'number' });
    expect(infos.sort((x, y) => x.location.localeCompare(y.location))).toEqual([
      { location: `${dir}/a`, size: 1, hasTime: true },
      { location: `${dir}/sub/b`, size: 2, hasTime: true },
    ]);
    expect(await listAll(io, `${dir}/nothing-here`)).toEqual([]);
  });

  it('deletes a batch that names missing keys without error', async () => {
    const a = key('del-a');
    await io.write(a, enc('a'));
    await io.deleteMany([a, key('never-written')]);
    expect(await io.exists(a)).toBe(false);
    await io.deleteMany([]);
  });
});

describe('S3FileIO on a real server: conditional create (If-None-Match)', () => {
  it('lets exactly one of two concurrent creates of a key win; the other gets ALREADY_EXISTS', async () => {
    for (let round = 0; round < 5; round++) {
      const loc = key('race');
      const results = await Promise.allSettled([io.write(loc, enc('first'), { ifNotExists: true }), io.write(loc, enc('second'), { ifNotExists: true })]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      const lost = results[1 - won[0]!] as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(LakehouseError);
      expect((lost.reason as LakehouseError).code).toBe('ALREADY_EXISTS');
      expect(dec(await io.read(loc))).toBe(won[0] === 0 ? 'first' : 'second');
    }
  });

  it('makes a multipart create conditional too: one of two 12 MiB uploads wins, the other gets ALREADY_EXISTS', async () => {
    const loc = key('race-big');
    const a = bytesOf(12 * MiB);
    const b = a.slice().reverse();
    const results = await Promise.allSettled([multipart.write(loc, a, { ifNotExists: true }), multipart.write(loc, b, { ifNotExists: true })]);
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    expect(((results[1 - won[0]!] as PromiseRejectedResult).reason as LakehouseError).code).toBe('ALREADY_EXISTS');
    expect(sha(await io.read(loc))).toBe(sha(won[0] === 0 ? a : b));
  });

  it('refuses to replace an existing object and leaves it as it was', async () => {
    const loc = key('kept');
    await io.write(loc, enc('original'));
    expect((await errorOf(io.write(loc, enc('replacement'), { ifNotExists: true }))).code).toBe('ALREADY_EXISTS');
    expect(dec(await io.read(loc))).toBe('original');
  });
});

describe('S3FileIO on a real server: errors are sentences', () => {
  it('names a missing bucket, for reads, writes, listings and exists alike', async () => {
    const bucket = `lakehouse-missing-${randomBytes(4).toString('hex')}`;
    for (const op of [
      () => io.read(`s3://${bucket}/k`),
      () => io.write(`s3://${bucket}/k`, enc('x')),
      () => listAll(io, `s3://${bucket}/dir`),
      () => io.exists(`s3://${bucket}/k`),
      () => io.size(`s3://${bucket}/k`),
    ]) {
      const err = await errorOf(op());
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain(`Bucket "${bucket}" does not exist at ${s3.endpoint}`);
    }
  });

  it('reports wrong credentials as access denied, naming the settings but never the secret', async () => {
    const secret = `wrong-${randomBytes(12).toString('hex')}`;
    const wrong = new S3FileIO(s3FileIOOptions(s3, { secretAccessKey: secret }));
    try {
      for (const op of [() => wrong.read(`${root}/anything`), () => wrong.write(key('denied'), enc('x')), () => wrong.exists(`${root}/anything`)]) {
        const err = await errorOf(op());
        expect(err.code).toBe('IO_ERROR');
        expect(err.message).toMatch(/^Access denied to \w+ s3:\/\//);
        expect(err.message).toContain('s3.secret-access-key');
        // A HEAD answer has no body and so no S3 error code; the sentence then gives the status.
        expect(err.message).not.toContain('Unknown');
        expect(err.message).not.toContain(secret);
        expect(JSON.stringify(err.context)).not.toContain(secret);
        expect(err.retryable).toBe(false);
      }
    } finally {
      wrong.close();
    }
  });

  it('names the URL it tried when nothing listens there', async () => {
    // A port that was just free: connecting to it is refused at once.
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const endpoint = `http://127.0.0.1:${port}`;
    const nowhere = new S3FileIO(s3FileIOOptions(s3, { endpoint, retryMinWaitMs: 1, retryMaxWaitMs: 5 }));
    try {
      const err = await errorOf(nowhere.write(`s3://${s3.bucket}/k`, enc('x')));
      expect(err.code).toBe('IO_ERROR');
      expect(err.message).toContain(`Cannot reach ${endpoint} to write s3://${s3.bucket}/k`);
      expect(err.message).toContain('s3.endpoint');
    } finally {
      nowhere.close();
    }
  });

  it('rejects an endpoint without a scheme when it is configured, naming s3.endpoint', () => {
    const hostPort = new URL(s3.endpoint).host;
    expect(() => new S3FileIO(s3FileIOOptions(s3, { endpoint: hostPort }))).toThrow(/s3\.endpoint.*http:\/\//);
  });
});

describe('S3FileIO on a real server: retries through a fault proxy', () => {
  it('retries 503 SlowDown on put, get, list and delete, then succeeds', async () => {
    const dir = key('slow');
    const loc = `${dir}/obj`;
    proxy.failNext(2, 'slow-down', (m) => m === 'PUT');
    await proxied.write(loc, enc('slow'));
    proxy.failNext(2, 'slow-down', (m) => m === 'GET');
    expect(dec(await proxied.read(loc))).toBe('slow');
    proxy.failNext(1, 'slow-down', isList);
    expect(await listAll(proxied, dir)).toEqual([loc]);
    proxy.failNext(1, 'slow-down', isDeleteBatch);
    await proxied.deleteMany([loc]);
    expect(await io.exists(loc)).toBe(false);
    expect(proxy.requests.filter((r) => r.fault === 'slow-down')).toHaveLength(6);
  });

  it('retries connection resets on put, get and exists, then succeeds', async () => {
    const loc = key('reset');
    proxy.failNext(2, 'reset', (m) => m === 'PUT');
    await proxied.write(loc, enc('reset'));
    proxy.failNext(1, 'reset', (m) => m === 'GET');
    expect(dec(await proxied.read(loc))).toBe('reset');
    proxy.failNext(1, 'reset', (m) => m === 'HEAD');
    expect(await proxied.exists(loc)).toBe(true);
    expect(proxy.requests.filter((r) => r.fault === 'reset')).toHaveLength(4);
  });

  it('counts a conditional create whose response was lost as written (the retry finds its own bytes)', async () => {
    const loc = key('lost-response');
    proxy.failNext(1, 'reset-after', (m) => m === 'PUT');
    await proxied.write(loc, enc('mine'), { ifNotExists: true });
    expect(dec(await io.read(loc))).toBe('mine');
  });

  it('still reports ALREADY_EXISTS when the object a retried create meets holds other bytes', async () => {
    const loc = key('lost-other');
    await io.write(loc, enc('theirs'));
    proxy.failNext(1, 'slow-down', (m) => m === 'PUT');
    expect((await errorOf(proxied.write(loc, enc('mine'), { ifNotExists: true }))).code).toBe('ALREADY_EXISTS');
    expect(dec(await io.read(loc))).toBe('theirs');
  });

  it('finishes a multipart upload through a part reset, a part 503 and a lost completion response', async () => {
    const loc = key('mp-faults');
    const data = bytesOf(12 * MiB);
    proxy.failNext(1, 'reset', (m, u) => isPart(m, u) && u.includes('partNumber=2'));
    proxy.failNext(1, 'slow-down', (m, u) => isPart(m, u) && u.includes('partNumber=3'));
    proxy.failNext(1, 'reset-after', isComplete);
    await multipart.write(loc, data, { ifNotExists: true });
    expect(proxy.requests.filter((r) => r.fault !== undefined)).toHaveLength(3);
    expect(sha(await io.read(loc))).toBe(sha(data));
  });

  it('times out a request the server never answers and retries it', async () => {
    const impatient = new S3FileIO(s3FileIOOptions(s3, { endpoint: proxy.endpoint, retryMinWaitMs: 5, retryMaxWaitMs: 50, idleTimeoutMs: 300 }));
    try {
      const loc = key('stall');
      proxy.failNext(1, 'stall', (m) => m === 'PUT');
      await impatient.write(loc, enc('patient'));
      proxy.failNext(1, 'stall', (m) => m === 'GET');
      expect(dec(await impatient.read(loc))).toBe('patient');
      expect(proxy.requests.filter((r) => r.fault === 'stall')).toHaveLength(2);
    } finally {
      impatient.close();
    }
  });

  it('gives up after maxRetries with a retryable IO_ERROR naming the endpoint and the S3 error', async () => {
    const loc = key('give-up');
    proxy.failNext(10, 'slow-down');
    const err = await errorOf(proxied.read(loc));
    expect(err.code).toBe('IO_ERROR');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`${loc} at ${proxy.endpoint}`);
    expect(err.message).toContain('SlowDown 503');
    // The first attempt and four retries (DEFAULT_MAX_RETRIES).
    expect(proxy.requests).toHaveLength(5);
  });
});

describe('an Iceberg table in an s3:// warehouse on the real server', () => {
  const schema = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'name', T.string()), T.field(3, 'ts', T.timestamptz())]);
  const rows = [
    { id: 1n, name: 'alpha', ts: 1_700_000_000_000_000n },
    { id: 2n, name: null, ts: 1_700_000_000_000_001n },
    { id: 3n, name: 'gamma', ts: null },
  ];
  let dir: string;
  let catalogUri: string;
  const warehouse = `${root}/warehouse`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-s3-table-'));
    catalogUri = sqliteCatalogUri(join(dir, 'catalog.db'));
    await ensureVenv();
  }, VENV_TIMEOUT_MS);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends through SqlCatalog, reads back, and PyIceberg and DuckDB read the same rows from S3', async () => {
    const catalog = await SqlCatalog.open({ name: 'default', uri: catalogUri, warehouse, properties: s3.properties, env: {} });
    try {
      await catalog.createNamespace(['lake']);
      const table = new Table(catalog, await catalog.createTable({ namespace: ['lake'], name: 'events' }, { schema }));
      expect(table.location).toBe(`${warehouse}/lake/events`);
      await table.append([rowsToRecordBatch(schema, rows.slice(0, 2))]);
      await table.append([rowsToRecordBatch(schema, rows.slice(2))]);

      const expected = canonicalRows(schema, rows);
      expect(canonicalRows(schema, await table.readRows())).toEqual(expected);
      // Every file the table references is an object in the bucket.
      const files = (await table.planFiles()).files.map((f) => f.filePath);
      expect(files.every((f) => f.startsWith(`${warehouse}/lake/events/data/`))).toBe(true);
      expect(await listAll(io, `${warehouse}/lake/events/data`)).toEqual(expect.arrayContaining(files));

      expect(await readWithPyIceberg({ catalogUri, warehouse, table: 'lake.events', properties: s3.properties })).toEqual(expected);
      expect(await readWithDuckDB({ metadata: table.metadataLocation, properties: s3.properties })).toEqual(expected);
    } finally {
      await catalog.close();
    }
  });
});

// Every catalog behaviour with the table files on S3: purge, listing metadata files, exists, racing commits.
const conformanceDir = mkdtempSync(join(tmpdir(), 'lh-s3-conformance-'));
afterAll(() => rmSync(conformanceDir, { recursive: true, force: true }));
catalogConformance('SqlCatalog (SQLite) with an s3:// warehouse', () =>
  SqlCatalog.open({
    name: 'default',
    uri: sqliteCatalogUri(join(conformanceDir, 'catalog.db')),
    warehouse: `${root}/conformance`,
    properties: s3.properties,
    env: {},
  }),
);
