import { Schema, T } from '../../iceberg/index.ts';

/**
 * One table's worth of every Iceberg type with nulls, unicode and extreme values: shared by the
 * interop tests (our writer -> their readers) and the harness self-test (their writer -> their readers).
 */
export const ALL_TYPES_SCHEMA = new Schema([
  T.field(1, 'id', T.int(), true),
  T.field(2, 'b', T.boolean()),
  T.field(3, 'i', T.int()),
  T.field(4, 'l', T.long()),
  T.field(5, 'f', T.float()),
  T.field(6, 'd', T.double()),
  T.field(7, 'dec38', T.decimal(38, 10)),
  T.field(8, 'dec9', T.decimal(9, 2)),
  T.field(9, 'dt', T.date()),
  T.field(10, 'tm', T.time()),
  T.field(11, 'ts', T.timestamp()),
  T.field(12, 'tstz', T.timestamptz()),
  T.field(13, 's', T.string()),
  T.field(14, 'u', T.uuid()),
  T.field(15, 'bin', T.binary()),
  T.field(16, 'fx', T.fixed(4)),
  T.field(17, 'st', T.struct([T.field(20, 'a', T.int()), T.field(21, 'b', T.string())])),
  T.field(18, 'li', T.list(22, T.long())),
  T.field(19, 'm', T.map(23, T.string(), 24, T.double())),
]);

export const bytes = (...b: number[]) => new Uint8Array(b);
export const NULLS: Record<string, null> = Object.fromEntries(ALL_TYPES_SCHEMA.fields.slice(1).map((f) => [f.name, null]));

export const ALL_TYPES_ROWS: Record<string, unknown>[] = [
  {
    id: 1, b: true, i: -2147483648, l: -9223372036854775808n, f: 1.5, d: Number.NaN,
    dec38: 10n ** 38n - 1n, dec9: -999999999n, dt: -719162 /* 0001-01-01 */, tm: 0n,
    ts: -62135596800000000n /* 0001-01-01T00:00 */, tstz: 1704067200000001n, s: 'héllo 世界 🎉',
    u: '123e4567-e89b-12d3-a456-426614174000', bin: bytes(0, 255, 16), fx: bytes(0xde, 0xad, 0xbe, 0xef),
    st: { a: 1, b: 'x' }, li: [1n, -9223372036854775808n, null], m: new Map([['a', 1], ['b', null], ['é', Number.NaN]]),
  },
  {
    id: 2, b: false, i: 2147483647, l: 9223372036854775807n, f: -0, d: -0,
    dec38: -(10n ** 38n - 1n), dec9: 999999999n, dt: 2932896 /* 9999-12-31 */, tm: 86399999999n,
    ts: 253402300799999999n /* 9999-12-31T23:59:59.999999 */, tstz: -1n, s: '',
    u: 'ffffffff-ffff-ffff-ffff-ffffffffffff', bin: bytes(), fx: bytes(0, 0, 0, 0),
    st: { a: null, b: null }, li: [], m: new Map(),
  },
  {
    id: 3, b: null, i: null, l: null, f: Infinity, d: -Infinity, dec38: 1n, dec9: -1n, dt: -1, tm: 1n,
    ts: -1n, tstz: -62135596800000000n, s: 'tab\tnl\nq"\\ \u0001 \u007f ｱ \u2028',
    u: '00000000-0000-0000-0000-000000000000', bin: bytes(255), fx: bytes(255, 255, 255, 255),
    st: null, li: null, m: null,
  },
  { ...NULLS, id: 4, f: Number.NaN, d: Number.MIN_VALUE, li: [null], m: [['k', null]] },
  {
    id: 5, b: null, i: 0, l: 0n, f: -Infinity, d: Number.MAX_VALUE, dec38: -1n, dec9: 0n, dt: 0, tm: 43200000000n,
    ts: 1704067200123456n, tstz: 1704067200123456n, s: '😀', u: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    bin: bytes(0), fx: bytes(1, 2, 3, 4), st: { a: -5, b: '日本' }, li: [5n], m: new Map([['z', 1], ['a', 2], ['ｱ', 3], ['🎉', 4]]),
  },
  { ...NULLS, id: 6, f: 0.1, d: 0.1 },
];

