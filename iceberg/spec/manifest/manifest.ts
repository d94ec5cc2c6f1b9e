import {
  avroFieldName, avroToIcebergPrimitive, fieldsById, fromAvroValue, icebergToAvroSchema, namedTypes, nonNull,
  readContainer, resolve, toAvroValue, writeContainer, type AvroField, type AvroObjectSchema, type AvroSchema,
} from './avro.ts';
import { compareValues } from '../values/ordering.ts';
import { toBinary } from '../values/single-value-binary.ts';
import { LakehouseError, errorMessage } from '../../../core/errors.ts';
import type { FileIO } from '../../io/file-io.ts';
import { parseJson, stringifyJson } from '../../../core/json.ts';
import {
  DataFileContent, ManifestContent, ManifestEntryStatus,
  type DataFile, type FieldSummary, type FileFormat, type ManifestEntry, type ManifestFile,
} from './manifest-types.ts';
import { partitionSpecFromJson, partitionSpecToJson, type PartitionSpec } from '../partition-spec.ts';
import { transformResultType } from '../partition-transforms.ts';
import { Schema } from '../schema.ts';
import { isPrimitive, T, type PrimitiveType, type StructType, type Value } from '../types.ts';

/**
 * Manifest files (spec "Manifests", "Manifest Entry Fields", "Sequence Number Inheritance").
 * We write format v2 (v1 on request) and read v1 and v2 files from any writer, looking fields up by
 * their field id as Iceberg readers must, never by name or position.
 */

/**
 * Stand-in for the sequence number a manifest gets when its snapshot commits (Java
 * `ManifestWriter.UNASSIGNED_SEQ`). The manifest list writer replaces it, so a manifest written once
 * can be reused by every commit attempt (spec "Sequence Number Inheritance").
 */
export const UNASSIGNED_SEQ = -1n;

/** The partition tuple's struct: partition field ids and names, transform result types, all optional (spec "Partitioning"). */
export function partitionType(spec: PartitionSpec, schema: Schema): StructType {
  return T.struct(spec.fields.map((f) => {
    const source = schema.findField(f.sourceId);
    if (!source) {
      throw new LakehouseError('INVALID_METADATA', `Partition field "${f.name}" (id ${f.fieldId}) of spec ${spec.specId} uses source column id ${f.sourceId}, which is not in schema ${schema.schemaId}.`);
    }
    if (!isPrimitive(source.type)) {
      throw new LakehouseError('INVALID_METADATA', `Partition field "${f.name}" of spec ${spec.specId} uses column "${source.name}" of nested type ${source.type.kind}; only primitive columns can be partition sources.`);
    }
    return T.field(f.fieldId, f.name, transformResultType(f.transform, source.type), false);
  }));
}

// ---- The manifest_entry struct per format version (field ids from the spec tables) ----

const countMap = (keyId: number, valueId: number) => T.map(keyId, T.int(), valueId, T.long(), true);
const boundMap = (keyId: number, valueId: number) => T.map(keyId, T.int(), valueId, T.binary(), true);

/** v1 files carried `block_size_in_bytes` (required); Java writes this constant for it. */
const V1_BLOCK_SIZE = 64n * 1024n * 1024n;

function dataFileType(partition: StructType, formatVersion: 1 | 2): StructType {
  const stats = [
    T.field(108, 'column_sizes', countMap(117, 118)),
    T.field(109, 'value_counts', countMap(119, 120)),
    T.field(110, 'null_value_counts', countMap(121, 122)),
    T.field(137, 'nan_value_counts', countMap(138, 139)),
    T.field(125, 'lower_bounds', boundMap(126, 127)),
    T.field(128, 'upper_bounds', boundMap(129, 130)),
    T.field(131, 'key_metadata', T.binary()),
    T.field(132, 'split_offsets', T.list(133, T.long(), true)),
  ];
  const head = [
    T.field(100, 'file_path', T.string(), true),
    T.field(101, 'file_format', T.string(), true),
    T.field(102, 'partition', partition, true),
    T.field(103, 'record_count', T.long(), true),
    T.field(104, 'file_size_in_bytes', T.long(), true),
  ];
  if (formatVersion === 1) {
    return T.struct([...head, T.field(105, 'block_size_in_bytes', T.long(), true), ...stats, T.field(140, 'sort_order_id', T.int())]);
  }
  return T.struct([
    T.field(134, 'content', T.int(), true),
    ...head,
    ...stats,
    T.field(135, 'equality_ids', T.list(136, T.int(), true)),
    T.field(140, 'sort_order_id', T.int()),
    // Optional in v2 (spec "Data File Fields"); Java's v2 writer declares it. We never set it.
    T.field(143, 'referenced_data_file', T.string()),
  ]);
}

function entryType(partition: StructType, formatVersion: 1 | 2): StructType {
  const dataFile = T.field(2, 'data_file', dataFileType(partition, formatVersion), true);
  if (formatVersion === 1) return T.struct([T.field(0, 'status', T.int(), true), T.field(1, 'snapshot_id', T.long(), true), dataFile]);
  return T.struct([
    T.field(0, 'status', T.int(), true),
    T.field(1, 'snapshot_id', T.long()),
    T.field(3, 'sequence_number', T.long()),
    T.field(4, 'file_sequence_number', T.long()),
    dataFile,
  ]);
}

/** The Avro schema of a manifest: record `manifest_entry`, `r2` for data_file, `r102` for the partition, as Java names them. */
export function manifestAvroSchema(partition: StructType, formatVersion: 1 | 2): AvroSchema {
  return icebergToAvroSchema(entryType(partition, formatVersion), 'manifest_entry');
}

// ---- Writing ----

export interface ManifestWriteOptions {
  /** Table schema when the manifest is written; goes into the header and types the partition tuple. */
  schema: Schema;
  spec: PartitionSpec;
  formatVersion: 1 | 2;
  /** The snapshot that writes the manifest: `added_snapshot_id`, and the snapshot id of its ADDED and DELETED entries. */
  snapshotId: bigint;
  entries: ManifestEntry[];
  /** DATA (default) or DELETES; a manifest holds one kind (spec "Manifests"). */
  content?: ManifestContent;
  /** Fixed Avro sync marker (16 bytes) for byte-deterministic output. */
  syncMarker?: Uint8Array;
}

type EncodedManifest = Omit<ManifestFile, 'manifestPath' | 'manifestLength'>;

const mapToAvro = <V>(m: Map<number, V> | undefined, value: (v: V) => unknown) =>
  m === undefined ? null : [...m].map(([key, v]) => ({ key, value: value(v) }));

/**
 * Encodes a manifest. The returned `sequenceNumber` is always `UNASSIGNED_SEQ` (-1n) in v2, and so is
 * `minSequenceNumber` when no live entry has an explicit data sequence number: the manifest list
 * writer assigns the committing snapshot's sequence number (spec "Manifest Lists", Java
 * `ManifestWriter.toManifestFile`). v1 has no sequence numbers; both are 0n there (spec Appendix E).
 */
export function encodeManifest(opts: ManifestWriteOptions): { bytes: Uint8Array; manifest: EncodedManifest } {
  const { schema, spec, formatVersion, snapshotId, entries } = opts;
  const content = opts.content ?? ManifestContent.DATA;
  if (formatVersion === 1 && content !== ManifestContent.DATA) {
    throw new LakehouseError('INVALID_ARGUMENT', 'Delete manifests need format version 2; v1 tables hold data files only.');
  }
  const ptype = partitionType(spec, schema);
  const pfields = ptype.fields.map((f) => ({ name: avroFieldName(f.name), type: f.type as PrimitiveType }));

  const counts = { added: 0, existing: 0, deleted: 0, addedRows: 0, existingRows: 0, deletedRows: 0 };
  let minSeq: bigint | null = null;
  const records = entries.map((entry, i) => {
    const file = entry.dataFile;
    const where = `Manifest entry ${i} (${file.filePath})`;
    validateEntry(entry, where, opts, content);
    const live = entry.status !== ManifestEntryStatus.DELETED;
    switch (entry.status) {
      case ManifestEntryStatus.ADDED: counts.added++; counts.addedRows += file.recordCount; break;
      case ManifestEntryStatus.EXISTING: counts.existing++; counts.existingRows += file.recordCount; break;
      default: counts.deleted++; counts.deletedRows += file.recordCount;
    }
    // min_sequence_number is over live (ADDED, EXISTING) files only (spec "Manifest Lists", field 516).
    if (live && entry.sequenceNumber !== null && (minSeq === null || entry.sequenceNumber < minSeq)) minSeq = entry.sequenceNumber;

    const partition: Record<string, unknown> = {};
    pfields.forEach((f, j) => {
      try {
        partition[f.name] = toAvroValue(f.type, file.partition[j] ?? null);
      } catch (e) {
        throw new LakehouseError('INVALID_ARGUMENT', `${where}: partition value ${j} (${f.name}) is not a valid ${f.type.kind}: ${errorMessage(e)}`, { cause: e });
      }
    });
    const dataFile: Record<string, unknown> = {
      file_path: file.filePath,
      file_format: file.fileFormat,
      partition,
      record_count: BigInt(file.recordCount),
      file_size_in_bytes: BigInt(file.fileSizeInBytes),
      column_sizes: mapToAvro(file.columnSizes, BigInt),
      value_counts: mapToAvro(file.valueCounts, BigInt),
      null_value_counts: mapToAvro(file.nullValueCounts, BigInt),
      nan_value_counts: mapToAvro(file.nanValueCounts, BigInt),
      lower_bounds: mapToAvro(file.lowerBounds, (b) => Buffer.from(b)),
      upper_bounds: mapToAvro(file.upperBounds, (b) => Buffer.from(b)),
      key_metadata: file.keyMetadata ? Buffer.from(file.keyMetadata) : null,
      split_offsets: file.splitOffsets ? file.splitOffsets.map(BigInt) : null,
      sort_order_id: file.sortOrderId ?? null,
    };
    // ADDED and DELETED entries carry the writing snapshot's id; EXISTING keep the one that added the
    // file (spec "Manifest Entry Fields").
    const entrySnapshotId = entry.status === ManifestEntryStatus.EXISTING ? entry.snapshotId : snapshotId;
    if (formatVersion === 1) {
      dataFile.block_size_in_bytes = V1_BLOCK_SIZE;
      return { status: entry.status, snapshot_id: entrySnapshotId, data_file: dataFile };
    }
    dataFile.content = file.content;
    dataFile.equality_ids = file.equalityIds ?? null;
    dataFile.referenced_data_file = null;
    return {
      status: entry.status,
      snapshot_id: entrySnapshotId,
      sequence_number: entry.sequenceNumber,
      // The file sequence number is always the committing snapshot's, so ADDED entries inherit it.
      file_sequence_number: entry.status === ManifestEntryStatus.ADDED ? null : entry.fileSequenceNumber,
      data_file: dataFile,
    };
  });

  const metadata: Record<string, string> = {
    schema: stringifyJson(schema.toJSON()),
    'schema-id': String(schema.schemaId),
    'partition-spec': stringifyJson(partitionSpecToJson(spec).fields),
    'partition-spec-id': String(spec.specId),
    'format-version': String(formatVersion),
  };
  if (formatVersion === 2) metadata.content = content === ManifestContent.DELETES ? 'deletes' : 'data';

  const bytes = writeContainer({
    schema: manifestAvroSchema(ptype, formatVersion),
    records,
    metadata,
    ...(opts.syncMarker ? { syncMarker: opts.syncMarker } : {}),
  });
  const v1 = formatVersion === 1;
  return {
    bytes,
    manifest: {
      partitionSpecId: spec.specId,
      content,
      sequenceNumber: v1 ? 0n : UNASSIGNED_SEQ,
      minSequenceNumber: v1 ? 0n : (minSeq ?? UNASSIGNED_SEQ),
      addedSnapshotId: snapshotId,
      addedFilesCount: counts.added,
      existingFilesCount: counts.existing,
      deletedFilesCount: counts.deleted,
      addedRowsCount: counts.addedRows,
      existingRowsCount: counts.existingRows,
      deletedRowsCount: counts.deletedRows,
      partitions: partitionSummaries(ptype, entries),
      keyMetadata: null,
    },
  };
}

/** The checks Java's `V2Metadata.ManifestEntryWrapper` makes, as sentences. */
function validateEntry(entry: ManifestEntry, where: string, opts: ManifestWriteOptions, content: ManifestContent): void {
  const file = entry.dataFile;
  if (file.partition.length !== opts.spec.fields.length) {
    throw new LakehouseError('INVALID_ARGUMENT', `${where} has ${file.partition.length} partition values but spec ${opts.spec.specId} has ${opts.spec.fields.length} fields; write files of another spec to their own manifest.`);
  }
  const isData = file.content === DataFileContent.DATA;
  if (isData !== (content === ManifestContent.DATA)) {
    throw new LakehouseError('INVALID_ARGUMENT', `${where} is a ${isData ? 'data' : 'delete'} file but the manifest holds ${content === ManifestContent.DATA ? 'data' : 'delete'} files; data and delete files go to separate manifests (spec "Manifests").`);
  }
  if (entry.status === ManifestEntryStatus.ADDED) {
    if (entry.snapshotId !== null && entry.snapshotId !== opts.snapshotId) {
      throw new LakehouseError('INVALID_ARGUMENT', `${where} is ADDED with snapshot id ${entry.snapshotId}, but this manifest is written by snapshot ${opts.snapshotId}; carry files of earlier snapshots over as EXISTING.`);
    }
    return;
  }
  if (opts.formatVersion === 2 && entry.sequenceNumber === null) {
    throw new LakehouseError('INVALID_ARGUMENT', `${where} is ${entry.status === ManifestEntryStatus.EXISTING ? 'EXISTING' : 'DELETED'} without a data sequence number; only ADDED entries may inherit it (spec "Sequence Number Inheritance"). Pass the entry as read from its manifest.`);
  }
  if (entry.status === ManifestEntryStatus.EXISTING && entry.snapshotId === null) {
    throw new LakehouseError('INVALID_ARGUMENT', `${where} is EXISTING without the snapshot id that added it; pass the entry as read from its manifest.`);
  }
}

/** Per partition field over every entry, like Java `PartitionSummary`: nulls, NaNs, and bounds of the other values. */
function partitionSummaries(ptype: StructType, entries: ManifestEntry[]): FieldSummary[] {
  return ptype.fields.map((f, j) => {
    const t = f.type as PrimitiveType;
    let containsNull = false;
    let containsNan = false;
    let lower: Value = null;
    let upper: Value = null;
    for (const e of entries) {
      const v = e.dataFile.partition[j] ?? null;
      if (v === null) containsNull = true;
      else if (typeof v === 'number' && Number.isNaN(v)) containsNan = true;
      else if (lower === null) { lower = v; upper = v; }
      else {
        // compareValues puts -0.0 before +0.0, as bounds need (spec "Manifest Lists" note 2).
        if (compareValues(t, v, lower) < 0) lower = v;
        if (compareValues(t, v, upper) > 0) upper = v;
      }
    }
    return {
      containsNull,
      containsNan,
      lowerBound: lower === null ? null : toBinary(t, lower),
      upperBound: upper === null ? null : toBinary(t, upper),
    };
  });
}

export async function writeManifest(io: FileIO, location: string, opts: ManifestWriteOptions): Promise<ManifestFile> {
  const { bytes, manifest } = encodeManifest(opts);
  await io.write(location, bytes);
  return { manifestPath: location, manifestLength: bytes.length, ...manifest };
}

// ---- Reading ----

/** A record field by id from a decoded Avro record (decoded with the writer schema, so keyed by the writer's names). */
function getter(fields: Map<number, AvroField>) {
  return (rec: Record<string, unknown>, id: number): unknown => {
    const f = fields.get(id);
    return f === undefined ? undefined : rec[f.name];
  };
}

const toNumber = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));
const toBig = (v: unknown): bigint | null => (v === null || v === undefined ? null : typeof v === 'bigint' ? v : BigInt(v as number));

function mapFromAvro<V>(raw: unknown, value: (v: unknown) => V): Map<number, V> | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (Array.isArray(raw)) return new Map(raw.map((kv: { key: unknown; value: unknown }) => [toNumber(kv.key), value(kv.value)]));
  // An Avro map (string keys) from a writer that chose it over the array form.
  return new Map(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [Number(k), value(v)]));
}

const FILE_FORMATS: readonly FileFormat[] = ['PARQUET', 'AVRO', 'ORC'];

/**
 * Reads every entry of a manifest (DELETED ones included), with inheritance applied as Java's
 * `InheritableMetadataFactory` does: a null snapshot id takes the manifest's `added_snapshot_id`; null
 * data and file sequence numbers take the manifest's sequence number for ADDED entries, and for every
 * entry when that is 0 (v1 manifests, spec "Sequence Number Inheritance"). `dataFile.specId` is the
 * manifest's `partition_spec_id`. Partition values are typed by the header's spec over `opts.schema`
 * (default: the header's schema), falling back to the Avro schema's own types.
 */
export async function readManifest(io: FileIO, manifest: ManifestFile, opts: { schema?: Schema } = {}): Promise<ManifestEntry[]> {
  const path = manifest.manifestPath;
  const file = readContainer(await io.read(path), path);
  const names = namedTypes(file.schema);
  const entryFields = fieldsById(file.schema, names);
  const dataFileField = entryFields.get(2);
  if (!dataFileField) {
    throw new LakehouseError('INVALID_METADATA', `Manifest ${path} has no data_file field (field id 2); it is not an Iceberg manifest.`);
  }
  const fileFields = fieldsById(dataFileField.type, names);
  const partitionField = fileFields.get(102);
  const partitionAvro = partitionField ? resolve(nonNull(partitionField.type), names) : undefined;
  const partitionAvroFields = (partitionAvro as AvroObjectSchema | undefined)?.fields ?? [];
  const partitionTypes = readPartitionTypes(file.metadata, partitionAvroFields, names, opts.schema, path);

  const entry = getter(entryFields);
  const df = getter(fileFields);
  return (file.records as Record<string, unknown>[]).map((rec, i) => {
    const raw = entry(rec, 2) as Record<string, unknown>;
    const rawPartition = (df(raw, 102) ?? {}) as Record<string, unknown>;
    const format = String(df(raw, 101)).toUpperCase() as FileFormat;
    if (!FILE_FORMATS.includes(format)) {
      throw new LakehouseError('UNSUPPORTED', `Manifest ${path} entry ${i} lists ${String(df(raw, 100))} in format "${String(df(raw, 101))}"; supported formats are ${FILE_FORMATS.join(', ')}.`);
    }
    const dataFile: DataFile = {
      content: (df(raw, 134) ?? DataFileContent.DATA) as DataFileContent,
      filePath: df(raw, 100) as string,
      fileFormat: format,
      partition: partitionAvroFields.map((f, j) => fromAvroValue(partitionTypes[j]!, rawPartition[f.name])),
      recordCount: toNumber(df(raw, 103)),
      fileSizeInBytes: toNumber(df(raw, 104)),
      keyMetadata: df(raw, 131) == null ? null : new Uint8Array(df(raw, 131) as Uint8Array),
      splitOffsets: df(raw, 132) == null ? null : (df(raw, 132) as unknown[]).map(toNumber),
      equalityIds: df(raw, 135) == null ? null : (df(raw, 135) as unknown[]).map(toNumber),
      sortOrderId: df(raw, 140) == null ? null : toNumber(df(raw, 140)),
      specId: manifest.partitionSpecId,
    };
    const stats: [keyof DataFile, number, (v: unknown) => unknown][] = [
      ['columnSizes', 108, toNumber], ['valueCounts', 109, toNumber], ['nullValueCounts', 110, toNumber], ['nanValueCounts', 137, toNumber],
      ['lowerBounds', 125, (b) => new Uint8Array(b as Uint8Array)], ['upperBounds', 128, (b) => new Uint8Array(b as Uint8Array)],
    ];
    for (const [key, id, conv] of stats) {
      const m = mapFromAvro(df(raw, id), conv);
      if (m !== undefined) (dataFile as unknown as Record<string, unknown>)[key] = m;
    }

    const status = toNumber(entry(rec, 0)) as ManifestEntryStatus;
    const inherits = manifest.sequenceNumber === 0n || status === ManifestEntryStatus.ADDED;
    const seq = toBig(entry(rec, 3));
    const fileSeq = toBig(entry(rec, 4));
    return {
      status,
      snapshotId: toBig(entry(rec, 1)) ?? manifest.addedSnapshotId,
      sequenceNumber: seq ?? (inherits ? manifest.sequenceNumber : null),
      fileSequenceNumber: fileSeq ?? (inherits ? manifest.sequenceNumber : null),
      dataFile,
    };
  });
}

/**
 * Iceberg types of the partition tuple's fields, in Avro field order. The header's spec over the given
 * schema is authoritative (it also promotes, say, an int written before an int -> long change); when it
 * cannot be built (a source column since dropped, an unknown transform) the Avro schema's own types serve.
 */
function readPartitionTypes(
  header: Record<string, string>, avroFields: AvroField[], names: Map<string, AvroObjectSchema>, schema: Schema | undefined, path: string,
): PrimitiveType[] {
  let fromSpec: Map<number, PrimitiveType> | undefined;
  try {
    const specText = header['partition-spec'];
    const tableSchema = schema ?? (header.schema ? Schema.fromJSON(parseJson(header.schema, `schema of manifest ${path}`)) : undefined);
    if (specText !== undefined && tableSchema) {
      const spec = partitionSpecFromJson(parseJson(specText, `partition spec of manifest ${path}`));
      const ptype = partitionType(spec, tableSchema);
      if (ptype.fields.length === avroFields.length) {
        fromSpec = new Map(ptype.fields.map((f, j) => [typeof avroFields[j]!['field-id'] === 'number' ? f.id : j, f.type as PrimitiveType]));
      }
    }
  } catch {
    fromSpec = undefined;
  }
  return avroFields.map((f, j) => {
    const key = typeof f['field-id'] === 'number' ? f['field-id'] : j;
    const t = fromSpec?.get(key) ?? avroToIcebergPrimitive(f.type, names);
    if (!t) {
      throw new LakehouseError('INVALID_METADATA', `Manifest ${path} has partition field "${f.name}" of a non-primitive Avro type; partition values are primitives.`);
    }
    return t;
  });
}
