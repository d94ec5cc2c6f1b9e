import * as path from 'node:path';
import { LakehouseError } from '../core/errors.ts';
import { type FileIO, resolveFileIO } from '../iceberg/io/index.ts';
import { type Positions, type Source, type SourceRecord, positionKey } from './source.ts';

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
 */
export interface FileSourceOptions {
  /** Path, file:// URI or s3:// URI. Relative paths resolve against the working directory. */
  location: string;
  /** Defaults to the FileIO for the location (resolveFileIO). */
  io?: FileIO;
  /** Iceberg-style FileIO properties (s3.endpoint, ...) when `io` is not given. */
  ioProperties?: Record<string, string>;
  /** Bytes per read; default 1 MiB. */
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
const NEWLINE = 0x0a;
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
  /** Bytes of the current (incomplete) line read so far, and its full length when cut. */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private carryTotal = 0;
  private ready: SourceRecord[] = [];

  constructor(opts: FileSourceOptions) {
    if (!opts.location) throw new LakehouseError('INVALID_ARGUMENT', 'File source: the location of an NDJSON file is required (a path, file:// or s3:// URI).');
    this.location = /^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(opts.location) ? opts.location : path.resolve(opts.location);
    this.description = `file:${this.location}`;
    this.io = opts.io ?? resolveFileIO(this.location, opts.ioProperties ?? {});
    this.chunkBytes = positive(opts.chunkBytes ?? 1 << 20, 'chunkBytes');
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
    this.started = true;
  }

  async poll(max: number, _waitMs: number): Promise<SourceRecord[]> {
    if (!this.started) throw new LakehouseError('INTERNAL', 'FileSource.poll() before start().');
    if (this.paused) return [];
    while (this.ready.length < max && !this.eof) await this.readChunk();
    return this.ready.splice(0, max);
  }

  ended(): boolean {
    return this.eof && this.ready.length === 0;
  }

  /** The table is the only record of a file's progress: nothing to commit here. */
  async commit(_positions: Positions): Promise<void> {}

  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; }
  async close(): Promise<void> {}

  private async readChunk(): Promise<void> {
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
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, from);
      if (nl < 0) {
        this.append(buf.subarray(from));
        break;
      }
      this.append(buf.subarray(from, nl));
      this.endLine(false);
      from = nl + 1;
    }
  }

  private append(part: Buffer): void {
    this.carryTotal += part.length;
    const room = this.maxLineBytes + 1 - this.carryBytes;
    if (room <= 0 || part.length === 0 || this.line < this.skipBefore) return;
    const kept = part.length > room ? part.subarray(0, room) : part;
    // No copy: records are decoded and dropped within one flush, so pinning the chunk until then is cheap.
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
    const rec: SourceRecord = { topic: this.location, partition: FILE_SOURCE_PARTITION, offset, value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) };
    if (total > this.maxLineBytes) rec.headers = { 'lakehouse-truncated-from': String(total) };
    this.ready.push(rec);
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new LakehouseError('INVALID_ARGUMENT', `File source option ${name} must be a positive whole number, got ${n}.`);
  return n;
}
