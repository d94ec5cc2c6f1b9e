import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { recordBatchToRows, rowsToRecordBatch, PARQUET_FIELD_ID_KEY, arrowToIcebergSchema, arrowToIcebergType, checkBatchSchema, icebergToArrowSchema, Schema, assignFreshIds, T } from '../../iceberg/index.ts';
import { LakehouseError } from '../../core/errors.ts';

const allTypes = new Schema([
  T.field(1, 'b', T.boolean()),
  T.field(2, 'i', T.int(), true),
  T.field(3, 'l', T.long()),
  T.field(4, 'f', T.float()),
  T.field(5, 'd', T.double()),
  T.field(6, 'dec9', T.decimal(9, 2)),
  T.field(7, 'dec38', T.decimal(38, 10)),
  T.field(8, 'dt', T.date()),
  T.field(9, 'tm', T.time()),
  T.field(10, 'ts', T.timestamp()),
  T.field(11, 'tstz', T.timestamptz()),
  T.field(12, 's', T.string()),
  T.field(13, 'u', T.uuid()),
  T.field(14, 'bin', T.binary()),
  T.field(15, 'fx', T.fixed(3)),
  T.field(16, 'lst', T.list(19, T.string(), true)),
  T.field(17, 'm', T.map(20, T.string(), 21, T.long())),
  T.field(18, 'st', T.struct([T.field(22, 'x', T.double(), true), T.field(23, 'inner', T.struct([T.field(24, 'y', T.date())]))])),
]);

function ids(fields: arrow.Field[]): [string, string | undefined][] {
  return fields.flatMap((f) => [[f.name, f.metadata.get(PARQUET_FIELD_ID_KEY)] as [string, string | undefined], ...ids(f.type.children ?? [])]);
}

describe('icebergToArrowSchema', () => {
  it('maps each Iceberg type to the Arrow type of the spec mapping', () => {
    const s = icebergToArrowSchema(allTypes);
    expect(s.fields.map((f) => [f.name, String(f.type)])).toEqual([
      ['b', 'Bool'],
      ['i', 'Int32'],
      ['l', 'Int64'],
      ['f', 'Float32'],
      ['d', 'Float64'],
      ['dec9', 'Decimal[9e+2]'],
      ['dec38', 'Decimal[38e+10]'],
      ['dt', 'Date32<DAY>'],
      ['tm', 'Time64<MICROSECOND>'],
      ['ts', 'Timestamp<MICROSECOND>'],
      ['tstz', 'Timestamp<MICROSECOND, UTC>'],
      ['s', 'Utf8'],
      ['u', 'FixedSizeBinary[16]'],
      ['bin', 'Binary'],
      ['fx', 'FixedSizeBinary[3]'],
      ['lst', 'List<Utf8>'],
      ['m', 'Map<{key:Utf8, value:Int64}>'],
      ['st', 'Struct<{x:Float64, inner:Struct<{y:Date32<DAY>}>}>'],
    ]);
    expect((s.fields[6]!.type as arrow.Decimal).bitWidth).toBe(128);
  });

  it('puts PARQUET:field_id on every field, nested ones included, and nullable = !required', () => {
    const s = icebergToArrowSchema(allTypes);
    expect(ids(s.fields)).toEqual([
      ['b', '1'], ['i', '2'], ['l', '3'], ['f', '4'], ['d', '5'], ['dec9', '6'], ['dec38', '7'], ['dt', '8'], ['tm', '9'],
      ['ts', '10'], ['tstz', '11'], ['s', '12'], ['u', '13'], ['bin', '14'], ['fx', '15'],
      ['lst', '16'], ['element', '19'],
      ['m', '17'], ['key_value', undefined], ['key', '20'], ['value', '21'],
      ['st', '18'], ['x', '22'], ['inner', '23'], ['y', '24'],
    ]);
    expect(s.fields.map((f) => f.nullable)).toEqual(allTypes.fields.map((f) => !f.required));
    const element = (s.fields[15]!.type as arrow.List).children[0]!;
    expect(element.nullable).toBe(false);
    const [key, value] = ((s.fields[16]!.type as arrow.Map_).children[0]!.type as arrow.Struct).children;
    expect([key!.nullable, value!.nullable]).toEqual([false, true]);
  });
});

describe('arrowToIcebergSchema', () => {
  it('round-trips every type through Arrow, uuid included', () => {
    const back = arrowToIcebergSchema(icebergToArrowSchema(allTypes));
    expect(back.toJSON()).toEqual(allTypes.toJSON());
  });

  it('numbers fields without PARQUET:field_id the way a table create does', () => {
    const plain = new arrow.Schema([
      new arrow.Field('a', new arrow.Int64(), false),
      new arrow.Field('loc', new arrow.Struct([new arrow.Field('lat', new arrow.Float64(), true), new arrow.Field('lon', new arrow.Float64(), true)]), true),
      new arrow.Field('tags', new arrow.List(new arrow.Field('item', new arrow.Utf8(), true)), true),
    ]);
    const expected = assignFreshIds([
      T.field(0, 'a', T.long(), true),
      T.field(0, 'loc', T.struct([T.field(0, 'lat', T.double()), T.field(0, 'lon', T.double())])),
      T.field(0, 'tags', T.list(0, T.string())),
    ]);
    expect(arrowToIcebergSchema(plain).fields).toEqual(expected.fields);
    expect(expected.fields.map((f) => f.id)).toEqual([1, 2, 3]);
  });

  it('keeps the ids present and numbers the missing ones above the highest', () => {
    const s = new arrow.Schema([
      new arrow.Field('a', new arrow.Int32(), true, new Map([[PARQUET_FIELD_ID_KEY, '7']])),
      new arrow.Field('b', new arrow.Utf8(), true),
    ]);
    expect(arrowToIcebergSchema(s).fields.map((f) => [f.name, f.id])).toEqual([['a', 7], ['b', 8]]);
  });

  it('reads a bare FixedSizeBinary(16) as fixed[16] and one tagged arrow.uuid as uuid', () => {
    expect(arrowToIcebergType(new arrow.FixedSizeBinary(16))).toEqual(T.fixed(16));
    const tagged = new arrow.Schema([new arrow.Field('u', new arrow.FixedSizeBinary(16), true, new Map([['ARROW:extension:name', 'arrow.uuid']]))]);
    expect(arrowToIcebergSchema(tagged).fields[0]!.type).toEqual(T.uuid());
  });

  it('accepts the Arrow layouts that store an Iceberg type (LargeUtf8, dictionary strings, zoned timestamps)', () => {
    expect(arrowToIcebergType(new arrow.LargeUtf8())).toEqual(T.string());
    expect(arrowToIcebergType(new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()))).toEqual(T.string());
    expect(arrowToIcebergType(new arrow.TimestampMicrosecond('Europe/Paris'))).toEqual(T.timestamptz());
    expect(arrowToIcebergType(new arrow.Uint32())).toEqual(T.long());
  });

  it('rejects types Iceberg cannot hold, with the reason', () => {
    expect(() => arrowToIcebergType(new arrow.Uint64())).toThrow(/unsigned 64-bit/);
    expect(() => arrowToIcebergType(new arrow.TimestampMillisecond())).toThrow(/microseconds; use TimestampMicrosecond/);
  });
});

function schemaError(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LakehouseError);
    expect((e as LakehouseError).code).toBe('SCHEMA_MISMATCH');
    return (e as Error).message;
  }
  throw new Error('expected a SCHEMA_MISMATCH error');
}

describe('checkBatchSchema', () => {
  const table = new Schema([
    T.field(1, 'id', T.long(), true),
    T.field(2, 'name', T.string()),
    T.field(3, 'loc', T.struct([T.field(4, 'lat', T.double(), true), T.field(5, 'lon', T.double())])),
  ]);
  const f = (name: string, type: arrow.DataType, nullable = true) => new arrow.Field(name, type, nullable);
  const loc = () => f('loc', new arrow.Struct([f('lat', new arrow.Float64(), false), f('lon', new arrow.Float64())]));

  it('accepts the columns in any order and without the optional ones', () => {
    expect(() => checkBatchSchema(table, new arrow.Schema([loc(), f('id', new arrow.Int64(), false)]))).not.toThrow();
  });

  it('names the column, the table type and the Arrow type it got', () => {
    const msg = schemaError(() => checkBatchSchema(table, new arrow.Schema([f('id', new arrow.Int32(), false), f('name', new arrow.Utf8())])));
    expect(msg).toContain('column "id" is long in the table (Arrow Int64) but the batch has Arrow Int32');
  });

  it('names a nested column by its dotted path', () => {
    const badLoc = f('loc', new arrow.Struct([f('lat', new arrow.Float32(), false)]));
    const msg = schemaError(() => checkBatchSchema(table, new arrow.Schema([f('id', new arrow.Int64(), false), badLoc])));
    expect(msg).toContain('column "loc.lat" is double in the table (Arrow Float64) but the batch has Arrow Float32');
  });

  it('reports a missing required column', () => {
    const msg = schemaError(() => checkBatchSchema(table, new arrow.Schema([f('name', new arrow.Utf8())])));
    expect(msg).toContain('required column "id" (long) is missing from the batch');
  });

  it('reports an unknown column and lists the table columns', () => {
    const msg = schemaError(() => checkBatchSchema(table, new arrow.Schema([f('id', new arrow.Int64(), false), f('nmae', new arrow.Utf8())])));
    expect(msg).toContain('column "nmae" is not in the table schema (columns there: id, name, loc)');
  });

  it('reports every problem in one sentence', () => {
    const msg = schemaError(() => checkBatchSchema(table, new arrow.Schema([f('name', new arrow.Int32()), f('x', new arrow.Utf8())])));
    expect(msg).toMatch(/^The batch does not match the table schema: .*"x".*; .*"id".*; .*"name".*\.$/);
  });

  it('rejects a nullable Arrow field for a required column when only the schema is known', () => {
    const msg = schemaError(() => checkBatchSchema(table, new arrow.Schema([f('id', new arrow.Int64(), true)])));
    expect(msg).toContain('column "id" is required in the table but the Arrow field is nullable');
  });

  it('accepts a nullable Arrow field for a required column when the batch holds no null there', () => {
    const batch = arrow.tableFromArrays({ id: BigInt64Array.of(1n, 2n) }).batches[0]!;
    const nullable = new arrow.RecordBatch(new arrow.Schema([f('id', new arrow.Int64(), true)]), batch.data);
    expect(() => checkBatchSchema(table, nullable)).not.toThrow();
  });

  it('rejects nulls in a required column and counts them', () => {
    const data = arrow.makeData({ type: new arrow.Int64(), length: 3, nullCount: 2, nullBitmap: Uint8Array.of(0b010), data: new BigInt64Array(3) });
    const schema = new arrow.Schema([f('id', new arrow.Int64(), true)]);
    const batch = new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: 3, nullCount: 0, children: [data] }));
    expect(schemaError(() => checkBatchSchema(table, batch))).toContain('column "id" is required in the table but the batch has 2 null value(s) in it');
  });

  it('lets a required struct child be null where its struct is null', () => {
    const rows = [{ id: 1n, loc: null }, { id: 2n, loc: { lat: 1.5, lon: null } }];
    expect(() => checkBatchSchema(table, rowsToRecordBatch(table, rows))).not.toThrow();
  });
});

describe('rows <-> Arrow', () => {
  it('round-trips every type, nulls and extremes through a RecordBatch', () => {
    const rows = [
      {
        b: true, i: -2147483648, l: -(2n ** 63n), f: -0, d: NaN, dec9: -999999999n, dec38: 10n ** 38n - 1n, dt: -719162, tm: 86_399_999_999n,
        ts: -62135596800000000n, tstz: 1_700_000_000_123_456n, s: 'héllo 🌍', u: 'ffffffff-0000-4000-8000-000000000001',
        bin: Uint8Array.of(0, 255), fx: Uint8Array.of(1, 2, 3), lst: ['a', ''], m: new Map([['k', 1n], ['z', null]]),
        st: { x: 1.5, inner: { y: -1 } },
      },
      {
        b: null, i: 2147483647, l: 2n ** 63n - 1n, f: null, d: Infinity, dec9: null, dec38: -(10n ** 38n - 1n), dt: null, tm: 0n,
        ts: null, tstz: null, s: '', u: null, bin: new Uint8Array(0), fx: null, lst: [], m: new Map(), st: null,
      },
    ];
    const batch = rowsToRecordBatch(allTypes, rows);
    expect(batch.numRows).toBe(2);
    expect(recordBatchToRows(batch, allTypes)).toEqual(rows);
  });

  it('says which row and column hold a value of the wrong type', () => {
    expect(() => rowsToRecordBatch(allTypes, [{ i: 1, l: 1.5 }])).toThrow('Row 0, column "l" (long): 1.5 is not a valid value; expected a bigint (or a safe integer number).');
    expect(() => rowsToRecordBatch(allTypes, [{ i: null }])).toThrow('Row 0: column "i" is required but has no value.');
  });
});
