import { randomBytes } from 'node:crypto';
import type { S3FileIOOptions } from '../../iceberg/io/index.ts';

/**
 * The S3-compatible server the integration tests use, from the LAKEHOUSE_S3_* variables that
 * `infra/services/minio.sh env` prints. Missing variables fail the test file with one sentence saying
 * how to get them: these tests never fall back to a fake or skip silently.
 */
export interface S3TestSettings {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  bucket: string;
  pathStyle: boolean;
  /** The same settings as Iceberg catalog properties (what SqlCatalog, PyIceberg and DuckDB take). */
  properties: Record<string, string>;
}

const REQUIRED = ['LAKEHOUSE_S3_ENDPOINT', 'LAKEHOUSE_S3_ACCESS_KEY', 'LAKEHOUSE_S3_SECRET_KEY', 'LAKEHOUSE_S3_BUCKET'] as const;

export function requireS3Settings(env: NodeJS.ProcessEnv = process.env): S3TestSettings {
  const missing = REQUIRED.filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set: the S3 integration tests need a real S3-compatible server. ` +
        'Start MinIO with `infra/services/minio.sh start` and export what `infra/services/minio.sh env` prints ' +
        '(LAKEHOUSE_S3_ENDPOINT, LAKEHOUSE_S3_ACCESS_KEY, LAKEHOUSE_S3_SECRET_KEY, LAKEHOUSE_S3_BUCKET, optional LAKEHOUSE_S3_REGION).',
    );
  }
  const endpoint = env.LAKEHOUSE_S3_ENDPOINT!;
  const accessKeyId = env.LAKEHOUSE_S3_ACCESS_KEY!;
  const secretAccessKey = env.LAKEHOUSE_S3_SECRET_KEY!;
  const region = env.LAKEHOUSE_S3_REGION || 'us-east-1';
  const pathStyle = (env.LAKEHOUSE_S3_PATH_STYLE ?? 'true').toLowerCase() !== 'false';
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region,
    bucket: env.LAKEHOUSE_S3_BUCKET!,
    pathStyle,
    properties: {
      's3.endpoint': endpoint,
      's3.access-key-id': accessKeyId,
      's3.secret-access-key': secretAccessKey,
      's3.region': region,
      's3.path-style-access': String(pathStyle),
    },
  };
}

/** S3FileIO options for these settings; `overrides` for a proxy endpoint, small parts, fast retries. */
export function s3FileIOOptions(s: S3TestSettings, overrides: Partial<S3FileIOOptions> = {}): S3FileIOOptions {
  return {
    endpoint: s.endpoint,
    region: s.region,
    pathStyle: s.pathStyle,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    ...overrides,
  };
}

/** A key prefix of its own for one test run, so runs against a shared bucket never meet. */
export function randomPrefix(label: string): string {
  return `lakehouse-test/${label}-${randomBytes(6).toString('hex')}`;
}
