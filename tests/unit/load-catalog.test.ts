import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCatalog, resolveCatalogConfig } from '../../catalog/load-catalog.ts';
import { redactConfig } from '../../catalog/redact.ts';
import { SqlCatalog } from '../../catalog/sql-catalog.ts';
import { LakehouseError } from '../../core/errors.ts';

async function errorOf(p: Promise<unknown>): Promise<LakehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('loadCatalog configuration', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lh-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeConfig = (name: string, config: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(config));
    return file;
  };

  it('defaults to a SQLite catalog in ./warehouse when nothing is configured', async () => {
    const { name, properties } = await resolveCatalogConfig({ env: {}, cwd: dir });
    expect(name).toBe('default');
    expect(properties).toEqual({ type: 'sql', uri: `sqlite:///${dir}/warehouse/catalog.db`, warehouse: `${dir}/warehouse` });
  });

  it('opens the default catalog and creates its database file', async () => {
    const catalog = await loadCatalog({ env: {}, cwd: dir });
    expect(catalog).toBeInstanceOf(SqlCatalog);
    expect(catalog.name).toBe('default');
    await catalog.close();
    expect(existsSync(join(dir, 'warehouse', 'catalog.db'))).toBe(true);
  });

  it('merges file < environment < overrides', async () => {
    const configFile = writeConfig('c.json', {
      catalogs: { prod: { type: 'sql', uri: 'sqlite:////f/c.db', warehouse: '/f/wh', 's3.region': 'file-region' } },
    });
    const { properties } = await resolveCatalogConfig({
      name: 'prod',
      configFile,
      env: { LAKEHOUSE_CATALOG__PROD__WAREHOUSE: '/env/wh', LAKEHOUSE_CATALOG__PROD__S3__REGION: 'env-region' },
      overrides: { warehouse: '/flag/wh' },
      cwd: dir,
    });
    expect(properties).toEqual({ type: 'sql', uri: 'sqlite:////f/c.db', warehouse: '/flag/wh', 's3.region': 'env-region' });
  });

  it('spells environment keys as PyIceberg does: __ is a dot, _ a dash, any case', async () => {
    const { properties } = await resolveCatalogConfig({
      name: 'x',
      env: { LAKEHOUSE_CATALOG__X__S3__ACCESS_KEY_ID: 'id', lakehouse_catalog__x__uri: 'sqlite:////a.db' },
      cwd: dir,
    });
    expect(properties).toMatchObject({ 's3.access-key-id': 'id', uri: 'sqlite:////a.db', type: 'sql' });
  });

  it('finds lakehouse.config.json in the working directory and honours default-catalog', async () => {
    writeConfig('lakehouse.config.json', {
      'default-catalog': 'Lake',
      catalogs: { lake: { type: 'sql', uri: 'sqlite:///c.db', warehouse: 'wh', s3: { endpoint: 'http://m:9000' } } },
    });
    const { name, properties, configFile } = await resolveCatalogConfig({ env: {}, cwd: dir });
    expect(name).toBe('Lake');
    expect(configFile).toBe(join(dir, 'lakehouse.config.json'));
    expect(properties['s3.endpoint']).toBe('http://m:9000');
  });

  it('takes the file from LAKEHOUSE_CONFIG and the catalog from LAKEHOUSE_DEFAULT_CATALOG', async () => {
    const file = writeConfig('other.json', { catalogs: { b: { type: 'sql', uri: 'sqlite:////b.db', warehouse: '/b' } } });
    const { name, properties } = await resolveCatalogConfig({ env: { LAKEHOUSE_CONFIG: file, LAKEHOUSE_DEFAULT_CATALOG: 'b' }, cwd: dir });
    expect(name).toBe('b');
    expect(properties['uri']).toBe('sqlite:////b.db');
  });

  it('fails for a named catalog that is configured nowhere, listing the known ones', async () => {
    const configFile = writeConfig('c.json', { catalogs: { prod: { type: 'sql', uri: 'sqlite:////x', warehouse: '/w' } } });
    const err = await errorOf(resolveCatalogConfig({ name: 'prdo', configFile, env: {}, cwd: dir }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toMatch(/Catalog 'prdo' is not configured.*configured catalogs: prod/);
  });

  it('fails for an explicit config file that does not exist', async () => {
    const err = await errorOf(resolveCatalogConfig({ configFile: join(dir, 'nope.json'), env: {}, cwd: dir }));
    expect(err.message).toMatch(/does not exist/);
  });

  it('fails for a config file that is not JSON, naming the file', async () => {
    const configFile = join(dir, 'bad.json');
    writeFileSync(configFile, 'catalogs:\n  default: {}');
    const err = await errorOf(resolveCatalogConfig({ configFile, env: {}, cwd: dir }));
    expect(err.message).toContain(configFile);
  });

  it('lists the supported types for an unknown type and prints no secret', async () => {
    const err = await errorOf(
      loadCatalog({
        env: {},
        cwd: dir,
        overrides: { type: 'hive', uri: 'thrift://localhost:9083', 's3.secret-access-key': 'TOPSECRET', token: 'tok-123' },
      }),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toMatch(/type "hive".*supported: sql, rest, glue/);
    expect(err.message).not.toContain('TOPSECRET');
    expect(err.message).not.toContain('tok-123');
  });

  it('masks the password of a JDBC PostgreSQL uri in printed configuration', () => {
    expect(redactConfig({ uri: 'jdbc:postgresql://lake:pw123@db:5432/cat' }).uri).toBe('jdbc:postgresql://lake:***@db:5432/cat');
    expect(redactConfig({ uri: 'postgresql://lake:pw123@db/cat' }).uri).toBe('postgresql://lake:***@db/cat');
  });

  it('infers the type from the uri when none is given', async () => {
    const { properties } = await resolveCatalogConfig({ name: 'r', env: { LAKEHOUSE_CATALOG__R__URI: 'https://rest/' }, cwd: dir });
    expect(properties['type']).toBe('rest');
  });
});

describe('redactConfig', () => {
  it('masks secret-looking keys and passwords inside URIs', () => {
    expect(
      redactConfig({
        's3.secret-access-key': 's',
        's3.access-key-id': 'AKIA',
        's3.session-token': 't',
        'rest.password': 'p',
        credential: 'c',
        uri: 'postgresql://user:pw@db:5432/cat',
        warehouse: 's3://bucket/wh',
      }),
    ).toEqual({
      's3.secret-access-key': '***',
      's3.access-key-id': '***',
      's3.session-token': '***',
      'rest.password': '***',
      credential: '***',
      uri: 'postgresql://user:***@db:5432/cat',
      warehouse: 's3://bucket/wh',
    });
  });
});
