import * as path from 'node:path';
import { LakehouseError } from '../../core/errors.ts';
import { boolProperty, intProperty } from '../../core/properties.ts';
import type { FileIO } from './file-io.ts';
import { LocalFileIO, isLocalLocation, toLocalPath } from './local-file-io.ts';
import { S3FileIO, type S3FileIOOptions } from './s3-file-io.ts';

/**
 * Iceberg FileIO property keys, spelled as Java's `S3FileIOProperties` / PyIceberg's `pyiceberg.io`
 * so one catalog configuration works for all three.
 */
export const S3_ENDPOINT = 's3.endpoint';
export const S3_ACCESS_KEY_ID = 's3.access-key-id';
export const S3_SECRET_ACCESS_KEY = 's3.secret-access-key';
export const S3_SESSION_TOKEN = 's3.session-token';
export const S3_REGION = 's3.region';
export const CLIENT_REGION = 'client.region';
export const S3_PATH_STYLE_ACCESS = 's3.path-style-access';
export const S3_MULTIPART_THRESHOLD = 's3.multipart.threshold-bytes';
export const S3_MULTIPART_PART_SIZE = 's3.multipart.part-size-bytes';
export const S3_MAX_RETRIES = 's3.max-retries';

const S3_SCHEMES = new Set(['s3', 's3a', 's3n']);

/**
 * The FileIO for a location: local paths and `file:` URIs get LocalFileIO, `s3://` (`s3a`, `s3n`) gets
 * S3FileIO. S3 settings come from the Iceberg properties first, then the AWS_* environment, then the
 * SDK default chain (profile files, SSO, instance roles), so an explicit catalog setting always wins
 * over a stray shell variable.
 */
export function resolveFileIO(location: string, props: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): FileIO {
  if (isLocalLocation(location)) return new LocalFileIO();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(location)![1]!.toLowerCase();
  if (S3_SCHEMES.has(scheme)) return new S3FileIO(s3OptionsFrom(props, env));
  throw new LakehouseError(
    'UNSUPPORTED',
    `No FileIO for "${scheme}://" locations (in ${location}); supported are local paths, file:// and s3:// (s3a://, s3n://).`,
  );
}

/** S3FileIO options from Iceberg properties, falling back to AWS_* variables; exported for tests. */
export function s3OptionsFrom(props: Record<string, string>, env: NodeJS.ProcessEnv = process.env): S3FileIOOptions {
  const pick = (...values: Array<string | undefined>) => values.find((v) => v !== undefined && v !== '');
  const endpoint = pick(props[S3_ENDPOINT], env.AWS_ENDPOINT_URL_S3, env.AWS_ENDPOINT_URL);
  const region = pick(props[S3_REGION], props[CLIENT_REGION], env.AWS_REGION, env.AWS_DEFAULT_REGION);
  const fromProps = props[S3_ACCESS_KEY_ID] !== undefined || props[S3_SECRET_ACCESS_KEY] !== undefined;
  // Keys come as a pair from one source: an id from the properties with a secret from the
  // environment would be a confusing mix that can never sign correctly.
  const accessKeyId = fromProps ? props[S3_ACCESS_KEY_ID] : pick(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = fromProps ? props[S3_SECRET_ACCESS_KEY] : pick(env.AWS_SECRET_ACCESS_KEY);
  const sessionToken = fromProps ? props[S3_SESSION_TOKEN] : pick(env.AWS_SESSION_TOKEN);
  const opts: S3FileIOOptions = {
    // Java defaults path style to false; we default it to true whenever a custom endpoint is set,
    // because the stores one points an endpoint at (MinIO, versitygw, s3proxy on 127.0.0.1) need it
    // and virtual-host addressing against an IP address cannot work.
    pathStyle: boolProperty(props, S3_PATH_STYLE_ACCESS, endpoint !== undefined),
  };
  if (endpoint !== undefined) opts.endpoint = endpoint;
  if (region !== undefined) opts.region = region;
  if (accessKeyId !== undefined) opts.accessKeyId = accessKeyId;
  if (secretAccessKey !== undefined) opts.secretAccessKey = secretAccessKey;
  if (sessionToken !== undefined) opts.sessionToken = sessionToken;
  const threshold = intProperty(props, S3_MULTIPART_THRESHOLD, undefined);
  if (threshold !== undefined) opts.multipartThresholdBytes = threshold;
  const partSize = intProperty(props, S3_MULTIPART_PART_SIZE, undefined);
  if (partSize !== undefined) opts.partSizeBytes = partSize;
  const retries = intProperty(props, S3_MAX_RETRIES, undefined);
  if (retries !== undefined) opts.maxRetries = retries;
  return opts;
}

/**
 * One spelling per stored file, for comparing locations written by different tools: `s3a://` and
 * `s3n://` name the same object as `s3://` (Hadoop writers use them), and `file:///p`, `file:/p`,
 * `file://localhost/p` and the plain path `/p` name the same local file (Java writes `file:/p`,
 * PyIceberg keeps what it was given). Local paths are resolved and normalized (`a//b`, `a/./b`); S3 keys
 * are kept byte for byte, since `a//b` and `a/b` are different objects there.
 */
export function canonicalLocation(location: string): string {
  if (isLocalLocation(location)) return path.posix.normalize(toLocalPath(location));
  const m = /^(s3a?|s3n):\/\/(.*)$/i.exec(location);
  return m ? `s3://${m[2]}` : location;
}
