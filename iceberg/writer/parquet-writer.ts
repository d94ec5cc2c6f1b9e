import * as arrow from 'apache-arrow';
import { ARROW_EXTENSION_NAME_KEY, ARROW_UUID_EXTENSION, arrowFieldId } from '../arrow/arrow-schema.ts';
import { LakehouseError, errorMessage } from '../../core/errors.ts';
import { PARQUET_COMPRESSION, PARQUET_COMPRESSION_DEFAULT } from '../spec/table-properties.ts';
import { plainColumns } from './dictionary-choice.ts';
import { CODECS, type EncodeProps, type ParquetCodecName, encodeIpc } from './parquet-encode.mjs';
import { encodeParquetIpc } from './parquet-encode-pool.ts';

/**
 * Arrow batches -> one Parquet file in memory, through parquet-wasm (arrow-rs). The Arrow fields'
 * `PARQUET:field_id` metadata becomes the Parquet field ids; the Arrow schema is also stored in the
 * footer (`ARROW:schema`), as arrow-rs and pyarrow do. Columns that are mostly distinct values are
 * written without a dictionary (dictionary-choice.ts).
 */

/** Iceberg `write.parquet.compression-codec` values (Java names, lower case). */
export type ParquetCompression = ParquetCodecName;

export interface ParquetWriteOptions {
  /** Default zstd, the Iceberg default (parquet-wasm's own default is none). */
  compression?: ParquetCompression;
  /** Rows per row group; arrow-rs default 1 048 576. */
  rowGroupSize?: number;
  /** Row-group byte cap (arrow-rs `max_row_group_bytes`, by its own size estimate); none by default. */
  rowGroupBytes?: number;
}

/** Rows per Parquet row group (pyiceberg's key; Java sizes row groups in bytes instead). */
export const PARQUET_ROW_GROUP_LIMIT = 'write.parquet.row-group-limit';
export const PARQUET_ROW_GROUP_LIMIT_DEFAULT = 1_048_576;
/** Java's key for row-group byte size; arrow-rs can cap row groups by bytes too. */
export const PARQUET_ROW_GROUP_SIZE_BYTES = 'write.parquet.row-group-size-bytes';
export const PARQUET_ROW_GROUP_SIZE_BYTES_DEFAULT = 128 * 1024 * 1024;

/** Reads `write.parquet.compression-codec`; "none" is accepted for uncompressed as Java's config does. */
export function parquetCompression(properties: Record<string, string> = {}): ParquetCompression {
  const raw = (properties[PARQUET_COMPRESSION] ?? PARQUET_COMPRESSION_DEFAULT).trim().toLowerCase();
  const name = raw === 'none' ? 'uncompressed' : raw;
  if (!(name in CODECS)) {
    throw new LakehouseError('INVALID_CONFIG', `Table property ${PARQUET_COMPRESSION}="${raw}" is not a codec this writer has; use one of ${Object.keys(CODECS).join(', ')}.`);
  }
  return name as ParquetCompression;
}

/** Encodes on the calling thread. */
export function writeParquetBytes(batches: arrow.RecordBatch[], arrowSchema: arrow.Schema, opts: ParquetWriteOptions = {}): Uint8Array {
  const { ipc, props } = prepare(batches, arrowSchema, opts);
  let bytes: Uint8Array;
  try {
    bytes = encodeIpc(ipc, props);
  } catch (e) {
    throw encodeFailed(e);
  }
  return finish(bytes, arrowSchema);
}

/** The same, encoded on the Parquet encoding thread (parquet-encode-pool.ts) while this one goes on. */
export async function encodeParquetBytes(batches: arrow.RecordBatch[], arrowSchema: arrow.Schema, opts: ParquetWriteOptions = {}): Promise<Uint8Array> {
  const { ipc, props } = prepare(batches, arrowSchema, opts);
  let bytes: Uint8Array;
  try {
    bytes = await encodeParquetIpc(ipc, props);
  } catch (e) {
    throw encodeFailed(e);
  }
  return finish(bytes, arrowSchema);
}

function prepare(batches: arrow.RecordBatch[], arrowSchema: arrow.Schema, opts: ParquetWriteOptions): { ipc: Uint8Array; props: EncodeProps } {
  const compression = opts.compression ?? 'zstd';
  if (CODECS[compression] === undefined) {
    throw new LakehouseError('INVALID_ARGUMENT', `Unknown Parquet compression "${compression}"; use one of ${Object.keys(CODECS).join(', ')}.`);
  }
  // Batches are relabelled with the given schema so field ids come from it, not from whoever built them.
  const table = new arrow.Table(arrowSchema, batches.map((b) => new arrow.RecordBatch(arrowSchema, b.data)));
  const props: EncodeProps = { compression, rowGroupSize: opts.rowGroupSize, rowGroupBytes: opts.rowGroupBytes, plainColumns: plainColumns(batches, arrowSchema) };
  return { ipc: arrow.tableToIPC(table, 'stream'), props };
}

function encodeFailed(e: unknown): LakehouseError {
  return new LakehouseError('IO_ERROR', `Encoding Parquet with parquet-wasm failed: ${errorMessage(e)}.`, { cause: e });
}

function finish(bytes: Uint8Array, arrowSchema: arrow.Schema): Uint8Array {
  const uuids = uuidFieldIds(arrowSchema.fields);
  return uuids.size === 0 ? bytes : annotateUuidColumns(bytes, uuids);
}

function uuidFieldIds(fields: arrow.Field[], out = new Set<number>()): Set<number> {
  for (const f of fields) {
    const id = arrowFieldId(f);
    if (id !== undefined && f.metadata.get(ARROW_EXTENSION_NAME_KEY) === ARROW_UUID_EXTENSION) out.add(id);
    uuidFieldIds(f.type.children ?? [], out);
  }
  return out;
}

// ---- UUID logical type ----
//
// The spec maps uuid to fixed_len_byte_array[16] annotated UUID. arrow-rs only writes that annotation
// when built with its `arrow_canonical_extension_types` feature, and parquet-wasm 0.8 is not, so the
// column comes out as a bare FIXED[16]: DuckDB then reads a BLOB and Iceberg Java's generic/Spark
// readers a byte array. The footer is patched instead: each SchemaElement whose field_id is a uuid column
// gets `logicalType = {UUID: {}}` (SchemaElement field 10, LogicalType union member 14). Only the
// footer changes; page and index offsets all point before it and stay valid.

const enum CT { STOP = 0, TRUE = 1, FALSE = 2, BYTE = 3, I16 = 4, I32 = 5, I64 = 6, DOUBLE = 7, BINARY = 8, LIST = 9, SET = 10, MAP = 11, STRUCT = 12 }

/** A minimal Thrift compact-protocol cursor: enough to walk a FileMetaData and skip what it does not need. */
class Compact {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number) { this.pos = start; }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }

  zigzag(): number {
    const v = this.varint();
    return Number((v >> 1n) ^ -(v & 1n));
  }

  /** Returns [fieldId, type] or null at the struct's stop byte (consumed). */
  fieldHeader(lastId: number): [number, number] | null {
    const b = this.buf[this.pos++]!;
    if (b === CT.STOP) return null;
    const type = b & 0x0f;
    const delta = b >> 4;
    return [delta === 0 ? this.zigzag() : lastId + delta, type];
  }

  skip(type: number): void {
    switch (type) {
      case CT.TRUE: case CT.FALSE: return;
      case CT.BYTE: this.pos++; return;
      case CT.I16: case CT.I32: case CT.I64: this.varint(); return;
      case CT.DOUBLE: this.pos += 8; return;
      case CT.BINARY: { const n = Number(this.varint()); this.pos += n; return; }
      case CT.LIST: case CT.SET: {
        const h = this.buf[this.pos++]!;
        const n = (h >> 4) === 15 ? Number(this.varint()) : h >> 4;
        const et = h & 0x0f;
        // Booleans inside containers take one byte each.
        for (let i = 0; i < n; i++) { if (et === CT.TRUE || et === CT.FALSE) this.pos++; else this.skip(et); }
        return;
      }
      case CT.MAP: {
        const n = Number(this.varint());
        if (n === 0) return;
        const kv = this.buf[this.pos++]!;
        for (let i = 0; i < n; i++) { this.skip(kv >> 4); this.skip(kv & 0x0f); }
        return;
      }
      case CT.STRUCT: {
        let last = 0;
        for (let h = this.fieldHeader(last); h; h = this.fieldHeader(last)) { this.skip(h[1]); last = h[0]; }
        return;
      }
      default:
        throw new Error(`unknown Thrift compact type ${type} at byte ${this.pos}`);
    }
  }
}

const SCHEMA_ELEMENT_FIELD_ID = 9;
const SCHEMA_ELEMENT_LOGICAL_TYPE = 10;
const FILE_METADATA_SCHEMA = 2;
const LOGICAL_TYPE_UUID = 14;

function annotateUuidColumns(bytes: Uint8Array, uuidIds: Set<number>): Uint8Array {
  const n = bytes.length;
  const footerLen = new DataView(bytes.buffer, bytes.byteOffset + n - 8, 4).getUint32(0, true);
  const footerStart = n - 8 - footerLen;
  const c = new Compact(bytes, footerStart);
  /** Byte positions (stop bytes of matching SchemaElements) and what to insert before each. */
  const inserts: { at: number; bytes: number[] }[] = [];
  let last = 0;
  for (let h = c.fieldHeader(last); h; h = c.fieldHeader(last)) {
    const [id, type] = h;
    last = id;
    if (id !== FILE_METADATA_SCHEMA || type !== CT.LIST) { c.skip(type); continue; }
    const lh = bytes[c.pos++]!;
    const count = (lh >> 4) === 15 ? Number(c.varint()) : lh >> 4;
    for (let e = 0; e < count; e++) {
      let fieldId: number | undefined;
      let hasLogical = false;
      let lastField = 0;
      for (;;) {
        const stopAt = c.pos;
        const fh = c.fieldHeader(lastField);
        if (!fh) {
          if (fieldId !== undefined && uuidIds.has(fieldId) && !hasLogical) {
            const delta = SCHEMA_ELEMENT_LOGICAL_TYPE - lastField;
            const header = delta > 0 && delta <= 15 ? [(delta << 4) | CT.STRUCT] : [CT.STRUCT, SCHEMA_ELEMENT_LOGICAL_TYPE << 1];
            // LogicalType { 14: UUIDType {} } then the LogicalType's own stop byte.
            inserts.push({ at: stopAt, bytes: [...header, (LOGICAL_TYPE_UUID << 4) | CT.STRUCT, CT.STOP, CT.STOP] });
          }
          break;
        }
        const [fid, ft] = fh;
        if (fid === SCHEMA_ELEMENT_FIELD_ID && ft === CT.I32) fieldId = c.zigzag();
        else { if (fid === SCHEMA_ELEMENT_LOGICAL_TYPE) hasLogical = true; c.skip(ft); }
        lastField = fid;
      }
    }
  }
  if (inserts.length === 0) return bytes;
  const extra = inserts.reduce((s, i) => s + i.bytes.length, 0);
  const out = new Uint8Array(n + extra);
  let src = 0;
  let dst = 0;
  for (const ins of inserts) {
    out.set(bytes.subarray(src, ins.at), dst);
    dst += ins.at - src;
    out.set(ins.bytes, dst);
    dst += ins.bytes.length;
    src = ins.at;
  }
  out.set(bytes.subarray(src, n - 8), dst);
  dst += n - 8 - src;
  new DataView(out.buffer).setUint32(dst, footerLen + extra, true);
  out.set(bytes.subarray(n - 4), dst + 4);
  return out;
}
