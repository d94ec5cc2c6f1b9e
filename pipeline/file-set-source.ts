import { LakehouseError } from '../core/errors.ts';
import type { FileIO } from '../iceberg/io/index.ts';
import { FileSource } from './file-source.ts';
import { type Positions, type Source, type SourceBatch, type SourceRecord, batchRecords } from './source.ts';

/**
 * Several NDJSON files (plain or gzip) read one after the other as one source: an S3 prefix or a local
 * directory of exported history. Each file keeps its own position key (`<location>:0`, its line number),
 * so the table records how far every file was read and a restart resumes each where it stopped (a file
 * read to its end is read through again without giving a record, which costs its download, not its
 * decoding).
 */
export interface SourceFile {
  location: string;
  /** Bytes as listed (compressed size for gzip), for progress. */
  size: number;
}

/**
 * The files to read for `location`: every file under it taken as a prefix (a directory), in name order,
 * or the one file it names. Names starting with `_` or `.` are skipped (`_SUCCESS` markers and hidden
 * files that export jobs leave beside their output), as are empty objects (S3 "folder" markers).
 */
export async function listSourceFiles(io: FileIO, location: string): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for await (const f of io.list(location)) {
    const name = f.location.slice(f.location.lastIndexOf('/') + 1);
    if (f.size === 0 || name.startsWith('_') || name.startsWith('.')) continue;
    files.push({ location: f.location, size: f.size });
  }
  if (files.length === 0 && !location.endsWith('/') && (await io.exists(location))) {
    files.push({ location, size: await io.size(location) });
  }
  if (files.length === 0) {
    throw new LakehouseError('NOT_FOUND', `Nothing to read at ${location}: it is neither a file nor a prefix (directory) with files under it. Check the path, or list it (aws s3 ls / ls) to see what is there.`);
  }
  return files.sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
}

export class FileSetSource implements Source {
  readonly description: string;
  readonly files: readonly SourceFile[];
  private readonly open: (location: string) => FileSource;
  private current: FileSource | null = null;
  private index = 0;
  private resumeAt: Positions = new Map();
  private paused = false;
  /** Listed bytes of the files finished so far. */
  private doneBytes = 0;

  /** `open` makes the FileSource of one location (with the FileIO and settings of the caller). */
  constructor(opts: { description: string; files: readonly SourceFile[]; open: (location: string) => FileSource }) {
    if (opts.files.length === 0) throw new LakehouseError('INVALID_ARGUMENT', 'File set source: no files given.');
    this.description = opts.description;
    this.files = opts.files;
    this.open = opts.open;
  }

  /** Bytes read so far and in all (listed sizes), for progress. */
  get bytesRead(): number {
    return this.doneBytes + (this.current?.bytesRead ?? 0);
  }

  get bytes(): number {
    return this.files.reduce((n, f) => n + f.size, 0);
  }

  async start(resume: Positions): Promise<void> {
    this.resumeAt = resume;
    await this.openCurrent();
  }

  async poll(max: number, waitMs: number): Promise<SourceRecord[]> {
    return batchRecords(await this.pollBatches(max, waitMs));
  }

  async pollBatches(max: number, waitMs: number): Promise<SourceBatch[]> {
    while (this.current !== null) {
      if (this.paused) return [];
      const got = await this.current.pollBatches(max, waitMs);
      if (got.length > 0) return got;
      if (!this.current.ended()) return [];
      await this.current.close();
      this.doneBytes += this.files[this.index]!.size;
      this.index++;
      await this.openCurrent();
    }
    return [];
  }

  ended(): boolean {
    return this.current === null;
  }

  /** Files keep no position of their own: the table holds them. */
  async commit(_positions: Positions): Promise<void> {}

  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; }

  async close(): Promise<void> {
    await this.current?.close();
  }

  private async openCurrent(): Promise<void> {
    const f = this.files[this.index];
    this.current = f ? this.open(f.location) : null;
    await this.current?.start(this.resumeAt);
  }
}
