import { describe, expect, it } from 'vitest';
import { GlueCatalog, glueDatabaseInput, icebergTableInput, isIcebergGlueTable, namespacePropertiesOf } from '../../catalog/glue-catalog.ts';
import { glueColumns, glueTypeString } from '../../catalog/glue-columns.ts';
import { classifyGlueError, describeGlueFailure } from '../../catalog/glue-errors.ts';
import { glueOptionsFromProperties, type GlueClientLike } from '../../catalog/glue-options.ts';
import { LakehouseError } from '../../core/errors.ts';
import { writeTableMetadata, Schema, type TableMetadata, newTableMetadata, T, CommitConflictError, CommitStateUnknownError } from '../../iceberg/index.ts';
import { MemoryIO } from '../support/memory-file-io.ts';

/**
 * The Iceberg <-> Glue mapping and the commit's error handling, without a server. What a real Glue
 * API (moto) stores and answers is tested in tests/integration/glue-catalog.test.ts; the failures
 * here (5xx, throttling, bad signatures) are the ones moto cannot be made to produce.
 */

const metadataWith = (schemas: Schema[], currentSchemaId: number): TableMetadata => {
  const m = newTableMetadata({ schema: schemas[0]!, location: 's3://b/wh/db.db/t', nowMs: 1 });
  return { ...m, schemas, currentSchemaId };
};

describe('Glue column types', () => {
  it('maps every Iceberg type to the Hive type string PyIceberg and Java write', () => {
    const cases: Array<[Parameters<typeof glueTypeString>[0], string]> = [
      [T.boolean(), 'boolean'], [T.int(), 'int'], [T.long(), 'bigint'], [T.float(), 'float'], [T.double(), 'double'],
      [T.decimal(38, 10), 'decimal(38,10)'], [T.date(), 'date'], [T.time(), 'string'], [T.timestamp(), 'timestamp'],
      [T.timestamptz(), 'timestamp'], [T.string(), 'string'], [T.uuid(), 'string'], [T.binary(), 'binary'], [T.fixed(16), 'binary'],
      [T.list(3, T.long()), 'array<bigint>'],
      [T.map(4, T.string(), 5, T.list(6, T.date())), 'map<string,array<date>>'],
      [T.struct([T.field(7, 'a', T.int()), T.field(8, 'b', T.struct([T.field(9, 'c', T.uuid())]))]), 'struct<a:int,b:struct<c:string>>'],
    ];
    for (const [type, expected] of cases) expect(glueTypeString(type)).toBe(expected);
  });

  it('lists current-schema columns first, then columns only older schemas have, with field id, optionality and comments', () => {
    const v0 = new Schema([T.field(1, 'id', T.long(), true), T.field(2, 'gone', T.string()), T.field(3, 'kept', T.int())], 0);
    const v1 = new Schema([T.field(1, 'id', T.long(), true, 'the key'), T.field(3, 'kept', T.int()), T.field(4, 'added', T.date())], 1);
    const columns = glueColumns(metadataWith([v0, v1], 1), [{ Name: 'kept', Type: 'int', Comment: 'typed in the console' }]);
    expect(columns).toEqual([
      { Name: 'id', Type: 'bigint', Comment: 'the key', Parameters: { 'iceberg.field.id': '1', 'iceberg.field.optional': 'false', 'iceberg.field.current': 'true' } },
      { Name: 'kept', Type: 'int', Comment: 'typed in the console', Parameters: { 'iceberg.field.id': '3', 'iceberg.field.optional': 'true', 'iceberg.field.current': 'true' } },
      { Name: 'added', Type: 'date', Parameters: { 'iceberg.field.id': '4', 'iceberg.field.optional': 'true', 'iceberg.field.current': 'true' } },
      { Name: 'gone', Type: 'string', Parameters: { 'iceberg.field.id': '2', 'iceberg.field.optional': 'true', 'iceberg.field.current': 'false' } },
    ]);
  });
});

describe('Glue table and database inputs', () => {
  const schema = new Schema([T.field(1, 'id', T.long())]);

  it('sets the pointer parameters last, so a table property cannot shadow them, and drops properties the table no longer has', () => {
    const metadata = { ...metadataWith([schema], 0), properties: { metadata_location: 'sneaky', owner: 'me', comment: 'events' } };
    const input = icebergTableInput({
      name: 't',
      metadata,
      metadataLocation: 's3://b/new.metadata.json',
      previousMetadataLocation: 's3://b/old.metadata.json',
      existing: { Name: 't', DatabaseName: 'db', Owner: 'glue-owner', Parameters: { table_type: 'iceberg', crawler: 'x', removed: '1', EXTERNAL: 'TRUE' } },
      previousProperties: { removed: '1', owner: 'you' },
    });
    expect(input).toMatchObject({ Name: 't', TableType: 'EXTERNAL_TABLE', Owner: 'glue-owner', Description: 'events' });
    expect(input.Parameters).toEqual({
      crawler: 'x',
      EXTERNAL: 'TRUE',
      owner: 'me',
      comment: 'events',
      table_type: 'ICEBERG',
      metadata_location: 's3://b/new.metadata.json',
      previous_metadata_location: 's3://b/old.metadata.json',
    });
    expect(input.StorageDescriptor?.Location).toBe('s3://b/wh/db.db/t');
  });

  it('reads table_type in any case and only ICEBERG', () => {
    expect(isIcebergGlueTable({ Parameters: { table_type: 'iceberg' } })).toBe(true);
    expect(isIcebergGlueTable({ Parameters: { table_type: 'Iceberg' } })).toBe(true);
    expect(isIcebergGlueTable({ Parameters: { table_type: 'HIVE' } })).toBe(false);
    expect(isIcebergGlueTable({})).toBe(false);
  });

  it('maps Description and location to Database fields and back, the rest to Parameters (PyIceberg)', () => {
    const input = glueDatabaseInput('db', { Description: 'd', location: 's3://b/db', owner: 'me' });
    expect(input).toEqual({ Name: 'db', Description: 'd', LocationUri: 's3://b/db', Parameters: { owner: 'me' } });
    expect(namespacePropertiesOf({ Name: 'db', Description: 'd', LocationUri: 's3://b/db', Parameters: { owner: 'me' } })).toEqual({
      Description: 'd',
      location: 's3://b/db',
      owner: 'me',
    });
  });

  it('reads flat catalog properties with glue.* before PyIceberg\'s client.* fallbacks', () => {
    expect(
      glueOptionsFromProperties({
        warehouse: 's3://b/wh',
        'client.region': 'eu-west-1',
        'glue.region': 'us-east-2',
        'glue.endpoint': 'http://127.0.0.1:5000',
        'glue.id': '123456789012',
        'client.access-key-id': 'client-id',
        'client.secret-access-key': 'client-secret',
        'glue.access-key-id': 'glue-id',
        'glue.secret-access-key': 'glue-secret',
      }),
    ).toEqual({
      warehouse: 's3://b/wh',
      region: 'us-east-2',
      endpoint: 'http://127.0.0.1:5000',
      catalogId: '123456789012',
      accessKeyId: 'glue-id',
      secretAccessKey: 'glue-secret',
    });
  });
});

describe('Glue errors', () => {
  const ctx = { catalog: 'prod', endpoint: 'https://glue.eu-west-1.amazonaws.com', what: 'read table db.t', secrets: ['AKIAEXAMPLEKEYID', 'wJalrXUtnFEMI/secret'] };
  const awsError = (name: string, status: number, message = 'x') => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

  it('tells refusals (nothing applied) from failures that may hide a success', () => {
    expect(classifyGlueError(awsError('ConcurrentModificationException', 400))).toEqual({ kind: 'concurrent', retryable: false, applied: 'no' });
    expect(classifyGlueError(awsError('ThrottlingException', 400))).toEqual({ kind: 'throttled', retryable: true, applied: 'no' });
    expect(classifyGlueError(awsError('InternalServiceException', 500))).toMatchObject({ kind: 'server', applied: 'maybe' });
    expect(classifyGlueError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toMatchObject({ kind: 'network', applied: 'maybe' });
    expect(classifyGlueError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toMatchObject({ kind: 'network', applied: 'maybe' });
    expect(classifyGlueError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'unreachable', applied: 'no' });
    expect(classifyGlueError(awsError('UnrecognizedClientException', 400))).toMatchObject({ kind: 'auth', applied: 'no' });
  });

  it('says the credentials were rejected without repeating them or the server text that may carry the key id', () => {
    const e = awsError('IncompleteSignatureException', 400, "Authorization header requires 'Credential' ... Credential=AKIAEXAMPLEKEYID/20260101");
    const err = describeGlueFailure(e, ctx);
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('rejected the credentials');
    expect(err.message).toContain('glue.access-key-id');
    expect(err.message).not.toContain('AKIAEXAMPLEKEYID');
    const other = describeGlueFailure(awsError('SomethingElse', 400, 'key AKIAEXAMPLEKEYID secret wJalrXUtnFEMI/secret'), ctx);
    expect(other.message).not.toMatch(/AKIAEXAMPLEKEYID|wJalrXUtnFEMI/);
  });

  it('names the endpoint it could not reach', () => {
    const err = describeGlueFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), ctx);
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('https://glue.eu-west-1.amazonaws.com');
    expect(err.message).toContain('ECONNREFUSED');
  });
});

describe('GlueCatalog options', () => {
  it('fails at start-up on half a key pair, a bad endpoint or a bad boolean, naming the setting', async () => {
    const cases: Array<[Parameters<typeof GlueCatalog.open>[0], RegExp]> = [
      [{ name: 'c', endpoint: 'http://x', accessKeyId: 'a' }, /glue\.access-key-id and glue\.secret-access-key/],
      [{ name: 'c', endpoint: '127.0.0.1:5000', env: {} }, /glue\.endpoint "127\.0\.0\.1:5000" is not an http\(s\) URL/],
      [{ name: 'c', endpoint: 'http://x', env: {}, properties: { 'glue.skip-archive': 'maybe' } }, /glue\.skip-archive must be true or false/],
    ];
    for (const [options, message] of cases) {
      const err = await GlueCatalog.open(options).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(LakehouseError);
      expect((err as LakehouseError).code).toBe('INVALID_CONFIG');
      expect((err as LakehouseError).message).toMatch(message);
    }
  });
});

// ---- commits against a scripted client ----

interface Call { command: string; input: Record<string, unknown> }
type Handler = (input: Record<string, unknown>, nth: number) => unknown;

class ScriptedGlue implements GlueClientLike {
  readonly calls: Call[] = [];
  private readonly counts = new Map<string, number>();
  constructor(private readonly handlers: Record<string, Handler>) {}
  async send(command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, '');
    this.calls.push({ command: name, input: command.input });
    const nth = this.counts.get(name) ?? 0;
    this.counts.set(name, nth + 1);
    const h = this.handlers[name];
    if (!h) throw new Error(`unexpected ${name}`);
    return h(command.input, nth);
  }
  named(name: string): Call[] {
    return this.calls.filter((c) => c.command === name);
  }
}

describe('GlueCatalog.commitTable', () => {
  const id = { namespace: ['db'], name: 't' };
  const updates = [{ action: 'set-properties' as const, updates: { k: 'v' } }];

  async function setUp(updateTable: Handler, getTable?: Handler) {
    const io = new MemoryIO();
    const metadata = newTableMetadata({ schema: new Schema([T.field(1, 'id', T.long())]), location: 's3://b/wh/db.db/t' });
    const base = 's3://b/wh/db.db/t/metadata/00000-a.metadata.json';
    await writeTableMetadata(io, base, metadata);
    const table = { Name: 't', DatabaseName: 'db', VersionId: '7', TableType: 'EXTERNAL_TABLE', Parameters: { table_type: 'ICEBERG', metadata_location: base } };
    const glue = new ScriptedGlue({ GetTable: getTable ?? (() => ({ Table: table })), UpdateTable: updateTable });
    const catalog = await GlueCatalog.open({ name: 'c', warehouse: 's3://b/wh', catalogId: '123456789012', client: glue, io, sleep: async () => {} });
    const newFiles = () => [...io.files.keys()].filter((k) => k.endsWith('.metadata.json') && k !== base);
    return { io, glue, catalog, base, newFiles };
  }

  it('sends UpdateTable guarded by the VersionId it read, with SkipArchive and the catalog id', async () => {
    const { glue, catalog, base } = await setUp(() => ({}));
    const next = await catalog.commitTable(id, [], updates);
    const [update] = glue.named('UpdateTable');
    expect(update!.input).toMatchObject({ CatalogId: '123456789012', DatabaseName: 'db', VersionId: '7', SkipArchive: true });
    expect((update!.input['TableInput'] as { Parameters: Record<string, string> }).Parameters).toMatchObject({
      metadata_location: next.metadataLocation,
      previous_metadata_location: base,
      k: 'v',
    });
    expect(glue.calls.every((c) => c.input['CatalogId'] === '123456789012')).toBe(true);
  });

  it('turns ConcurrentModificationException into a CommitConflictError and deletes its unreferenced metadata file', async () => {
    const { glue, catalog, newFiles } = await setUp(() => {
      throw Object.assign(new Error('Update table failed due to concurrent modifications.'), { name: 'ConcurrentModificationException', $metadata: { httpStatusCode: 400 } });
    });
    const err = await catalog.commitTable(id, [], updates).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CommitConflictError);
    expect(newFiles()).toEqual([]);
    expect(glue.named('UpdateTable')).toHaveLength(1);
  });

  it.each([
    ['a 5xx', () => Object.assign(new Error('internal'), { name: 'InternalServiceException', $metadata: { httpStatusCode: 500 } })],
    ['a timeout', () => Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
    ['a dropped connection', () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('reports %s during UpdateTable as unknown state, keeps the file and does not resend', async (_what, make) => {
    const { glue, catalog, newFiles } = await setUp(() => {
      throw make();
    });
    const err = await catalog.commitTable(id, [], updates).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CommitStateUnknownError);
    expect(newFiles()).toHaveLength(1);
    expect(glue.named('UpdateTable')).toHaveLength(1);
  });

  it('resends UpdateTable after throttling, which AWS answers before changing anything', async () => {
    const { glue, catalog } = await setUp((_input, nth) => {
      if (nth === 0) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      return {};
    });
    await catalog.commitTable(id, [], updates);
    expect(glue.named('UpdateTable')).toHaveLength(2);
  });

  it('retries reads after a 5xx', async () => {
    const { glue, catalog } = await setUp(
      () => ({}),
      (_input, nth) => {
        if (nth === 0) throw Object.assign(new Error('internal'), { name: 'InternalServiceException', $metadata: { httpStatusCode: 500 } });
        return { Table: { Name: 't', DatabaseName: 'db', Parameters: { table_type: 'ICEBERG', metadata_location: 's3://b/wh/db.db/t/metadata/00000-a.metadata.json' } } };
      },
    );
    await catalog.loadTable(id);
    expect(glue.named('GetTable')).toHaveLength(2);
  });
});
