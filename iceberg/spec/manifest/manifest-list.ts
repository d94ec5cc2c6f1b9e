import {
  fieldsById, icebergToAvroSchema, namedTypes, nonNull, readContainer, resolve, writeContainer, type AvroSchema,
} from './avro.ts';
import { LakehouseError } from '../../../core/errors.ts';
import type { FileIO } from '../../io/file-io.ts';
import { ManifestContent, type FieldSummary, type ManifestFile } from './manifest-types.ts';
import { UNASSIGNED_SEQ } from './manifest.ts';
import { T, type StructType } from '../types.ts';

/**
 * Manifest lists (spec "Manifest Lists"): one per snapshot attempt, naming its manifests with their
 * counts and partition summaries. Written in v2 (v1 on request); v1 and v2 lists are read by field id,
 * so the field names of old writers (`added_data_files_count` for 504) read the same.
 */

const fieldSummaryType = T.struct([
  T.field(509, 'contains_null', T.boolean(), true),
  T.field(518, 'contains_nan', T.boolean()),
  T.field(510, 'lower_bound', T.binary()),
  T.field(511, 'upper_bound', T.binary()),
]);

const partitions = T.field(507, 'partitions', T.list(508, fieldSummaryType, true));
const keyMetadata = T.field(519, 'key_metadata', T.binary());

/** Field order as Java's `V1Metadata.MANIFEST_LIST_SCHEMA` and `V2Metadata.MANIFEST_LIST_SCHEMA`. */
function manifestFileType(formatVersion: 1 | 2): StructType {
  const head = [
    T.field(500, 'manifest_path', T.string(), true),
    T.field(501, 'manifest_length', T.long(), true),
    T.field(502, 'partition_spec_id', T.int(), true),
  ];
  if (formatVersion === 1) {
    return T.struct([
      ...head,
      T.field(503, 'added_snapshot_id', T.long(), true),
      T.field(504, 'added_files_count', T.int()),
      T.field(505, 'existing_files_count', T.int()),
      T.field(506, 'deleted_files_count', T.int()),
      partitions,
      T.field(512, 'added_rows_count', T.long()),
      T.field(513, 'existing_rows_count', T.long()),
      T.field(514, 'deleted_rows_count', T.long()),
      keyMetadata,
    ]);
  }
  return T.struct([
    ...head,
    T.field(517, 'content', T.int(), true),
    T.field(515, 'sequence_number', T.long(), true),
    T.field(516, 'min_sequence_number', T.long(), true),
    T.field(503, 'added_snapshot_id', T.long(), true),
    T.field(504, 'added_files_count', T.int(), true),
    T.field(505, 'existing_files_count', T.int(), true),
    T.field(506, 'deleted_files_count', T.int(), true),
    T.field(512, 'added_rows_count', T.long(), true),
    T.field(513, 'existing_rows_count', T.long(), true),
    T.field(514, 'deleted_rows_count', T.long(), true),
    partitions,
    keyMetadata,
  ]);
}

/** The Avro schema of a manifest list: record `manifest_file`, summaries `r508`, as Java names them. */
export function manifestListAvroSchema(formatVersion: 1 | 2): AvroSchema {
  return icebergToAvroSchema(manifestFileType(formatVersion), 'manifest_file');
}

export interface ManifestListWriteOptions {
  formatVersion: 1 | 2;
  snapshotId: bigint;
  parentSnapshotId: bigint | null;
  /** The snapshot's (optimistic) sequence number; v2 only, ignored for v1. */
  sequenceNumber: bigint;
  manifests: ManifestFile[];
  /** Fixed Avro sync marker (16 bytes) for byte-deterministic output. */
  syncMarker?: Uint8Array;
}

const buf = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b) : null);

function summaryToAvro(s: FieldSummary) {
  return { contains_null: s.containsNull, contains_nan: s.containsNan ?? null, lower_bound: buf(s.lowerBound), upper_bound: buf(s.upperBound) };
}

/**
 * Encodes a manifest list. In v2 a manifest still carrying `UNASSIGNED_SEQ` (written for this commit)
 * gets the snapshot's sequence number as `sequence_number`, and as `min_sequence_number` when that is
 * unassigned too (Java `V2Metadata.ManifestFileWrapper`); an unassigned manifest of another snapshot is
 * an error, since its files would claim this snapshot's sequence number.
 */
export function encodeManifestList(opts: ManifestListWriteOptions): Uint8Array {
  const { formatVersion, snapshotId, sequenceNumber } = opts;
  const assign = (m: ManifestFile, value: bigint, what: string): bigint => {
    if (value !== UNASSIGNED_SEQ) return value;
    if (m.addedSnapshotId !== snapshotId) {
      throw new LakehouseError('INVALID_ARGUMENT', `Manifest ${m.manifestPath} has an unassigned ${what} but was added by snapshot ${m.addedSnapshotId}, not ${snapshotId}; only this snapshot's new manifests take its sequence number. Read it from its own manifest list.`);
    }
    return sequenceNumber;
  };
  const records = opts.manifests.map((m) => {
    const common = {
      manifest_path: m.manifestPath,
      manifest_length: BigInt(m.manifestLength),
      partition_spec_id: m.partitionSpecId,
      added_snapshot_id: m.addedSnapshotId,
      added_files_count: m.addedFilesCount,
      existing_files_count: m.existingFilesCount,
      deleted_files_count: m.deletedFilesCount,
      added_rows_count: BigInt(m.addedRowsCount),
      existing_rows_count: BigInt(m.existingRowsCount),
      deleted_rows_count: BigInt(m.deletedRowsCount),
      partitions: m.partitions ? m.partitions.map(summaryToAvro) : null,
      key_metadata: buf(m.keyMetadata),
    };
    if (formatVersion === 1) {
      if (m.content !== ManifestContent.DATA) {
        throw new LakehouseError('INVALID_ARGUMENT', `Manifest ${m.manifestPath} holds delete files, which need format version 2; v1 manifest lists list data manifests only.`);
      }
      return common;
    }
    return {
      ...common,
      content: m.content,
      sequence_number: assign(m, m.sequenceNumber, 'sequence number'),
      min_sequence_number: assign(m, m.minSequenceNumber, 'min sequence number'),
    };
  });
  const metadata: Record<string, string> = {
    'snapshot-id': String(snapshotId),
    'parent-snapshot-id': opts.parentSnapshotId === null ? 'null' : String(opts.parentSnapshotId),
  };
  if (formatVersion === 2) metadata['sequence-number'] = String(sequenceNumber);
  metadata['format-version'] = String(formatVersion);
  return writeContainer({
    schema: manifestListAvroSchema(formatVersion),
    records,
    metadata,
    ...(opts.syncMarker ? { syncMarker: opts.syncMarker } : {}),
  });
}

export async function writeManifestList(io: FileIO, location: string, opts: ManifestListWriteOptions): Promise<void> {
  await io.write(location, encodeManifestList(opts));
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : typeof v === 'bigint' ? Number(v) : (v as number));
const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : typeof v === 'bigint' ? v : BigInt(v as number));
const bytes = (v: unknown): Uint8Array | null => (v === null || v === undefined ? null : new Uint8Array(v as Uint8Array));

/**
 * Reads a v1 or v2 manifest list. Fields v1 lacks read as the spec's v1 defaults (content 0 = data,
 * sequence numbers 0, Appendix E). v1 counts may be null, meaning "unknown, assume non-zero"; they read
 * as 0 because `ManifestFile` counts are numbers, so do not skip a v1 manifest on a zero count.
 */
export async function readManifestList(io: FileIO, location: string): Promise<ManifestFile[]> {
  const file = readContainer(await io.read(location), location);
  const names = namedTypes(file.schema);
  const fields = fieldsById(file.schema, names);
  const partitionsField = fields.get(507);
  const summaryFields = partitionsField ? fieldsById(elementOf(partitionsField.type, names), names) : new Map();
  const get = (rec: Record<string, unknown>, id: number, f = fields): unknown => {
    const field = f.get(id);
    return field === undefined ? undefined : rec[field.name];
  };
  return (file.records as Record<string, unknown>[]).map((rec) => {
    for (const id of [500, 501, 502, 503]) {
      if (get(rec, id) === undefined || get(rec, id) === null) {
        throw new LakehouseError('INVALID_METADATA', `Manifest list ${location} has an entry without required field ${id}; it is not a valid Iceberg manifest list.`);
      }
    }
    const summaries = get(rec, 507) as Record<string, unknown>[] | null | undefined;
    const m: ManifestFile = {
      manifestPath: get(rec, 500) as string,
      manifestLength: num(get(rec, 501)),
      partitionSpecId: num(get(rec, 502)),
      content: num(get(rec, 517)) as ManifestContent,
      sequenceNumber: big(get(rec, 515)),
      minSequenceNumber: big(get(rec, 516)),
      addedSnapshotId: big(get(rec, 503)),
      addedFilesCount: num(get(rec, 504)),
      existingFilesCount: num(get(rec, 505)),
      deletedFilesCount: num(get(rec, 506)),
      addedRowsCount: num(get(rec, 512)),
      existingRowsCount: num(get(rec, 513)),
      deletedRowsCount: num(get(rec, 514)),
      partitions: summaries == null ? null : summaries.map((s) => {
        const nan = get(s, 518, summaryFields);
        return {
          containsNull: Boolean(get(s, 509, summaryFields)),
          containsNan: nan === undefined ? null : (nan as boolean | null),
          lowerBound: bytes(get(s, 510, summaryFields)),
          upperBound: bytes(get(s, 511, summaryFields)),
        };
      }),
      keyMetadata: bytes(get(rec, 519)),
    };
    return m;
  });
}

function elementOf(list: AvroSchema, names: ReturnType<typeof namedTypes>): AvroSchema {
  const s = resolve(nonNull(list), names);
  return typeof s === 'object' && !Array.isArray(s) && s.items !== undefined ? s.items : s;
}
