// Arrow IPC stream bytes -> Parquet bytes with parquet-wasm (arrow-rs): the same code on the main thread
// and on the encoding thread (parquet-encode-pool.ts). It is plain JavaScript because it is also that
// thread's entry point, and a worker thread has no TypeScript loader under every runner (tsx, vitest,
// the compiled dist/). Types: parquet-encode.d.mts.
import { parentPort, workerData } from 'node:worker_threads';
import * as pw from 'parquet-wasm';

/** Iceberg `write.parquet.compression-codec` names -> parquet-wasm codecs. */
export const CODECS = {
  zstd: pw.Compression.ZSTD,
  snappy: pw.Compression.SNAPPY,
  gzip: pw.Compression.GZIP,
  lz4: pw.Compression.LZ4,
  lz4_raw: pw.Compression.LZ4_RAW,
  brotli: pw.Compression.BROTLI,
  uncompressed: pw.Compression.UNCOMPRESSED,
};

/** Marks the encoding thread (workerData), so importing this module in any other thread starts nothing. */
export const ENCODER_ROLE = 'lakehouse-parquet-encoder';

export function encodeIpc(ipc, props) {
  let b = new pw.WriterPropertiesBuilder().setCompression(CODECS[props.compression]).setCreatedBy('lakehouse (parquet-wasm / arrow-rs)');
  if (props.rowGroupSize !== undefined) b = b.setMaxRowGroupSize(props.rowGroupSize);
  if (props.rowGroupBytes !== undefined) b = b.setMaxRowGroupBytes(props.rowGroupBytes);
  for (const name of props.plainColumns) b = b.setColumnDictionaryEnabled(name, false);
  // writeParquet takes ownership of both wasm objects, so nothing is left to free.
  return pw.writeParquet(pw.Table.fromIPCStream(ipc), b.build());
}

if (parentPort && workerData?.role === ENCODER_ROLE) {
  // One request at a time, in order; both buffers are transferred, not copied.
  parentPort.on('message', (req) => {
    try {
      const bytes = encodeIpc(new Uint8Array(req.ipc), req.props);
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      parentPort.postMessage({ id: req.id, bytes: own.buffer }, [own.buffer]);
    } catch (e) {
      parentPort.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
  // Loaded (parquet-wasm included): requests may come.
  parentPort.postMessage({ ready: true });
}
