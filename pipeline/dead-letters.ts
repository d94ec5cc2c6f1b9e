import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { type Positions, positionKey } from './source.ts';

/**
 * Dead letters: records that cannot become rows (bad JSON, missing fields, oversize, ...) are kept with
 * their original bytes and headers, why they were rejected, and where they came from, so nothing stalls
 * and nothing is silently lost. Ingest calls `flush()` before each Iceberg commit: once the commit
 * records a position, every dead letter before it is durable in the sink.
 *
 * Exactly once per source position: a crash between the dead-letter flush and the commit replays those
 * records, and their letters are already in the sink. A sink that can read itself back (both here do)
 * implements `resume()` and `mark()`:
 * - With each commit ingest records, per source partition of the flush, the sink's `mark()` taken when
 *   the flush started (`lakehouse.dead-letters.<group>`, carried forward like the positions). A mark is a
 *   place in the sink that every letter sent after it lies past (a Kafka offset, a byte offset): sinks
 *   only grow, so it is a lower bound for the letters of every record the commit did not cover.
 * - On start and after each rebalance ingest calls `resume()` with the recorded positions and marks. The
 *   sink drops letters not yet written (their records are read again), reads itself from the lowest mark
 *   of the partitions with records past their position, and notes each letter of this group at or past
 *   its partition's recorded position. `send()` skips a letter whose source position it noted: that
 *   record was dead-lettered by a run that died before its commit.
 * - A noted letter not yet met again holds the marks of its partition back, so a second crash still
 *   finds it.
 * Without marks (a table written before they existed, a partition never committed) the sink is read from
 * its beginning.
 */
export interface DeadLetter {
  /** The record's value exactly as read (null for a Kafka tombstone). */
  value: Uint8Array | null;
  key?: Uint8Array | null;
  headers?: Record<string, string>;
  /** Machine-readable reason (the decoder's RejectReason), e.g. `bad_json`. */
  reason: string;
  /** A sentence for people: which field, which value, what was expected. */
  detail: string;
  topic: string;
  partition: number;
  offset: bigint;
  /** When it was dead-lettered, ms since epoch. */
  timeMs: number;
  /** The source's own timestamp of the record, when it has one. */
  sourceTimestampMs?: number;
  /** The ingest group that dead-lettered it: resume() only counts its own group's letters. */
  group?: string;
}

/** The headers a dead letter carries in the Kafka dead-letter topic (pipeline/kafka-dead-letters.ts). */
export const DLQ_HEADERS = {
  reason: 'lakehouse.reason',
  detail: 'lakehouse.detail',
  topic: 'lakehouse.source.topic',
  partition: 'lakehouse.source.partition',
  offset: 'lakehouse.source.offset',
  sourceTimestamp: 'lakehouse.source.timestamp',
  time: 'lakehouse.time',
  group: 'lakehouse.group',
  truncatedFrom: 'lakehouse.truncated-from',
} as const;

/** What resume() is given: the table's state for one group. */
export interface DeadLetterResume {
  group: string;
  /** Next position per source partition (`<topic>:<partition>`) recorded in the table. */
  positions: Positions;
  /** The sink marks recorded with them, per source partition. */
  marks: Map<string, string>;
  /**
   * The source partitions that hold records past their recorded position (or, when never recorded, any
   * record): only their letters can be in the sink already. Undefined when the source cannot say: then
   * every recorded partition counts, and with nothing recorded the whole sink is read.
   */
  uncommitted?: string[];
}

export interface DeadLetterSink {
  /** Accepts a dead letter; it is durable only after the next `flush()` resolves. */
  send(letter: DeadLetter): void | Promise<void>;
  /** Makes everything sent so far durable. */
  flush(): Promise<void>;
  /** Flushes and releases the sink. */
  close(): Promise<void>;
  /** Dead letters sent through this sink. */
  readonly count: number;
  /**
   * Drops letters not yet written, waits for writes in flight, then reads what the sink already holds
   * past the recorded positions, so send() skips those letters (see the top of this file).
   */
  resume?(state: DeadLetterResume): Promise<{ found: number }>;
  /**
   * The mark to record for source partition `key` with a commit: a place in the sink that every letter
   * sent from now on lies past, held back by letters resume() found for `key` and send() has not met yet.
   * Undefined before resume().
   */
  mark?(key: string): string | undefined;
}

/**
 * Positions in a sink per sink partition (a Kafka offset per partition of the dead-letter topic; a byte
 * offset in partition 0 for a file), written as `<sink>@<partition>=<position>,...` so a mark made by
 * another sink (the dead-letter topic was changed) is recognised and not used.
 */
export type SinkPositions = Map<number, bigint>;

export function encodeMark(sink: string, at: SinkPositions): string {
  return `${sink}@${[...at].sort((a, b) => a[0] - b[0]).map(([p, o]) => `${p}=${o}`).join(',')}`;
}

/** The positions of a mark made by `sink`; undefined for another sink's mark or a malformed one. */
export function decodeMark(sink: string, text: string | undefined): SinkPositions | undefined {
  if (text === undefined || !text.startsWith(`${sink}@`)) return undefined;
  const out: SinkPositions = new Map();
  const body = text.slice(sink.length + 1);
  if (body === '') return out;
  for (const part of body.split(',')) {
    const m = /^(\d+)=(\d+)$/.exec(part);
    if (!m) return undefined;
    out.set(Number(m[1]), BigInt(m[2]!));
  }
  return out;
}

/**
 * Where a sink must be read from for resume(): per sink partition the lowest mark of the source
 * partitions that matter (a partition absent from the map is read from its beginning), or 'nothing'
 * when no source partition has records past its position. `keys` are those source partitions (null: any).
 */
export function resumeReadPlan(sink: string, state: DeadLetterResume): { keys: Set<string> | null; from: SinkPositions | 'nothing' } {
  const keys = state.uncommitted ? new Set(state.uncommitted) : state.positions.size > 0 ? new Set(state.positions.keys()) : null;
  if (keys === null) return { keys, from: new Map() };
  if (keys.size === 0) return { keys, from: 'nothing' };
  let from: SinkPositions | undefined;
  for (const key of keys) {
    const mark = decodeMark(sink, state.marks.get(key));
    if (!mark) return { keys, from: new Map() };
    if (!from) from = new Map(mark);
    else {
      for (const [p, o] of from) {
        const m = mark.get(p);
        if (m === undefined) from.delete(p);
        else if (m < o) from.set(p, m);
      }
    }
  }
  return { keys, from: from ?? new Map() };
}

/**
 * The letters resume() found already in the sink, by source position, with where each lies in the sink.
 * One instance per resume(); send() asks take() for every letter.
 */
export class DeadLetterSkips {
  private readonly found = new Map<string, Map<bigint, { partition: number; at: bigint }>>();
  private count = 0;

  constructor(private readonly state: DeadLetterResume, private readonly keys: Set<string> | null) {}

  /** Notes a letter read from the sink, if it is this group's and at or past its partition's position. */
  note(group: string | undefined, topic: string, partition: number, offset: bigint, sinkPartition: number, at: bigint): void {
    if (group !== this.state.group) return;
    const key = positionKey(topic, partition);
    if (this.keys && !this.keys.has(key)) return;
    if (offset < (this.state.positions.get(key) ?? 0n)) return;
    let byOffset = this.found.get(key);
    if (!byOffset) this.found.set(key, byOffset = new Map());
    if (!byOffset.has(offset)) this.count++;
    byOffset.set(offset, { partition: sinkPartition, at });
  }

  /** Letters noted and not yet met again. */
  get size(): number {
    return this.count;
  }

  /** True when the letter's source position is already in the sink (each is met once, then forgotten). */
  take(letter: DeadLetter): boolean {
    if (letter.group !== this.state.group) return false;
    const byOffset = this.found.get(positionKey(letter.topic, letter.partition));
    if (!byOffset?.delete(letter.offset)) return false;
    this.count--;
    return true;
  }

  /** `known` lowered, per sink partition, to the letters of `key` not yet met again. */
  hold(key: string, known: SinkPositions): SinkPositions {
    const out = new Map(known);
    for (const { partition, at } of this.found.get(key)?.values() ?? []) {
      // A partition absent from `known` is already read from its beginning.
      const o = out.get(partition);
      if (o !== undefined && at < o) out.set(partition, at);
    }
    return out;
  }
}

/** One NDJSON line of a dead letter; the Kafka DLQ producer uses the same fields as headers/value. */
export function deadLetterToJson(l: DeadLetter): Record<string, unknown> {
  const out: Record<string, unknown> = {
    value: l.value === null ? null : Buffer.from(l.value.buffer, l.value.byteOffset, l.value.byteLength).toString('base64'),
    key: l.key ? Buffer.from(l.key.buffer, l.key.byteOffset, l.key.byteLength).toString('base64') : null,
    headers: l.headers ?? {},
    reason: l.reason,
    detail: l.detail,
    topic: l.topic,
    partition: l.partition,
    offset: l.offset.toString(),
    time: new Date(l.timeMs).toISOString(),
  };
  if (l.sourceTimestampMs !== undefined) out.sourceTime = new Date(l.sourceTimestampMs).toISOString();
  if (l.group !== undefined) out.group = l.group;
  return out;
}

/**
 * Dead letters appended to a local NDJSON file (one JSON object per line, value base64), fsynced on
 * flush. This adapter owns its file handle, which is why it imports `fs`: FileIO has no
 * append, and an object store cannot append at all.
 *
 * Several processes may append to one file (each batch is one write to a file opened for appending, so
 * batches do not interleave), which is why resume() never truncates: a letter past a mark may be another
 * process's committed one. It reads the file from the mark instead (see the top of this file). A line
 * cut by a crash in mid-write is left in place, unreadable JSON, and the next batch starts on a new line.
 */
export class NdjsonDeadLetterFile implements DeadLetterSink {
  static readonly SINK = 'file';
  readonly path: string;
  private pending: string[] = [];
  private handle?: fsp.FileHandle;
  private sent = 0;
  private writing: Promise<void> = Promise.resolve();
  /** The file's length when last looked at (resume, after each write); undefined before resume(). */
  private known?: bigint;
  private skips?: DeadLetterSkips;
  /** The file ended inside a line (a write cut by a crash): start the next batch with a newline. */
  private newlineFirst = false;

  constructor(location: string) {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//.test(location) && !location.startsWith('file://')) {
      throw new LakehouseError('INVALID_ARGUMENT', `Dead-letter file ${location}: only local paths (or file:// URIs) are supported; an object store cannot be appended to. Use a local path, or the Kafka dead-letter topic.`);
    }
    this.path = path.resolve(location.startsWith('file://') ? fileURLToPath(location) : location);
  }

  get count(): number {
    return this.sent;
  }

  send(letter: DeadLetter): void {
    if (this.skips?.take(letter)) return;
    this.pending.push(JSON.stringify(deadLetterToJson(letter)) + '\n');
    this.sent++;
  }

  flush(): Promise<void> {
    const run = this.writing.then(() => this.writePending());
    this.writing = run.catch(() => {});
    return run;
  }

  private async writePending(): Promise<void> {
    if (this.pending.length === 0) return;
    // Take the batch before awaiting: ingest keeps sending while a flush is in flight.
    const batch = this.pending;
    this.pending = [];
    try {
      if (!this.handle) {
        await fsp.mkdir(path.dirname(this.path), { recursive: true });
        this.handle = await fsp.open(this.path, 'a');
      }
      await this.handle.writeFile((this.newlineFirst ? '\n' : '') + batch.join(''), 'utf8');
      this.newlineFirst = false;
      await this.handle.datasync();
      if (this.known !== undefined) this.known = BigInt((await this.handle.stat()).size);
    } catch (e) {
      // Keep them pending: the flush fails, so ingest does not commit the positions they cover.
      this.pending = batch.concat(this.pending);
      throw new LakehouseError('IO_ERROR', `Cannot append ${batch.length} dead letter(s) to ${this.path}: ${errorMessage(e)}`, { cause: e, retryable: true });
    }
  }

  async resume(state: DeadLetterResume): Promise<{ found: number }> {
    this.sent -= this.pending.length;
    this.pending = [];
    await this.writing;
    const plan = resumeReadPlan(NdjsonDeadLetterFile.SINK, state);
    const skips = new DeadLetterSkips(state, plan.keys);
    let size = 0;
    try {
      size = (await fsp.stat(this.path)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new LakehouseError('IO_ERROR', `Cannot read dead-letter file ${this.path}: ${errorMessage(e)}`, { cause: e });
    }
    if (size > 0) {
      const from = plan.from === 'nothing' ? size : Math.min(Number(plan.from.get(0) ?? 0n), size);
      const last = await readNdjsonLines(this.path, from, size, (line, at) => {
        let l: { group?: unknown; topic?: unknown; partition?: unknown; offset?: unknown };
        try {
          l = JSON.parse(line);
        } catch {
          return; // a line cut by a crash
        }
        if (typeof l.topic !== 'string' || typeof l.partition !== 'number' || typeof l.offset !== 'string' || !/^\d+$/.test(l.offset)) return;
        skips.note(typeof l.group === 'string' ? l.group : undefined, l.topic, l.partition, BigInt(l.offset), 0, BigInt(at));
      });
      this.newlineFirst = last !== 0x0a;
    }
    this.skips = skips;
    this.known = BigInt(size);
    return { found: skips.size };
  }

  mark(key: string): string | undefined {
    if (this.known === undefined || !this.skips) return undefined;
    return encodeMark(NdjsonDeadLetterFile.SINK, this.skips.hold(key, new Map([[0, this.known]])));
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.handle?.close();
      this.handle = undefined;
    }
  }
}

/**
 * Calls `onLine` with each complete line of bytes from..to of a file and the byte offset where it starts
 * (a line begun before `from` is not seen whole and skipped); returns the file's last byte before `to`.
 */
async function readNdjsonLines(file: string, from: number, to: number, onLine: (line: string, at: number) => void): Promise<number | undefined> {
  const handle = await fsp.open(file, 'r');
  try {
    let carry: Buffer = Buffer.alloc(0);
    let carryAt = from;
    let last: number | undefined;
    const chunk = Buffer.alloc(1 << 20);
    for (let pos = from; pos < to;) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, to - pos), pos);
      if (bytesRead === 0) break;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      last = data[data.length - 1];
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
        onLine(data.toString('utf8', start, nl), carryAt + start);
        start = nl + 1;
      }
      carryAt += start;
      carry = Buffer.from(data.subarray(start));
      pos += bytesRead;
    }
    return last;
  } finally {
    await handle.close();
  }
}

/** Keeps dead letters in memory; for tests and for runs where the caller reads them afterwards. */
export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  get count(): number { return this.letters.length; }
  send(letter: DeadLetter): void { this.letters.push(letter); }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * Counts letters and keeps none: a replay of dead letters (pipeline/dead-letter-reader.ts) reports the
 * ones still invalid by reason and leaves them where they already are, instead of writing them again.
 */
export class CountingDeadLetterSink implements DeadLetterSink {
  readonly byReason: Record<string, number> = {};
  private n = 0;
  get count(): number { return this.n; }
  send(letter: DeadLetter): void {
    this.n++;
    this.byReason[letter.reason] = (this.byReason[letter.reason] ?? 0) + 1;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
