import type * as pw from 'parquet-wasm';

export type ParquetCodecName = 'zstd' | 'snappy' | 'gzip' | 'lz4' | 'lz4_raw' | 'brotli' | 'uncompressed';

/** Writer settings for one file, as plain data (they cross to the encoding thread). */
export interface EncodeProps {
  compression: ParquetCodecName;
  rowGroupSize?: number;
  rowGroupBytes?: number;
  /** Columns written without a dictionary. */
  plainColumns: string[];
}

export declare const CODECS: Record<ParquetCodecName, pw.Compression>;
export declare const ENCODER_ROLE: string;
export declare function encodeIpc(ipc: Uint8Array, props: EncodeProps): Uint8Array;
