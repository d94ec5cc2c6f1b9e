import { LakehouseError } from '../../core/errors.ts';

/** Partition field ids start at 1000 (spec "Partition Specs"); v1 tables may omit them. */
export const PARTITION_DATA_ID_START = 1000;

export interface PartitionField {
  sourceId: number;
  fieldId: number;
  name: string;
  /** The transform in its spec string form: identity, bucket[N], truncate[W], year, month, day, hour, void. */
  transform: string;
}

export interface PartitionSpec {
  specId: number;
  fields: PartitionField[];
}

export const UNPARTITIONED: PartitionSpec = { specId: 0, fields: [] };

export function partitionSpecToJson(spec: PartitionSpec): Record<string, unknown> {
  return {
    'spec-id': spec.specId,
    fields: spec.fields.map((f) => ({ name: f.name, transform: f.transform, 'source-id': f.sourceId, 'field-id': f.fieldId })),
  };
}

/** Reads a spec; v1 field lists without field ids get 1000, 1001, ... like Java does. */
export function partitionSpecFromJson(j: unknown, specId = 0): PartitionSpec {
  const fieldsJson = Array.isArray(j) ? j : (j as Record<string, unknown> | null)?.fields;
  if (!Array.isArray(fieldsJson)) {
    throw new LakehouseError('INVALID_METADATA', 'Malformed partition spec JSON: expected an object with a "fields" array.');
  }
  const id = Array.isArray(j) ? specId : Number((j as Record<string, unknown>)['spec-id'] ?? specId);
  return {
    specId: id,
    fields: fieldsJson.map((f: Record<string, unknown>, i: number) => ({
      name: String(f.name),
      transform: String(f.transform),
      sourceId: Number(f['source-id']),
      fieldId: f['field-id'] === undefined ? PARTITION_DATA_ID_START + i : Number(f['field-id']),
    })),
  };
}

export function isUnpartitioned(spec: PartitionSpec): boolean {
  return spec.fields.every((f) => f.transform === 'void');
}

export function specsCompatible(a: PartitionSpec, b: PartitionSpec): boolean {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => {
    const g = b.fields[i]!;
    return f.sourceId === g.sourceId && f.transform === g.transform && f.name === g.name;
  });
}
