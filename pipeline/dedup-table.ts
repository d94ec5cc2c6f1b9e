import type * as arrow from 'apache-arrow';
import { type DataFile, type Expr, type Table, gtEq, readDataFileColumns, snapshotChanges, snapshotsBetween, resolveColumn } from '../iceberg/index.ts';
import { LakehouseError } from '../core/errors.ts';
import { PROCESSED_AT_COLUMN } from '../domain/campaign-events.ts';
import { DedupIndex, type DedupIndexOptions, type Fingerprint, fingerprint } from './dedup-index.ts';
import type { SeenIds } from './event-buffer.ts';

/**
 * The de-duplication index of one table, kept in step with what the table holds:
 *
 * - load(): on start, the ids of every row with processed_at inside the horizon, at the current
 *   snapshot. The clock is processing time because a re-send's delay is measured in it: a copy re-sent
 *   an hour after the first was stored is caught however old its event_time (a backfill, a phone that
 *   was offline for a week). Files are chosen by their processed_at bounds in the manifests (no
 *   partition helps: the table is partitioned by event time), and only the event_id and processed_at
 *   columns are fetched (ranged reads). Only committed rows are read, so after a crash the records
 *   replayed from the recorded positions are not mistaken for re-sends of themselves.
 * - committed(): after our own commit, the staged ids of that flush join the index.
 * - follow(): rows other writers appended since the last look (another ingest process of the group,
 *   a backfill) are read from the snapshots between, so their ids are known here too. Compactions
 *   (`replace`) are skipped: they move rows already known. A history that no longer contains the last
 *   snapshot looked at (rollback, expiry) means a full load.
 *
 * A scoped index (`scope`, for a backfill) is chosen by event time instead of processing time: it holds
 * the ids of the rows whose event_time the filter keeps (the planner prunes by the day partitions), of
 * any age, and only those a given set names (the backfill's own ids), so its memory follows the source,
 * not the table. Nothing ages out of it: give it a horizon and maxIds larger than any run.
 */

export interface DedupLoadStats {
  files: number;
  /** Rows read from them, and ids they added (rows older than the horizon are skipped). */
  rows: number;
  ids: number;
  seconds: number;
}

/** Microseconds as a number from the two 32-bit halves of a little-endian int64 (exact below 2^53). */
/** Files fetched ahead while one is being added, and the largest file fetched ahead. */
const PREFETCH_FILES = 4;
const PREFETCH_MAX_FILE_BYTES = 32 * 1024 * 1024;

/** Which rows a scoped index reads: the files a row filter keeps, and only the ids `only` holds. */
export interface DedupScope {
  filter: Expr;
  only?: SeenIds;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 4294967296;

export class TableDedup {
  readonly index: DedupIndex;
  /** The newest snapshot whose rows are in the index; null before the first load. */
  private seenSnapshotId: bigint | null = null;
  /** Our own snapshots since then: their ids came from memory, not from reading their files. */
  private readonly own = new Set<bigint>();
  private readonly fp: Fingerprint = { lo: 0, hi: 0 };
  private readonly scope: DedupScope | null;

  constructor(opts: DedupIndexOptions & { scope?: DedupScope }) {
    this.index = new DedupIndex(opts);
    this.scope = opts.scope ?? null;
  }

  /** The processed_at before which rows are not read (none for a scoped index). */
  private cutoffMs(nowMs: number): number {
    return this.scope ? -Infinity : nowMs - this.index.horizonMs;
  }

  /** Empties the index and fills it from the table's current snapshot. */
  async load(table: Table, nowMs: number): Promise<DedupLoadStats> {
    const started = performance.now();
    this.index.clear();
    this.index.advance(nowMs);
    const snapshot = table.currentSnapshot();
    const cutoffMs = this.cutoffMs(nowMs);
    const cols = idColumns(table);
    const filter = this.scope ? this.scope.filter : gtEq(cols.processedAtName, BigInt(cutoffMs) * 1000n);
    const plan = await table.planFiles({ ...(snapshot ? { snapshotId: snapshot.snapshotId } : {}), filter });
    // Oldest first, so the generations follow time as they do when ids are added live (each flush's
    // file covers a moment of processed_at; a compacted one a range, sorted by its start).
    const lower = (f: DataFile) => lowerMicros(f, cols.processedAt);
    const files = [...plan.files].sort((a, b) => (lower(a) < lower(b) ? -1 : lower(a) > lower(b) ? 1 : 0));
    const stats: DedupLoadStats = { files: files.length, rows: 0, ids: 0, seconds: 0 };
    await this.readFiles(table, files, cutoffMs, stats);
    this.seenSnapshotId = snapshot?.snapshotId ?? null;
    this.own.clear();
    stats.seconds = (performance.now() - started) / 1000;
    return stats;
  }

  /** Our flush committed as `snapshotId` at `nowMs`: its staged ids join the index. */
  committed(snapshotId: bigint, nowMs: number): void {
    this.index.commitStaged(nowMs);
    this.own.add(snapshotId);
    this.index.advance(nowMs);
  }

  /**
   * Reads the rows that other writers appended between the last snapshot looked at and the table's
   * current one (the table as last loaded or committed: no reload here). Returns null when nothing
   * new was read, else what was read (a full load when the last snapshot is no longer in the history).
   */
  async follow(table: Table, nowMs: number): Promise<DedupLoadStats | null> {
    const head = table.currentSnapshot();
    if (head === null || head.snapshotId === this.seenSnapshotId) return null;
    const between = snapshotsBetween(table.metadata, this.seenSnapshotId, head.snapshotId);
    if (between === null) return this.load(table, nowMs);
    const started = performance.now();
    const stats: DedupLoadStats = { files: 0, rows: 0, ids: 0, seconds: 0 };
    const cutoffMs = this.cutoffMs(nowMs);
    const added: DataFile[] = [];
    for (const s of between) {
      if (this.own.has(s.snapshotId) || s.summary.operation === 'replace') continue;
      added.push(...(await snapshotChanges(table.io, s)).added);
    }
    stats.files = added.length;
    await this.readFiles(table, added, cutoffMs, stats);
    this.seenSnapshotId = head.snapshotId;
    this.own.clear();
    stats.seconds = (performance.now() - started) / 1000;
    return stats.files === 0 ? null : stats;
  }

  /**
   * Adds the ids of `files` in their order. Small files are fetched a few ahead (on S3 each file costs a
   * few round trips for its footer and chunks); a large one (a compaction's) is streamed alone, so at
   * most PREFETCH_FILES small files' id columns are held at once.
   */
  private async readFiles(table: Table, files: DataFile[], cutoffMs: number, stats: DedupLoadStats): Promise<void> {
    const cols = idColumns(table);
    const schema = table.schema();
    const read = (f: DataFile) => readDataFileColumns(table.io, f.filePath, Number(f.fileSizeInBytes), schema, [cols.eventId, cols.processedAt]);
    const collect = async (f: DataFile) => {
      const out: arrow.RecordBatch[] = [];
      for await (const b of read(f)) out.push(b);
      return out;
    };
    const ahead = new Map<number, Promise<arrow.RecordBatch[]>>();
    for (let i = 0; i < files.length; i++) {
      for (let j = i; j < Math.min(files.length, i + PREFETCH_FILES); j++) {
        if (ahead.has(j) || Number(files[j]!.fileSizeInBytes) > PREFETCH_MAX_FILE_BYTES) continue;
        const p = collect(files[j]!);
        p.catch(() => {}); // awaited in turn below; this only keeps an early failure from being "unhandled"
        ahead.set(j, p);
      }
      const fetched = ahead.get(i);
      ahead.delete(i);
      if (fetched) for (const b of await fetched) this.addBatch(b, cutoffMs, stats);
      else for await (const b of read(files[i]!)) this.addBatch(b, cutoffMs, stats);
    }
  }

  private addBatch(b: arrow.RecordBatch, cutoffMs: number, stats: DedupLoadStats): void {
    const fp = this.fp;
    const index = this.index;
    const ids = b.data.children[0] as arrow.Data<arrow.Utf8>;
    const at = b.data.children[1] as arrow.Data<arrow.TimestampMicrosecond>;
    const offsets = ids.valueOffsets;
    const bytes = ids.values;
    const micros = at.values as unknown as BigInt64Array;
    const words = new Uint32Array(micros.buffer, micros.byteOffset, micros.length * 2);
    const n = b.numRows;
    stats.rows += n;
    const before = index.size;
    const only = this.scope?.only ?? null;
    for (let i = 0; i < n; i++) {
      const us = LITTLE_ENDIAN ? words[2 * i + 1]! * TWO_32 + words[2 * i]! : Number(micros[i]!);
      const ms = Math.floor(us / 1000);
      if (ms < cutoffMs) continue;
      fingerprint(bytes, offsets[i]!, offsets[i + 1]!, fp);
      if (only !== null && !only.has(fp.lo, fp.hi)) continue;
      index.add(fp.lo, fp.hi, ms);
    }
    stats.ids += Math.max(0, index.size - before);
  }
}

/** Field ids of event_id and processed_at in the table's current schema (found by id after a rename). */
function idColumns(table: Table): { eventId: number; processedAt: number; processedAtName: string } {
  const find = (name: string) => {
    const f = resolveColumn(table.metadata, name);
    if (!f) throw new LakehouseError('SCHEMA_MISMATCH', `Table ${table.name} has no "${name}" column, which de-duplication reads (turn it off with a horizon of 0 for such a table).`);
    return f;
  };
  const processedAt = find(PROCESSED_AT_COLUMN);
  return { eventId: find('event_id').id, processedAt: processedAt.id, processedAtName: processedAt.name };
}

/** A file's lower bound of a timestamp column in micros (0n when the manifest has none). */
function lowerMicros(f: DataFile, fieldId: number): bigint {
  const b = f.lowerBounds?.get(fieldId);
  if (!b || b.byteLength !== 8) return 0n;
  return new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0, true);
}
