import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../../core/errors.ts';
import { alwaysFalse, alwaysTrue, and, bind, eq, exprToString, gt, gtEq, isIn, isNan, isNull, lt, ltEq, not, notEq, notIn, notNan, notNull, notStartsWith, or, rewriteNot, startsWith, type BoundExpr, type Expr, parseFilter, Schema, T } from '../../iceberg/index.ts';

const schema = new Schema([
  T.field(1, 'id', T.long(), true),
  T.field(2, 'event_type', T.string()),
  T.field(3, 'event_time', T.timestamptz()),
  T.field(4, 'amount', T.double()),
  T.field(5, 'day', T.date()),
  T.field(6, 'price', T.decimal(9, 2)),
  T.field(7, 'count', T.int()),
  T.field(8, 'location', T.struct([T.field(9, 'lat', T.double(), true), T.field(10, 'lon', T.double())]), true),
  T.field(11, 'tags', T.list(12, T.string())),
  T.field(13, 'props', T.struct([T.field(14, 'source', T.string(), true)])),
]);

/** A bound predicate reduced to [op, fieldId, literal(s)] so expectations stay hand-written. */
function leaf(e: BoundExpr): unknown {
  if (e.op === 'true' || e.op === 'false') return e.op;
  if (e.op === 'and' || e.op === 'or') return [e.op, leaf(e.left), leaf(e.right)];
  if (e.op === 'not') return ['not', leaf(e.child)];
  if ('values' in e) return [e.op, e.term.fieldId, e.values];
  if ('value' in e) return [e.op, e.term.fieldId, e.value];
  return [e.op, e.term.fieldId];
}

function bindError(e: Expr): LakehouseError {
  try {
    bind(e, schema);
  } catch (err) {
    expect(err).toBeInstanceOf(LakehouseError);
    return err as LakehouseError;
  }
  throw new Error('bind did not throw');
}

function parseError(text: string): LakehouseError {
  try {
    parseFilter(text);
  } catch (err) {
    expect(err).toBeInstanceOf(LakehouseError);
    return err as LakehouseError;
  }
  throw new Error(`parseFilter(${JSON.stringify(text)}) did not throw`);
}

describe('builders', () => {
  it('and/or fold constants away', () => {
    const a = eq('event_type', 'click');
    expect(and(alwaysTrue(), a)).toBe(a);
    expect(and(a, alwaysFalse())).toEqual({ op: 'false' });
    expect(or(alwaysFalse(), a)).toBe(a);
    expect(or(a, alwaysTrue())).toEqual({ op: 'true' });
  });

  it('and with three operands nests to the left', () => {
    const [a, b, c] = [eq('id', 1), eq('id', 2), eq('id', 3)];
    expect(and(a, b, c)).toEqual({ op: 'and', left: { op: 'and', left: a, right: b }, right: c });
  });

  it('not cancels a double negation and inverts constants', () => {
    const a = lt('id', 5);
    expect(not(not(a))).toBe(a);
    expect(not(alwaysTrue())).toEqual({ op: 'false' });
  });
});

describe('rewriteNot', () => {
  it('pushes NOT through AND with De Morgan and negates each operator', () => {
    const e = not(and(eq('event_type', 'a'), lt('id', 5)));
    expect(rewriteNot(e)).toEqual(or(notEq('event_type', 'a'), gtEq('id', 5)));
  });

  it('pushes NOT through OR', () => {
    expect(rewriteNot(not(or(ltEq('id', 1), gt('id', 9))))).toEqual(and(gt('id', 1), ltEq('id', 9)));
  });

  it('negates set, null, NaN and prefix predicates', () => {
    expect(rewriteNot(not(isIn('id', [1, 2])))).toEqual(notIn('id', [1, 2]));
    expect(rewriteNot(not(isNull('event_type')))).toEqual(notNull('event_type'));
    expect(rewriteNot(not(isNan('amount')))).toEqual(notNan('amount'));
    expect(rewriteNot(not(startsWith('event_type', 'cl')))).toEqual(notStartsWith('event_type', 'cl'));
  });

  it('leaves a NOT-free expression unchanged', () => {
    const e = or(eq('id', 1), and(notNull('event_type'), gt('amount', 2)));
    expect(rewriteNot(e)).toEqual(e);
  });
});

describe('bind', () => {
  it('resolves a column to its field id and converts an ISO timestamptz literal to epoch micros', () => {
    // 2024-01-01T12:00:00Z = 1704110400 s after the epoch.
    expect(leaf(bind(gtEq('event_time', '2024-01-01T12:00:00Z'), schema))).toEqual(['gtEq', 3, 1704110400000000n]);
  });

  it('converts date and decimal literals to days and unscaled values', () => {
    expect(leaf(bind(eq('day', '2024-01-01'), schema))).toEqual(['eq', 5, 19723]);
    expect(leaf(bind(lt('price', '19.99'), schema))).toEqual(['lt', 6, 1999n]);
  });

  it('converts a number to a long column as bigint', () => {
    expect(leaf(bind(eq('id', 7), schema))).toEqual(['eq', 1, 7n]);
  });

  it('resolves a dotted struct field name', () => {
    const b = bind(gt('location.lon', 1.5), schema);
    expect(leaf(b)).toEqual(['gt', 10, 1.5]);
    expect((b as { term: { name: string } }).term.name).toBe('location.lon');
  });

  it('matches names regardless of case when asked to', () => {
    expect(leaf(bind(eq('EVENT_TYPE', 'x'), schema, false))).toEqual(['eq', 2, 'x']);
  });

  it('folds isNull on a required column to false and notNull to true', () => {
    expect(bind(isNull('id'), schema)).toEqual({ op: 'false' });
    expect(bind(notNull('location.lat'), schema)).toEqual({ op: 'true' });
  });

  it('keeps isNull on a required field nested in an optional struct, which can still be null', () => {
    expect(leaf(bind(isNull('props.source'), schema))).toEqual(['isNull', 14]);
  });

  it('folds isNaN on a non-floating column to false and notNaN to true', () => {
    expect(bind(isNan('id'), schema)).toEqual({ op: 'false' });
    expect(bind(notNan('count'), schema)).toEqual({ op: 'true' });
    expect(leaf(bind(isNan('amount'), schema))).toEqual(['isNaN', 4]);
  });

  it('de-duplicates IN values, turns a single value into eq and an empty list into false', () => {
    expect(leaf(bind(isIn('event_type', ['a', 'b', 'a']), schema))).toEqual(['in', 2, ['a', 'b']]);
    expect(leaf(bind(isIn('event_type', ['a', 'a']), schema))).toEqual(['eq', 2, 'a']);
    expect(leaf(bind(notIn('event_type', ['a']), schema))).toEqual(['notEq', 2, 'a']);
    expect(bind(isIn('event_type', []), schema)).toEqual({ op: 'false' });
    expect(bind(notIn('event_type', []), schema)).toEqual({ op: 'true' });
  });

  it('treats a literal beyond the int range like pyiceberg AboveMax/BelowMin, keeping nulls out', () => {
    expect(leaf(bind(lt('count', 3_000_000_000), schema))).toEqual(['notNull', 7]);
    expect(bind(eq('count', 3_000_000_000), schema)).toEqual({ op: 'false' });
    expect(bind(lt('count', -3_000_000_000), schema)).toEqual({ op: 'false' });
  });

  it('simplifies AND/OR around folded predicates', () => {
    expect(leaf(bind(and(notNull('id'), eq('event_type', 'x')), schema))).toEqual(['eq', 2, 'x']);
    expect(bind(or(isNull('id'), isNan('id')), schema)).toEqual({ op: 'false' });
  });

  it('explains an unknown column in a sentence that lists the columns', () => {
    const e = bindError(eq('evnt_type', 'click'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^Cannot filter on column "evnt_type": it is not in the table schema/);
    expect(e.message).toContain('event_type, event_time');
    expect(e.message).toMatch(/\.$/);
  });

  it('refuses a struct column and suggests one of its fields', () => {
    const e = bindError(eq('location', 1));
    expect(e.message).toBe('Cannot filter on column "location": it is a struct<lat: double, lon: double>, and a filter needs a column of a primitive type such as "location.lat".');
  });

  it('refuses a field inside a list', () => {
    expect(bindError(eq('tags.element', 'a')).message).toMatch(/^Cannot filter on column "tags.element": it is inside a list or map/);
  });

  it('explains a literal the column type cannot hold', () => {
    const e = bindError(gt('event_time', 'yesterday'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^Cannot compare column "event_time" \(timestamptz\) with 'yesterday': cannot read /);
    expect(e.message).toMatch(/\.$/);
  });

  it('refuses a NaN literal and points to isNan', () => {
    expect(bindError(eq('amount', Number.NaN)).message).toMatch(/^Cannot compare column "amount" with NaN: .*IS NAN/);
  });

  it('refuses a prefix match on a non-string column', () => {
    expect(bindError(startsWith('id', '1')).message).toMatch(/^Cannot use a prefix match .* on column "id": it is long/);
  });
});

describe('parseFilter', () => {
  it('parses each comparison operator', () => {
    expect(parseFilter("a = 'x'")).toEqual(eq('a', 'x'));
    expect(parseFilter("a == 'x'")).toEqual(eq('a', 'x'));
    expect(parseFilter("a != 'x'")).toEqual(notEq('a', 'x'));
    expect(parseFilter("a <> 'x'")).toEqual(notEq('a', 'x'));
    expect(parseFilter('a < 1')).toEqual(lt('a', 1));
    expect(parseFilter('a <= 1')).toEqual(ltEq('a', 1));
    expect(parseFilter('a > 1')).toEqual(gt('a', 1));
    expect(parseFilter('a >= 1')).toEqual(gtEq('a', 1));
  });

  it('gives AND precedence over OR', () => {
    expect(parseFilter('a = 1 OR b = 2 AND c = 3')).toEqual(or(eq('a', 1), and(eq('b', 2), eq('c', 3))));
    expect(parseFilter('a = 1 AND b = 2 OR c = 3')).toEqual(or(and(eq('a', 1), eq('b', 2)), eq('c', 3)));
  });

  it('lets parentheses override precedence', () => {
    expect(parseFilter('(a = 1 OR b = 2) AND c = 3')).toEqual(and(or(eq('a', 1), eq('b', 2)), eq('c', 3)));
  });

  it('binds NOT tighter than AND', () => {
    expect(parseFilter('NOT a = 1 AND b = 2')).toEqual(and(not(eq('a', 1)), eq('b', 2)));
    expect(parseFilter('NOT (a = 1 AND b = 2)')).toEqual(not(and(eq('a', 1), eq('b', 2))));
  });

  it('reads keywords in any case', () => {
    expect(parseFilter('a = 1 and not b is null Or c = 2')).toEqual(or(and(eq('a', 1), not(isNull('b'))), eq('c', 2)));
  });

  it('parses IN and NOT IN lists', () => {
    expect(parseFilter("event_type IN ('a', 'b')")).toEqual(isIn('event_type', ['a', 'b']));
    expect(parseFilter('id NOT IN (1, 2, 3)')).toEqual(notIn('id', [1, 2, 3]));
  });

  it('parses IS [NOT] NULL and IS [NOT] NAN', () => {
    expect(parseFilter('a IS NULL')).toEqual(isNull('a'));
    expect(parseFilter('a IS NOT NULL')).toEqual(notNull('a'));
    expect(parseFilter('a IS NAN')).toEqual(isNan('a'));
    expect(parseFilter('a IS NOT NAN')).toEqual(notNan('a'));
  });

  it('turns a prefix LIKE into startsWith and NOT LIKE into notStartsWith', () => {
    expect(parseFilter("name LIKE 'abc%'")).toEqual(startsWith('name', 'abc'));
    expect(parseFilter("name NOT LIKE 'abc%'")).toEqual(notStartsWith('name', 'abc'));
  });

  it('reads backslash-escaped % and _ in a LIKE pattern literally, and LIKE without wildcard as equality', () => {
    expect(parseFilter("name LIKE '50\\%\\_off%'")).toEqual(startsWith('name', '50%_off'));
    expect(parseFilter("name LIKE 'abc'")).toEqual(eq('name', 'abc'));
  });

  it('reads a doubled quote inside a string as one quote', () => {
    expect(parseFilter("name = 'it''s'")).toEqual(eq('name', "it's"));
  });

  it('reads negative, fractional, exponent and huge numbers without losing digits', () => {
    expect(parseFilter('a > -5')).toEqual(gt('a', -5));
    expect(parseFilter('a > 2.5')).toEqual(gt('a', 2.5));
    expect(parseFilter('a > 1e3')).toEqual(gt('a', 1000));
    expect(parseFilter('a = 9223372036854775807')).toEqual(eq('a', 9223372036854775807n));
    expect(parseFilter('a = 12345678901234567.25')).toEqual(eq('a', '12345678901234567.25'));
  });

  it('reads true/false as values and as whole conditions', () => {
    expect(parseFilter('flag = TRUE')).toEqual(eq('flag', true));
    expect(parseFilter('true')).toEqual({ op: 'true' });
    expect(parseFilter('false OR a = 1')).toEqual(eq('a', 1));
  });

  it('reads dotted and double-quoted column names', () => {
    expect(parseFilter('location.lat > 1')).toEqual(gt('location.lat', 1));
    expect(parseFilter('"my col" = 1')).toEqual(eq('my col', 1));
    expect(parseFilter('"and" = 1')).toEqual(eq('and', 1));
  });

  it('reports a missing value with its 1-based position', () => {
    const e = parseError('a = ');
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('Cannot parse filter "a = " at character 5: expected a value (a \'quoted string\', a number, true or false) but found the end of the filter.');
    expect(e.context.position).toBe(5);
  });

  it('reports a condition missing after AND', () => {
    expect(parseError('a = 1 AND').message).toMatch(/at character 10: expected a column name but found the end of the filter\.$/);
  });

  it('reports an unclosed string where it starts', () => {
    expect(parseError("a = 'abc").message).toMatch(/at character 5: the string that starts here is never closed/);
  });

  it('reports an unclosed parenthesis and names where it opened', () => {
    expect(parseError('(a = 1 OR b = 2').message).toMatch(/at character 16: expected \) to close the \( at character 1 but found the end of the filter\.$/);
  });

  it('reports an unmatched closing parenthesis', () => {
    expect(parseError('a = 1)').message).toMatch(/at character 6: unexpected "\)" after a complete condition; this \) has no matching \(\.$/);
  });

  it('reports two conditions without AND/OR between them', () => {
    expect(parseError('a = 1 b = 2').message).toMatch(/at character 7: unexpected "b" after a complete condition; conditions are joined with AND or OR\.$/);
  });

  it('points a comparison with NULL to IS NULL', () => {
    expect(parseError('a = NULL').message).toMatch(/at character 5: .*write a IS NULL instead\.$/);
    expect(parseError('a != null').message).toMatch(/write a IS NOT NULL instead\.$/);
  });

  it('refuses LIKE patterns other than a prefix', () => {
    expect(parseError("a LIKE '%abc'").message).toMatch(/at character 8: LIKE supports only prefix patterns/);
    expect(parseError("a LIKE 'a_c%'").message).toMatch(/only prefix patterns/);
  });

  it('reports an unexpected character', () => {
    expect(parseError('a # 1').message).toMatch(/at character 3: unexpected character "#"/);
  });

  it('refuses an empty filter', () => {
    expect(parseError('   ').message).toMatch(/at character 4: the filter is empty/);
  });

  it('hints that an unquoted word after an operator is not a value', () => {
    expect(parseError('event_type = click').message).toMatch(/at character 14: .*quote text as 'click'/);
  });
});

describe('exprToString', () => {
  it('writes SQL-like text that parseFilter reads back to the same expression', () => {
    const cases: Expr[] = [
      or(eq('a', 1), and(notEq('b', "it's"), lt('c', -2.5))),
      and(or(eq('a', 1), eq('b', 2)), not(isIn('c', ['x', 'y']))),
      and(notIn('id', [1, 2]), isNull('x'), notNull('y'), isNan('z'), notNan('w')),
      and(startsWith('name', '50%_'), notStartsWith('name', 'ab')),
      and(eq('my col', true), eq('and', 'v'), gtEq('location.lat', 0)),
    ];
    for (const e of cases) expect(parseFilter(exprToString(e))).toEqual(e);
  });

  it('writes AND inside OR without parentheses and OR inside AND with them', () => {
    expect(exprToString(or(eq('a', 1), and(eq('b', 2), eq('c', 3))))).toBe('a = 1 OR b = 2 AND c = 3');
    expect(exprToString(and(or(eq('a', 1), eq('b', 2)), eq('c', 3)))).toBe('(a = 1 OR b = 2) AND c = 3');
  });

  it('shows bound literals in human form', () => {
    const b = bind(and(gtEq('event_time', '2024-01-01T12:00:00Z'), lt('price', '19.99'), startsWith('event_type', 'cl')), schema);
    expect(exprToString(b)).toBe("event_time >= '2024-01-01T12:00:00.000000+00:00' AND price < 19.99 AND event_type LIKE 'cl%'");
  });
});
