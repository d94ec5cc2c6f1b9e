import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LakehouseError } from '../core/errors.ts';

/**
 * What one live stack is: its state folder, its ports, the producer's rate and shares of bad events, the
 * names it uses in Kafka and the catalog, and whether it runs its own Kafka / MinIO / REST catalog / Trino
 * or uses servers already running (a services.env file, as `infra/services.sh up` writes it).
 *
 * Ports: the servers' native defaults (infra/services/*.sh), which docker-compose.yml publishes too: Kafka
 * 19092 (controller 19093), MinIO 19000 (console 19001), REST catalog 18181, Trino 18080, Superset 8088,
 * ingest's Prometheus metrics 9464. One knob, --port-offset, moves them all, so a stack runs beside the
 * test services (make services-up) or another stack with one flag.
 * The settings of a running stack are kept in <state>/stack.json; status and down read them from there.
 */
export interface StackSettings {
  stateDir: string;
  /** Added to every default port. */
  portOffset: number;
  /** Producer: messages per second, and the shares of invalid, late and re-sent ones. */
  rate: number;
  invalidRate: number;
  lateRate: number;
  duplicateRate: number;
  /** Producer stops (and stays stopped) after this many messages; unset: runs until down. */
  events?: number;
  /** Producer: also write what it sent (kind, reason, bytes) to <state>/sent.ndjson, for checks. */
  sentLog: boolean;
  namespace: string;
  topic: string;
  dlqTopic: string;
  group: string;
  /** Ingest's flush interval (ms): the floor of end-to-end freshness. */
  flushIntervalMs: number;
  /** The metrics job runs this often (ms). */
  metricsEveryMs: number;
  /** Run Trino in the stack (and, once Superset has the driver, read the dashboards through it). */
  trino: boolean;
  /** null: start our own servers; else a services.env file naming running ones (shared with the tests). */
  servicesEnv: string | null;
}

export const CATALOG_NAME = 'stack';

export function defaultSettings(stateDir: string): StackSettings {
  return {
    stateDir, portOffset: 0, rate: 20, invalidRate: 0.01, lateRate: 0.02, duplicateRate: 0.01, sentLog: false,
    namespace: 'lakehouse', topic: 'campaign_events', dlqTopic: 'dead_letter_queue', group: 'lakehouse-ingest',
    flushIntervalMs: 2000, metricsEveryMs: 10_000, trino: true, servicesEnv: null,
  };
}

export interface StackPorts {
  kafka: number;
  kafkaController: number;
  minio: number;
  minioConsole: number;
  rest: number;
  trino: number;
  superset: number;
  ingestMetrics: number;
}

export function stackPorts(offset: number): StackPorts {
  return {
    kafka: 19092 + offset, kafkaController: 19093 + offset, minio: 19000 + offset, minioConsole: 19001 + offset, rest: 18181 + offset,
    trino: 18080 + offset, superset: 8088 + offset, ingestMetrics: 9464 + offset,
  };
}

/** Files and folders inside the state folder. */
export function stackPaths(stateDir: string) {
  return {
    settings: path.join(stateDir, 'stack.json'),
    services: path.join(stateDir, 'services'),
    logs: path.join(stateDir, 'logs'),
    config: path.join(stateDir, 'lakehouse.config.json'),
    superset: path.join(stateDir, 'superset'),
    sentLog: path.join(stateDir, 'sent.ndjson'),
  };
}

/** The repository checkout this code runs from (sources: <repo>/stack, build: <repo>/dist/stack). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, 'infra', 'services.sh')) && existsSync(path.join(dir, 'bin', 'lakehouse'))) return dir;
    dir = path.dirname(dir);
  }
  throw new LakehouseError('NOT_FOUND', 'infra/services.sh was not found beside the lakehouse package; run lakehouse stack from its repository checkout.');
}

/** The default state folder: <repo>/.cache/stack (git-ignored, beside the test services' .cache/services). */
export function defaultStateDir(): string {
  return process.env.LAKEHOUSE_STACK_DIR ? path.resolve(process.env.LAKEHOUSE_STACK_DIR) : path.join(repoRoot(), '.cache', 'stack');
}

export function readSettings(stateDir: string): StackSettings | null {
  try {
    return JSON.parse(readFileSync(stackPaths(stateDir).settings, 'utf8')) as StackSettings;
  } catch {
    return null;
  }
}

/** KEY=VALUE lines (comments and blanks skipped), as infra/services.sh writes services.env. */
export function parseEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new LakehouseError('NOT_FOUND', `${file} does not exist; start the services first (bash infra/services.sh up) or leave out --services-env to let the stack start its own.`);
  }
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Where the stack's servers are, from a services.env. */
export interface Endpoints {
  brokers: string;
  restUri: string;
  s3: Record<string, string>;
  trinoUri: string | null;
  minioConsole: string | null;
}

export function endpointsFrom(env: Record<string, string>, file: string): Endpoints {
  const need = ['LAKEHOUSE_KAFKA_BROKERS', 'LAKEHOUSE_REST_URI', 'LAKEHOUSE_S3_ENDPOINT', 'LAKEHOUSE_S3_ACCESS_KEY', 'LAKEHOUSE_S3_SECRET_KEY'];
  const missing = need.filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new LakehouseError('INVALID_ARGUMENT', `${file} has no ${missing.join(', ')}: the stack needs Kafka, MinIO and the REST catalog running (bash infra/services.sh up minio iceberg-rest kafka).`);
  }
  return {
    brokers: env.LAKEHOUSE_KAFKA_BROKERS!,
    restUri: env.LAKEHOUSE_REST_URI!,
    s3: {
      's3.endpoint': env.LAKEHOUSE_S3_ENDPOINT!,
      's3.access-key-id': env.LAKEHOUSE_S3_ACCESS_KEY!,
      's3.secret-access-key': env.LAKEHOUSE_S3_SECRET_KEY!,
      's3.region': env.LAKEHOUSE_S3_REGION || 'us-east-1',
      's3.path-style-access': env.LAKEHOUSE_S3_PATH_STYLE ?? 'true',
    },
    trinoUri: env.LAKEHOUSE_TRINO_URI || null,
    minioConsole: null,
  };
}
