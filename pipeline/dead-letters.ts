import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LakehouseError, errorMessage } from '../core/errors.ts';

/**
 * Dead letters: records that cannot become rows (bad JSON, missing fields, oversize, ...) are kept with
 * their original bytes and headers, why they were rejected, and where they came from, so nothing stalls
 * and nothing is silently lost. Ingest calls `flush()` before each Iceberg commit: once the commit
 * records a position, every dead letter before it is durable in the sink. A crash between the two
 * replays those records, so a sink is at-least-once (a dead letter may appear twice; rows never do).
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
  return out;
}

/**
 * Dead letters appended to a local NDJSON file (one JSON object per line, value base64), fsynced on
 * flush. This adapter owns its file handle, which is why it imports `fs`: FileIO has no
 * append, and an object store cannot append at all.
 */
export class NdjsonDeadLetterFile implements DeadLetterSink {
  readonly path: string;
  private pending: string[] = [];
  private handle?: fsp.FileHandle;
  private sent = 0;

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
    this.pending.push(JSON.stringify(deadLetterToJson(letter)) + '\n');
    this.sent++;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    // Take the batch before awaiting: ingest keeps sending while a flush is in flight.
    const batch = this.pending;
    this.pending = [];
    try {
      if (!this.handle) {
        await fsp.mkdir(path.dirname(this.path), { recursive: true });
        this.handle = await fsp.open(this.path, 'a');
      }
      await this.handle.writeFile(batch.join(''), 'utf8');
      await this.handle.datasync();
    } catch (e) {
      // Keep them pending: the flush fails, so ingest does not commit the positions they cover.
      this.pending = batch.concat(this.pending);
      throw new LakehouseError('IO_ERROR', `Cannot append ${batch.length} dead letter(s) to ${this.path}: ${errorMessage(e)}`, { cause: e, retryable: true });
    }
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

/** Keeps dead letters in memory; for tests and for runs where the caller reads them afterwards. */
export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  get count(): number { return this.letters.length; }
  send(letter: DeadLetter): void { this.letters.push(letter); }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
