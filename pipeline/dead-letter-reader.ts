import { LakehouseError } from '../core/errors.ts';
import type { FileIO } from '../iceberg/io/index.ts';
import { DLQ_HEADERS, type DeadLetter } from './dead-letters.ts';
import { FileSource } from './file-source.ts';
import type { Positions, Source, SourceRecord } from './source.ts';

/**
 * Dead letters read back, from the dead-letter topic (pipeline/kafka-dead-letters.ts says what its
 * headers hold) or a dead-letter file (NdjsonDeadLetterFile, one JSON object per line), for
 * `lakehouse dlq stats|show|export|replay`: one shape for both, filters, the counts, the export lines,
 * and the source a replay feeds to the ingest path.
 *
 * Export format: one JSON object per line with the fields of a dead-letter file line (reason, detail,
 * topic, partition, offset, time, key, headers, ...) where the message value is `text` (a JSON string)
 * when its bytes are valid UTF-8, and otherwise `value` (base64, as the dead-letter file has it), so
 * that an engineer can fix the text with an editor or jq, and bytes that are not UTF-8 survive exactly.
 * Readers take `text` when a line has it (its UTF-8 bytes), else `value`. An export is therefore itself
 * a dead-letter file: `dlq show|stats|replay --file` read it like the sink's own file.
 */

/** A dead letter as stored, and where it lies in the store. */
export interface StoredDeadLetter extends DeadLetter {
  /** The value was cut to fit the topic (lakehouse.truncated-from): its original length. */
  truncatedFrom?: number;
  /** `kafka:<topic>` or `file:<path>`. */
  store: string;
  /** Its place there: partition and offset of the dead-letter topic, or 0 and the line number. */
  storePartition: number;
  storeOffset: bigint;
}

export interface DeadLetterFilter {
  /** Only these reasons (none given: all). */
  reasons?: readonly string[];
  /** Dead-lettered at or after (ms since epoch). */
  sinceMs?: number;
  /** Dead-lettered before (ms since epoch). */
  untilMs?: number;
}

export function matchesFilter(l: StoredDeadLetter, f: DeadLetterFilter): boolean {
  if (f.reasons && f.reasons.length > 0 && !f.reasons.includes(l.reason)) return false;
  if (f.sinceMs !== undefined && !(l.timeMs >= f.sinceMs)) return false;
  if (f.untilMs !== undefined && !(l.timeMs < f.untilMs)) return false;
  return true;
}

/** Checks a filter once, at start-up: an empty time range is a mistake, not an empty answer. */
export function validateFilter(f: DeadLetterFilter): DeadLetterFilter {
  if (f.sinceMs !== undefined && f.untilMs !== undefined && f.sinceMs >= f.untilMs) {
    throw new LakehouseError('INVALID_ARGUMENT', `--since ${new Date(f.sinceMs).toISOString()} is not before --until ${new Date(f.untilMs).toISOString()}; no dead letter can match. Swap them or widen the range.`);
  }
  return f;
}

/** The key that the decoder's detail names (`Field "timestamp" ...`), or null for the message as a whole. */
export function rejectedField(detail: string): string | null {
  return /^Field "([^"]*)"/.exec(detail)?.[1] ?? null;
}

const H = DLQ_HEADERS;
const OURS = new Set<string>(Object.values(DLQ_HEADERS));
const MISSING_REASON = 'unknown';

function timeOf(text: string | undefined, fallback: number): number {
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isFinite(ms) ? ms : fallback;
}

/** A record of the dead-letter topic, as readTopicTail or a Kafka source gives it. */
export interface DeadLetterTopicRecord {
  partition: number;
  offset: bigint;
  headers: Record<string, string>;
  key?: Uint8Array | null;
  value: Uint8Array | null;
  timestampMs?: number;
}

export function letterFromTopicRecord(topic: string, r: DeadLetterTopicRecord): StoredDeadLetter {
  const h = r.headers;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!OURS.has(k)) headers[k] = v;
  const sourceOffset = h[H.offset];
  const letter: StoredDeadLetter = {
    value: r.value, key: r.key ?? null, headers,
    reason: h[H.reason] ?? MISSING_REASON,
    detail: h[H.detail] ?? '',
    topic: h[H.topic] ?? '',
    partition: Number(h[H.partition] ?? -1),
    offset: sourceOffset !== undefined && /^\d+$/.test(sourceOffset) ? BigInt(sourceOffset) : -1n,
    timeMs: timeOf(h[H.time], r.timestampMs ?? 0),
    store: `kafka:${topic}`, storePartition: r.partition, storeOffset: r.offset,
  };
  const sourceTime = timeOf(h[H.sourceTimestamp], NaN);
  if (Number.isFinite(sourceTime)) letter.sourceTimestampMs = sourceTime;
  if (h[H.group] !== undefined) letter.group = h[H.group];
  if (h[H.truncatedFrom] !== undefined) letter.truncatedFrom = Number(h[H.truncatedFrom]);
  return letter;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/**
 * One line of a dead-letter file or an export, or undefined when it is none (a line cut by a crash,
 * a stray line): the caller counts those as unreadable.
 */
export function letterFromLine(store: string, line: number | bigint, text: Uint8Array | string): StoredDeadLetter | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || typeof o.reason !== 'string') return undefined;
  let value: Uint8Array | null = null;
  if (typeof o.text === 'string') value = encoder.encode(o.text);
  else if (typeof o.value === 'string') value = Buffer.from(o.value, 'base64');
  const headers: Record<string, string> = {};
  if (typeof o.headers === 'object' && o.headers !== null) {
    for (const [k, v] of Object.entries(o.headers)) if (typeof v === 'string') headers[k] = v;
  }
  const letter: StoredDeadLetter = {
    value,
    key: typeof o.key === 'string' ? Buffer.from(o.key, 'base64') : null,
    headers,
    reason: o.reason,
    detail: typeof o.detail === 'string' ? o.detail : '',
    topic: typeof o.topic === 'string' ? o.topic : '',
    partition: typeof o.partition === 'number' ? o.partition : -1,
    offset: typeof o.offset === 'string' && /^\d+$/.test(o.offset) ? BigInt(o.offset) : -1n,
    timeMs: timeOf(typeof o.time === 'string' ? o.time : undefined, 0),
    store, storePartition: 0, storeOffset: BigInt(line),
  };
  const sourceTime = timeOf(typeof o.sourceTime === 'string' ? o.sourceTime : undefined, NaN);
  if (Number.isFinite(sourceTime)) letter.sourceTimestampMs = sourceTime;
  if (typeof o.group === 'string') letter.group = o.group;
  if (typeof o.truncatedFrom === 'number') letter.truncatedFrom = o.truncatedFrom;
  return letter;
}

/** One export line (see the top of this file); `JSON.stringify` it. */
export function exportLine(l: StoredDeadLetter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (l.value === null) out.value = null;
  else {
    try {
      out.text = utf8.decode(l.value);
    } catch {
      out.value = base64(l.value);
    }
  }
  out.key = l.key ? base64(l.key) : null;
  out.headers = l.headers ?? {};
  out.reason = l.reason;
  out.field = rejectedField(l.detail);
  out.detail = l.detail;
  out.topic = l.topic;
  out.partition = l.partition;
  out.offset = l.offset.toString();
  out.time = new Date(l.timeMs).toISOString();
  if (l.sourceTimestampMs !== undefined) out.sourceTime = new Date(l.sourceTimestampMs).toISOString();
  if (l.group !== undefined) out.group = l.group;
  if (l.truncatedFrom !== undefined) out.truncatedFrom = l.truncatedFrom;
  out.store = { name: l.store, partition: l.storePartition, offset: l.storeOffset.toString() };
  return out;
}

/** Where a letter came from, for the top-sources count: `<topic>:<partition>` (a file's partition is 0). */
export function sourceOf(l: StoredDeadLetter): string {
  return `${l.topic}:${l.partition}`;
}

export interface DeadLetterStatsResult {
  store: string;
  total: number;
  byReason: Record<string, number>;
  /** By the field the detail names; `(message)` when it names the message as a whole. */
  byField: Record<string, number>;
  /** The sources with the most letters, most first. */
  topSources: Array<{ source: string; count: number }>;
  firstTime: string | null;
  lastTime: string | null;
  /** Letters whose value was cut to fit the topic: they cannot be replayed. */
  truncated: number;
  /** Lines of a dead-letter file that hold no letter (cut by a crash). */
  unreadable: number;
}

/** Counts by reason, field and source over the letters added. */
export class DeadLetterStats {
  private total = 0;
  private truncated = 0;
  unreadable = 0;
  private first = Infinity;
  private last = -Infinity;
  private readonly byReason = new Map<string, number>();
  private readonly byField = new Map<string, number>();
  private readonly bySource = new Map<string, number>();

  constructor(private readonly store: string) {}

  add(l: StoredDeadLetter): void {
    this.total++;
    if (l.truncatedFrom !== undefined) this.truncated++;
    if (l.timeMs < this.first) this.first = l.timeMs;
    if (l.timeMs > this.last) this.last = l.timeMs;
    bump(this.byReason, l.reason);
    bump(this.byField, rejectedField(l.detail) ?? '(message)');
    bump(this.bySource, sourceOf(l));
  }

  result(top = 10): DeadLetterStatsResult {
    return {
      store: this.store, total: this.total, byReason: sortedCounts(this.byReason), byField: sortedCounts(this.byField),
      topSources: [...this.bySource].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top).map(([source, count]) => ({ source, count })),
      firstTime: this.total > 0 ? new Date(this.first).toISOString() : null,
      lastTime: this.total > 0 ? new Date(this.last).toISOString() : null,
      truncated: this.truncated, unreadable: this.unreadable,
    };
  }
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function sortedCounts(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
}

/**
 * Longest line of a dead-letter file read whole: a letter holds its value in base64, and the file sink
 * keeps values whole, up to what the file source hands on (1 MiB lines) or a Kafka record (1 MiB).
 */
export const MAX_LETTER_LINE_BYTES = 16 << 20;

/** A dead-letter file (or an export) as a source of lines, one record per line. */
export function deadLetterFileSource(location: string, io?: FileIO): FileSource {
  return new FileSource({ location, maxLineBytes: MAX_LETTER_LINE_BYTES, ...(io ? { io } : {}) });
}

/** Calls `onLetter` for each letter of a dead-letter file in line order, `onUnreadable` for other lines. */
export async function readDeadLetterFile(location: string, onLetter: (l: StoredDeadLetter) => void, onUnreadable: () => void, io?: FileIO): Promise<void> {
  const source = deadLetterFileSource(location, io);
  const store = `file:${source.location}`;
  try {
    await source.start(new Map());
    for (;;) {
      const records = await source.poll(10_000, 0);
      for (const r of records) {
        const l = r.value ? letterFromLine(store, r.offset, r.value) : undefined;
        if (l) onLetter(l);
        else if (r.value && r.value.length > 0) onUnreadable();
      }
      if (records.length === 0 && source.ended()) break;
    }
  } finally {
    await source.close();
  }
}

/** What a replay source passed on and left out. */
export interface ReplayCounts {
  /** Letters that match the filter and went to the ingest path. */
  replayed: number;
  /** Letters that match but whose value was cut to fit the topic: they cannot be replayed. */
  truncated: number;
  /** Letters the filter leaves out. */
  notMatching: number;
  /** Lines of a dead-letter file that hold no letter. */
  unreadable: number;
}

/**
 * The letters of a dead-letter store as records for the ingest path: each letter's original value, key
 * and headers, at its place in the store (`<dead-letter topic>:<partition>` and offset, or the file and
 * its line number), so the table records how far a replay got in the store itself and the same replay
 * run again reads nothing new. Letters the filter leaves out, and cut ones, are dropped here.
 */
export class DeadLetterReplaySource implements Source {
  readonly counts: ReplayCounts = { replayed: 0, truncated: 0, notMatching: 0, unreadable: 0 };

  /** `decode` reads one record of the store (a topic record or a file line); undefined: unreadable. */
  constructor(
    private readonly inner: Source,
    private readonly decode: (r: SourceRecord) => StoredDeadLetter | undefined,
    private readonly filter: DeadLetterFilter,
  ) {}

  get description(): string { return `dead letters of ${this.inner.description}`; }
  start(resume: Positions): Promise<void> { return this.inner.start(resume); }

  async poll(max: number, waitMs: number): Promise<SourceRecord[]> {
    const out: SourceRecord[] = [];
    for (const r of await this.inner.poll(max, waitMs)) {
      const l = this.decode(r);
      if (!l) {
        if (r.value && r.value.length > 0) this.counts.unreadable++;
        continue;
      }
      if (!matchesFilter(l, this.filter)) { this.counts.notMatching++; continue; }
      if (l.truncatedFrom !== undefined) { this.counts.truncated++; continue; }
      this.counts.replayed++;
      const rec: SourceRecord = { topic: r.topic, partition: r.partition, offset: r.offset, value: l.value, key: l.key ?? null, headers: l.headers ?? {} };
      if (l.sourceTimestampMs !== undefined) rec.timestampMs = l.sourceTimestampMs;
      out.push(rec);
    }
    return out;
  }

  ended(): boolean { return this.inner.ended(); }
  commit(positions: Positions): Promise<void> { return this.inner.commit(positions); }
  pause(): void { this.inner.pause(); }
  resume(): void { this.inner.resume(); }
  close(): Promise<void> { return this.inner.close(); }
}
