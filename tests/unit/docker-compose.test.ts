/**
 * docker-compose.yml holds the same stack as the native one (infra/services/*.sh, `lakehouse dashboard up`):
 * no Docker engine runs here, so the file is validated against the Compose specification's JSON schema with
 * a real validator, and compared with the native scripts' ports, credentials and server settings, which are
 * read from those scripts (not restated here).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCatalogConfig } from '../../catalog/load-catalog.ts';
import { DEFAULT_PORT as SUPERSET_PORT } from '../../dashboard/superset.ts';
import { defaultSettings } from '../../stack/stack-settings.ts';
import { partSpecs } from '../../stack/stack.ts';
import { REPO_ROOT, VENV_TIMEOUT_MS } from '../interop/readers.ts';
import { COMPOSE_FILE, type ComposeDocument, type ComposeService, commandLine, nativeDefault, publishedPorts, validateCompose } from '../support/compose-file.ts';

let compose: ComposeDocument;
let errors: string[];
const LOOPBACK = '127.0.0.1';

function service(name: string): ComposeService {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

function env(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, String(v)]));
}

/** key=value lines of the server.properties that infra/services/kafka.sh writes. */
function nativeKafkaSettings(): Map<string, string> {
  const text = readFileSync(path.join(REPO_ROOT, 'infra', 'services', 'kafka.sh'), 'utf8');
  const body = /cat >"\$CONFIG" <<EOF\n([\s\S]*?)\nEOF/.exec(text);
  if (!body) throw new Error('the server.properties here-document was not found in infra/services/kafka.sh');
  return new Map(body[1]!.split('\n').filter((l) => /^[a-z]/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** The apache/kafka image maps KAFKA_A_B_C to a.b.c. */
const kafkaEnvName = (key: string) => `KAFKA_${key.toUpperCase().replaceAll('.', '_')}`;

function lakehouseHelp(subcommand: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path.join(REPO_ROOT, 'bin', 'lakehouse'), [...subcommand, '--help'], { timeout: 60_000 }, (err, out, stderr) => {
      if (err) reject(new Error(`lakehouse ${subcommand.join(' ')} --help failed: ${stderr}`));
      else resolve(out);
    });
  });
}

beforeAll(async () => {
  ({ document: compose, errors } = await validateCompose(COMPOSE_FILE));
}, VENV_TIMEOUT_MS);

describe('docker-compose.yml against the Compose specification', () => {
  it('is valid under the Compose specification\'s JSON schema (Draft 2019-09 validator)', () => {
    expect(errors).toEqual([]);
  });

  describe('the validator is live', () => {
    let dir: string;
    beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'compose-schema-')); });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a misspelt service key and a port of the wrong type are reported', async () => {
      const broken = path.join(dir, 'docker-compose.yml');
      copyFileSync(COMPOSE_FILE, broken);
      writeFileSync(broken, readFileSync(broken, 'utf8').replace('  minio:\n    image:', '  minio:\n    imagee: typo\n    image:')
        .replace('ports: ["127.0.0.1:18181:8181"]', 'ports: {http: 18181}'));
      const result = await validateCompose(broken);
      expect(result.errors.join('\n')).toMatch(/^services\/minio: 'imagee' does not match any of the regexes/m);
      expect(result.errors.join('\n')).toMatch(/^services\/iceberg-rest\/ports: .* is not of type 'array'/m);
    });
  });
});

describe('docker-compose.yml holds the same stack as the native one', () => {
  it('has a service for every native service script, Superset, and the producer, ingest and metrics processes', () => {
    const native = readdirSync(path.join(REPO_ROOT, 'infra', 'services')).filter((f) => f.endsWith('.sh') && f !== 'lib.sh').map((f) => f.replace(/\.sh$/, ''));
    expect(native.length).toBeGreaterThanOrEqual(5);
    for (const name of [...native, 'create-bucket', 'superset', 'producer', 'ingest', 'metrics']) expect(Object.keys(compose.services)).toContain(name);
  });

  it('publishes each native default port, on 127.0.0.1 only', () => {
    const expected: [string, string][] = [
      ['kafka', nativeDefault('kafka.sh', 'PORT')],
      ['minio', nativeDefault('minio.sh', 'PORT')],
      ['minio', nativeDefault('minio.sh', 'CONSOLE_PORT')],
      ['iceberg-rest', nativeDefault('iceberg-rest.sh', 'PORT')],
      ['trino', nativeDefault('trino.sh', 'PORT')],
      ['postgres', nativeDefault('postgres.sh', 'PORT')],
      ['moto', nativeDefault('moto.sh', 'PORT')],
      ['superset', String(SUPERSET_PORT)],
    ];
    for (const [name, port] of expected) expect([...publishedPorts(service(name)).keys()], name).toContain(`${LOOPBACK}:${port}`);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const hostPort of publishedPorts(s).keys()) expect(hostPort.startsWith(`${LOOPBACK}:`), `${name} publishes ${hostPort}`).toBe(true);
    }
  });

  it('uses the native credentials, bucket and region everywhere (MinIO, the bucket job, the REST catalog, Trino, Superset, the lakehouse processes)', () => {
    const user = nativeDefault('minio.sh', 'ROOT_USER');
    const password = nativeDefault('minio.sh', 'ROOT_PASSWORD');
    const bucket = nativeDefault('minio.sh', 'BUCKET');
    const region = nativeDefault('minio.sh', 'REGION');
    expect(env('minio')).toMatchObject({ MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password, MINIO_SITE_REGION: region });
    expect(commandLine(service('create-bucket'))).toContain(`mc alias set m http://minio:9000 ${user} ${password}`);
    expect(commandLine(service('create-bucket'))).toContain(`mc mb -p m/${bucket}`);
    expect(env('iceberg-rest')).toMatchObject({
      CATALOG_S3_ACCESS__KEY__ID: user, CATALOG_S3_SECRET__ACCESS__KEY: password, CATALOG_CLIENT_REGION: region,
      AWS_ACCESS_KEY_ID: user, AWS_SECRET_ACCESS_KEY: password, AWS_REGION: region,
    });
    for (const name of ['trino', 'superset']) {
      expect(env(name), name).toMatchObject({ LAKEHOUSE_S3_ACCESS_KEY: user, LAKEHOUSE_S3_SECRET_KEY: password, LAKEHOUSE_S3_REGION: region, LAKEHOUSE_S3_BUCKET: bucket });
    }
    const pg = env('postgres');
    expect(pg).toMatchObject({ POSTGRES_USER: nativeDefault('postgres.sh', 'PG_USER'), POSTGRES_PASSWORD: nativeDefault('postgres.sh', 'PG_PASSWORD') });
  });

  it('the lakehouse processes open the REST catalog with the files on MinIO, as the CLI resolves their environment', async () => {
    for (const name of ['producer', 'ingest', 'metrics']) {
      const resolved = await resolveCatalogConfig({ env: env(name), cwd: os.tmpdir() });
      expect(resolved.properties, name).toMatchObject({
        type: 'rest', uri: 'http://iceberg-rest:8181', 's3.endpoint': 'http://minio:9000',
        's3.access-key-id': nativeDefault('minio.sh', 'ROOT_USER'), 's3.secret-access-key': nativeDefault('minio.sh', 'ROOT_PASSWORD'),
        's3.region': nativeDefault('minio.sh', 'REGION'), 's3.path-style-access': 'true',
      });
      expect(env(name).KAFKA_BROKERS, name).toBe('kafka:9092');
    }
  });

  it('Kafka: KRaft with the broker settings infra/services/kafka.sh writes, the native port for the host and the controller port', () => {
    const native = nativeKafkaSettings();
    const kafka = env('kafka');
    const addresses = new Set(['listeners', 'advertised.listeners', 'controller.quorum.voters', 'log.dirs', 'inter.broker.listener.name', 'listener.security.protocol.map']);
    const compared = [...native].filter(([k]) => !addresses.has(k));
    expect(compared.length).toBeGreaterThanOrEqual(10);
    for (const [key, value] of compared) expect(kafka[kafkaEnvName(key)], key).toBe(value);
    const port = nativeDefault('kafka.sh', 'PORT');
    const controller = nativeDefault('kafka.sh', 'CONTROLLER_PORT');
    expect(kafka.KAFKA_ADVERTISED_LISTENERS).toContain(`PLAINTEXT://${LOOPBACK}:${port}`);
    expect(kafka.KAFKA_LISTENERS).toContain(`PLAINTEXT://:${port}`);
    expect(kafka.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`1@kafka:${controller}`);
    expect(kafka.KAFKA_PROCESS_ROLES).toBe(native.get('process.roles'));
  });

  it('the REST catalog: every CATALOG_* setting the native script passes, with the same fixed values and warehouse', () => {
    const text = readFileSync(path.join(REPO_ROOT, 'infra', 'services', 'iceberg-rest.sh'), 'utf8');
    const settings = [...text.matchAll(/^\s+(CATALOG_[A-Z0-9_]+)=("?)([^"\s]*)\2 \\$/gm)].map((m) => [m[1]!, m[3]!] as const);
    const rest = env('iceberg-rest');
    expect(settings.length).toBeGreaterThanOrEqual(9);
    for (const [key, value] of settings) {
      if (key === 'CATALOG_REST_PORT') continue; // the container's own port; the host port is the native one
      expect(Object.keys(rest), key).toContain(key);
      if (!value.includes('$')) expect(rest[key], key).toBe(value);
    }
    expect(rest.CATALOG_WAREHOUSE).toBe(`s3://${nativeDefault('minio.sh', 'BUCKET')}/rest`);
    expect(rest.CATALOG_URI).toMatch(/^jdbc:sqlite:/);
  });

  it('Trino reads the same configuration files as the native service, with every ${ENV:...} they name set', () => {
    const trino = service('trino');
    const mounts = (trino.volumes ?? []).map((v) => v.split(':')[0]!.replace(/^\.\//, ''));
    expect(mounts.sort()).toEqual(['infra/trino/catalog', 'infra/trino/config.properties', 'infra/trino/jvm.config']);
    const files = ['infra/trino/config.properties', ...readdirSync(path.join(REPO_ROOT, 'infra/trino/catalog')).map((f) => `infra/trino/catalog/${f}`)];
    const settings = files.flatMap((f) => readFileSync(path.join(REPO_ROOT, f), 'utf8').split('\n').filter((l) => !l.startsWith('#')));
    const needed = new Set(settings.flatMap((l) => [...l.matchAll(/\$\{ENV:([A-Z0-9_]+)\}/g)].map((m) => m[1]!)));
    expect(needed.size).toBeGreaterThanOrEqual(5);
    for (const v of needed) expect(Object.keys(env('trino')), v).toContain(v);
    expect(publishedPorts(trino).get(`${LOOPBACK}:${nativeDefault('trino.sh', 'PORT')}`)).toBe(env('trino').LAKEHOUSE_TRINO_PORT);
  });

  it('Superset serves the dashboards from Trino (the production route), at Trino\'s container address', () => {
    const superset = env('superset');
    const uri = new URL(superset.LAKEHOUSE_SUPERSET_DATABASE_URI!.replace(/^trino:/, 'http:'));
    expect(superset.LAKEHOUSE_SUPERSET_DATABASE_URI).toMatch(/^trino:\/\//);
    expect(uri.hostname).toBe('trino');
    expect(uri.port).toBe(env('trino').LAKEHOUSE_TRINO_PORT);
    expect(uri.pathname).toBe('/iceberg');
    expect(publishedPorts(service('superset')).get(`${LOOPBACK}:${SUPERSET_PORT}`)).toBe(superset.LAKEHOUSE_SUPERSET_PORT);
    expect(service('superset').build?.dockerfile).toBe('infra/superset/Dockerfile');
  });

  it('the producer, ingest and metrics run the CLI from the repository\'s Dockerfile, with options the CLI has', async () => {
    const runs: Record<string, { sub: string[]; must: string }> = {
      producer: { sub: ['produce'], must: 'produce --to kafka --rate 20 ' },
      ingest: { sub: ['ingest'], must: 'ingest --source kafka ' },
      metrics: { sub: ['metrics', 'run'], must: 'metrics run --every 10s' },
    };
    for (const [name, { sub, must }] of Object.entries(runs)) {
      const s = service(name);
      expect(s.build?.dockerfile ?? 'Dockerfile', name).toBe('Dockerfile');
      expect(s.restart, name).toBe('unless-stopped');
      const line = commandLine(s);
      expect(line, name).toContain(must);
      const help = await lakehouseHelp(sub);
      for (const flag of line.matchAll(/ (--[a-z][a-z-]*)/g)) expect(help, `${name}: ${flag[1]}`).toContain(`${flag[1]} `);
    }
  });
  it('the producer, ingest and metrics get the same rates, names, group, windows and dimensions as in the native stack (lakehouse stack up)', () => {
    const native = partSpecs(defaultSettings(os.tmpdir()), { brokers: '127.0.0.1:19092' } as Parameters<typeof partSpecs>[1]);
    // Flags that depend on where a part runs (addresses, ports, files, the seed, the flush interval) differ
    // by design; these say what the system does, and must not.
    const same: Record<string, string[]> = {
      producer: ['--to', '--rate', '--invalid-rate', '--late-rate', '--duplicate-rate'],
      ingest: ['--source', '--dlq-topic', '--group', '--table', '--create-table'],
      metrics: ['--events', '--table', '--window', '--dimensions'],
    };
    const flags = (words: string[]): Map<string, string> => {
      const m = new Map<string, string>();
      words.forEach((w, i) => { if (w.startsWith('--')) m.set(w, words[i + 1]?.startsWith('--') || words[i + 1] === undefined ? '' : words[i + 1]!); });
      return m;
    };
    for (const [name, keys] of Object.entries(same)) {
      const spec = native.find((p) => p.name === name)!;
      const nativeFlags = flags(spec.argv);
      const composeFlags = flags(commandLine(service(name)).split(/\s+/).map((w) => w.replace(/"$/, '')));
      for (const k of keys) {
        expect(nativeFlags.has(k), `native ${name} ${k}`).toBe(true);
        expect(composeFlags.get(k), `compose ${name} ${k}`).toBe(nativeFlags.get(k));
      }
    }
  });
});
