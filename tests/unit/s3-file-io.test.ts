import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { LocalFileIO } from '../../iceberg/io/local-file-io.ts';
import { resolveFileIO, s3OptionsFrom } from '../../iceberg/io/resolve-file-io.ts';
import {
  S3FileIO,
  chunk,
  classifyS3Error,
  parseS3Location,
  planParts,
  type S3ClientLike,
  type S3FileIOOptions,
} from '../../iceberg/io/s3-file-io.ts';

/**
 * Logic tests with a recording fake client: which commands are sent, in which order, with what input.
 * Behaviour against a real S3 server (MinIO) is tested in the integration suite.
 */
const MiB = 1024 * 1024;

interface Call {
  command: string;
  input: Record<string, unknown>;
}
type Handler = (input: Record<string, unknown>, nth: number) => unknown;

class FakeS3 implements S3ClientLike {
  readonly calls: Call[] = [];
  private readonly counts = new Map<string, number>();
  constructor(private readonly handlers: Record<string, Handler> = {}) {}
  async send(command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, '');
    this.calls.push({ command: name, input: command.input });
    const nth = this.counts.get(name) ?? 0;
    this.counts.set(name, nth + 1);
    const h = this.handlers[name];
    return h ? h(command.input, nth) : {};
  }
  named(name: string): Call[] {
    return this.calls.filter((c) => c.command === name);
  }
}

function s3Error(name: string, status?: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, $metadata: status === undefined ? {} : { httpStatusCode: status }, ...extra });
}
function socketError(code: string): Error {
  return Object.assign(new Error(`socket ${code}`), { code });
}

function fileIO(client: FakeS3, extra: Partial<S3FileIOOptions> = {}): S3FileIO {
  return new S3FileIO({ client, endpoint: 'http://127.0.0.1:9000', sleep: async () => undefined, ...extra });
}

async function rejection(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw new Error(`expected a LakehouseError, got ${String(e)}`);
  }
  throw new Error('expected a rejection');
}

describe('parseS3Location', () => {
  it('splits s3, s3a and s3n URLs into bucket and key', () => {
    expect(parseS3Location('s3://wh/db/t/metadata/00000-a.metadata.json')).toEqual({
      scheme: 's3',
      bucket: 'wh',
      key: 'db/t/metadata/00000-a.metadata.json',
    });
    expect(parseS3Location('s3a://wh/k')).toEqual({ scheme: 's3a', bucket: 'wh', key: 'k' });
    expect(parseS3Location('S3N://wh/k')).toEqual({ scheme: 's3n', bucket: 'wh', key: 'k' });
  });

  it('reads a bare bucket as an empty key', () => {
    expect(parseS3Location('s3://wh')).toEqual({ scheme: 's3', bucket: 'wh', key: '' });
  });

  it('rejects other schemes with the expected form', () => {
    expect(() => parseS3Location('gs://b/k')).toThrow(/s3:\/\/bucket\/path/);
    expect(() => parseS3Location('s3:///nobucket')).toThrow(LakehouseError);
  });
});

describe('planParts', () => {
  it('splits into full parts and a shorter last part', () => {
    const parts = planParts(20 * MiB + 5, 8 * MiB);
    expect(parts.map((p) => p.length)).toEqual([8 * MiB, 8 * MiB, 4 * MiB + 5]);
    expect(parts.map((p) => p.offset)).toEqual([0, 8 * MiB, 16 * MiB]);
    expect(parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
  });

  it('makes no empty trailing part for an exact multiple', () => {
    expect(planParts(16 * MiB, 8 * MiB)).toHaveLength(2);
  });

  it('grows the part size to stay within 10 000 parts', () => {
    const total = 100_000 * MiB;
    const parts = planParts(total, 8 * MiB);
    expect(parts.length).toBeLessThanOrEqual(10_000);
    expect(parts[0]!.length).toBe(10 * MiB);
    expect(parts.reduce((s, p) => s + p.length, 0)).toBe(total);
  });
});

describe('chunk', () => {
  it('cuts 2500 keys into batches of 1000, 1000 and 500', () => {
    expect(chunk(Array.from({ length: 2500 }, (_, i) => i), 1000).map((b) => b.length)).toEqual([1000, 1000, 500]);
  });
});

describe('classifyS3Error', () => {
  it.each([
    ['503 SlowDown', s3Error('SlowDown', 503), 'throttled', true],
    ['429 Too Many Requests', s3Error('TooManyRequests', 429), 'throttled', true],
    ['500 InternalError', s3Error('InternalError', 500), 'server', true],
    ['503 ServiceUnavailable', s3Error('ServiceUnavailable', 503), 'server', true],
    ['400 RequestTimeout', s3Error('RequestTimeout', 400), 'network', true],
    ['connection reset', socketError('ECONNRESET'), 'network', true],
    ['broken pipe', socketError('EPIPE'), 'network', true],
    ['409 ConditionalRequestConflict', s3Error('ConditionalRequestConflict', 409), 'conditional-conflict', true],
    ['connection refused', socketError('ECONNREFUSED'), 'unreachable', false],
    ['host unreachable', socketError('EHOSTUNREACH'), 'unreachable', false],
    ['SDK timeout', s3Error('TimeoutError'), 'network', true],
    ['HEAD 403 without a body', s3Error('Unknown', 403), 'access-denied', false],
    ['404 NoSuchKey', s3Error('NoSuchKey', 404), 'not-found', false],
    ['HEAD 404 NotFound', s3Error('NotFound', 404), 'not-found', false],
    ['404 NoSuchBucket', s3Error('NoSuchBucket', 404), 'no-such-bucket', false],
    ['403 AccessDenied', s3Error('AccessDenied', 403), 'access-denied', false],
    ['403 InvalidAccessKeyId', s3Error('InvalidAccessKeyId', 403), 'access-denied', false],
    ['412 PreconditionFailed', s3Error('PreconditionFailed', 412), 'precondition-failed', false],
    ['400 InvalidArgument', s3Error('InvalidArgument', 400), 'client', false],
  ])('%s is %s (retryable: %s)', (_label, err, kind, retryable) => {
    const c = classifyS3Error(err);
    expect(c.kind).toBe(kind);
    expect(c.retryable).toBe(retryable);
  });
});

describe('S3FileIO writes', () => {
  it('sends one PutObject below the multipart threshold', async () => {
    const fake = new FakeS3();
    await fileIO(fake).write('s3://wh/t/metadata/m.json', new Uint8Array(1000));
    expect(fake.calls.map((c) => c.command)).toEqual(['PutObject']);
    expect(fake.calls[0]!.input).toMatchObject({ Bucket: 'wh', Key: 't/metadata/m.json' });
    expect(fake.calls[0]!.input['IfNoneMatch']).toBeUndefined();
  });

  it('uploads parts in order and completes with their ETags above the threshold', async () => {
    const fake = new FakeS3({
      CreateMultipartUpload: () => ({ UploadId: 'up-1' }),
      UploadPart: (input) => ({ ETag: `"etag-${input['PartNumber']}"` }),
    });
    const data = new Uint8Array(12 * MiB + 3);
    data[5 * MiB] = 7;
    await fileIO(fake, { multipartThresholdBytes: 6 * MiB, partSizeBytes: 5 * MiB }).write('s3://wh/t/data/f.parquet', data);

    const parts = fake.named('UploadPart');
    expect(parts.map((p) => (p.input['Body'] as Uint8Array).byteLength)).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 3]);
    expect((parts[1]!.input['Body'] as Uint8Array)[0]).toBe(7);
    expect(parts.every((p) => p.input['UploadId'] === 'up-1')).toBe(true);
    const complete = fake.named('CompleteMultipartUpload')[0]!.input;
    expect(complete['MultipartUpload']).toEqual({
      Parts: [
        { ETag: '"etag-1"', PartNumber: 1 },
        { ETag: '"etag-2"', PartNumber: 2 },
        { ETag: '"etag-3"', PartNumber: 3 },
      ],
    });
    expect(fake.named('AbortMultipartUpload')).toHaveLength(0);
  });

  it('aborts the multipart upload when a part fails for good', async () => {
    const fake = new FakeS3({
      CreateMultipartUpload: () => ({ UploadId: 'up-2' }),
      UploadPart: (input) => {
        if (input['PartNumber'] === 2) throw s3Error('AccessDenied', 403);
        return { ETag: 'e' };
      },
    });
    const err = await rejection(
      fileIO(fake, { multipartThresholdBytes: 6 * MiB, partSizeBytes: 5 * MiB }).write('s3://wh/k', new Uint8Array(11 * MiB)),
    );
    expect(err.message).toMatch(/Access denied/);
    expect(fake.named('AbortMultipartUpload').map((c) => c.input['UploadId'])).toEqual(['up-2']);
    expect(fake.named('CompleteMultipartUpload')).toHaveLength(0);
  });

  it('sends If-None-Match: * for ifNotExists and maps 412 to ALREADY_EXISTS', async () => {
    const fake = new FakeS3({
      PutObject: () => {
        throw s3Error('PreconditionFailed', 412);
      },
    });
    const err = await rejection(fileIO(fake).write('s3://wh/m.json', new Uint8Array(3), { ifNotExists: true }));
    expect(err.code).toBe('ALREADY_EXISTS');
    expect(fake.calls[0]!.input['IfNoneMatch']).toBe('*');
  });

  it('makes the multipart completion conditional for ifNotExists', async () => {
    const fake = new FakeS3({ CreateMultipartUpload: () => ({ UploadId: 'u' }), UploadPart: () => ({ ETag: 'e' }) });
    await fileIO(fake, { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB }).write('s3://wh/k', new Uint8Array(6 * MiB), {
      ifNotExists: true,
    });
    expect(fake.named('CompleteMultipartUpload')[0]!.input['IfNoneMatch']).toBe('*');
  });

  it('counts a conditional PUT as written when a retry after a reset finds our own bytes', async () => {
    const data = new TextEncoder().encode('{"format-version":2}');
    const fake = new FakeS3({
      PutObject: (_input, nth) => {
        // The first PUT landed but its response was lost; the retry meets the object.
        if (nth === 0) throw socketError('ECONNRESET');
        throw s3Error('PreconditionFailed', 412);
      },
      GetObject: () => ({ Body: data }),
    });
    await fileIO(fake).write('s3://wh/m.json', data, { ifNotExists: true });
    expect(fake.named('PutObject')).toHaveLength(2);
  });

  it('reports ALREADY_EXISTS when the object found after a reset holds other bytes', async () => {
    const fake = new FakeS3({
      PutObject: (_input, nth) => {
        if (nth === 0) throw socketError('ECONNRESET');
        throw s3Error('PreconditionFailed', 412);
      },
      GetObject: () => ({ Body: new TextEncoder().encode('someone else') }),
    });
    const err = await rejection(fileIO(fake).write('s3://wh/m.json', new TextEncoder().encode('ours'), { ifNotExists: true }));
    expect(err.code).toBe('ALREADY_EXISTS');
  });
});

describe('S3FileIO retries', () => {
  it('retries throttling and 5xx, then succeeds', async () => {
    const fake = new FakeS3({
      PutObject: (_i, nth) => {
        if (nth === 0) throw s3Error('SlowDown', 503);
        if (nth === 1) throw s3Error('InternalError', 500);
        return {};
      },
    });
    await fileIO(fake).write('s3://wh/k', new Uint8Array(1));
    expect(fake.named('PutObject')).toHaveLength(3);
  });

  it('gives up after maxRetries retries with a retryable IO_ERROR', async () => {
    const fake = new FakeS3({
      GetObject: () => {
        throw s3Error('SlowDown', 503);
      },
    });
    const err = await rejection(fileIO(fake, { maxRetries: 2 }).read('s3://wh/k'));
    expect(fake.named('GetObject')).toHaveLength(3);
    expect(err.code).toBe('IO_ERROR');
    expect(err.retryable).toBe(true);
  });

  it('does not retry access denied, and names endpoint, bucket and key but no secret', async () => {
    const fake = new FakeS3({
      GetObject: () => {
        throw s3Error('AccessDenied', 403);
      },
    });
    const err = await rejection(fileIO(fake, { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'sekrit-value' }).read('s3://wh/t/x.avro'));
    expect(fake.named('GetObject')).toHaveLength(1);
    expect(err.message).toContain('s3://wh/t/x.avro');
    expect(err.message).toContain('http://127.0.0.1:9000');
    expect(err.message).toContain('s3.secret-access-key');
    expect(err.message).not.toContain('sekrit-value');
  });

  it('says how to create a missing bucket', async () => {
    const fake = new FakeS3({
      PutObject: () => {
        throw s3Error('NoSuchBucket', 404);
      },
    });
    const err = await rejection(fileIO(fake).write('s3://lake/k', new Uint8Array(1)));
    expect(err.message).toMatch(/Bucket "lake" does not exist at http:\/\/127\.0\.0\.1:9000/);
    expect(err.message).toMatch(/mb/);
  });
});

describe('S3FileIO reads, deletes and lists', () => {
  it('sends an inclusive HTTP range for readRange', async () => {
    const fake = new FakeS3({ GetObject: () => ({ Body: new Uint8Array(4) }) });
    await fileIO(fake).readRange('s3://wh/f.parquet', 100, 4);
    expect(fake.calls[0]!.input['Range']).toBe('bytes=100-103');
  });

  it('answers a zero-length range without a request', async () => {
    const fake = new FakeS3();
    expect(await fileIO(fake).readRange('s3://wh/f', 10, 0)).toHaveLength(0);
    expect(fake.calls).toHaveLength(0);
  });

  it('reports a missing object as not existing and NOT_FOUND on read', async () => {
    const fake = new FakeS3({
      HeadObject: () => {
        throw s3Error('NotFound', 404);
      },
      GetObject: () => {
        throw s3Error('NoSuchKey', 404);
      },
    });
    const io = fileIO(fake);
    expect(await io.exists('s3://wh/none')).toBe(false);
    expect((await rejection(io.read('s3://wh/none'))).code).toBe('NOT_FOUND');
  });

  it('asks HeadBucket once per bucket whether a HEAD 404 means a missing bucket', async () => {
    const fake = new FakeS3({
      HeadObject: () => {
        throw s3Error('NotFound', 404);
      },
      HeadBucket: (input) => {
        if (input['Bucket'] === 'gone') throw s3Error('NotFound', 404);
        return {};
      },
    });
    const io = fileIO(fake);
    expect(await io.exists('s3://wh/a')).toBe(false);
    expect(await io.exists('s3://wh/b')).toBe(false);
    expect(fake.named('HeadBucket')).toHaveLength(1);
    const err = await rejection(io.exists('s3://gone/a'));
    expect(err.message).toMatch(/^Bucket "gone" does not exist at http:\/\/127\.0\.0\.1:9000/);
    expect((await rejection(io.size('s3://gone/a'))).message).toMatch(/^Bucket "gone"/);
  });

  it('names the HTTP status when a bodiless answer carries no S3 error code', async () => {
    const fake = new FakeS3({
      HeadObject: () => {
        throw s3Error('Unknown', 403);
      },
    });
    const err = await rejection(fileIO(fake).exists('s3://wh/a'));
    expect(err.message).toContain('(HTTP 403)');
  });

  it('deletes in batches of 1000 per bucket', async () => {
    const fake = new FakeS3();
    const locs = [
      ...Array.from({ length: 2500 }, (_, i) => `s3://a/k${i}`),
      ...Array.from({ length: 3 }, (_, i) => `s3a://b/k${i}`),
    ];
    await fileIO(fake).deleteMany(locs);
    const batches = fake.named('DeleteObjects').map((c) => ({
      bucket: c.input['Bucket'],
      n: (c.input['Delete'] as { Objects: unknown[] }).Objects.length,
    }));
    expect(batches).toEqual([
      { bucket: 'a', n: 1000 },
      { bucket: 'a', n: 1000 },
      { bucket: 'a', n: 500 },
      { bucket: 'b', n: 3 },
    ]);
  });

  it('fails a batch delete whose response lists per-key errors', async () => {
    const fake = new FakeS3({
      DeleteObjects: () => ({ Errors: [{ Key: 'k1', Code: 'AccessDenied', Message: 'denied' }] }),
    });
    const err = await rejection(fileIO(fake).deleteMany(['s3://a/k1', 's3://a/k2']));
    expect(err.message).toMatch(/1 of 2 objects/);
    expect(err.message).toContain('s3://a/k1');
  });

  it('follows continuation tokens through every page', async () => {
    const pages = [
      { Contents: [{ Key: 't/a', Size: 1 }], IsTruncated: true, NextContinuationToken: 'p2' },
      { Contents: [{ Key: 't/b', Size: 2 }], IsTruncated: true, NextContinuationToken: 'p3' },
      { Contents: [{ Key: 't/c', Size: 3, LastModified: new Date(5000) }], IsTruncated: false },
    ];
    const fake = new FakeS3({ ListObjectsV2: (_i, nth) => pages[nth] });
    const listed = [];
    for await (const f of fileIO(fake).list('s3a://wh/t')) listed.push(f);
    expect(listed).toEqual([
      { location: 's3a://wh/t/a', size: 1 },
      { location: 's3a://wh/t/b', size: 2 },
      { location: 's3a://wh/t/c', size: 3, lastModifiedMs: 5000 },
    ]);
    const inputs = fake.named('ListObjectsV2').map((c) => c.input);
    expect(inputs.map((i) => i['ContinuationToken'])).toEqual([undefined, 'p2', 'p3']);
    expect(inputs.every((i) => i['Prefix'] === 't/')).toBe(true);
  });
});

describe('S3FileIO options', () => {
  it('rejects a part size below the S3 minimum at construction', () => {
    expect(() => new S3FileIO({ client: new FakeS3(), partSizeBytes: MiB })).toThrow(/partSizeBytes/);
  });

  it('rejects half-given static credentials', () => {
    expect(() => new S3FileIO({ accessKeyId: 'a' })).toThrow(/half set/);
  });

  it.each(['127.0.0.1:9000', 'localhost:9000', 'ftp://host'])('rejects endpoint %s without an http(s) scheme, naming s3.endpoint', (endpoint) => {
    expect(() => new S3FileIO({ client: new FakeS3(), endpoint })).toThrow(/s3\.endpoint/);
  });
});

describe('resolveFileIO', () => {
  it('picks LocalFileIO for paths and file URIs, S3FileIO for s3 schemes', () => {
    expect(resolveFileIO('/tmp/wh', {}, {})).toBeInstanceOf(LocalFileIO);
    expect(resolveFileIO('file:///tmp/wh', {}, {})).toBeInstanceOf(LocalFileIO);
    expect(resolveFileIO('s3://wh/x', { 's3.region': 'eu-west-1' }, {})).toBeInstanceOf(S3FileIO);
    expect(resolveFileIO('s3a://wh/x', { 's3.region': 'eu-west-1' }, {})).toBeInstanceOf(S3FileIO);
  });

  it('names the supported schemes for an unknown one', () => {
    expect(() => resolveFileIO('gs://b/x', {}, {})).toThrow(/supported are local paths, file:\/\/ and s3:\/\//);
  });

  it('takes Iceberg properties over AWS_* variables', () => {
    const opts = s3OptionsFrom(
      { 's3.endpoint': 'http://minio:9000', 's3.access-key-id': 'prop-id', 's3.secret-access-key': 'prop-secret', 'client.region': 'eu-1' },
      { AWS_ACCESS_KEY_ID: 'env-id', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_REGION: 'us-2', AWS_ENDPOINT_URL: 'http://other' },
    );
    expect(opts).toMatchObject({ endpoint: 'http://minio:9000', accessKeyId: 'prop-id', secretAccessKey: 'prop-secret', region: 'eu-1' });
  });

  it('falls back to AWS_* variables, and to the SDK chain when none are set', () => {
    expect(s3OptionsFrom({}, { AWS_ACCESS_KEY_ID: 'i', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't', AWS_REGION: 'r' })).toMatchObject({
      accessKeyId: 'i',
      secretAccessKey: 's',
      sessionToken: 't',
      region: 'r',
    });
    const none = s3OptionsFrom({}, {});
    expect(none.accessKeyId).toBeUndefined();
    expect(none.region).toBeUndefined();
  });

  it('defaults to path-style access with a custom endpoint unless told otherwise', () => {
    expect(s3OptionsFrom({ 's3.endpoint': 'http://127.0.0.1:9000' }, {}).pathStyle).toBe(true);
    expect(s3OptionsFrom({ 's3.endpoint': 'http://x', 's3.path-style-access': 'false' }, {}).pathStyle).toBe(false);
    expect(s3OptionsFrom({}, {}).pathStyle).toBe(false);
  });
});
