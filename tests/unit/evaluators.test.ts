import { describe, expect, it } from 'vitest';
import { evaluatePartition, evaluateRow, manifestMightMatch, metricsAllMatch, metricsMightMatch, and, bind, eq, gt, gtEq, isIn, isNan, isNull, lt, ltEq, not, notEq, notIn, notNan, notNull, notStartsWith, or, rewriteNot, startsWith, type BoundExpr, type Expr, type DataFile, type FieldSummary, type PartitionField, type PartitionSpec, inclusiveProjection, strictProjection, type PartitionExpr, type PartitionReference, Schema, T, type PrimitiveType, type Value } from '../../iceberg/index.ts';

const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'event_type', T.string()),
  T.field(3, 'event_time', T.timestamptz()),
  T.field(4, 'amount', T.double()),
  T.field(5, 'day', T.date()),
  T.field(7, 'count', T.int()),
]);
const b = (e: Expr): BoundExpr => bind(e, schema);

// Timestamps as epoch micros, computed by hand from epoch seconds.
const DEC31 = 1703980800000000n; // 2023-12-31T00:00:00Z
const T0 = 1704067200000000n; // 2024-01-01T00:00:00Z, day 19723
const T12 = 1704110400000000n; // 2024-01-01T12:00:00Z, hour 473364
const T2359 = 1704153540000000n; // 2024-01-01T23:59:00Z
const JAN2 = 1704153600000000n; // 2024-01-02T00:00:00Z, day 19724

// Single-value binary serialization (spec Appendix D), written byte by byte here.
function le32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, n, true);
  return out;
}
function le64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, n, true);
  return out;
}
function f64(x: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, x, true);
  return out;
}
const utf8 = (s: string) => new TextEncoder().encode(s);

function file(p: Partial<DataFile> = {}): DataFile {
  return { content: 0, filePath: 'mem://f.parquet', fileFormat: 'PARQUET', partition: [], recordCount: 10, fileSizeInBytes: 1, specId: 0, ...p };
}

/** event_time in [00:00, 23:59] of 2024-01-01, no nulls. */
const dayFile = file({
  valueCounts: new Map([[3, 10]]),
  nullValueCounts: new Map([[3, 0]]),
  lowerBounds: new Map([[3, le64(T0)]]),
  upperBounds: new Map([[3, le64(T2359)]]),
});

function spec(...fields: Array<[sourceId: number, transform: string]>): PartitionSpec {
  return {
    specId: 1,
    fields: fields.map(([sourceId, transform], i): PartitionField => ({ sourceId, fieldId: 1000 + i, name: `p${i}`, transform })),
  };
}

/** A projected expression reduced to [op, position, literal(s)] for hand-written expectations. */
function strip(e: PartitionExpr): unknown {
  if (e.op === 'true' || e.op === 'false') return e.op;
  if (e.op === 'and' || e.op === 'or') return [e.op, strip(e.left), strip(e.right)];
  if (e.op === 'not') return ['not', strip(e.child)];
  if ('values' in e) return [e.op, e.term.position, e.values];
  if ('value' in e) return [e.op, e.term.position, e.value];
  return [e.op, e.term.position];
}

const incl = (e: Expr, s: PartitionSpec) => strip(inclusiveProjection(b(e), s, schema));
const strict = (e: Expr, s: PartitionSpec) => strip(strictProjection(b(e), s, schema));

describe('evaluateRow', () => {
  const row = (values: Record<number, Value>) => (id: number) => values[id] ?? null;
  const matches = (e: Expr, values: Record<number, Value>) => evaluateRow(b(e), row(values));

  it('compares with each operator', () => {
    const r = { 1: 5n, 2: 'click', 3: T12 };
    expect(matches(eq('id', 5), r)).toBe(true);
    expect(matches(notEq('id', 5), r)).toBe(false);
    expect(matches(lt('id', 5), r)).toBe(false);
    expect(matches(ltEq('id', 5), r)).toBe(true);
    expect(matches(gt('id', 4), r)).toBe(true);
    expect(matches(gtEq('id', 6), r)).toBe(false);
    expect(matches(isIn('event_type', ['view', 'click']), r)).toBe(true);
    expect(matches(notIn('event_type', ['view', 'click']), r)).toBe(false);
    expect(matches(startsWith('event_type', 'cl'), r)).toBe(true);
    expect(matches(notStartsWith('event_type', 'cl'), r)).toBe(false);
    expect(matches(gtEq('event_time', '2024-01-01T12:00:00Z'), r)).toBe(true);
    expect(matches(lt('event_time', '2024-01-01T13:00:00+01:00'), r)).toBe(false);
  });

  it('makes every comparison with null false, notEq, notIn and notStartsWith included (SQL)', () => {
    const r = { 1: 1n };
    expect(matches(eq('event_type', 'a'), r)).toBe(false);
    expect(matches(notEq('event_type', 'a'), r)).toBe(false);
    expect(matches(notIn('event_type', ['a', 'b']), r)).toBe(false);
    expect(matches(notStartsWith('event_type', 'a'), r)).toBe(false);
    expect(matches(isNull('event_type'), r)).toBe(true);
    expect(matches(notNull('event_type'), r)).toBe(false);
  });

  it('keeps NOT of an unknown comparison unknown, so NOT (x = 1) skips null rows', () => {
    expect(matches(not(eq('event_type', 'a')), { 1: 1n })).toBe(false);
    expect(matches(not(lt('amount', 1)), { 1: 1n })).toBe(false);
  });

  it('combines unknown with AND/OR/NOT as Kleene logic', () => {
    const r = { 1: 1n }; // event_type is null: eq is unknown
    expect(matches(or(eq('event_type', 'a'), eq('id', 1)), r)).toBe(true);
    expect(matches(or(eq('event_type', 'a'), eq('id', 2)), r)).toBe(false);
    expect(matches(not(and(eq('event_type', 'a'), eq('id', 2))), r)).toBe(true);
    expect(matches(not(or(eq('event_type', 'a'), eq('id', 2))), r)).toBe(false);
  });

  it('never orders NaN and never finds it equal to a literal', () => {
    const r = { 4: Number.NaN };
    expect(matches(lt('amount', 1), r)).toBe(false);
    expect(matches(gtEq('amount', 1), r)).toBe(false);
    expect(matches(not(lt('amount', 1)), r)).toBe(false);
    expect(matches(eq('amount', 1), r)).toBe(false);
    expect(matches(notEq('amount', 1), r)).toBe(true);
    expect(matches(isIn('amount', [1, 2]), r)).toBe(false);
    expect(matches(notIn('amount', [1, 2]), r)).toBe(true);
    expect(matches(isNan('amount'), r)).toBe(true);
    expect(matches(notNan('amount'), r)).toBe(false);
  });

  it('treats null as not NaN', () => {
    expect(matches(isNan('amount'), {})).toBe(false);
    expect(matches(notNan('amount'), {})).toBe(true);
  });

  it('gives the same answer before and after pushing NOTs down, for null and NaN rows too', () => {
    const filters = [
      not(and(lt('amount', 1), notEq('event_type', 'a'))),
      not(or(isIn('amount', [1, 2]), startsWith('event_type', 'x'))),
      not(and(not(isNan('amount')), gtEq('amount', 0))),
    ];
    const rows: Record<number, Value>[] = [{}, { 4: Number.NaN }, { 4: 0.5, 2: 'a' }, { 4: 3, 2: 'xy' }, { 4: 1 }];
    for (const f of filters) {
      for (const r of rows) expect(evaluateRow(rewriteNot(b(f)), row(r))).toBe(evaluateRow(b(f), row(r)));
    }
  });
});

describe('inclusiveProjection', () => {
  const day = spec([3, 'day']);
  const x = '2024-01-01T00:00:00Z';

  it('projects ranges on a day transform with the open bounds closed (pyiceberg _truncate_number)', () => {
    expect(incl(lt('event_time', x), day)).toEqual(['ltEq', 0, 19722]); // day(x - 1 micro)
    expect(incl(ltEq('event_time', x), day)).toEqual(['ltEq', 0, 19723]);
    expect(incl(gt('event_time', x), day)).toEqual(['gtEq', 0, 19723]); // day(x + 1 micro)
    expect(incl(gtEq('event_time', x), day)).toEqual(['gtEq', 0, 19723]);
    expect(incl(eq('event_time', '2024-01-01T12:00:00Z'), day)).toEqual(['eq', 0, 19723]);
  });

  it('projects IN on a day transform to the set of days', () => {
    expect(incl(isIn('event_time', [x, '2024-01-02T00:00:00Z']), day)).toEqual(['in', 0, [19723, 19724]]);
    expect(incl(isIn('event_time', [x, '2024-01-01T12:00:00Z']), day)).toEqual(['eq', 0, 19723]);
  });

  it('cannot project notEq or NOT IN through a day transform', () => {
    expect(incl(notEq('event_time', x), day)).toBe('true');
    expect(incl(notIn('event_time', [x, '2024-01-02T00:00:00Z']), day)).toBe('true');
  });

  it('admits the next period for negative days, for files written by pre-epoch-buggy writers (Java fixInclusiveTimeProjection)', () => {
    // day(1969-12-30T23:59:59.999999) = -2, widened to -1.
    expect(incl(lt('event_time', '1969-12-31T00:00:00Z'), day)).toEqual(['ltEq', 0, -1]);
    expect(incl(eq('event_time', '1969-12-31T12:00:00Z'), day)).toEqual(['in', 0, [-1, 0]]);
    expect(incl(gtEq('event_time', '1969-12-31T12:00:00Z'), day)).toEqual(['gtEq', 0, -1]);
  });

  it('does not widen day(date), which is the identity and was never wrong', () => {
    expect(incl(lt('day', '1969-12-30'), spec([5, 'day']))).toEqual(['ltEq', 0, -3]);
  });

  it('widens month(date) before the epoch', () => {
    // 1969-11-30 (day -32) is month -2; widened to -1.
    expect(incl(lt('day', '1969-12-01'), spec([5, 'month']))).toEqual(['ltEq', 0, -1]);
  });

  it('projects bucket only for eq and IN', () => {
    // Spec Appendix B: hash(34L) = 2017239379, & MAX_INT % 16 = 3.
    expect(incl(eq('id', 34), spec([1, 'bucket[16]']))).toEqual(['eq', 0, 3]);
    // hash(2017-11-16T22:31:08) = -2047944441 -> 7, hash(...08.000001) = -1207196810 -> 6.
    expect(incl(isIn('event_time', ['2017-11-16T22:31:08Z', '2017-11-16T22:31:08.000001Z']), spec([3, 'bucket[16]']))).toEqual(['in', 0, [7, 6]]);
    expect(incl(lt('id', 34), spec([1, 'bucket[16]']))).toBe('true');
    expect(incl(notEq('id', 34), spec([1, 'bucket[16]']))).toBe('true');
    expect(incl(notIn('id', [34, 35]), spec([1, 'bucket[16]']))).toBe('true');
  });

  it('projects string truncate for ranges, eq, startsWith and IN', () => {
    const t3 = spec([2, 'truncate[3]']);
    expect(incl(eq('event_type', 'abcdef'), t3)).toEqual(['eq', 0, 'abc']);
    expect(incl(lt('event_type', 'abcdef'), t3)).toEqual(['ltEq', 0, 'abc']);
    expect(incl(gt('event_type', 'abcdef'), t3)).toEqual(['gtEq', 0, 'abc']);
    expect(incl(startsWith('event_type', 'ab'), t3)).toEqual(['startsWith', 0, 'ab']);
    expect(incl(startsWith('event_type', 'abcd'), t3)).toEqual(['startsWith', 0, 'abc']);
    expect(incl(isIn('event_type', ['abcd', 'abcx', 'zz']), t3)).toEqual(['in', 0, ['abc', 'zz']]);
    expect(incl(notEq('event_type', 'abc'), t3)).toBe('true');
  });

  it('projects notStartsWith through truncate only when the prefix fits the width', () => {
    const t3 = spec([2, 'truncate[3]']);
    expect(incl(notStartsWith('event_type', 'ab'), t3)).toEqual(['notStartsWith', 0, 'ab']);
    expect(incl(notStartsWith('event_type', 'abc'), t3)).toEqual(['notEq', 0, 'abc']);
    expect(incl(notStartsWith('event_type', 'abcd'), t3)).toBe('true');
  });

  it('counts truncate width in code points', () => {
    expect(incl(startsWith('event_type', 'é😀xy'), spec([2, 'truncate[3]']))).toEqual(['startsWith', 0, 'é😀x']);
  });

  it('projects integer truncate ranges with adjusted bounds', () => {
    const t10 = spec([7, 'truncate[10]']);
    expect(incl(lt('count', 15), t10)).toEqual(['ltEq', 0, 10]);
    expect(incl(lt('count', 10), t10)).toEqual(['ltEq', 0, 0]);
    expect(incl(gt('count', 19), t10)).toEqual(['gtEq', 0, 20]);
    expect(incl(gtEq('count', -1), t10)).toEqual(['gtEq', 0, -10]);
    expect(incl(eq('count', 15), t10)).toEqual(['eq', 0, 10]);
  });

  it('passes every predicate through identity', () => {
    const id = spec([2, 'identity']);
    expect(incl(notEq('event_type', 'a'), id)).toEqual(['notEq', 0, 'a']);
    expect(incl(notIn('event_type', ['a', 'b']), id)).toEqual(['notIn', 0, ['a', 'b']]);
    expect(incl(isNull('event_type'), id)).toEqual(['isNull', 0]);
    expect(incl(notStartsWith('event_type', 'a'), id)).toEqual(['notStartsWith', 0, 'a']);
  });

  it('ANDs the projections of every field sourced from the column', () => {
    expect(incl(eq('event_time', '2024-01-01T12:00:00Z'), spec([3, 'day'], [3, 'hour']))).toEqual(['and', ['eq', 0, 19723], ['eq', 1, 473364]]);
  });

  it('projects unpartitioned columns, void and unknown transforms to true', () => {
    expect(incl(lt('amount', 1), spec([3, 'day']))).toBe('true');
    expect(incl(eq('event_type', 'a'), spec([2, 'void']))).toBe('true');
    expect(incl(eq('event_type', 'a'), spec([2, 'zorder']))).toBe('true');
  });

  it('keeps AND/OR structure and pushes NOT down first', () => {
    const s = spec([2, 'identity']);
    expect(incl(and(eq('event_type', 'a'), lt('amount', 1)), s)).toEqual(['eq', 0, 'a']);
    expect(incl(or(eq('event_type', 'a'), lt('amount', 1)), s)).toBe('true');
    expect(incl(not(eq('event_type', 'a')), s)).toEqual(['notEq', 0, 'a']);
    expect(incl(not(and(eq('event_type', 'a'), lt('amount', 1))), s)).toBe('true');
  });
});

describe('strictProjection', () => {
  const day = spec([3, 'day']);
  const x = '2024-01-01T00:00:00Z';

  it('projects ranges on a day transform so that every row in a matching partition matches', () => {
    expect(strict(lt('event_time', x), day)).toEqual(['lt', 0, 19723]);
    expect(strict(ltEq('event_time', x), day)).toEqual(['lt', 0, 19723]); // day(x + 1 micro)
    expect(strict(gt('event_time', x), day)).toEqual(['gt', 0, 19723]);
    expect(strict(gtEq('event_time', x), day)).toEqual(['gt', 0, 19722]); // day(x - 1 micro)
    expect(strict(notEq('event_time', x), day)).toEqual(['notEq', 0, 19723]);
    expect(strict(notIn('event_time', [x, '2024-01-02T00:00:00Z']), day)).toEqual(['notIn', 0, [19723, 19724]]);
  });

  it('has no strict projection for eq or IN on a day transform', () => {
    expect(strict(eq('event_time', x), day)).toBe('false');
    expect(strict(isIn('event_time', [x, '2024-01-02T00:00:00Z']), day)).toBe('false');
  });

  it('demands one more period for bounds at or before the epoch (Java fixStrictTimeProjection)', () => {
    expect(strict(gtEq('event_time', '1970-01-01T00:00:00Z'), day)).toEqual(['gt', 0, 0]);
    expect(strict(notEq('event_time', '1969-12-31T12:00:00Z'), day)).toEqual(['notIn', 0, [-1, 0]]);
  });

  it('projects bucket only for notEq and NOT IN', () => {
    expect(strict(notEq('id', 34), spec([1, 'bucket[16]']))).toEqual(['notEq', 0, 3]);
    expect(strict(eq('id', 34), spec([1, 'bucket[16]']))).toBe('false');
  });

  it('projects string truncate startsWith exactly when the prefix fits the width', () => {
    const t3 = spec([2, 'truncate[3]']);
    expect(strict(startsWith('event_type', 'ab'), t3)).toEqual(['startsWith', 0, 'ab']);
    expect(strict(startsWith('event_type', 'abc'), t3)).toEqual(['eq', 0, 'abc']);
    expect(strict(startsWith('event_type', 'abcd'), t3)).toBe('false');
    expect(strict(notStartsWith('event_type', 'abcd'), t3)).toEqual(['notStartsWith', 0, 'abc']);
    expect(strict(lt('event_type', 'abcdef'), t3)).toEqual(['lt', 0, 'abc']);
    expect(strict(notEq('event_type', 'abcdef'), t3)).toEqual(['notEq', 0, 'abc']);
    expect(strict(eq('event_type', 'abc'), t3)).toBe('false');
  });

  it('projects integer truncate ranges strictly', () => {
    const t10 = spec([7, 'truncate[10]']);
    expect(strict(lt('count', 15), t10)).toEqual(['lt', 0, 10]);
    expect(strict(ltEq('count', 19), t10)).toEqual(['lt', 0, 20]);
    expect(strict(gtEq('count', 20), t10)).toEqual(['gt', 0, 10]);
    expect(strict(eq('count', 15), t10)).toBe('false');
  });

  it('ORs the projections of every field sourced from the column', () => {
    expect(strict(gt('event_time', '2024-01-01T12:00:00Z'), spec([3, 'day'], [3, 'hour']))).toEqual(['or', ['gt', 0, 19723], ['gt', 1, 473364]]);
  });

  it('projects unpartitioned columns and void transforms to false', () => {
    expect(strict(lt('amount', 1), day)).toBe('false');
    expect(strict(eq('event_type', 'a'), spec([2, 'void']))).toBe('false');
  });
});

describe('evaluatePartition', () => {
  it('tests a day projection against partition tuples', () => {
    const p = inclusiveProjection(b(gtEq('event_time', '2024-01-01T12:00:00Z')), spec([3, 'day']), schema);
    expect(evaluatePartition(p, [19723])).toBe(true);
    expect(evaluatePartition(p, [19722])).toBe(false);
    expect(evaluatePartition(p, [null])).toBe(false);
  });

  it('treats a null partition value as failing notEq and passing isNull', () => {
    const s = spec([2, 'identity']);
    expect(evaluatePartition(strictProjection(b(notEq('event_type', 'a')), s, schema), [null])).toBe(false);
    expect(evaluatePartition(strictProjection(b(notEq('event_type', 'a')), s, schema), ['b'])).toBe(true);
    expect(evaluatePartition(strictProjection(b(isNull('event_type')), s, schema), [null])).toBe(true);
  });

  it('evaluates bucket and truncate projections', () => {
    expect(evaluatePartition(inclusiveProjection(b(eq('id', 34)), spec([1, 'bucket[16]']), schema), [3])).toBe(true);
    expect(evaluatePartition(inclusiveProjection(b(eq('id', 34)), spec([1, 'bucket[16]']), schema), [4])).toBe(false);
    const t3 = inclusiveProjection(b(startsWith('event_type', 'abcd')), spec([2, 'truncate[3]']), schema);
    expect(evaluatePartition(t3, ['abc'])).toBe(true);
    expect(evaluatePartition(t3, ['abd'])).toBe(false);
  });

  it('reads the value at each field position', () => {
    const p = inclusiveProjection(b(and(eq('event_type', 'a'), eq('id', 34))), spec([2, 'identity'], [1, 'bucket[16]']), schema);
    expect(evaluatePartition(p, ['a', 3])).toBe(true);
    expect(evaluatePartition(p, ['a', 5])).toBe(false);
  });
});

describe('manifestMightMatch', () => {
  const intRef = (type: PrimitiveType = T.int()): PartitionReference => ({ position: 0, fieldId: 1000, name: 'p0', type, sourceId: 3, transform: 'day' });
  const ref = intRef();
  const days: FieldSummary[] = [{ containsNull: false, containsNan: false, lowerBound: le32(19720), upperBound: le32(19725) }];
  const might = (e: PartitionExpr, s: FieldSummary[] | null = days, type: PrimitiveType = T.int()) => manifestMightMatch(e, s, [type]);

  it('skips a manifest when eq falls outside the bounds', () => {
    expect(might({ op: 'eq', term: ref, value: 19723 })).toBe(true);
    expect(might({ op: 'eq', term: ref, value: 19726 })).toBe(false);
    expect(might({ op: 'eq', term: ref, value: 19719 })).toBe(false);
  });

  it('compares ranges with the lower and upper bound', () => {
    expect(might({ op: 'lt', term: ref, value: 19720 })).toBe(false);
    expect(might({ op: 'lt', term: ref, value: 19721 })).toBe(true);
    expect(might({ op: 'ltEq', term: ref, value: 19719 })).toBe(false);
    expect(might({ op: 'ltEq', term: ref, value: 19720 })).toBe(true);
    expect(might({ op: 'gt', term: ref, value: 19725 })).toBe(false);
    expect(might({ op: 'gt', term: ref, value: 19724 })).toBe(true);
    expect(might({ op: 'gtEq', term: ref, value: 19726 })).toBe(false);
    expect(might({ op: 'gtEq', term: ref, value: 19725 })).toBe(true);
  });

  it('skips IN when every value is outside the bounds', () => {
    expect(might({ op: 'in', term: ref, values: [1, 19726] })).toBe(false);
    expect(might({ op: 'in', term: ref, values: [1, 2] })).toBe(false);
    expect(might({ op: 'in', term: ref, values: [1, 19723] })).toBe(true);
  });

  it('never skips for notEq / NOT IN', () => {
    expect(might({ op: 'notEq', term: ref, value: 19723 })).toBe(true);
    expect(might({ op: 'notIn', term: ref, values: [19720, 19721] })).toBe(true);
  });

  it('uses contains_null for isNull and notNull', () => {
    expect(might({ op: 'isNull', term: ref })).toBe(false);
    expect(might({ op: 'isNull', term: ref }, [{ containsNull: true, lowerBound: le32(1), upperBound: le32(2) }])).toBe(true);
    expect(might({ op: 'notNull', term: ref }, [{ containsNull: true, lowerBound: null, upperBound: null }])).toBe(false);
    expect(might({ op: 'eq', term: ref, value: 1 }, [{ containsNull: true }])).toBe(false);
  });

  it('uses contains_nan for isNaN and notNaN', () => {
    const d = intRef(T.double());
    expect(might({ op: 'isNaN', term: d }, [{ containsNull: false, containsNan: false, lowerBound: f64(1), upperBound: f64(2) }], T.double())).toBe(false);
    expect(might({ op: 'isNaN', term: d }, [{ containsNull: false, lowerBound: f64(1), upperBound: f64(2) }], T.double())).toBe(true);
    expect(might({ op: 'notNaN', term: d }, [{ containsNull: false, containsNan: true }], T.double())).toBe(false);
    // A float field without bounds but with NaNs is not all null.
    expect(might({ op: 'notNull', term: d }, [{ containsNull: true, containsNan: true }], T.double())).toBe(true);
  });

  it('checks string prefixes against the bounds', () => {
    const s = intRef(T.string());
    const sum: FieldSummary[] = [{ containsNull: false, lowerBound: utf8('abc'), upperBound: utf8('abf') }];
    expect(might({ op: 'startsWith', term: s, value: 'abd' }, sum, T.string())).toBe(true);
    expect(might({ op: 'startsWith', term: s, value: 'ab' }, sum, T.string())).toBe(true);
    expect(might({ op: 'startsWith', term: s, value: 'abg' }, sum, T.string())).toBe(false);
    expect(might({ op: 'startsWith', term: s, value: 'aa' }, sum, T.string())).toBe(false);
    expect(might({ op: 'notStartsWith', term: s, value: 'ab' }, sum, T.string())).toBe(false);
    expect(might({ op: 'notStartsWith', term: s, value: 'abc' }, sum, T.string())).toBe(true);
    expect(might({ op: 'notStartsWith', term: s, value: 'ab' }, [{ ...sum[0]!, containsNull: true }], T.string())).toBe(true);
  });

  it('reads every manifest without partition summaries', () => {
    expect(might({ op: 'eq', term: ref, value: 1 }, null)).toBe(true);
    expect(might({ op: 'eq', term: ref, value: 1 }, [])).toBe(true);
  });

  it('combines AND/OR and pushes NOT down', () => {
    const inRange: PartitionExpr = { op: 'eq', term: ref, value: 19723 };
    const outside: PartitionExpr = { op: 'eq', term: ref, value: 1 };
    expect(might({ op: 'and', left: inRange, right: outside })).toBe(false);
    expect(might({ op: 'or', left: inRange, right: outside })).toBe(true);
    expect(might({ op: 'not', child: { op: 'gtEq', term: ref, value: 19720 } })).toBe(false);
  });

  it('prunes end to end with the inclusive projection of a row filter', () => {
    // Days 19720..19725 are 2023-12-29..2024-01-03.
    const before = inclusiveProjection(b(lt('event_time', '2023-12-29T00:00:00Z')), spec([3, 'day']), schema);
    expect(manifestMightMatch(before, days, [T.date()])).toBe(false);
    const last = inclusiveProjection(b(lt('event_time', '2023-12-29T00:00:00.000001Z')), spec([3, 'day']), schema);
    expect(manifestMightMatch(last, days, [T.date()])).toBe(true);
  });
});

describe('metricsMightMatch', () => {
  const might = (e: Expr, f: DataFile = dayFile) => metricsMightMatch(b(e), f);

  it('keeps a file whose event_time bounds overlap the filter and skips one that ends before it', () => {
    expect(might(gtEq('event_time', '2024-01-01T12:00:00Z'))).toBe(true);
    expect(might(lt('event_time', '2023-12-31T00:00:00Z'))).toBe(false);
  });

  it('compares each range operator with the right bound', () => {
    expect(might(lt('event_time', T0))).toBe(false);
    expect(might(ltEq('event_time', T0))).toBe(true);
    expect(might(gt('event_time', T2359))).toBe(false);
    expect(might(gtEq('event_time', T2359))).toBe(true);
    expect(might(gt('event_time', T12))).toBe(true);
  });

  it('skips eq and IN outside the bounds', () => {
    expect(might(eq('event_time', T12))).toBe(true);
    expect(might(eq('event_time', DEC31))).toBe(false);
    expect(might(eq('event_time', JAN2))).toBe(false);
    expect(might(isIn('event_time', [DEC31, JAN2]))).toBe(false);
    expect(might(isIn('event_time', [DEC31, T12]))).toBe(true);
  });

  it('never skips notEq / NOT IN', () => {
    expect(might(notEq('event_time', T0), file({ ...dayFile, upperBounds: new Map([[3, le64(T0)]]) }))).toBe(true);
    expect(might(notIn('event_time', [T0, T12]))).toBe(true);
  });

  it('keeps every file when the column has no metrics', () => {
    const bare = file();
    for (const e of [eq('event_time', T0), lt('event_time', T0), isNull('event_type'), notNull('event_type'), startsWith('event_type', 'a'), isNan('amount')]) {
      expect(might(e, bare)).toBe(true);
    }
  });

  it('skips empty files and keeps files with an unknown row count', () => {
    expect(might(gt('event_time', T0), file({ ...dayFile, recordCount: 0 }))).toBe(false);
    expect(might(lt('event_time', DEC31), file({ ...dayFile, recordCount: -1 }))).toBe(true);
  });

  it('uses null counts for isNull and notNull', () => {
    expect(might(isNull('event_time'))).toBe(false);
    const allNull = file({ valueCounts: new Map([[3, 10]]), nullValueCounts: new Map([[3, 10]]) });
    expect(might(isNull('event_time'), allNull)).toBe(true);
    expect(might(notNull('event_time'), allNull)).toBe(false);
    expect(might(eq('event_time', T0), allNull)).toBe(false);
    expect(might(notStartsWith('event_type', 'a'), file({ valueCounts: new Map([[2, 10]]), nullValueCounts: new Map([[2, 10]]) }))).toBe(true);
  });

  it('uses NaN counts for isNaN, notNaN and comparisons on a NaN-only column', () => {
    const nans = file({ valueCounts: new Map([[4, 5]]), nullValueCounts: new Map([[4, 0]]), nanValueCounts: new Map([[4, 5]]) });
    expect(might(isNan('amount'), nans)).toBe(true);
    expect(might(notNan('amount'), nans)).toBe(false);
    expect(might(lt('amount', 1), nans)).toBe(false);
    expect(might(eq('amount', 1), nans)).toBe(false);
    expect(might(isNan('amount'), file({ nanValueCounts: new Map([[4, 0]]) }))).toBe(false);
  });

  it('treats a NaN bound from an old writer as unreliable and keeps the file', () => {
    const f = file({ lowerBounds: new Map([[4, f64(Number.NaN)]]), upperBounds: new Map([[4, f64(Number.NaN)]]) });
    expect(might(lt('amount', 0), f)).toBe(true);
    expect(might(gt('amount', 0), f)).toBe(true);
  });

  describe('with string bounds truncated to 3 characters (values between abcdef and abczz)', () => {
    // A writer keeps the lower bound's prefix and rounds the upper bound's prefix up: abc.. -> abd.
    const truncated = file({
      valueCounts: new Map([[2, 10]]),
      nullValueCounts: new Map([[2, 0]]),
      lowerBounds: new Map([[2, utf8('abc')]]),
      upperBounds: new Map([[2, utf8('abd')]]),
    });
    const m = (e: Expr) => might(e, truncated);

    it('keeps eq on a value longer than the bounds', () => {
      expect(m(eq('event_type', 'abcdef'))).toBe(true);
      expect(m(eq('event_type', 'abczz'))).toBe(true);
    });

    it('still skips eq on values outside the bounds', () => {
      expect(m(eq('event_type', 'abe'))).toBe(false);
      expect(m(eq('event_type', 'abb'))).toBe(false);
    });

    it('compares ranges with the truncated bounds', () => {
      expect(m(lt('event_type', 'abc'))).toBe(false);
      expect(m(gt('event_type', 'abd'))).toBe(false);
      expect(m(gt('event_type', 'abcz'))).toBe(true);
    });

    it('matches prefixes against bounds cut to the prefix length', () => {
      expect(m(startsWith('event_type', 'abc'))).toBe(true);
      expect(m(startsWith('event_type', 'abcdefgh'))).toBe(true);
      expect(m(startsWith('event_type', 'abd'))).toBe(true);
      expect(m(startsWith('event_type', 'abe'))).toBe(false);
      expect(m(startsWith('event_type', 'abb'))).toBe(false);
    });

    it('skips notStartsWith only when both bounds carry the prefix', () => {
      expect(m(notStartsWith('event_type', 'ab'))).toBe(false);
      expect(m(notStartsWith('event_type', 'abc'))).toBe(true);
      expect(m(notStartsWith('event_type', 'abcd'))).toBe(true);
    });
  });

  it('combines AND/OR and pushes NOT down', () => {
    const f = file({ ...dayFile, lowerBounds: new Map([...dayFile.lowerBounds!, [2, utf8('a')]]), upperBounds: new Map([...dayFile.upperBounds!, [2, utf8('b')]]) });
    expect(might(and(gtEq('event_time', T12), eq('event_type', 'zzz')), f)).toBe(false);
    expect(might(or(gtEq('event_time', T12), eq('event_type', 'zzz')), f)).toBe(true);
    expect(might(not(gtEq('event_time', T0)), f)).toBe(false); // lt T0
    expect(might(not(lt('event_time', DEC31)), f)).toBe(true);
  });

  it('does not check more than 200 IN values against the bounds', () => {
    const many = Array.from({ length: 201 }, (_, i) => DEC31 - BigInt(i));
    expect(might(isIn('event_time', many))).toBe(true);
  });
});

describe('metricsAllMatch', () => {
  const all = (e: Expr, f: DataFile = dayFile) => metricsAllMatch(b(e), f);

  it('claims a range only when the whole file lies inside it', () => {
    expect(all(lt('event_time', JAN2))).toBe(true);
    expect(all(lt('event_time', T2359))).toBe(false);
    expect(all(ltEq('event_time', T2359))).toBe(true);
    expect(all(gt('event_time', DEC31))).toBe(true);
    expect(all(gt('event_time', T0))).toBe(false);
    expect(all(gtEq('event_time', T0))).toBe(true);
    expect(all(gtEq('event_time', '2024-01-01T12:00:00Z'))).toBe(false);
  });

  it('claims eq and IN only for a single-valued column', () => {
    const single = file({ nullValueCounts: new Map([[3, 0]]), lowerBounds: new Map([[3, le64(T0)]]), upperBounds: new Map([[3, le64(T0)]]) });
    expect(all(eq('event_time', T0), single)).toBe(true);
    expect(all(isIn('event_time', [T0, T12]), single)).toBe(true);
    expect(all(eq('event_time', T0))).toBe(false);
    expect(all(isIn('event_time', [T0, T2359]))).toBe(false);
  });

  it('never claims a comparison when the column has nulls or an unknown null count', () => {
    expect(all(lt('event_time', JAN2), file({ ...dayFile, nullValueCounts: new Map([[3, 1]]) }))).toBe(false);
    expect(all(lt('event_time', JAN2), file({ ...dayFile, nullValueCounts: undefined }))).toBe(false);
  });

  it('trusts a required column to have no nulls without a null count', () => {
    const ids = file({ lowerBounds: new Map([[1, le64(1n)]]), upperBounds: new Map([[1, le64(5n)]]) });
    expect(all(lt('id', 10), ids)).toBe(true);
  });

  it('claims notEq / NOT IN when every value is outside, but not when rows are null (SQL)', () => {
    expect(all(notEq('event_time', DEC31))).toBe(true);
    expect(all(notEq('event_time', T12))).toBe(false);
    expect(all(notIn('event_time', [DEC31, JAN2]))).toBe(true);
    expect(all(notIn('event_time', [DEC31, T12]))).toBe(false);
    expect(all(notEq('event_time', DEC31), file({ ...dayFile, nullValueCounts: new Map([[3, 2]]) }))).toBe(false);
    const allNull = file({ valueCounts: new Map([[3, 10]]), nullValueCounts: new Map([[3, 10]]) });
    expect(all(notEq('event_time', DEC31), allNull)).toBe(false);
  });

  it('claims isNull for a null-only column and notNull for a null-free one', () => {
    const allNull = file({ valueCounts: new Map([[3, 10]]), nullValueCounts: new Map([[3, 10]]) });
    expect(all(isNull('event_time'), allNull)).toBe(true);
    expect(all(isNull('event_time'))).toBe(false);
    expect(all(notNull('event_time'))).toBe(true);
    expect(all(notNull('event_time'), file())).toBe(false);
  });

  it('needs a NaN count of zero before claiming a comparison on a double column', () => {
    const base = { valueCounts: new Map([[4, 3]]), nullValueCounts: new Map([[4, 0]]), lowerBounds: new Map([[4, f64(1)]]), upperBounds: new Map([[4, f64(2)]]) };
    expect(all(lt('amount', 5), file(base))).toBe(false);
    expect(all(lt('amount', 5), file({ ...base, nanValueCounts: new Map([[4, 0]]) }))).toBe(true);
    expect(all(lt('amount', 5), file({ ...base, nanValueCounts: new Map([[4, 1]]) }))).toBe(false);
    // NaN rows are not equal to 5, so notEq holds for them.
    expect(all(notEq('amount', 5), file({ ...base, nanValueCounts: new Map([[4, 1]]) }))).toBe(true);
  });

  it('uses NaN counts for isNaN and notNaN', () => {
    const nans = file({ valueCounts: new Map([[4, 5]]), nullValueCounts: new Map([[4, 0]]), nanValueCounts: new Map([[4, 5]]) });
    expect(all(isNan('amount'), nans)).toBe(true);
    expect(all(notEq('amount', 1), nans)).toBe(true);
    expect(all(notNan('amount'), file({ nanValueCounts: new Map([[4, 0]]) }))).toBe(true);
    expect(all(notNan('amount'), file())).toBe(false);
    expect(all(notNan('amount'), file({ valueCounts: new Map([[4, 3]]), nullValueCounts: new Map([[4, 3]]) }))).toBe(true);
  });

  it('never claims prefix predicates', () => {
    const f = file({ nullValueCounts: new Map([[2, 0]]), lowerBounds: new Map([[2, utf8('abc')]]), upperBounds: new Map([[2, utf8('abd')]]) });
    expect(all(startsWith('event_type', 'ab'), f)).toBe(false);
    expect(all(notStartsWith('event_type', 'x'), f)).toBe(false);
  });

  it('claims an empty file but never one with an unknown row count', () => {
    expect(all(eq('event_time', T12), file({ recordCount: 0 }))).toBe(true);
    expect(all(lt('event_time', JAN2), file({ ...dayFile, recordCount: -1 }))).toBe(false);
  });

  it('combines AND/OR and pushes NOT down', () => {
    expect(all(and(gtEq('event_time', T0), lt('event_time', JAN2)))).toBe(true);
    expect(all(and(gtEq('event_time', T0), lt('event_time', T12)))).toBe(false);
    expect(all(or(lt('event_time', T12), ltEq('event_time', T2359)))).toBe(true);
    expect(all(not(lt('event_time', T0)))).toBe(true); // gtEq T0
  });
});
