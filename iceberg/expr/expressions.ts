import { errorMessage, LakehouseError } from '../../core/errors.ts';
import { formatValue } from '../spec/values/format.ts';
import { parseLiteral } from '../spec/values/literals.ts';
import type { Schema } from '../spec/schema.ts';
import { isPrimitive, primitiveToString, typeToString, type NestedField, type PrimitiveType, type Value } from '../spec/types.ts';

/**
 * Row filters as plain data (after pyiceberg `pyiceberg/expressions`): an unbound tree the user writes
 * (`eq('event_type', 'click')`, or `parseFilter`), bound to a schema (`bind`) so every column is a field
 * id with its type and every literal is in the in-memory value representation of `types.ts`.
 * Projection (`projection.ts`) turns a bound tree into one over partition fields, and `evaluators.ts`
 * tests it against rows, partition tuples, manifest summaries and column metrics.
 *
 * Null semantics are SQL's: a comparison with a null value is unknown, and the final answer treats unknown
 * as false (see `evaluateRow`). NaN is never ordered against a literal and never equal to one.
 */

export type LiteralOp = 'eq' | 'notEq' | 'lt' | 'ltEq' | 'gt' | 'gtEq';
export type SetOp = 'in' | 'notIn';
export type UnaryOp = 'isNull' | 'notNull' | 'isNaN' | 'notNaN';
export type PrefixOp = 'startsWith' | 'notStartsWith';
export type PredicateOp = LiteralOp | SetOp | UnaryOp | PrefixOp;

/** A leaf over a term `R` (a column name, a bound field, a partition field) with literals of type `V`. */
export type Predicate<R, V> =
  | { op: LiteralOp; term: R; value: V }
  | { op: SetOp; term: R; values: V[] }
  | { op: UnaryOp; term: R }
  | { op: PrefixOp; term: R; value: string };

export type Expression<P> =
  | { op: 'true' }
  | { op: 'false' }
  | { op: 'and'; left: Expression<P>; right: Expression<P> }
  | { op: 'or'; left: Expression<P>; right: Expression<P> }
  | { op: 'not'; child: Expression<P> }
  | P;

/** What a user may write as a literal; `bind` converts it to the column's type with `parseLiteral`. */
export type LiteralInput = string | number | bigint | boolean | Uint8Array;

export type UnboundPredicate = Predicate<string, LiteralInput>;
/** Unbound filter: terms are column names, dotted for struct fields (`location.lat`). */
export type Expr = Expression<UnboundPredicate>;

export interface BoundReference {
  fieldId: number;
  /** Full dotted name, as the schema spells it. */
  name: string;
  type: PrimitiveType;
  /** True when the value can never be null: the field and every struct enclosing it are required. */
  required: boolean;
}
/** Literals are never null (nulls are tested with isNull / notNull) and never NaN (isNaN / notNaN). */
export type BoundPredicate = Predicate<BoundReference, Value>;
export type BoundExpr = Expression<BoundPredicate>;

export function isPredicate<R, V>(e: Expression<Predicate<R, V>>): e is Predicate<R, V> {
  return e.op !== 'true' && e.op !== 'false' && e.op !== 'and' && e.op !== 'or' && e.op !== 'not';
}

/** The operator that holds exactly when `op` does not (for non-null, non-NaN values). */
export const NEGATED_OP: Readonly<Record<PredicateOp, PredicateOp>> = {
  eq: 'notEq', notEq: 'eq',
  lt: 'gtEq', gtEq: 'lt',
  ltEq: 'gt', gt: 'ltEq',
  in: 'notIn', notIn: 'in',
  isNull: 'notNull', notNull: 'isNull',
  isNaN: 'notNaN', notNaN: 'isNaN',
  startsWith: 'notStartsWith', notStartsWith: 'startsWith',
};

// ---- builders ----

const TRUE = Object.freeze({ op: 'true' as const });
const FALSE = Object.freeze({ op: 'false' as const });

export function alwaysTrue(): { op: 'true' } { return TRUE; }
export function alwaysFalse(): { op: 'false' } { return FALSE; }

/** Conjunction, folded left; constants simplify away like pyiceberg's `And.__new__`. */
export function and<R, V>(first: Expression<Predicate<R, V>>, ...rest: Expression<Predicate<R, V>>[]): Expression<Predicate<R, V>> {
  let acc = first;
  for (const e of rest) {
    if (acc.op === 'false' || e.op === 'false') acc = FALSE;
    else if (acc.op === 'true') acc = e;
    else if (e.op !== 'true') acc = { op: 'and', left: acc, right: e };
  }
  return acc;
}

export function or<R, V>(first: Expression<Predicate<R, V>>, ...rest: Expression<Predicate<R, V>>[]): Expression<Predicate<R, V>> {
  let acc = first;
  for (const e of rest) {
    if (acc.op === 'true' || e.op === 'true') acc = TRUE;
    else if (acc.op === 'false') acc = e;
    else if (e.op !== 'false') acc = { op: 'or', left: acc, right: e };
  }
  return acc;
}

export function not<R, V>(child: Expression<Predicate<R, V>>): Expression<Predicate<R, V>> {
  if (child.op === 'true') return FALSE;
  if (child.op === 'false') return TRUE;
  if (child.op === 'not') return child.child;
  return { op: 'not', child };
}

export const eq = (term: string, value: LiteralInput): Expr => ({ op: 'eq', term, value });
export const notEq = (term: string, value: LiteralInput): Expr => ({ op: 'notEq', term, value });
export const lt = (term: string, value: LiteralInput): Expr => ({ op: 'lt', term, value });
export const ltEq = (term: string, value: LiteralInput): Expr => ({ op: 'ltEq', term, value });
export const gt = (term: string, value: LiteralInput): Expr => ({ op: 'gt', term, value });
export const gtEq = (term: string, value: LiteralInput): Expr => ({ op: 'gtEq', term, value });
/** `in` is a reserved word, hence `isIn`. */
export const isIn = (term: string, values: LiteralInput[]): Expr => ({ op: 'in', term, values });
export const notIn = (term: string, values: LiteralInput[]): Expr => ({ op: 'notIn', term, values });
export const isNull = (term: string): Expr => ({ op: 'isNull', term });
export const notNull = (term: string): Expr => ({ op: 'notNull', term });
/** Spelled `isNan` so it does not shadow the global `isNaN`. */
export const isNan = (term: string): Expr => ({ op: 'isNaN', term });
export const notNan = (term: string): Expr => ({ op: 'notNaN', term });
export const startsWith = (term: string, prefix: string): Expr => ({ op: 'startsWith', term, value: prefix });
export const notStartsWith = (term: string, prefix: string): Expr => ({ op: 'notStartsWith', term, value: prefix });

// ---- rewriteNot ----

/**
 * Pushes every NOT down to the leaves by negating operators and applying De Morgan (pyiceberg
 * `rewrite_not`). Projections and metrics evaluators need NOT-free trees: a predicate they cannot
 * project becomes `true` (inclusive) or `false` (strict), which is only sound when no NOT sits above it.
 * Under SQL three-valued logic this rewrite does not change the meaning: for a null value both a
 * predicate and its negation are unknown, and for NaN both an ordering and its negation are unknown.
 */
export function rewriteNot<R, V>(e: Expression<Predicate<R, V>>): Expression<Predicate<R, V>> {
  return push(e, false);
}

function push<R, V>(e: Expression<Predicate<R, V>>, negate: boolean): Expression<Predicate<R, V>> {
  switch (e.op) {
    case 'true': return negate ? FALSE : TRUE;
    case 'false': return negate ? TRUE : FALSE;
    case 'not': return push(e.child, !negate);
    case 'and': return negate ? or(push(e.left, true), push(e.right, true)) : and(push(e.left, false), push(e.right, false));
    case 'or': return negate ? and(push(e.left, true), push(e.right, true)) : or(push(e.left, false), push(e.right, false));
    default: return negate ? ({ ...e, op: NEGATED_OP[e.op] } as Predicate<R, V>) : e;
  }
}

// ---- bind ----

const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function fail(message: string, context: Record<string, unknown> = {}): never {
  throw new LakehouseError('INVALID_ARGUMENT', message, { context });
}

/** An inner error message as the tail of our sentence: lower-cased first word, closing period. */
function clause(s: string): string {
  let t = s.trim();
  if (/^[A-Z][a-z]/.test(t)) t = t[0]!.toLowerCase() + t.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

function showLiteral(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/'/g, "''")}'`;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `binary of ${v.length} bytes`;
  return String(v);
}

/** Resolves a column name to its field, refusing fields inside lists and maps (no single value per row). */
function resolveColumn(schema: Schema, name: string, caseSensitive: boolean): BoundReference {
  const field = schema.findFieldByName(name, caseSensitive);
  if (!field) {
    const columns = schema.fields.map((f) => f.name).join(', ');
    fail(`Cannot filter on column "${name}": it is not in the table schema${caseSensitive ? ' (names are case sensitive)' : ''}; columns are: ${columns}. Write struct fields as parent.child.`, { column: name });
  }
  const path = pathTo(schema.fields, field.id);
  if (!path) fail(`Cannot filter on column "${name}": it is inside a list or map, and a filter can only use top-level columns or fields of structs.`, { column: name });
  if (!isPrimitive(field.type)) {
    fail(`Cannot filter on column "${name}": it is a ${typeToString(field.type)}, and a filter needs a column of a primitive type${field.type.kind === 'struct' ? ` such as "${name}.${field.type.fields[0]?.name ?? 'field'}"` : ''}.`, { column: name });
  }
  return {
    fieldId: field.id,
    name: schema.findColumnName(field.id) ?? name,
    type: field.type,
    required: path.every((f) => f.required),
  };
}

/** Fields from the root to `id` through structs only; null when the field is missing or under a list/map. */
function pathTo(fields: NestedField[], id: number): NestedField[] | null {
  for (const f of fields) {
    if (f.id === id) return [f];
    if (f.type.kind === 'struct') {
      const rest = pathTo(f.type.fields, id);
      if (rest) return [f, ...rest];
    }
  }
  return null;
}

/** A literal beyond the range of an int/long column (pyiceberg's AboveMax / BelowMin). */
function outOfRange(type: PrimitiveType, raw: LiteralInput): 'above' | 'below' | null {
  if (type.kind !== 'int' && type.kind !== 'long') return null;
  let n: bigint;
  if (typeof raw === 'bigint') n = raw;
  else if (typeof raw === 'number' && Number.isInteger(raw)) n = BigInt(raw);
  else if (typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw)) n = BigInt(raw.trim());
  else return null;
  const [min, max] = type.kind === 'int' ? [INT_MIN, INT_MAX] : [LONG_MIN, LONG_MAX];
  return n > max ? 'above' : n < min ? 'below' : null;
}

function convert(ref: BoundReference, raw: LiteralInput): Value {
  if ((raw as unknown) === null || raw === undefined) {
    fail(`Cannot compare column "${ref.name}" with null: a comparison with null is never true; use "${ref.name} IS NULL" or "IS NOT NULL" instead.`, { column: ref.name });
  }
  let v: Value;
  if (raw instanceof Uint8Array) {
    if (ref.type.kind !== 'binary' && ref.type.kind !== 'fixed') {
      fail(`Cannot compare column "${ref.name}" (${primitiveToString(ref.type)}) with a binary value; binary literals need a binary or fixed column.`, { column: ref.name });
    }
    if (ref.type.kind === 'fixed' && raw.length !== ref.type.length) {
      fail(`Cannot compare column "${ref.name}" (${primitiveToString(ref.type)}) with a binary value of ${raw.length} bytes; it needs exactly ${ref.type.length}.`, { column: ref.name });
    }
    v = raw;
  } else {
    try {
      v = parseLiteral(ref.type, raw);
    } catch (e) {
      throw new LakehouseError('INVALID_ARGUMENT', `Cannot compare column "${ref.name}" (${primitiveToString(ref.type)}) with ${showLiteral(raw)}: ${clause(errorMessage(e))}`, { cause: e, context: { column: ref.name } });
    }
  }
  if (typeof v === 'number' && Number.isNaN(v)) {
    // Iceberg forbids NaN literals: NaN is neither equal to nor ordered against anything.
    fail(`Cannot compare column "${ref.name}" with NaN: NaN is never equal to or ordered against a value; use "${ref.name} IS NAN" (isNan) instead.`, { column: ref.name });
  }
  if (v === null) fail(`Cannot compare column "${ref.name}" with ${showLiteral(raw)}: it converts to null; use "${ref.name} IS NULL" instead.`, { column: ref.name });
  return v;
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Stable identity of a value for de-duplicating IN lists (NaN never reaches here). */
export function valueKey(v: Value): string {
  if (v instanceof Uint8Array) return `x${hex(v)}`;
  if (typeof v === 'number') return Object.is(v, -0) ? 'n-0' : `n${v}`;
  return `${typeof v}:${String(v)}`;
}

/**
 * IN / NOT IN with duplicates removed, collapsing like pyiceberg's `In.__new__`: an empty IN is false,
 * an empty NOT IN true, a single value becomes eq / notEq.
 */
export function setPredicate<R>(op: SetOp, term: R, values: Value[]): Expression<Predicate<R, Value>> {
  const seen = new Map<string, Value>();
  for (const v of values) seen.set(valueKey(v), v);
  const unique = [...seen.values()];
  if (unique.length === 0) return op === 'in' ? FALSE : TRUE;
  if (unique.length === 1) return { op: op === 'in' ? 'eq' : 'notEq', term, value: unique[0]! };
  return { op, term, values: unique };
}

function bindPredicate(p: UnboundPredicate, schema: Schema, caseSensitive: boolean): BoundExpr {
  if (typeof p.term !== 'string' || p.term === '') fail(`A filter predicate "${p.op}" needs a column name, got ${JSON.stringify(p.term)}.`);
  const ref = resolveColumn(schema, p.term, caseSensitive);
  const floating = ref.type.kind === 'float' || ref.type.kind === 'double';
  switch (p.op) {
    // A required column is never null and only float/double hold NaN (pyiceberg BoundIsNull.__new__ etc.).
    case 'isNull': return ref.required ? FALSE : { op: 'isNull', term: ref };
    case 'notNull': return ref.required ? TRUE : { op: 'notNull', term: ref };
    case 'isNaN': return floating ? { op: 'isNaN', term: ref } : FALSE;
    case 'notNaN': return floating ? { op: 'notNaN', term: ref } : TRUE;
    case 'startsWith':
    case 'notStartsWith':
      if (ref.type.kind !== 'string') {
        fail(`Cannot use a prefix match (LIKE 'abc%') on column "${ref.name}": it is ${primitiveToString(ref.type)}, and prefix matching needs a string column.`, { column: ref.name });
      }
      if (typeof p.value !== 'string') fail(`A prefix match on column "${ref.name}" needs a string prefix, got ${showLiteral(p.value)}.`, { column: ref.name });
      return { op: p.op, term: ref, value: p.value };
    case 'in':
    case 'notIn': {
      if (!Array.isArray(p.values)) fail(`${p.op === 'in' ? 'IN' : 'NOT IN'} on column "${ref.name}" needs a list of values.`, { column: ref.name });
      const values: Value[] = [];
      for (const raw of p.values) {
        // A value out of the column's range can never be equal to a column value.
        if (outOfRange(ref.type, raw)) continue;
        values.push(convert(ref, raw));
      }
      if (p.op === 'notIn' && values.length === 0 && p.values.length > 0) return ref.required ? TRUE : { op: 'notNull', term: ref };
      return setPredicate(p.op, ref, values);
    }
    default: {
      const range = outOfRange(ref.type, p.value);
      if (range) {
        // pyiceberg folds these to true/false; "true" is written as notNull so null rows still fail,
        // as SQL would have them.
        const alwaysHolds = range === 'above' ? ['lt', 'ltEq', 'notEq'].includes(p.op) : ['gt', 'gtEq', 'notEq'].includes(p.op);
        if (!alwaysHolds) return FALSE;
        return ref.required ? TRUE : { op: 'notNull', term: ref };
      }
      return { op: p.op, term: ref, value: convert(ref, p.value) };
    }
  }
}

/**
 * Binds a filter to a schema: resolves names (dotted for struct fields) to field ids and types and
 * converts literals with `parseLiteral`. Throws LakehouseError('INVALID_ARGUMENT') with a sentence for
 * an unknown or non-primitive column or a literal the column's type cannot hold.
 */
export function bind(expr: Expr, schema: Schema, caseSensitive = true): BoundExpr {
  switch (expr.op) {
    case 'true': return TRUE;
    case 'false': return FALSE;
    case 'and': return and(bind(expr.left, schema, caseSensitive), bind(expr.right, schema, caseSensitive));
    case 'or': return or(bind(expr.left, schema, caseSensitive), bind(expr.right, schema, caseSensitive));
    case 'not': return not(bind(expr.child, schema, caseSensitive));
    default:
      if (!isPredicate(expr)) fail(`Unknown filter operator ${JSON.stringify((expr as { op: unknown }).op)}.`);
      return bindPredicate(expr, schema, caseSensitive);
  }
}

// ---- exprToString ----

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'like', 'true', 'false', 'nan']);
const SIMPLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export function quoteName(name: string): string {
  const plain = SIMPLE_NAME.test(name) && !name.split('.').some((s) => KEYWORDS.has(s.toLowerCase()));
  return plain ? name : `"${name.replace(/"/g, '""')}"`;
}

function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

const NUMERIC_KINDS = new Set(['int', 'long', 'float', 'double', 'decimal']);

type AnyTerm = string | { name: string; type: PrimitiveType };

function termName(t: AnyTerm): string {
  return typeof t === 'string' ? t : t.name;
}

function literalText(t: AnyTerm, v: unknown): string {
  if (typeof t === 'string') {
    // Unbound literal, written the way parseFilter reads it back.
    if (typeof v === 'string') return quoteString(v);
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : quoteString(String(v));
    if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
    if (v instanceof Uint8Array) return quoteString(hex(v));
    return String(v);
  }
  const text = formatValue(t.type, v as Value);
  if (t.type.kind === 'boolean') return text;
  if (NUMERIC_KINDS.has(t.type.kind) && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) return text;
  return quoteString(text);
}

/** A LIKE pattern matching exactly the strings that start with `prefix` (backslash escapes %, _ and \). */
export function likePattern(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const SYMBOL: Record<LiteralOp, string> = { eq: '=', notEq: '!=', lt: '<', ltEq: '<=', gt: '>', gtEq: '>=' };

/**
 * SQL-like text of any expression (unbound, bound or over partition fields). Unbound expressions come
 * back unchanged through `parseFilter`; bound literals are shown with `formatValue`.
 */
export function exprToString<R extends AnyTerm, V>(e: Expression<Predicate<R, V>>): string {
  switch (e.op) {
    case 'true': return 'true';
    case 'false': return 'false';
    case 'not': return `NOT (${exprToString(e.child)})`;
    case 'and': {
      const side = (x: Expression<Predicate<R, V>>) => (x.op === 'or' ? `(${exprToString(x)})` : exprToString(x));
      return `${side(e.left)} AND ${side(e.right)}`;
    }
    case 'or': return `${exprToString(e.left)} OR ${exprToString(e.right)}`;
    default: {
      const p = e as Predicate<R, V>;
      const name = quoteName(termName(p.term));
      switch (p.op) {
        case 'isNull': return `${name} IS NULL`;
        case 'notNull': return `${name} IS NOT NULL`;
        case 'isNaN': return `${name} IS NAN`;
        case 'notNaN': return `${name} IS NOT NAN`;
        case 'startsWith': return `${name} LIKE ${quoteString(likePattern(p.value))}`;
        case 'notStartsWith': return `${name} NOT LIKE ${quoteString(likePattern(p.value))}`;
        case 'in':
        case 'notIn':
          return `${name} ${p.op === 'in' ? 'IN' : 'NOT IN'} (${p.values.map((v) => literalText(p.term, v)).join(', ')})`;
        default:
          return `${name} ${SYMBOL[p.op]} ${literalText(p.term, p.value)}`;
      }
    }
  }
}
