import type { S3Client } from '@aws-sdk/client-s3';
import { LakehouseError, errorMessage } from '../../core/errors.ts';
import type { FileInfo, FileIO, WriteOptions } from './file-io.ts';
import { withRetry, type RetryOptions } from '../../core/retry.ts';

type S3Sdk = typeof import('@aws-sdk/client-s3');
let sdkModule: Promise<S3Sdk> | undefined;
/** The AWS SDK loads on the first S3 request, so programs that only touch local files never pay for it. */
function s3Sdk(): Promise<S3Sdk> {
  return (sdkModule ??= import('@aws-sdk/client-s3'));
}

/**
 * FileIO on S3 and S3-compatible stores (MinIO, versitygw), and the only file that imports the AWS SDK
 * (loaded on first use). Retries are ours (`withRetry`), not the SDK's: the client runs with
 * `maxAttempts: 1` so one policy decides, and the retry count is one setting instead of two multiplied.
 */

const MiB = 1024 * 1024;
/** S3 rejects parts below 5 MiB (except the last) and above 5 GiB, and uploads of more than 10 000 parts. */
export const S3_MIN_PART_BYTES = 5 * MiB;
export const S3_MAX_PART_BYTES = 5 * 1024 * MiB;
export const S3_MAX_PARTS = 10_000;
/** DeleteObjects takes at most 1000 keys per request. */
export const S3_DELETE_BATCH = 1000;

/**
 * Below 16 MiB one PUT is one round trip and re-sending the whole body on a retry is cheap; metadata,
 * manifest lists and manifests are all far below it. Above it, data files are split so a failure
 * re-sends one 8 MiB part instead of the file. 8 MiB is the AWS CLI's chunk size; with 10 000 parts
 * it allows 78 GiB before the part size has to grow (`planParts` grows it).
 */
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 16 * MiB;
export const DEFAULT_PART_SIZE_BYTES = 8 * MiB;
/** Same count as Iceberg's commit retries; waits 100 ms .. 20 s with jitter. */
export const DEFAULT_MAX_RETRIES = 4;
/** Parts uploaded at once: enough to fill a link, few enough to keep memory at 4 part buffers' worth. */
const PART_CONCURRENCY = 4;
/**
 * The SDK's S3 client has no timeouts at all: a server that accepts a connection and then stalls, or an
 * endpoint that drops SYNs, would hang a write forever. A connection gets 10 s; an open request may sit
 * idle (no byte either way) for 60 s, which a healthy server never needs even for a 5 GiB part.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** The part of the SDK client this class uses; tests pass an object that records commands. */
export interface S3ClientLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  send(command: any): Promise<any>;
  destroy?(): void;
}

export interface S3FileIOOptions {
  /** e.g. `http://127.0.0.1:9000` for MinIO; absent = AWS. */
  endpoint?: string;
  /** Absent = the SDK default chain (AWS_REGION, ~/.aws/config); with a custom endpoint, us-east-1. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which MinIO and most S3-compatible stores need. */
  pathStyle?: boolean;
  /** Static credentials; absent = the SDK default chain (env, profile, SSO, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  multipartThresholdBytes?: number;
  partSizeBytes?: number;
  maxRetries?: number;
  /** First retry wait in ms (default 100) and the cap of one wait (default 20 000). */
  retryMinWaitMs?: number;
  retryMaxWaitMs?: number;
  /** Time to establish a connection, in ms (default 10 000); a timeout is retried like a reset. */
  connectTimeoutMs?: number;
  /** Time a request may go without sending or receiving a byte, in ms (default 60 000); retried like a reset. */
  idleTimeoutMs?: number;
  /** A ready client instead of one built from the options above (tests, shared clients). */
  client?: S3ClientLike;
  /** Replaces the retry wait; tests pass one that resolves at once. */
  sleep?: (ms: number) => Promise<void>;
}

export interface S3Location {
  scheme: string;
  bucket: string;
  key: string;
}

/** `s3://bucket/a/b` (also `s3a://`, `s3n://`, as Hadoop and Spark write them) -> bucket and key. */
export function parseS3Location(location: string): S3Location {
  const m = /^(s3a?|s3n):\/\/([^/]+)(?:\/(.*))?$/i.exec(location);
  if (!m) {
    throw new LakehouseError(
      'INVALID_ARGUMENT',
      `"${location}" is not an S3 location; write s3://bucket/path (s3a:// and s3n:// are accepted too).`,
    );
  }
  return { scheme: m[1]!.toLowerCase(), bucket: m[2]!, key: m[3] ?? '' };
}

export interface PartPlan {
  partNumber: number;
  offset: number;
  length: number;
}

/**
 * Splits `totalBytes` into parts of `partSizeBytes` (the last one shorter). If that would exceed S3's
 * 10 000-part limit the part size grows to the next whole MiB that fits.
 */
export function planParts(totalBytes: number, partSizeBytes: number): PartPlan[] {
  let size = partSizeBytes;
  if (Math.ceil(totalBytes / size) > S3_MAX_PARTS) size = Math.ceil(totalBytes / S3_MAX_PARTS / MiB) * MiB;
  const parts: PartPlan[] = [];
  for (let offset = 0, n = 1; offset < totalBytes; offset += size, n++) {
    parts.push({ partNumber: n, offset, length: Math.min(size, totalBytes - offset) });
  }
  return parts;
}

/** Splits a list into batches of at most `size` (DeleteObjects takes 1000 keys). */
export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export type S3ErrorKind =
  | 'throttled'
  | 'server'
  | 'network'
  | 'unreachable'
  | 'not-found'
  | 'no-such-bucket'
  | 'no-such-upload'
  | 'access-denied'
  | 'precondition-failed'
  | 'conditional-conflict'
  | 'client';

export interface S3ErrorClass {
  kind: S3ErrorKind;
  retryable: boolean;
  status?: number;
  name?: string;
}

const THROTTLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
]);
const ACCESS_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
]);
/** Node socket errors that say the endpoint cannot be reached at all: retrying will not help. */
const UNREACHABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Node socket errors after which the same request may simply work again. */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'ENETRESET']);

/**
 * Sorts an SDK or socket error into what the caller should do about it. Pure, so the retry policy is
 * tested without a server: throttling (503 SlowDown, 429), 5xx, request timeouts and connection resets
 * are retryable; everything else is a fact about the request (wrong key, bucket, credentials).
 */
export function classifyS3Error(e: unknown): S3ErrorClass {
  const err = (typeof e === 'object' && e !== null ? e : {}) as {
    name?: string;
    code?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: { throttling?: boolean };
  };
  const status = err.$metadata?.httpStatusCode;
  // Responses to HEAD carry no body, so the SDK has no S3 error code and names them "Unknown" (or,
  // for 404, "NotFound"); the status is then the only fact.
  const rawName = err.Code ?? err.name;
  const name = rawName === 'Unknown' ? undefined : rawName;
  const base = { status, name };
  if ((name && THROTTLE_NAMES.has(name)) || status === 429 || err.$retryable?.throttling) {
    return { ...base, kind: 'throttled', retryable: true };
  }
  if (name === 'NoSuchBucket') return { ...base, kind: 'no-such-bucket', retryable: false };
  if (name === 'NoSuchUpload') return { ...base, kind: 'no-such-upload', retryable: false };
  if (name === 'PreconditionFailed' || status === 412) return { ...base, kind: 'precondition-failed', retryable: false };
  // AWS answers 409 ConditionalRequestConflict while another conditional write to the key is in
  // flight; the retry then gets a definite 200 or 412.
  if (name === 'ConditionalRequestConflict') return { ...base, kind: 'conditional-conflict', retryable: true };
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return { ...base, kind: 'not-found', retryable: false };
  if ((name && ACCESS_NAMES.has(name)) || status === 403 || status === 401) {
    return { ...base, kind: 'access-denied', retryable: false };
  }
  if (name === 'RequestTimeout' || name === 'RequestTimeoutException' || name === 'TimeoutError') {
    return { ...base, kind: 'network', retryable: true };
  }
  if (status !== undefined && status >= 500) return { ...base, kind: 'server', retryable: true };
  if (err.code && UNREACHABLE_SOCKET_CODES.has(err.code)) return { ...base, kind: 'unreachable', retryable: false };
  if ((err.code && TRANSIENT_SOCKET_CODES.has(err.code)) || /socket hang up/i.test(err.message ?? '')) {
    return { ...base, kind: 'network', retryable: true };
  }
  return { ...base, kind: 'client', retryable: false };
}

type Op = 'read' | 'write' | 'stat' | 'delete' | 'list';

function checkCredentials(o: S3FileIOOptions): void {
  if ((o.accessKeyId === undefined) !== (o.secretAccessKey === undefined)) {
    throw new LakehouseError(
      'INVALID_CONFIG',
      'S3 credentials are half set: give both s3.access-key-id and s3.secret-access-key, or neither to use the AWS default chain.',
    );
  }
}

export class S3FileIO implements FileIO {
  private readonly options: S3FileIOOptions;
  private client?: Promise<S3ClientLike>;
  private readonly endpointLabel: string;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly retry: RetryOptions;
  /** Buckets a HeadBucket has confirmed to exist; see `requireBucket`. */
  private readonly knownBuckets = new Set<string>();

  constructor(options: S3FileIOOptions = {}) {
    this.multipartThreshold = options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD_BYTES;
    this.partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    validateOptions(this.multipartThreshold, this.partSize, maxRetries);
    if (options.endpoint !== undefined) validateEndpoint(options.endpoint);
    this.retry = {
      retries: maxRetries,
      minWaitMs: options.retryMinWaitMs ?? 100,
      maxWaitMs: options.retryMaxWaitMs ?? 20_000,
      factor: 2,
      isRetryable: (e) => classifyS3Error(e).retryable,
      ...(options.sleep ? { sleep: options.sleep } : {}),
    };
    this.endpointLabel = options.endpoint ?? 'AWS S3';
    checkCredentials(options);
    this.options = options;
  }

  /** The client, built on first use (see s3Sdk). */
  private s3(): Promise<S3ClientLike> {
    return (this.client ??= this.options.client ? Promise.resolve(this.options.client) : s3Sdk().then((sdk) => S3FileIO.buildClient(sdk, this.options)));
  }

  private static buildClient(sdk: S3Sdk, o: S3FileIOOptions): S3Client {
    return new sdk.S3Client({
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      // MinIO and friends ignore the region but the signer needs one.
      ...(o.region ? { region: o.region } : o.endpoint ? { region: 'us-east-1' } : {}),
      forcePathStyle: o.pathStyle ?? false,
      ...(o.accessKeyId !== undefined && o.secretAccessKey !== undefined
        ? {
            credentials: {
              accessKeyId: o.accessKeyId,
              secretAccessKey: o.secretAccessKey,
              ...(o.sessionToken ? { sessionToken: o.sessionToken } : {}),
            },
          }
        : {}),
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        socketTimeout: o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      },
      // SDK >= 3.729 adds CRC32 checksums to every upload by default; several S3-compatible stores
      // reject or mangle them. Checksums are then sent only where S3 requires one (DeleteObjects).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async read(location: string): Promise<Uint8Array> {
    const { bucket, key } = parseS3Location(location);
    return this.call('read', bucket, key, async () => {
      const out = await (await this.s3()).send(new (await s3Sdk()).GetObjectCommand({ Bucket: bucket, Key: key }));
      return bodyBytes(out.Body);
    });
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new LakehouseError('INVALID_ARGUMENT', `Cannot read ${location} at offset ${offset} length ${length}: both must be non-negative integers.`);
    }
    // An HTTP range cannot be empty (bytes=5-4 is invalid), so a zero-length read needs no request.
    if (length === 0) return new Uint8Array(0);
    const { bucket, key } = parseS3Location(location);
    const bytes = await this.call('read', bucket, key, async () => {
      const out = await (await this.s3()).send(
        new (await s3Sdk()).GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
      );
      return bodyBytes(out.Body);
    });
    if (bytes.length !== length) {
      throw new LakehouseError(
        'IO_ERROR',
        `Cannot read bytes [${offset}, ${offset + length}) of ${location}: got ${bytes.length} bytes. ` +
          'The object is shorter than its metadata says; it may have been replaced.',
        { context: { location, offset, length } },
      );
    }
    return bytes;
  }

  async write(location: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const { bucket, key } = parseS3Location(location);
    if (data.byteLength > this.multipartThreshold) await this.writeMultipart(bucket, key, data, options);
    else await this.writeSingle(bucket, key, data, options);
  }

  private async writeSingle(bucket: string, key: string, data: Uint8Array, options: WriteOptions): Promise<void> {
    let ambiguous = false;
    try {
      await withRetry(async () => {
        try {
          await (await this.s3()).send(
            new (await s3Sdk()).PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ...(options.ifNotExists ? { IfNoneMatch: '*' } : {}) }),
          );
        } catch (e) {
          if (classifyS3Error(e).retryable) ambiguous = true;
          throw e;
        }
      }, this.retry);
    } catch (e) {
      // A PUT that timed out may have landed; the retry then meets our own object and gets 412.
      // Same bytes at a fresh (uuid-named) key means it was ours: the write succeeded.
      if (ambiguous && classifyS3Error(e).kind === 'precondition-failed' && (await this.holdsBytes(bucket, key, data))) return;
      throw this.translate(e, 'write', bucket, key, options);
    }
  }

  private async writeMultipart(bucket: string, key: string, data: Uint8Array, options: WriteOptions): Promise<void> {
    const created = await this.call('write', bucket, key, async () =>
      (await this.s3()).send(new (await s3Sdk()).CreateMultipartUploadCommand({ Bucket: bucket, Key: key })),
    );
    const uploadId: string = created.UploadId;
    try {
      const plan = planParts(data.byteLength, this.partSize);
      const etags: string[] = new Array(plan.length);
      let next = 0;
      let failed = false;
      const worker = async () => {
        // After one part fails for good the upload is aborted; the other workers stop taking parts.
        while (next < plan.length && !failed) {
          const p = plan[next++]!;
          const out = await this.call('write', bucket, key, async () =>
            (await this.s3()).send(
              new (await s3Sdk()).UploadPartCommand({
                Bucket: bucket,
                Key: key,
                UploadId: uploadId,
                PartNumber: p.partNumber,
                Body: data.subarray(p.offset, p.offset + p.length),
              }),
            ),
          );
          etags[p.partNumber - 1] = out.ETag;
        }
      };
      const guarded = () => worker().catch((e: unknown) => {
        failed = true;
        throw e;
      });
      await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, plan.length) }, guarded));
      await this.completeMultipart(bucket, key, uploadId, etags, data.byteLength, options);
    } catch (e) {
      // Parts of an unfinished upload are stored (and billed) until aborted. Best effort: the
      // original error is the one worth reporting.
      await (await this.s3()).send(new (await s3Sdk()).AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw e;
    }
  }

  private async completeMultipart(
    bucket: string,
    key: string,
    uploadId: string,
    etags: string[],
    size: number,
    options: WriteOptions,
  ): Promise<void> {
    let ambiguous = false;
    try {
      await withRetry(async () => {
        try {
          await (await this.s3()).send(
            new (await s3Sdk()).CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
              ...(options.ifNotExists ? { IfNoneMatch: '*' } : {}),
            }),
          );
        } catch (e) {
          if (classifyS3Error(e).retryable) ambiguous = true;
          throw e;
        }
      }, this.retry);
    } catch (e) {
      // After a lost response to a Complete that did land, the retry finds the upload gone
      // (NoSuchUpload) or, conditional, the object present (412). An object of our size at our key is
      // then ours; the bytes are too many to compare.
      const kind = classifyS3Error(e).kind;
      if (ambiguous && (kind === 'no-such-upload' || kind === 'precondition-failed') && (await this.objectSize(bucket, key)) === size) return;
      throw this.translate(e, 'write', bucket, key, options);
    }
  }

  private async holdsBytes(bucket: string, key: string, data: Uint8Array): Promise<boolean> {
    try {
      const out = await (await this.s3()).send(new (await s3Sdk()).GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await bodyBytes(out.Body)).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    } catch {
      return false;
    }
  }

  private async objectSize(bucket: string, key: string): Promise<number | undefined> {
    try {
      return (await (await this.s3()).send(new (await s3Sdk()).HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength;
    } catch {
      return undefined;
    }
  }

  async exists(location: string): Promise<boolean> {
    const { bucket, key } = parseS3Location(location);
    try {
      await withRetry(async () => (await this.s3()).send(new (await s3Sdk()).HeadObjectCommand({ Bucket: bucket, Key: key })), this.retry);
      return true;
    } catch (e) {
      if (classifyS3Error(e).kind === 'not-found') {
        await this.requireBucket(bucket, 'stat', key);
        return false;
      }
      throw this.translate(e, 'stat', bucket, key);
    }
  }

  async size(location: string): Promise<number> {
    const { bucket, key } = parseS3Location(location);
    try {
      const out = await withRetry(async () => (await this.s3()).send(new (await s3Sdk()).HeadObjectCommand({ Bucket: bucket, Key: key })), this.retry);
      return Number(out.ContentLength ?? 0);
    } catch (e) {
      if (classifyS3Error(e).kind === 'not-found') await this.requireBucket(bucket, 'stat', key);
      throw this.translate(e, 'stat', bucket, key);
    }
  }

  /**
   * A 404 to HEAD has no body, so "no such key" and "no such bucket" look the same; without this check
   * a misspelt bucket would make `exists` answer false instead of saying what is wrong. Asked once
   * per bucket: after a HeadBucket succeeds, later 404s are missing keys.
   */
  private async requireBucket(bucket: string, op: Op, key: string): Promise<void> {
    if (this.knownBuckets.has(bucket)) return;
    try {
      await withRetry(async () => (await this.s3()).send(new (await s3Sdk()).HeadBucketCommand({ Bucket: bucket })), this.retry);
      this.knownBuckets.add(bucket);
    } catch (e) {
      const kind = classifyS3Error(e).kind;
      if (kind === 'not-found' || kind === 'no-such-bucket') throw this.noSuchBucket(bucket, e, { bucket, key, op, endpoint: this.endpointLabel });
      // Keys that may read objects but not the bucket (no s3:ListBucket) get 403 here: the object
      // answer stands.
    }
  }

  async delete(location: string): Promise<void> {
    const { bucket, key } = parseS3Location(location);
    try {
      // S3 answers 204 for a missing key as well, which is the "not an error" the port asks for.
      await withRetry(async () => (await this.s3()).send(new (await s3Sdk()).DeleteObjectCommand({ Bucket: bucket, Key: key })), this.retry);
    } catch (e) {
      if (classifyS3Error(e).kind === 'not-found') return;
      throw this.translate(e, 'delete', bucket, key);
    }
  }

  /** Groups keys by bucket and deletes them in batches of 1000 (the DeleteObjects limit). */
  async deleteMany(locations: string[]): Promise<void> {
    const byBucket = new Map<string, string[]>();
    for (const loc of locations) {
      const { bucket, key } = parseS3Location(loc);
      const keys = byBucket.get(bucket) ?? [];
      keys.push(key);
      byBucket.set(bucket, keys);
    }
    for (const [bucket, keys] of byBucket) {
      for (const batch of chunk(keys, S3_DELETE_BATCH)) {
        const out = await this.call('delete', bucket, batch[0]!, async () =>
          (await this.s3()).send(
            new (await s3Sdk()).DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          ),
        );
        // DeleteObjects answers 200 even when single keys fail; the failures are in `Errors`.
        const errors: Array<{ Key?: string; Code?: string; Message?: string }> = (out?.Errors ?? []).filter(
          (x: { Code?: string }) => x.Code !== 'NoSuchKey',
        );
        if (errors.length > 0) {
          const first = errors[0]!;
          throw new LakehouseError(
            'IO_ERROR',
            `Could not delete ${errors.length} of ${batch.length} objects in bucket "${bucket}" at ${this.endpointLabel}; ` +
              `first: s3://${bucket}/${first.Key} (${first.Code}: ${first.Message}). ` +
              (first.Code === 'AccessDenied' ? 'The credentials need s3:DeleteObject on the bucket.' : 'Retry the deletion.'),
            { context: { bucket, failed: errors.map((x) => x.Key) } },
          );
        }
      }
    }
  }

  /**
   * Every object under a prefix, read page by page with continuation tokens. The prefix is taken as a
   * directory (a trailing `/` is added), so `.../data` does not also list `.../data2/`.
   */
  async *list(prefix: string): AsyncIterable<FileInfo> {
    const { scheme, bucket, key } = parseS3Location(prefix);
    const dirPrefix = key === '' || key.endsWith('/') ? key : key + '/';
    let token: string | undefined;
    do {
      const page = await this.call('list', bucket, dirPrefix, async () =>
        (await this.s3()).send(
          new (await s3Sdk()).ListObjectsV2Command({ Bucket: bucket, Prefix: dirPrefix, ...(token ? { ContinuationToken: token } : {}) }),
        ),
      );
      for (const obj of page.Contents ?? []) {
        const info: FileInfo = { location: `${scheme}://${bucket}/${obj.Key}`, size: Number(obj.Size ?? 0) };
        if (obj.LastModified instanceof Date) info.lastModifiedMs = obj.LastModified.getTime();
        yield info;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async close(): Promise<void> {
    if (this.client) (await this.client).destroy?.();
  }

  private async call<T>(op: Op, bucket: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, this.retry);
    } catch (e) {
      throw this.translate(e, op, bucket, key);
    }
  }

  private noSuchBucket(bucket: string, cause: unknown, context: Record<string, unknown>): LakehouseError {
    return new LakehouseError(
      'NOT_FOUND',
      `Bucket "${bucket}" does not exist at ${this.endpointLabel}. Create it (\`mc mb <alias>/${bucket}\` or \`aws s3 mb s3://${bucket}\`) or fix the warehouse location.`,
      { cause, context },
    );
  }

  /**
   * One sentence per failure naming endpoint, bucket and key and what to do. Credentials are never
   * part of it: the SDK's messages do not contain them and we add only their setting names.
   */
  private translate(e: unknown, op: Op, bucket: string, key: string, options: WriteOptions = {}): LakehouseError {
    if (e instanceof LakehouseError) return e;
    const c = classifyS3Error(e);
    const where = `s3://${bucket}/${key} at ${this.endpointLabel}`;
    const detail = `${c.name ?? (c.status ? 'HTTP' : 'error')}${c.status ? ` ${c.status}` : ''}: ${errorMessage(e)}`;
    const context = { bucket, key, endpoint: this.endpointLabel, status: c.status, s3Error: c.name };
    switch (c.kind) {
      case 'not-found':
        return new LakehouseError('NOT_FOUND', `Cannot ${op} ${where}: no such object.`, { cause: e, context });
      case 'no-such-bucket':
        return this.noSuchBucket(bucket, e, context);
      case 'access-denied':
        return new LakehouseError(
          'IO_ERROR',
          `Access denied to ${op} ${where} (${c.name ?? `HTTP ${c.status}`}). Check s3.access-key-id / s3.secret-access-key ` +
            '(or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), s3.session-token if the keys are temporary, and the bucket policy.',
          { cause: e, context },
        );
      case 'precondition-failed':
        if (options.ifNotExists) {
          return new LakehouseError('ALREADY_EXISTS', `Object ${where} already exists and was not replaced (If-None-Match).`, {
            cause: e,
            context,
          });
        }
        break;
      case 'unreachable':
        return new LakehouseError(
          'IO_ERROR',
          `Cannot reach ${this.endpointLabel} to ${op} s3://${bucket}/${key} (${detail}). Is the server running, and is s3.endpoint right?`,
          { cause: e, context },
        );
      default:
        break;
    }
    return new LakehouseError('IO_ERROR', `Cannot ${op} ${where} (${detail}).${c.retryable ? ' Gave up after retries; retry later.' : ''}`, {
      cause: e,
      context,
      retryable: c.retryable,
    });
  }
}

function validateEndpoint(endpoint: string): void {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new LakehouseError(
      'INVALID_CONFIG',
      `S3 endpoint "${endpoint}" (s3.endpoint) is not an http:// or https:// URL; write it with its scheme, e.g. http://127.0.0.1:9000.`,
    );
  }
}

function validateOptions(threshold: number, partSize: number, maxRetries: number): void {
  if (!Number.isSafeInteger(partSize) || partSize < S3_MIN_PART_BYTES || partSize > S3_MAX_PART_BYTES) {
    throw new LakehouseError('INVALID_CONFIG', `S3 partSizeBytes must be between 5 MiB and 5 GiB (S3's part limits), got ${partSize}.`);
  }
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > S3_MAX_PART_BYTES) {
    throw new LakehouseError(
      'INVALID_CONFIG',
      `S3 multipartThresholdBytes must be between 1 byte and 5 GiB (the largest single PUT), got ${threshold}.`,
    );
  }
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) {
    throw new LakehouseError('INVALID_CONFIG', `S3 maxRetries must be a non-negative integer, got ${maxRetries}.`);
  }
}

async function bodyBytes(body: unknown): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  if (body && typeof (body as { transformToByteArray?: unknown }).transformToByteArray === 'function') {
    return (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  }
  if (body === undefined || body === null) return new Uint8Array(0);
  throw new LakehouseError('INTERNAL', 'S3 returned a response body of an unexpected type.');
}
