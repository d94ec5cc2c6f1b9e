import {
  and, or, rewriteNot, setPredicate,
  type BoundExpr, type BoundPredicate, type Expression, type Predicate,
} from './expressions.ts';
import { parseTransform, transformFunction, transformResultType, type Transform } from '../spec/partition-transforms.ts';
import type { PartitionField, PartitionSpec } from '../spec/partition-spec.ts';
import type { Schema } from '../spec/schema.ts';
import { isPrimitive, type PrimitiveType, type Value } from '../spec/types.ts';

/**
 * Projection of a row filter onto partition values (spec "Scan Planning"; rules per transform from
 * pyiceberg `transforms.py` `project` / `strict_project`, plus Java's pre-epoch fix-ups noted below).
 *
 * - inclusive: true for every partition that may hold a matching row (scan planning prunes with it);
 * - strict: true only for partitions whose rows all match (overwrite drops such files whole).
 */

export interface PartitionReference {
  /** Index of the field in the spec, i.e. in a data file's partition tuple and the manifest summaries. */
  position: number;
  /** The partition field id (1000+). */
  fieldId: number;
  name: string;
  /** The transform's result type: the type of the partition value. */
  type: PrimitiveType;
  sourceId: number;
  transform: string;
}
export type PartitionPredicate = Predicate<PartitionReference, Value>;
export type PartitionExpr = Expression<PartitionPredicate>;

type Projected = PartitionExpr | null;

interface Part {
  ref: PartitionReference;
  transform: Transform;
  sourceType: PrimitiveType;
  fn: (v: Value) => Value;
}

/** Partition fields of `spec` sourced from each field id; unknown or inapplicable transforms are left out. */
function partsBySource(spec: PartitionSpec, schema: Schema): Map<number, Part[]> {
  const out = new Map<number, Part[]>();
  spec.fields.forEach((f: PartitionField, position) => {
    const source = schema.findField(f.sourceId);
    if (!source || !isPrimitive(source.type)) return;
    let transform: Transform;
    let fn: (v: Value) => Value;
    let type: PrimitiveType;
    try {
      transform = parseTransform(f.transform);
      fn = transformFunction(transform, source.type);
      type = transformResultType(transform, source.type);
    } catch {
      // Spec: a partition field with an unknown transform is ignored for filtering (its projection is
      // "true" inclusively and nothing strictly).
      return;
    }
    const part: Part = {
      ref: { position, fieldId: f.fieldId, name: f.name, type, sourceId: f.sourceId, transform: f.transform },
      transform, sourceType: source.type, fn,
    };
    const list = out.get(f.sourceId) ?? [];
    list.push(part);
    out.set(f.sourceId, list);
  });
  return out;
}

/**
 * Inclusive projection. Every partition field sourced from a predicate's column contributes its projection
 * and they are AND-ed (e.g. day(ts) and hour(ts) both narrow `ts = X`); a predicate no field can project
 * becomes `true`. NOTs are pushed to the leaves first, so `true` is a safe stand-in.
 */
export function inclusiveProjection(bound: BoundExpr, spec: PartitionSpec, schema: Schema): PartitionExpr {
  const parts = partsBySource(spec, schema);
  return projectTree(rewriteNot(bound), (p) => {
    let result: PartitionExpr = { op: 'true' };
    for (const part of parts.get(p.term.fieldId) ?? []) {
      const projected = projectInclusive(part, p);
      if (projected) result = and(result, projected);
    }
    return result;
  });
}

/**
 * Strict projection. The fields' projections are OR-ed (any one proving every row matches is enough);
 * a predicate no field can project becomes `false`.
 */
export function strictProjection(bound: BoundExpr, spec: PartitionSpec, schema: Schema): PartitionExpr {
  const parts = partsBySource(spec, schema);
  return projectTree(rewriteNot(bound), (p) => {
    let result: PartitionExpr = { op: 'false' };
    for (const part of parts.get(p.term.fieldId) ?? []) {
      const projected = projectStrict(part, p);
      if (projected) result = or(result, projected);
    }
    return result;
  });
}

function projectTree(e: BoundExpr, leaf: (p: BoundPredicate) => PartitionExpr): PartitionExpr {
  switch (e.op) {
    case 'true': return { op: 'true' };
    case 'false': return { op: 'false' };
    case 'and': return and(projectTree(e.left, leaf), projectTree(e.right, leaf));
    case 'or': return or(projectTree(e.left, leaf), projectTree(e.right, leaf));
    case 'not': throw new Error('projection expects a NOT-free expression; rewriteNot runs first');
    default: return leaf(e);
  }
}

// ---- helpers ----

/** The adjacent value of a numeric or temporal literal: `v + delta` in the source's representation. */
function step(type: PrimitiveType, v: Value, delta: 1 | -1): Value {
  if (typeof v === 'bigint') return v + BigInt(delta);
  if (typeof v === 'number') return v + delta;
  throw new Error(`cannot step a ${type.kind} literal`);
}

function pred(op: PartitionPredicate['op'], ref: PartitionReference, value?: Value): PartitionPredicate {
  return { op, term: ref, value } as PartitionPredicate;
}

/** Length in the unit truncate[W] counts: code points for strings, bytes for binary (spec "Truncate"). */
function width(v: string): number {
  let n = 0;
  for (const _ of v) n++;
  return n;
}

function isTimeTransform(t: Transform): boolean {
  return t.kind === 'year' || t.kind === 'month' || t.kind === 'day' || t.kind === 'hour';
}

/**
 * Java's `ProjectionUtil.fixInclusiveTimeProjection` / `fixStrictTimeProjection`: Iceberg Java 0.10 and
 * older (and iceberg-rust 0.10 for some instants) truncated pre-epoch times toward zero, filing them one
 * period too high. Tables written by them are still read, so a negative projected period also admits
 * its successor. pyiceberg does not do this; doing it only widens inclusive and narrows strict results,
 * so it never loses rows. Java skips it for day(date), whose transform is the identity and was never wrong.
 */
function needsEpochFix(part: Part): boolean {
  return isTimeTransform(part.transform) && !(part.transform.kind === 'day' && part.sourceType.kind === 'date');
}

function fixInclusive(projected: Projected, part: Part): Projected {
  if (!projected || !needsEpochFix(part) || projected.op === 'true' || projected.op === 'false') return projected;
  const p = projected as PartitionPredicate;
  switch (p.op) {
    case 'lt':
    case 'ltEq': {
      const v = p.value as number;
      return v < 0 ? pred(p.op, p.term, v + 1) : p;
    }
    case 'eq': {
      const v = p.value as number;
      return v < 0 ? setPredicate('in', p.term, [v, v + 1]) : p;
    }
    case 'in': {
      const values = p.values as number[];
      return values.some((v) => v < 0) ? setPredicate('in', p.term, values.flatMap((v) => (v < 0 ? [v, v + 1] : [v]))) : p;
    }
    case 'notEq':
    case 'notIn':
      return null;
    default:
      // gt / gtEq: a value filed one period too high is still above the bound.
      return p;
  }
}

function fixStrict(projected: Projected, part: Part): Projected {
  if (!projected || !needsEpochFix(part) || projected.op === 'true' || projected.op === 'false') return projected;
  const p = projected as PartitionPredicate;
  switch (p.op) {
    case 'gt':
    case 'gtEq': {
      // A wrongly filed value may sit one period higher than it belongs, so demand one more.
      const v = p.value as number;
      return v <= 0 ? pred(p.op, p.term, v + 1) : p;
    }
    case 'eq':
    case 'in':
      return null;
    case 'notEq': {
      const v = p.value as number;
      return v < 0 ? setPredicate('notIn', p.term, [v, v + 1]) : p;
    }
    case 'notIn': {
      const values = p.values as number[];
      return values.some((v) => v < 0) ? setPredicate('notIn', p.term, values.flatMap((v) => (v < 0 ? [v, v + 1] : [v]))) : p;
    }
    default:
      // lt / ltEq: the correct bound also holds for values filed one period too high.
      return p;
  }
}

function sameOp(ref: PartitionReference, p: BoundPredicate): PartitionExpr {
  switch (p.op) {
    case 'isNull': case 'notNull': case 'isNaN': case 'notNaN': return { op: p.op, term: ref };
    case 'in': case 'notIn': return setPredicate(p.op, ref, p.values);
    case 'startsWith': case 'notStartsWith': return { op: p.op, term: ref, value: p.value };
    default: return { op: p.op, term: ref, value: p.value };
  }
}

/** pyiceberg `_truncate_number`: ranges on an order-preserving numeric transform, with open bounds closed. */
function truncateNumber(part: Part, p: BoundPredicate & { value: Value }): Projected {
  const { ref, fn, sourceType } = part;
  switch (p.op) {
    case 'lt': return pred('ltEq', ref, fn(step(sourceType, p.value, -1)));
    case 'ltEq': return pred('ltEq', ref, fn(p.value));
    case 'gt': return pred('gtEq', ref, fn(step(sourceType, p.value, 1)));
    case 'gtEq': return pred('gtEq', ref, fn(p.value));
    case 'eq': return pred('eq', ref, fn(p.value));
    default: return null;
  }
}

/** pyiceberg `_truncate_number_strict`. No strict form for eq: neighbours share a partition. */
function truncateNumberStrict(part: Part, p: BoundPredicate & { value: Value }): Projected {
  const { ref, fn, sourceType } = part;
  switch (p.op) {
    case 'lt': return pred('lt', ref, fn(p.value));
    case 'ltEq': return pred('lt', ref, fn(step(sourceType, p.value, 1)));
    case 'gt': return pred('gt', ref, fn(p.value));
    case 'gtEq': return pred('gt', ref, fn(step(sourceType, p.value, -1)));
    case 'notEq': return pred('notEq', ref, fn(p.value));
    default: return null;
  }
}

/** pyiceberg `_truncate_array`: truncated strings/binary keep order but are not injective. */
function truncateArray(part: Part, p: BoundPredicate & { value: Value }): Projected {
  const { ref, fn } = part;
  switch (p.op) {
    case 'lt': case 'ltEq': return pred('ltEq', ref, fn(p.value));
    case 'gt': case 'gtEq': return pred('gtEq', ref, fn(p.value));
    case 'eq': return pred('eq', ref, fn(p.value));
    case 'startsWith': return pred('startsWith', ref, fn(p.value));
    default: return null;
  }
}

/** pyiceberg `_truncate_array_strict`. */
function truncateArrayStrict(part: Part, p: BoundPredicate & { value: Value }): Projected {
  const { ref, fn } = part;
  switch (p.op) {
    case 'lt': case 'ltEq': return pred('lt', ref, fn(p.value));
    case 'gt': case 'gtEq': return pred('gt', ref, fn(p.value));
    case 'notEq': return pred('notEq', ref, fn(p.value));
    default: return null;
  }
}

function hasValue(p: BoundPredicate): p is BoundPredicate & { value: Value } {
  return 'value' in p;
}

function projectInclusive(part: Part, p: BoundPredicate): Projected {
  const { transform: t, ref, fn, sourceType } = part;
  const unary = p.op === 'isNull' || p.op === 'notNull' || p.op === 'isNaN' || p.op === 'notNaN';
  switch (t.kind) {
    case 'identity':
      return sameOp(ref, p);
    case 'void':
      return null;
    case 'bucket':
      // Only equality survives hashing; notEq / notIn / ranges cannot be projected.
      if (unary) return sameOp(ref, p);
      if (p.op === 'eq') return pred('eq', ref, fn(p.value));
      if (p.op === 'in') return setPredicate('in', ref, p.values.map(fn));
      return null;
    case 'truncate': {
      if (unary) return sameOp(ref, p);
      if (p.op === 'in') return setPredicate('in', ref, p.values.map(fn));
      if (p.op === 'notIn') return null;
      if (!hasValue(p)) return null;
      if (sourceType.kind === 'int' || sourceType.kind === 'long' || sourceType.kind === 'decimal') return truncateNumber(part, p);
      if (p.op === 'notStartsWith') {
        // x lacks prefix P  <=>  trunc(x) lacks P when P is shorter than W, and trunc(x) != P when |P| = W.
        const len = width(p.value);
        if (len < t.width) return pred('notStartsWith', ref, p.value);
        if (len === t.width) return pred('notEq', ref, p.value);
        return null;
      }
      return truncateArray(part, p);
    }
    default:
      if (!isTimeTransform(t)) return null;
      if (unary) return sameOp(ref, p);
      if (p.op === 'in') return fixInclusive(setPredicate('in', ref, p.values.map(fn)), part);
      if (p.op === 'notIn' || !hasValue(p)) return null;
      return fixInclusive(truncateNumber(part, p), part);
  }
}

function projectStrict(part: Part, p: BoundPredicate): Projected {
  const { transform: t, ref, fn, sourceType } = part;
  const unary = p.op === 'isNull' || p.op === 'notNull' || p.op === 'isNaN' || p.op === 'notNaN';
  switch (t.kind) {
    case 'identity':
      return sameOp(ref, p);
    case 'void':
      return null;
    case 'bucket':
      // A partition proves "x != v" when its bucket differs from v's; nothing proves equality or ranges.
      if (unary) return sameOp(ref, p);
      if (p.op === 'notEq') return pred('notEq', ref, fn(p.value));
      if (p.op === 'notIn') return setPredicate('notIn', ref, p.values.map(fn));
      return null;
    case 'truncate': {
      if (unary) return sameOp(ref, p);
      if (sourceType.kind === 'int' || sourceType.kind === 'long' || sourceType.kind === 'decimal') {
        if (p.op === 'notIn') return setPredicate('notIn', ref, p.values.map(fn));
        return hasValue(p) ? truncateNumberStrict(part, p) : null;
      }
      if (p.op === 'notIn') return setPredicate('notIn', ref, p.values.map(fn));
      if (!hasValue(p)) return null;
      if (p.op === 'startsWith') {
        const len = width(p.value);
        if (len < t.width) return pred('startsWith', ref, p.value);
        if (len === t.width) return pred('eq', ref, p.value);
        return null;
      }
      if (p.op === 'notStartsWith') {
        const len = width(p.value);
        if (len < t.width) return pred('notStartsWith', ref, p.value);
        if (len === t.width) return pred('notEq', ref, p.value);
        // trunc(x) lacking the first W characters of P proves x lacks P.
        return pred('notStartsWith', ref, fn(p.value) as string);
      }
      return truncateArrayStrict(part, p);
    }
    default:
      if (!isTimeTransform(t)) return null;
      if (unary) return sameOp(ref, p);
      if (p.op === 'notIn') return fixStrict(setPredicate('notIn', ref, p.values.map(fn)), part);
      if (p.op === 'in' || !hasValue(p)) return null;
      return fixStrict(truncateNumberStrict(part, p), part);
  }
}
