import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ENCODER_ROLE, type EncodeProps, encodeIpc } from './parquet-encode.mjs';

/**
 * Parquet encoding on a second thread. parquet-wasm encodes a whole file in one synchronous call (a third
 * of ingest's time), so on the main thread it stops everything else: reading and decoding the next
 * records waits. Here the main thread hands the file's Arrow IPC bytes to one encoding thread and goes on;
 * the Parquet bytes come back as a transferred buffer.
 *
 * One thread, started on first use, requests in order. It does not keep the process alive while idle.
 * `LAKEHOUSE_PARQUET_THREADS=0` (or a single core) encodes on the calling thread instead; so does every
 * call once the thread could not start (it says it is ready only after loading parquet-wasm). A thread
 * that dies later fails the files it held (their write fails, as on an I/O error) and is started again by
 * the next request.
 */

type Pending = { resolve: (bytes: Uint8Array) => void; reject: (e: Error) => void };

export class EncodePool {
  /** The thread starting or started; null before the first request and after a thread died. */
  private worker: Promise<Worker | null> | null = null;
  /** The started thread. */
  private live: Worker | null = null;
  private unavailable = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** `threads` 0: every request is encoded inline. */
  constructor(private readonly threads: number) {}

  async encode(ipc: Uint8Array, props: EncodeProps): Promise<Uint8Array> {
    const worker = this.threads > 0 && !this.unavailable ? await (this.worker ??= this.start()) : null;
    if (!worker) return encodeIpc(ipc, props);
    // It died while this request waited for it: the next one is started.
    if (worker !== this.live) return this.encode(ipc, props);
    const id = this.nextId++;
    // The IPC bytes move to the thread: a view of a larger buffer is copied out first.
    const own = ipc.byteOffset === 0 && ipc.byteLength === ipc.buffer.byteLength ? ipc : ipc.slice();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, ipc: own.buffer, props }, [own.buffer as ArrayBuffer]);
    });
  }

  /** A ready thread, or null (for good) when it cannot start. */
  private start(): Promise<Worker | null> {
    return new Promise((resolve) => {
      let w: Worker;
      try {
        w = new Worker(new URL('./parquet-encode.mjs', import.meta.url), { workerData: { role: ENCODER_ROLE } });
      } catch {
        this.unavailable = true;
        resolve(null);
        return;
      }
      let ready = false;
      w.on('message', (m: { ready?: boolean; id?: number; bytes?: ArrayBuffer; error?: string }) => {
        if (m.ready) {
          ready = true;
          this.live = w;
          w.unref();
          resolve(w);
          return;
        }
        const p = this.pending.get(m.id!);
        if (!p) return;
        this.settled(m.id!);
        if (m.bytes) p.resolve(new Uint8Array(m.bytes));
        else p.reject(new Error(m.error ?? 'no result'));
      });
      const fail = (e: Error) => {
        if (!ready) {
          // It never started (parquet-wasm did not load there, say): encode inline from now on.
          this.unavailable = true;
          resolve(null);
          return;
        }
        if (this.live !== w) return;
        this.live = null;
        this.worker = null;
        for (const [id, p] of [...this.pending]) { this.settled(id); p.reject(e); }
      };
      w.on('error', (e) => fail(e));
      w.on('exit', (code) => fail(new Error(`the Parquet encoding thread exited (code ${code})`)));
    });
  }

  /** Ends the thread (tests; the process's own thread never needs it). */
  async close(): Promise<void> {
    const w = this.live;
    this.live = null;
    this.worker = null;
    await w?.terminate();
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.live?.unref();
  }
}

function configuredThreads(): number {
  const raw = process.env.LAKEHOUSE_PARQUET_THREADS;
  if (raw !== undefined && raw !== '') return raw === '0' ? 0 : 1;
  return availableParallelism() > 1 ? 1 : 0;
}

let pool: EncodePool | null = null;

/** Encodes on the encoding thread (or inline, see above). */
export function encodeParquetIpc(ipc: Uint8Array, props: EncodeProps): Promise<Uint8Array> {
  pool ??= new EncodePool(configuredThreads());
  return pool.encode(ipc, props);
}
