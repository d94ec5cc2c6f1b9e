import { compareValues } from '../spec/values/ordering.ts';
import { fromBinary } from '../spec/values/single-value-binary.ts';
import { rewriteNot, type BoundExpr, type BoundPredicate, type Expression, type Predicate } from './expressions.ts';
import type { DataFile, FieldSummary } from '../spec/manifest/manifest-types.ts';
import type { PartitionExpr, PartitionPredicate } from './projection.ts';
import type { PrimitiveType, Value } from '../spec/types.ts';

/**
 * Evaluating filters on rows, partition tuples, manifest partition summaries and data-file metrics
 * (pyiceberg `visitors.py`: expression_evaluator, _ManifestEvalVisitor, _InclusiveMetricsEvaluator,
 * _StrictMetricsEvaluator).
 *
 * One semantics everywhere, SQL's three-valued logic: a predicate on a null value is unknown — even
 * notEq, notIn and notStartsWith — and NaN is never ordered (lt/ltEq/gt/gtEq unknown), never equal to a
 * literal (eq/in false) and always unequal (notEq/notIn true). Unknown counts as "no match" at the end.
 * With these rules pushing NOTs down (rewriteNot) never changes an answer, so the inclusive checks can
 * only skip what truly cannot match and the strict checks can only claim what truly matches all rows.
 * pyiceberg treats notEq/notIn on null as true; its strict answers are tightened here accordingly.
 */

// ---- three-valued leaf evaluation on one value ----

/** true, false, or null for unknown. */
type Truth = boolean | null;

function isNaNValue(v: Value): boolean {
  return typeof v === 'number' && Number.isNaN(v);
}

function member(type: PrimitiveType, v: Value, values: Value[]): boolean {
  return values.some((x) => compareValues(type, v, x) === 0);
}

function startsWithPrefix(v: Value, prefix: string): boolean {
  return typeof v === 'string' && v.startsWith(prefix);
}

function leaf<R>(p: Predicate<R, Value>, type: PrimitiveType, v: Value): Truth {
  switch (p.op) {
    case 'isNull': return v === null;
    case 'notNull': return v !== null;
    case 'isNaN': return isNaNValue(v);
    case 'notNaN': return !isNaNValue(v);
    default: break;
  }
  if (v === null) return null;
  const nan = isNaNValue(v);
  switch (p.op) {
    case 'eq': return nan ? false : compareValues(type, v, p.value) === 0;
    case 'notEq': return nan ? true : compareValues(type, v, p.value) !== 0;
    case 'lt': return nan ? null : compareValues(type, v, p.value) < 0;
    case 'ltEq': return nan ? null : compareValues(type, v, p.value) <= 0;
    case 'gt': return nan ? null : compareValues(type, v, p.value) > 0;
    case 'gtEq': return nan ? null : compareValues(type, v, p.value) >= 0;
    case 'in': return nan ? false : member(type, v, p.values);
    case 'notIn': return nan ? true : !member(type, v, p.values);
    case 'startsWith': return startsWithPrefix(v, p.value);
    case 'notStartsWith': return !startsWithPrefix(v, p.value);
  }
}

/** Kleene logic over any tree; `test` answers a leaf. */
function evaluate3<R>(
  e: Expression<Predicate<R, Value>>,
  test: (p: Predicate<R, Value>) => Truth,
): Truth {
  switch (e.op) {
    case 'true': return true;
    case 'false': return false;
    case 'not': {
      const c = evaluate3(e.child, test);
      return c === null ? null : !c;
    }
    case 'and': {
      const l = evaluate3(e.left, test);
      if (l === false) return false;
      const r = evaluate3(e.right, test);
      if (r === false) return false;
      return l === null || r === null ? null : true;
    }
    case 'or': {
      const l = evaluate3(e.left, test);
      if (l === true) return true;
      const r = evaluate3(e.right, test);
      if (r === true) return true;
      return l === null || r === null ? null : false;
    }
    default: return test(e);
  }
}

/**
 * Row-level filter: `row(fieldId)` returns the row's value for a bound column (null when absent).
 * SQL semantics: unknown (a comparison with null) collapses to false, so `NOT (a = 1)` skips null rows.
 */
export function evaluateRow(bound: BoundExpr, row: (fieldId: number) => Value): boolean {
  return evaluate3(bound, (p) => leaf(p, p.term.type, row(p.term.fieldId))) === true;
}

/** Whether a partition tuple (values in spec field order, as in DataFile.partition) satisfies a projected filter. */
export function evaluatePartition(expr: PartitionExpr, partition: Value[]): boolean {
  return evaluate3(expr, (p) => leaf(p, p.term.type, partition[p.term.position] ?? null)) === true;
}

// ---- shared helpers for the metrics evaluators ----

/** Two-valued walk of a NOT-free tree (what rewriteNot returns); the metrics visitors only see these. */
function visit<R>(e: Expression<Predicate<R, Value>>, test: (p: Predicate<R, Value>) => boolean): boolean {
  switch (e.op) {
    case 'true': return true;
    case 'false': return false;
    case 'and': return visit(e.left, test) && visit(e.right, test);
    case 'or': return visit(e.left, test) || visit(e.right, test);
    case 'not': throw new Error('metrics evaluation expects a NOT-free expression; rewriteNot runs first');
    default: return test(e);
  }
}

/** Over more values than this an IN is not checked against bounds (pyiceberg IN_PREDICATE_LIMIT). */
const IN_PREDICATE_LIMIT = 200;

const utf8 = new TextEncoder();

/**
 * Compares the first |prefix| UTF-8 bytes of `value` with `prefix` (Java's truncateBinary then unsigned
 * compare; pyiceberg slices code points, which orders the same). > 0: every string >= value lacks the prefix and sorts after it.
 */
function comparePrefix(value: string, prefix: Uint8Array): number {
  const v = utf8.encode(value);
  const n = Math.min(v.length, prefix.length);
  for (let i = 0; i < n; i++) if (v[i] !== prefix[i]) return v[i]! < prefix[i]! ? -1 : 1;
  return v.length < prefix.length && n === v.length ? -1 : 0;
}

function startsWithBytes(value: string, prefix: Uint8Array): boolean {
  const v = utf8.encode(value);
  if (v.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (v[i] !== prefix[i]) return false;
  return true;
}

// ---- manifest-list partition summaries ----

/**
 * Whether a manifest may hold files matching a projected filter, from its partition field summaries
 * (pyiceberg _ManifestEvalVisitor). `partitionTypes[i]` decodes the bounds of field i. No summaries
 * means nothing is known, so the manifest is read.
 */
export function manifestMightMatch(
  expr: PartitionExpr,
  summaries: FieldSummary[] | null | undefined,
  partitionTypes: PrimitiveType[],
): boolean {
  if (!summaries || summaries.length === 0) return true;
  return visit(rewriteNot(expr), (p) => summaryMightMatch(p, summaries[p.term.position], partitionTypes[p.term.position] ?? p.term.type));
}

function summaryMightMatch(p: PartitionPredicate, s: FieldSummary | undefined, type: PrimitiveType): boolean {
  if (!s) return true;
  const lowerBytes = s.lowerBound ?? null;
  const upperBytes = s.upperBound ?? null;
  // Summary bounds cover non-null, non-NaN values only; absent bounds mean every value is null or NaN.
  const lower = () => fromBinary(type, lowerBytes!);
  const upper = () => fromBinary(type, upperBytes!);
  switch (p.op) {
    case 'isNull': return s.containsNull !== false;
    case 'notNull': {
      // All null when there is a null and no bound; for floats the missing bound may be NaNs instead.
      let allNull = s.containsNull === true && lowerBytes === null;
      if (allNull && (type.kind === 'float' || type.kind === 'double')) allNull = s.containsNan === false;
      return !allNull;
    }
    case 'isNaN': return s.containsNan !== false;
    case 'notNaN': return !(s.containsNan === true && s.containsNull === false && lowerBytes === null);
    case 'eq':
      if (lowerBytes === null || upperBytes === null) return false;
      return compareValues(type, lower(), p.value) <= 0 && compareValues(type, p.value, upper()) <= 0;
    case 'lt':
      return lowerBytes !== null && compareValues(type, p.value, lower()) > 0;
    case 'ltEq':
      return lowerBytes !== null && compareValues(type, p.value, lower()) >= 0;
    case 'gt':
      return upperBytes !== null && compareValues(type, p.value, upper()) < 0;
    case 'gtEq':
      return upperBytes !== null && compareValues(type, p.value, upper()) <= 0;
    case 'in': {
      if (lowerBytes === null) return false;
      if (p.values.length > IN_PREDICATE_LIMIT) return true;
      // Kept when some value lies within the bounds. pyiceberg only skips when all values sit on one
      // side; ruling out values on either side (as its metrics evaluator does) is just as sound.
      const lo = lower();
      const hi = upperBytes === null ? null : upper();
      return p.values.some((v) => compareValues(type, lo, v) <= 0 && (hi === null || compareValues(type, v, hi) <= 0));
    }
    case 'notEq':
    case 'notIn':
      // Bounds are not values that occur, so they cannot prove every value equals the literal.
      return true;
    case 'startsWith': {
      if (lowerBytes === null || upperBytes === null) return false;
      const prefix = utf8.encode(p.value);
      if (comparePrefix(lower() as string, prefix) > 0) return false;
      if (comparePrefix(upper() as string, prefix) < 0) return false;
      return true;
    }
    case 'notStartsWith': {
      if (s.containsNull || lowerBytes === null || upperBytes === null) return true;
      // Every value starts with the prefix when both bounds do (such strings form one interval).
      const prefix = utf8.encode(p.value);
      return !(startsWithBytes(lower() as string, prefix) && startsWithBytes(upper() as string, prefix));
    }
  }
}

// ---- data-file metrics ----

class FileMetrics {
  constructor(private readonly file: DataFile) {}

  valueCount(id: number): number | undefined { return this.file.valueCounts?.get(id); }
  nullCount(id: number): number | undefined { return this.file.nullValueCounts?.get(id); }
  nanCount(id: number): number | undefined { return this.file.nanValueCounts?.get(id); }

  lower(ref: BoundPredicate['term']): Value | undefined {
    const b = this.file.lowerBounds?.get(ref.fieldId);
    return b === undefined ? undefined : fromBinary(ref.type, b);
  }

  upper(ref: BoundPredicate['term']): Value | undefined {
    const b = this.file.upperBounds?.get(ref.fieldId);
    return b === undefined ? undefined : fromBinary(ref.type, b);
  }

  /** pyiceberg `_contains_nulls_only`: counts known, non-zero, and equal. */
  nullsOnly(id: number): boolean {
    const v = this.valueCount(id);
    const n = this.nullCount(id);
    return !!v && !!n && v === n;
  }

  nansOnly(id: number): boolean {
    const v = this.valueCount(id);
    const n = this.nanCount(id);
    return !!v && !!n && v === n;
  }
}

/**
 * Inclusive metrics evaluator (pyiceberg _InclusiveMetricsEvaluator): false only when the file's
 * counts and bounds prove no row can match. Truncated string bounds stay sound because a writer
 * truncates a lower bound to a prefix (still <= every value) and rounds an upper bound up (still >=
 * every value, spec "Manifests" metrics), so every comparison below is against a true bound: an eq on
 * 'abcdef' with bounds ['abc', 'abd'] is kept, never pruned.
 */
export function metricsMightMatch(bound: BoundExpr, file: DataFile): boolean {
  if (file.recordCount === 0) return false;
  // Imports from old writers recorded -1 rows: nothing is known.
  if (file.recordCount < 0) return true;
  const m = new FileMetrics(file);
  return visit(rewriteNot(bound), (p) => inclusiveLeaf(p, m));
}

function inclusiveLeaf(p: BoundPredicate, m: FileMetrics): boolean {
  const id = p.term.fieldId;
  const type = p.term.type;
  switch (p.op) {
    case 'isNull': return m.nullCount(id) !== 0;
    case 'notNull': return !m.nullsOnly(id);
    // No NaN count but only nulls: no NaN either.
    case 'isNaN': return m.nanCount(id) !== 0 && !m.nullsOnly(id);
    case 'notNaN': return !m.nansOnly(id);
    case 'notEq':
    case 'notIn':
      // Bounds cannot show that every value equals the literal(s).
      return true;
    default: break;
  }
  if (p.op === 'startsWith') {
    if (m.nullsOnly(id)) return false;
    const prefix = utf8.encode(p.value);
    const lo = m.lower(p.term);
    if (typeof lo === 'string' && comparePrefix(lo, prefix) > 0) return false;
    const hi = m.upper(p.term);
    if (typeof hi === 'string' && comparePrefix(hi, prefix) < 0) return false;
    return true;
  }
  if (p.op === 'notStartsWith') {
    // Null rows never satisfy it (SQL), so only the bounds matter: all values carry the prefix when
    // both bounds do. A bound shorter than the prefix cannot carry it.
    const lo = m.lower(p.term);
    const hi = m.upper(p.term);
    if (typeof lo !== 'string' || typeof hi !== 'string') return true;
    const prefix = utf8.encode(p.value);
    return !(startsWithBytes(lo, prefix) && startsWithBytes(hi, prefix));
  }
  if (m.nullsOnly(id) || m.nansOnly(id)) return false;
  // NaN in a bound (old writers) makes the bounds unreliable; pyiceberg then keeps the file.
  const lo = m.lower(p.term);
  const hi = m.upper(p.term);
  if (isNaNValue(lo ?? null) || isNaNValue(hi ?? null)) return true;
  switch (p.op) {
    case 'lt': return lo === undefined || compareValues(type, lo, p.value) < 0;
    case 'ltEq': return lo === undefined || compareValues(type, lo, p.value) <= 0;
    case 'gt': return hi === undefined || compareValues(type, hi, p.value) > 0;
    case 'gtEq': return hi === undefined || compareValues(type, hi, p.value) >= 0;
    case 'eq':
      if (lo !== undefined && compareValues(type, lo, p.value) > 0) return false;
      if (hi !== undefined && compareValues(type, hi, p.value) < 0) return false;
      return true;
    case 'in': {
      if (p.values.length > IN_PREDICATE_LIMIT) return true;
      let candidates = p.values;
      if (lo !== undefined) candidates = candidates.filter((v) => compareValues(type, lo, v) <= 0);
      if (hi !== undefined) candidates = candidates.filter((v) => compareValues(type, hi, v) >= 0);
      return candidates.length > 0;
    }
  }
}

/**
 * Strict metrics evaluator (pyiceberg _StrictMetricsEvaluator): true only when counts and bounds prove
 * every row matches. Used to drop whole files in an overwrite, so it errs towards false: a missing null
 * or NaN count counts as "may contain", a null row fails every comparison including notEq / notIn, and a
 * file with an unknown row count (-1) is never claimed.
 */
export function metricsAllMatch(bound: BoundExpr, file: DataFile): boolean {
  if (file.recordCount === 0) return true;
  if (file.recordCount < 0) return false;
  const m = new FileMetrics(file);
  return visit(rewriteNot(bound), (p) => strictLeaf(p, m));
}

function mayHaveNulls(p: BoundPredicate, m: FileMetrics): boolean {
  if (p.term.required) return false;
  const n = m.nullCount(p.term.fieldId);
  return n === undefined || n > 0;
}

function mayHaveNaNs(p: BoundPredicate, m: FileMetrics): boolean {
  if (p.term.type.kind !== 'float' && p.term.type.kind !== 'double') return false;
  const n = m.nanCount(p.term.fieldId);
  return n === undefined || n > 0;
}

function strictLeaf(p: BoundPredicate, m: FileMetrics): boolean {
  const id = p.term.fieldId;
  const type = p.term.type;
  switch (p.op) {
    case 'isNull': return m.nullsOnly(id);
    case 'notNull': return !mayHaveNulls(p, m);
    case 'isNaN': return m.nansOnly(id);
    // Nulls are not NaN, so a file of nulls matches notNaN too.
    case 'notNaN': return m.nanCount(id) === 0 || m.nullsOnly(id);
    // Prefixes are not decided from bounds (as pyiceberg): never claimed.
    case 'startsWith':
    case 'notStartsWith': return false;
    default: break;
  }
  // Every remaining predicate is unknown on a null row, so any null defeats "all rows match".
  if (mayHaveNulls(p, m)) return false;
  if (p.op === 'notEq' || p.op === 'notIn') {
    // NaN rows satisfy notEq/notIn; the non-NaN ones must all lie outside the literal(s).
    if (m.nansOnly(id)) return true;
    const literals = 'values' in p ? p.values : [p.value];
    const lo = m.lower(p.term);
    const hi = m.upper(p.term);
    if (isNaNValue(lo ?? null) || isNaNValue(hi ?? null)) return false;
    const outside = (v: Value) =>
      (lo !== undefined && compareValues(type, lo, v) > 0) || (hi !== undefined && compareValues(type, hi, v) < 0);
    return literals.every(outside);
  }
  // eq/in/ranges are not true for NaN rows.
  if (mayHaveNaNs(p, m)) return false;
  const lo = m.lower(p.term);
  const hi = m.upper(p.term);
  if (isNaNValue(lo ?? null) || isNaNValue(hi ?? null)) return false;
  switch (p.op) {
    case 'lt': return hi !== undefined && compareValues(type, hi, p.value) < 0;
    case 'ltEq': return hi !== undefined && compareValues(type, hi, p.value) <= 0;
    case 'gt': return lo !== undefined && compareValues(type, lo, p.value) > 0;
    case 'gtEq': return lo !== undefined && compareValues(type, lo, p.value) >= 0;
    case 'eq':
      return lo !== undefined && hi !== undefined && compareValues(type, lo, p.value) === 0 && compareValues(type, hi, p.value) === 0;
    case 'in':
      // Only a single-valued column (lower == upper) inside the set is proven.
      return lo !== undefined && hi !== undefined && compareValues(type, lo, hi) === 0 && member(type, lo, p.values);
  }
}
