import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hostPort, isPostgresUri, numberedPlaceholders, postgresSettingsFromUri } from '../../catalog/postgres-driver.ts';
import { LakehouseError } from '../../core/errors.ts';

// Parsing only; everything that needs a server is in tests/integration/postgres-catalog.test.ts.

const parse = (uri: string, properties: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) => postgresSettingsFromUri(uri, properties, env);

function errorOf(f: () => unknown): LakehouseError {
  try {
    f();
  } catch (e) {
    if (e instanceof LakehouseError) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

describe('isPostgresUri', () => {
  it('recognises the libpq, SQLAlchemy and JDBC spellings and nothing else', () => {
    for (const uri of ['postgresql://h/db', 'postgres://h/db', 'postgresql+psycopg2://h/db', 'POSTGRESQL+psycopg://h/db', 'jdbc:postgresql://h/db', 'jdbc:postgresql:db']) {
      expect(isPostgresUri(uri), uri).toBe(true);
    }
    for (const uri of ['sqlite:////tmp/c.db', 'jdbc:sqlite:/tmp/c.db', '/tmp/postgresql.db', 'mysql://h/db', 'postgresql.db']) {
      expect(isPostgresUri(uri), uri).toBe(false);
    }
  });
});

describe('postgresSettingsFromUri', () => {
  it('reads user, percent-decoded password, host, port and database from a libpq URI', () => {
    expect(parse('postgresql://lake%40house:p%40ss%2Fw:rd@db.example.com:15432/cat_db')).toEqual({
      host: 'db.example.com',
      port: 15432,
      database: 'cat_db',
      user: 'lake@house',
      password: 'p@ss/w:rd',
      ssl: false,
      connectTimeoutMs: 10_000,
      applicationName: 'lakehouse',
    });
  });

  it('ignores the SQLAlchemy driver suffix PyIceberg users write', () => {
    const plain = parse('postgresql://u:p@h:5433/d');
    expect(parse('postgresql+psycopg2://u:p@h:5433/d')).toEqual(plain);
    expect(parse('postgresql+psycopg://u:p@h:5433/d')).toEqual(plain);
    expect(parse('postgres://u:p@h:5433/d')).toEqual(plain);
  });

  it('takes JDBC URIs with jdbc.user / jdbc.password properties, which win over the URI', () => {
    const s = parse('jdbc:postgresql://10.0.0.5:5432/lakehouse', { 'jdbc.user': 'java', 'jdbc.password': 'secret' });
    expect(s).toMatchObject({ host: '10.0.0.5', port: 5432, database: 'lakehouse', user: 'java', password: 'secret' });
    expect(parse('jdbc:postgresql://h/d?user=q&password=qp', { 'jdbc.password': 'prop' })).toMatchObject({ user: 'q', password: 'prop' });
  });

  it("reads JDBC's short form jdbc:postgresql:db as localhost:5432", () => {
    expect(parse('jdbc:postgresql:lakehouse', { 'jdbc.user': 'u' })).toMatchObject({ host: 'localhost', port: 5432, database: 'lakehouse', user: 'u' });
  });

  it('fills what the URI leaves out like libpq: PG* variables, then localhost, 5432, the OS user, database = user', () => {
    expect(parse('postgresql://', {}, { PGHOST: 'envhost', PGPORT: '6000', PGUSER: 'envuser', PGPASSWORD: 'envpw', PGDATABASE: 'envdb' })).toEqual({
      host: 'envhost',
      port: 6000,
      database: 'envdb',
      user: 'envuser',
      password: 'envpw',
      ssl: false,
      connectTimeoutMs: 10_000,
      applicationName: 'lakehouse',
    });
    const os = userInfo().username;
    expect(parse('postgresql://')).toMatchObject({ host: 'localhost', port: 5432, user: os, database: os, password: undefined });
  });

  it('accepts a Unix socket folder in ?host= and an IPv6 address in brackets', () => {
    expect(parse('postgresql:///lakehouse?host=/var/run/postgresql')).toMatchObject({ host: '/var/run/postgresql', database: 'lakehouse' });
    const v6 = parse('postgresql://u@[::1]:5433/d');
    expect(v6.host).toBe('::1');
    expect(hostPort(v6)).toBe('[::1]:5433');
  });

  it('maps sslmode (and JDBC ssl=true) to TLS settings, connect_timeout seconds to ms, and reads application_name', () => {
    expect(parse('postgresql://h/d?sslmode=disable').ssl).toBe(false);
    expect(parse('postgresql://h/d?sslmode=prefer').ssl).toBe(false);
    expect(parse('postgresql://h/d?sslmode=require').ssl).toEqual({ rejectUnauthorized: false });
    expect(parse('postgresql://h/d?sslmode=verify-full').ssl).toEqual({ rejectUnauthorized: true });
    expect(parse('jdbc:postgresql://h/d?ssl=true').ssl).toEqual({ rejectUnauthorized: true });
    expect(parse('postgresql://h/d?connect_timeout=3').connectTimeoutMs).toBe(3000);
    expect(parse('postgresql://h/d?application_name=ingest_7').applicationName).toBe('ingest_7');
    expect(parse('jdbc:postgresql://h/d?ApplicationName=java_7').applicationName).toBe('java_7');
  });

  it('refuses a bad port, sslmode or URI with a sentence that does not show the password', () => {
    for (const [uri, pattern] of [
      ['postgresql://u:hunter2@h:0/d', /has port "0", which is not a TCP port/],
      ['postgresql://u:hunter2@h/d?port=abc', /has port "abc", which is not a TCP port/],
      ['postgresql://u:hunter2@h/d?sslmode=sometimes', /sslmode "sometimes"; use disable, prefer, require, verify-ca or verify-full/],
      ['postgresql://u:hunter2@h1:5432,h2:5432/d', /cannot be parsed \(one host:port only/],
      ['postgresql:u:hunter2@h/d', /has no "\/\/" after the scheme/],
    ] as const) {
      const err = errorOf(() => parse(uri));
      expect(err.code, uri).toBe('INVALID_CONFIG');
      expect(err.message, uri).toMatch(pattern);
      expect(err.message, uri).toMatch(/write postgresql:\/\/user:password@host:5432\/database/);
      expect(err.message, uri).not.toContain('hunter2');
    }
  });
});

describe('numberedPlaceholders', () => {
  it("numbers ? in order and leaves ? inside '…' literals and \"…\" identifiers alone", () => {
    expect(numberedPlaceholders("SELECT a FROM t WHERE b = ? AND c LIKE ? ESCAPE '!' AND d = 'it''s ?' AND \"we?ird\" = ?")).toBe(
      "SELECT a FROM t WHERE b = $1 AND c LIKE $2 ESCAPE '!' AND d = 'it''s ?' AND \"we?ird\" = $3",
    );
  });
});
