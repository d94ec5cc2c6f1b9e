import { LakehouseError } from '../../core/errors.ts';
import { type PartitionField, type PartitionSpec } from '../spec/partition-spec.ts';
import { parsePartitionText, partitionSpecToText } from '../spec/partition-spec-text.ts';
import { currentSchema, defaultSpec, type TableMetadata } from '../spec/table-metadata.ts';
import type { TableRequirement } from '../spec/table-updates.ts';
import type { MetadataChange } from './update-schema.ts';

/**
 * Partition evolution (spec "Partition Evolution"): a new spec becomes the default; data files keep the
 * spec id they were written with, so old files stay where they are and are pruned by their own spec,
 * while new files are written by the new one. Partition field ids are table-wide: a new field gets
 * `last-partition-id + 1` (ids start at 1000), and a field that an earlier spec had - same source, same
 * transform - gets its old id and name back, as Java does for v2 tables, so the same partition values
 * keep one id across specs.
 */

export type PartitionChange =
  /** `term` as in `--partition`: `hour(event_time)`, `bucket(16, user_id)`, `country`. */
  | { kind: 'add-partition-field'; term: string; name?: string }
  /** `field` is a partition field name (`event_time_day`) or the term that made it (`day(event_time)`). */
  | { kind: 'drop-partition-field'; field: string }
  /** Drop one field and add another in one new spec, e.g. day(event_time) -> hour(event_time). */
  | { kind: 'replace-partition-field'; field: string; term: string; name?: string };

function refuse(message: string): never {
  throw new LakehouseError('INVALID_ARGUMENT', message);
}

const TIME_TRANSFORMS = new Set(['year', 'month', 'day', 'hour']);

function findCurrentField(metadata: TableMetadata, spec: PartitionSpec, text: string): PartitionField {
  const schema = currentSchema(metadata);
  let found = spec.fields.find((f) => f.name === text);
  if (!found && /\(/.test(text)) {
    const term = parsePartitionText(text, schema).fields[0]!;
    found = spec.fields.find((f) => f.sourceId === term.sourceId && f.transform === term.transform);
  }
  if (!found) {
    refuse(`The table is not partitioned by "${text}"; its partition fields are: ${spec.fields.length === 0 ? 'none (unpartitioned)' : spec.fields.map((f) => `${f.name} (${partitionSpecToText({ specId: spec.specId, fields: [f] }, schema)})`).join(', ')}.`);
  }
  return found;
}

function addField(metadata: TableMetadata, fields: PartitionField[], term: string, name: string | undefined): PartitionField[] {
  const schema = currentSchema(metadata);
  const parsed = parsePartitionText(term, schema).fields;
  if (parsed.length !== 1) refuse(`Give one partition field at a time, got "${term}".`);
  const want = parsed[0]!;
  const same = fields.find((f) => f.sourceId === want.sourceId && f.transform === want.transform);
  if (same) refuse(`The table is already partitioned by ${term} (partition field "${same.name}").`);
  if (TIME_TRANSFORMS.has(want.transform)) {
    const other = fields.find((f) => f.sourceId === want.sourceId && TIME_TRANSFORMS.has(f.transform));
    if (other) {
      refuse(`Partition field "${other.name}" already partitions column "${schema.findColumnName(want.sourceId)}" by ${other.transform}; a second time transform of one column is redundant. Replace it instead: lakehouse tables alter <table> replace-partition-field ${other.name} "${term}".`);
    }
  }
  // v2: reuse the id (and default name) of the same field in an earlier spec.
  const earlier = metadata.partitionSpecs.flatMap((s) => s.fields).find((f) => f.sourceId === want.sourceId && f.transform === want.transform);
  const fieldName = name ?? earlier?.name ?? want.name;
  if (fields.some((f) => f.name === fieldName)) refuse(`Partition field name "${fieldName}" is already used in the current spec; give another with --name.`);
  const column = schema.fields.find((f) => f.name.toLowerCase() === fieldName.toLowerCase());
  if (column && !(want.transform === 'identity' && column.id === want.sourceId)) {
    refuse(`Partition field name "${fieldName}" is the name of column "${column.name}"; give another with --name.`);
  }
  const fieldId = earlier && metadata.formatVersion >= 2 ? earlier.fieldId : metadata.lastPartitionId + 1;
  return [...fields, { sourceId: want.sourceId, transform: want.transform, name: fieldName, fieldId }];
}

function dropField(metadata: TableMetadata, fields: PartitionField[], victim: PartitionField): PartitionField[] {
  // v1 specs cannot lose fields (readers find partition values by position): the field becomes void.
  if (metadata.formatVersion === 1) return fields.map((f) => (f === victim ? { ...f, transform: 'void' } : f));
  return fields.filter((f) => f !== victim);
}

/** The default spec after `change` (its spec id is assigned by the catalog). */
export function evolveSpec(metadata: TableMetadata, change: PartitionChange): PartitionSpec {
  const spec = defaultSpec(metadata);
  let fields = spec.fields;
  switch (change.kind) {
    case 'add-partition-field':
      fields = addField(metadata, fields, change.term, change.name);
      break;
    case 'drop-partition-field':
      fields = dropField(metadata, fields, findCurrentField(metadata, spec, change.field));
      break;
    case 'replace-partition-field': {
      const victim = findCurrentField(metadata, spec, change.field);
      fields = addField(metadata, dropField(metadata, fields, victim), change.term, change.name);
      break;
    }
  }
  return { specId: Math.max(...metadata.partitionSpecs.map((s) => s.specId)) + 1, fields };
}

/**
 * The updates and requirements of a partition change: the new spec and that it becomes the default,
 * valid only if the schema, the default spec and the last partition id are still the ones it was
 * planned on.
 */
export function planPartitionChange(metadata: TableMetadata, change: PartitionChange): MetadataChange {
  const spec = evolveSpec(metadata, change);
  const requirements: TableRequirement[] = [
    { type: 'assert-table-uuid', uuid: metadata.tableUuid },
    { type: 'assert-current-schema-id', currentSchemaId: metadata.currentSchemaId },
    { type: 'assert-default-spec-id', defaultSpecId: metadata.defaultSpecId },
    { type: 'assert-last-assigned-partition-id', lastAssignedPartitionId: metadata.lastPartitionId },
  ];
  return { updates: [{ action: 'add-spec', spec }, { action: 'set-default-spec', specId: -1 }], requirements };
}
