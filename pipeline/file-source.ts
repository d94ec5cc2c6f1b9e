import * as path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LakehouseError } from '../core/errors.ts';
import { type FileIO, resolveFileIO } from '../iceberg/io/index.ts';
import { type Positions, type Source, type SourceBatch, type SourceRecord, batchRecords, positionKey } from './source.ts';

/**
 * An NDJSON file (local path, file:// or s3://) as a source, for the demo and backfills, so they run the
 * very same decode -> buffer -> flush -> commit path as Kafka. The file is one "topic" named by its
 * location, partition 0, and a record's offset is its 0-based line number, so a recorded position "N"
 * means "lines 0..N-1 are in the table" and a restart resumes at line N.
 *
 * Every line is a record, an empty or whitespace-only one too: the decoder dead-letters it as `empty`,
 * exactly as it does an empty Kafka message, so every line is counted (consumed = written + dead-lettered
 * + duplicates) and a stray blank line is visible rather than silently dropped. A newline ends a line,
 * it does not start one: the final newline of a file is no empty last record (but a blank line before
 * it is). The file is read in ranges through FileIO, so a large file on S3 is never held whole in memory.
 * A read's lines are given as one batch (pollBatches): views into the chunk read, no string or record
 * object per line.
 *
 * A gzip file (told by its first two bytes, 1f 8b, whatever its name) is decompressed as it is read;
 * its lines and positions are those of the decompressed text, so a restart decompresses from the start
 * again and skips the recorded lines. Concatenated gzip members read as one text, as gunzip reads them.
 */
export interface FileSourceOptions {
  /** Path, file:// URI or s3:// URI. Relative paths resolve against the working directory. */
  location: string;
  /** Defaults to the FileIO for the location (resolveFileIO). */
  io?: FileIO;
  /** Iceberg-style FileIO properties (s3.endpoint, ...) when `io` is not given. */
  ioProperties?: Record<string, string>;
  /** Bytes per read; default 4 MiB. */
  chunkBytes?: number;
  /**
   * Longest line kept whole; default 1 MiB. A longer line is passed on cut to this length plus one byte
   * with header `lakehouse-truncated-from: <length>`, so that a line without a newline cannot grow memory
   * without bound; the decoder rejects the cut line as oversize while this is at least
   * EVENT_RULES.maxMessageBytes (64 KiB).
   */
  maxLineBytes?: number;
}

export const FILE_SOURCE_PARTITION = 0;
const GZIP_MAGIC = [0x1f, 0x8b] as const;
const NEWLINE = 0x0a;
const DEFAULT_CHUNK_BYTES = 4 << 20;
const CR = 0x0d;

export class FileSource implements Source {
  readonly location: string;
  readonly description: string;
  private readonly io: FileIO;
  private readonly chunkBytes: number;
  private readonly maxLineBytes: number;
  private started = false;
  private paused = false;
  /** Next line number to hand out. */
  private line = 0n;
  /** Lines before this number were recorded by an earlier run: read past them, emit nothing. */
  private skipBefore = 0n;
  private readAt = 0;
  private size = 0;
  private eof = false;
  /** Decompressed chunks of a gzip file; null for plain text. */
  private gunzipped: AsyncIterator<Buffer> | null = null;
  /** Bytes of the current (incomplete) line read so far, and its full length when cut. */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private carryTotal = 0;
  /** Lines read and not yet given, one batch per read, in order. */
  private ready: LineBatch[] = [];
  private readyLines = 0;
  /** The batch the current read fills. */
  private filling: LineBatch | null = null;

  constructor(opts: FileSourceOptions) {
    if (!opts.location) throw new LakehouseError('INVALID_ARGUMENT', 'File source: the location of an NDJSON file is required (a path, file:// or s3:// URI).');
    this.location = /^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(opts.location) ? opts.location : path.resolve(opts.location);
    this.description = `file:${this.location}`;
    this.io = opts.io ?? resolveFileIO(this.location, opts.ioProperties ?? {});
    this.chunkBytes = positive(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, 'chunkBytes');
    this.maxLineBytes = positive(opts.maxLineBytes ?? 1 << 20, 'maxLineBytes');
  }

  /** The position key of this file, `<location>:0`. */
  get key(): string {
    return positionKey(this.location, FILE_SOURCE_PARTITION);
  }

  async start(resume: Positions): Promise<void> {
    if (!(await this.io.exists(this.location))) {
      throw new LakehouseError('NOT_FOUND', `Source file ${this.location} does not exist; create it (e.g. lakehouse produce --to file:${this.location}) or check the path.`);
    }
    this.size = await this.io.size(this.location);
    this.skipBefore = resume.get(this.key) ?? 0n;
    if (this.size >= 2) {
      const head = await this.io.readRange(this.location, 0, 2);
      if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) this.gunzipped = this.decompress();
    }
    this.started = true;
  }

  /** Whether the file is gzip-compressed (known after start()). */
  get compressed(): boolean {
    return this.gunzipped !== null;
  }

  /** Bytes of the file read so far (compressed bytes for a gzip file), for progress. */
  get bytesRead(): number {
    return this.readAt;
  }

  /** The file's size in bytes as of start() (compressed size for a gzip file). */
  get bytes(): number {
    return this.size;
  }

  private decompress(): AsyncIterator<Buffer> {
    const self = this;
    async function* compressed(): AsyncGenerator<Uint8Array> {
      while (self.readAt < self.size) {
        const bytes = await self.io.readRange(self.location, self.readAt, Math.min(self.chunkBytes, self.size - self.readAt));
        self.readAt += bytes.length;
        yield bytes;
      }
    }
    // pipeline() passes a failed read or corrupt data on to the gunzip stream, whose iterator throws it.
    // Output in chunks of the read size rather than zlib's 16 KiB, so a batch holds thousands of lines.
    const gunzip = pipeline(Readable.from(compressed()), createGunzip({ chunkSize: Math.min(Math.max(this.chunkBytes, 64 << 10), 1 << 20) }), () => {});
    return gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async poll(max: number, waitMs: number): Promise<SourceRecord[]> {
    return batchRecords(await this.pollBatches(max, waitMs));
  }

  async pollBatches(max: number, _waitMs: number): Promise<SourceBatch[]> {
    if (!this.started) throw new LakehouseError('INTERNAL', 'FileSource.poll() before start().');
    if (this.paused) return [];
    while (this.readyLines < max && !this.eof) await this.readChunk();
    const out: SourceBatch[] = [];
    let taken = 0;
    while (taken < max && this.ready.length > 0) {
      const b = this.ready[0]!;
      const remaining = b.values.length - b.next;
      const take = Math.min(max - taken, remaining);
      out.push(b.next === 0 && take === remaining ? b : b.slice(b.next, b.next + take));
      b.next += take;
      taken += take;
      this.readyLines -= take;
      if (b.next === b.values.length) this.ready.shift();
    }
    return out;
  }

  ended(): boolean {
    return this.eof && this.readyLines === 0;
  }

  /** The table is the only record of a file's progress: nothing to commit here. */
  async commit(_positions: Positions): Promise<void> {}

  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; }
  async close(): Promise<void> {
    // Ends the decompression of a file left unread (its stream would otherwise wait for a reader).
    await this.gunzipped?.return?.();
  }

  private async readChunk(): Promise<void> {
    try {
      await this.readInto();
    } finally {
      // The lines of one read go out as one batch.
      const b = this.filling;
      this.filling = null;
      if (b) {
        this.ready.push(b);
        this.readyLines += b.values.length;
      }
    }
  }

  private async readInto(): Promise<void> {
    if (this.gunzipped) {
      let next: IteratorResult<Buffer>;
      try {
        next = await this.gunzipped.next();
      } catch (e) {
        if (e instanceof LakehouseError) throw e; // reading failed, not decompressing
        throw new LakehouseError('IO_ERROR', `Source file ${this.location} starts like a gzip file but cannot be decompressed (${(e as Error).message}); check that it is complete and not damaged, or decompress it yourself and read the plain file.`, { cause: e });
      }
      if (next.done) {
        this.endLine(true);
        this.eof = true;
        return;
      }
      this.splitLines(next.value);
      return;
    }
    if (this.readAt >= this.size) {
      // The file may have grown since start (a producer still appending): look once more before ending.
      this.size = await this.io.size(this.location);
      if (this.readAt >= this.size) {
        this.endLine(true); // a last line without a trailing newline
        this.eof = true;
        return;
      }
    }
    const length = Math.min(this.chunkBytes, this.size - this.readAt);
    const bytes = await this.io.readRange(this.location, this.readAt, length);
    this.readAt += bytes.length;
    this.splitLines(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /**
   * Ends a line at every newline of `buf`. A line that lies whole in `buf` is a view of it (no copy:
   * records are decoded and dropped within one flush, so pinning the chunk until then is cheap); only
   * a line that spans reads is put together from its parts.
   */
  private splitLines(buf: Buffer): void {
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, from);
      if (nl < 0) {
        this.append(buf.subarray(from));
        break;
      }
      if (this.carryTotal === 0) this.emitLine(buf, from, nl);
      else {
        this.append(buf.subarray(from, nl));
        this.endLine(false);
      }
      from = nl + 1;
    }
  }

  /** A line that lies whole in buf[from, to), without its newline. */
  private emitLine(buf: Buffer, from: number, to: number): void {
    const offset = this.line++;
    if (offset < this.skipBefore) return;
    const total = to - from;
    if (total > this.maxLineBytes) to = from + this.maxLineBytes + 1;
    else if (to > from && buf[to - 1] === CR) to--;
    this.push(offset, buf.subarray(from, to), total);
  }

  private append(part: Buffer): void {
    this.carryTotal += part.length;
    const room = this.maxLineBytes + 1 - this.carryBytes;
    if (room <= 0 || part.length === 0 || this.line < this.skipBefore) return;
    const kept = part.length > room ? part.subarray(0, room) : part;
    this.carry.push(kept);
    this.carryBytes += kept.length;
  }

  /** Ends the current line at a newline, or at end of file (`atEof`), where nothing after the last newline is no line. */
  private endLine(atEof: boolean): void {
    const offset = this.line;
    const total = this.carryTotal;
    let value = this.carry.length === 1 ? this.carry[0]! : Buffer.concat(this.carry, this.carryBytes);
    this.carry = [];
    this.carryBytes = 0;
    this.carryTotal = 0;
    if (atEof && total === 0) return;
    this.line++;
    if (offset < this.skipBefore) return;
    if (value.length > 0 && value[value.length - 1] === CR && total <= this.maxLineBytes) value = value.subarray(0, value.length - 1);
    this.push(offset, value, total);
  }

  private push(offset: bigint, value: Buffer, total: number): void {
    const b = (this.filling ??= new LineBatch(this.location, this.key, offset));
    if (total > this.maxLineBytes) (b.truncated ??= new Map()).set(b.values.length, total);
    b.values.push(value);
  }
}

/** Lines of one read: consecutive line numbers from `first`. */
class LineBatch implements SourceBatch {
  readonly partition = FILE_SOURCE_PARTITION;
  readonly values: Buffer[] = [];
  /** Index -> original length of the lines passed on cut. */
  truncated: Map<number, number> | null = null;
  /** Index of the next line poll() gives. */
  next = 0;

  constructor(readonly topic: string, readonly key: string, private readonly first: bigint) {}

  offset(i: number): bigint {
    return this.first + BigInt(i);
  }

  record(i: number): SourceRecord {
    const v = this.values[i]!;
    const rec: SourceRecord = { topic: this.topic, partition: this.partition, offset: this.offset(i), value: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
    const total = this.truncated?.get(i);
    if (total !== undefined) rec.headers = { 'lakehouse-truncated-from': String(total) };
    return rec;
  }

  /** Lines from..to-1 as a batch of their own. */
  slice(from: number, to: number): LineBatch {
    const out = new LineBatch(this.topic, this.key, this.offset(from));
    for (let i = from; i < to; i++) {
      out.values.push(this.values[i]!);
      const total = this.truncated?.get(i);
      if (total !== undefined) (out.truncated ??= new Map()).set(i - from, total);
    }
    return out;
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new LakehouseError('INVALID_ARGUMENT', `File source option ${name} must be a positive whole number, got ${n}.`);
  return n;
}
