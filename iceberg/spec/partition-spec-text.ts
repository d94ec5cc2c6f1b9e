import { LakehouseError } from '../../core/errors.ts';
import { PARTITION_DATA_ID_START, type PartitionField, type PartitionSpec } from './partition-spec.ts';
import { canTransform, parseTransform, transformToString } from './partition-transforms.ts';
import type { Schema } from './schema.ts';
import { isPrimitive, typeToString } from './types.ts';

/**
 * Partition specs written as text, the way data engineers write them in Spark SQL:
 * `day(event_time), event_type, bucket(16, user_id), truncate(4, name), hour(ts), void(x)`.
 * Field names follow Java's defaults: `event_time_day`, `user_id_bucket`, `name_trunc`, identity = column.
 */
const SUFFIX: Record<string, string> = { year: 'year', month: 'month', day: 'day', hour: 'hour', bucket: 'bucket', truncate: 'trunc', void: 'null' };

export function parsePartitionText(text: string, schema: Schema, specId = 0): PartitionSpec {
  const items = splitTopLevel(text).map((s) => s.trim()).filter((s) => s.length > 0);
  const fields: PartitionField[] = items.map((item, i) => {
    const m = /^(\w+)\s*\(\s*(?:(\d+)\s*,\s*)?([\w.]+)\s*\)$/.exec(item);
    const column = m ? m[3]! : item;
    let transformText = 'identity';
    if (m) {
      const name = m[1]!.toLowerCase();
      const param = m[2];
      if ((name === 'bucket' || name === 'truncate') !== (param !== undefined)) {
        throw new LakehouseError('INVALID_ARGUMENT', `Partition field "${item}" is not valid: ${name === 'bucket' || name === 'truncate' ? `${name} needs a width, e.g. ${name}(16, ${column})` : `${name} takes only a column, e.g. ${name}(${column})`}.`);
      }
      transformText = param === undefined ? name : `${name}[${param}]`;
    }
    const transform = transformToString(parseTransform(transformText));
    const source = schema.findFieldByName(column);
    if (!source) {
      throw new LakehouseError('INVALID_ARGUMENT', `Partition field "${item}" names column "${column}", which is not in the schema (columns: ${schema.fields.map((f) => f.name).join(', ')}).`);
    }
    if (!isPrimitive(source.type) || !canTransform(transform, source.type)) {
      throw new LakehouseError('INVALID_ARGUMENT', `Partition field "${item}": transform ${transform} cannot be applied to column "${column}" of type ${typeToString(source.type)}.`);
    }
    const kind = transform.replace(/\[.*$/, '');
    const name = kind === 'identity' ? column : `${column}_${SUFFIX[kind] ?? kind}`;
    return { sourceId: source.id, fieldId: PARTITION_DATA_ID_START + i, name, transform };
  });
  const names = new Set<string>();
  for (const f of fields) {
    if (names.has(f.name)) throw new LakehouseError('INVALID_ARGUMENT', `Partition spec "${text}" defines the field name "${f.name}" twice.`);
    names.add(f.name);
  }
  return { specId, fields };
}

export function partitionSpecToText(spec: PartitionSpec, schema: Schema): string {
  if (spec.fields.length === 0) return 'unpartitioned';
  return spec.fields.map((f) => {
    const col = schema.findColumnName(f.sourceId) ?? `#${f.sourceId}`;
    const m = /^(\w+)(?:\[(\d+)\])?$/.exec(f.transform);
    if (!m || m[1] === 'identity') return col;
    return m[2] ? `${m[1]}(${m[2]}, ${col})` : `${m[1]}(${col})`;
  }).join(', ');
}

function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out;
}
