import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FileIO } from '../iceberg/io/index.ts';
import { EVENT_INDEX_KEY, type EventIndexFile as IndexFile, type EventIndexManifest as Manifest, eventIndexFolder } from '../domain/event-index-files.ts';
import type { DataFileCache } from './data-file-cache.ts';
import type { DuckDb } from './duckdb.ts';

/**
 * The metrics job's event_id index: what an incremental run needs to know about the rows it does not read.
 *
 * - `ids`: a 128-bit fingerprint of every event_id in campaign_events, sorted. A new row whose fingerprint is
 *   absent carries an id the table never had (a miss is certain). A hit is an id already there: as long as the
 *   new copy's processed_at is later than every row the index covers (`maxProcessedAt`), it is not the copy
 *   that counts, and nothing changes but the losers. (A hit that may win sends the run to a full rebuild.)
 *   Two 128-bit fingerprints of different ids collide with probability about n*m/2^128 per run (1e-27 for
 *   50 k new ids against 10 M), the argument content-addressed stores rely on.
 * - `losers`: every copy that does not count (all copies of an id but the first seen), whole rows. A
 *   recomputed window takes the rows of the files planned for it minus these, so "first seen wins" holds
 *   without reading the other copies wherever they are.
 *
 * Files live under `<metrics table>/event-index/`, named so that orphan removal leaves them alone (it deletes
 * only files named like table files), and a small JSON manifest lists them; the metrics snapshot summary
 * points at the manifest, so the index is always the one its snapshot is current with. The fingerprints
 * come from DuckDB's hash(), which is stable within a DuckDB version but not promised across versions: the
 * manifest records the version (and the CPU architecture), and another makes the index unusable (a full
 * rebuild builds a new one).
 * Files are written once and never changed: a run adds a file of the new ids' fingerprints, and merges them
 * into one when there are many. Files no kept snapshot points at any more are deleted by table maintenance
 * (maintenance/event-index-cleanup.ts), once older than the orphan age.
 */

export { EVENT_INDEX_KEY };

/** The two 64-bit halves of an event_id's fingerprint, as four UINTEGER words in sort order. */
export function fingerprintWordsSql(column = 'event_id'): string {
  return `(hash(${column}) >> 32)::UINTEGER AS w0, (hash(${column}) & 4294967295)::UINTEGER AS w1,
    (hash(${column} || '#') >> 32)::UINTEGER AS w2, (hash(${column} || '#') & 4294967295)::UINTEGER AS w3`;
}

const MAGIC = 'LHEVIDS1';
/** Magic (8 bytes), count (uint32 LE), reserved (4 bytes); then count x 4 uint32 LE words. */
const HEADER_WORDS = 4;
/** Merge the fingerprint files (the loser files) into one when there are more than this many. */
export const MAX_INDEX_FILES = 8;

/** An index that cannot be used: missing, unreadable, from another DuckDB or another events snapshot. */
export class EventIndexUnusable extends Error {}

/** Sorted, distinct fingerprints (4 words each), in a buffer with room for the file header in front. */
export class FingerprintRun {
  constructor(readonly buffer: Uint32Array) {}

  get count(): number { return (this.buffer.length - HEADER_WORDS) / 4; }

  /** For a large run: where each value of the top 16 bits starts (built on the first lookup). */
  private starts: Uint32Array | null = null;

  has(a: number, b: number, c: number, d: number): boolean {
    const w = this.buffer;
    let lo = 0;
    let hi = this.count;
    if (hi > 1 << 16) {
      const starts = this.starts ?? (this.starts = this.bucketStarts());
      lo = starts[a >>> 16]!;
      hi = starts[(a >>> 16) + 1]!;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const i = HEADER_WORDS + mid * 4;
      const cmp = w[i]! !== a ? w[i]! - a : w[i + 1]! !== b ? w[i + 1]! - b : w[i + 2]! !== c ? w[i + 2]! - c : w[i + 3]! - d;
      if (cmp === 0) return true;
      if (cmp < 0) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  private bucketStarts(): Uint32Array {
    const w = this.buffer;
    const n = this.count;
    const starts = new Uint32Array((1 << 16) + 1);
    let bucket = 0;
    for (let i = 0; i < n; i++) {
      const top = w[HEADER_WORDS + i * 4]! >>> 16;
      while (bucket <= top) starts[bucket++] = i;
    }
    while (bucket <= 1 << 16) starts[bucket++] = n;
    return starts;
  }

  /** The file's bytes: the header written into the room kept for it. */
  bytes(): Uint8Array {
    const u8 = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    u8.set(new TextEncoder().encode(MAGIC), 0);
    new DataView(u8.buffer, u8.byteOffset).setUint32(8, this.count, true);
    return u8;
  }

  static parse(bytes: Uint8Array, expectedCount: number): FingerprintRun {
    if (bytes.byteLength !== (HEADER_WORDS + expectedCount * 4) * 4 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC
      || new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true) !== expectedCount) {
      throw new EventIndexUnusable('a fingerprint file has the wrong size or header');
    }
    // A copy when the bytes are not 4-byte aligned (Buffer pools).
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    return new FingerprintRun(new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4));
  }

  /**
   * Sorts `n` fingerprints (words 0..4n of `words`, which it may overwrite) and drops repeats: a counting
   * sort on the top bits (fingerprints are uniform; about one per bucket, with 2^8 to 2^20 buckets), then an
   * insertion sort within each bucket.
   */
  static sort(words: Uint32Array, n: number): FingerprintRun {
    const BITS = Math.min(20, Math.max(8, Math.ceil(Math.log2(Math.max(n, 1)))));
    const out = new Uint32Array(HEADER_WORDS + n * 4);
    if (BITS <= 12) {
      scatterByBits(words, 0, out, HEADER_WORDS, n, 32 - BITS, BITS);
    } else {
      // Two passes of fewer buckets instead of one of 2^BITS: a scatter into a million places misses the
      // cache on every write; into a thousand, the write positions stay cached. The second pass sorts each
      // top bucket by the next bits, back into `words` (the input is scratch from here on), then it is copied.
      const hi = BITS >> 1;
      const lo = BITS - hi;
      const starts = scatterByBits(words, 0, out, HEADER_WORDS, n, 32 - hi, hi);
      for (let b = 0; b < 1 << hi; b++) {
        scatterByBits(out, HEADER_WORDS + starts[b]! * 4, words, starts[b]! * 4, starts[b + 1]! - starts[b]!, 32 - BITS, lo);
      }
      out.set(words.subarray(0, n * 4), HEADER_WORDS);
    }
    // Entries are now in order of their top BITS bits; an insertion sort finishes within runs of equal top
    // bits (about one entry each). The four words are held in locals: no closure, subarray or copyWithin per
    // entry (those made 10 M fingerprints take 5 s).
    const end = HEADER_WORDS + n * 4;
    for (let i = HEADER_WORDS + 4; i < end; i += 4) {
      const a0 = out[i]!, a1 = out[i + 1]!, a2 = out[i + 2]!, a3 = out[i + 3]!;
      let j = i;
      while (j > HEADER_WORDS) {
        const p0 = out[j - 4]!, p1 = out[j - 3]!, p2 = out[j - 2]!, p3 = out[j - 1]!;
        // Stop once the entry before is not greater than this one.
        if (p0 < a0 || (p0 === a0 && (p1 < a1 || (p1 === a1 && (p2 < a2 || (p2 === a2 && p3 <= a3)))))) break;
        out[j] = p0; out[j + 1] = p1; out[j + 2] = p2; out[j + 3] = p3;
        j -= 4;
      }
      if (j !== i) { out[j] = a0; out[j + 1] = a1; out[j + 2] = a2; out[j + 3] = a3; }
    }
    // Drop repeats in place.
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const src = HEADER_WORDS + i * 4;
      const at = HEADER_WORDS + kept * 4;
      if (kept > 0 && out[src] === out[at - 4] && out[src + 1] === out[at - 3] && out[src + 2] === out[at - 2] && out[src + 3] === out[at - 1]) continue;
      if (at !== src) { out[at] = out[src]!; out[at + 1] = out[src + 1]!; out[at + 2] = out[src + 2]!; out[at + 3] = out[src + 3]!; }
      kept++;
    }
    return new FingerprintRun(kept === n ? out : out.subarray(0, HEADER_WORDS + kept * 4));
  }
}

/**
 * A stable counting sort of `n` entries (4 words each) from `src` (starting at word `from`) into `dst`
 * (starting at word `to`), by `bits` bits of the first word taken from bit `shift` up. Returns where each
 * bucket starts, in entries (and n at the end).
 */
function scatterByBits(src: Uint32Array, from: number, dst: Uint32Array, to: number, n: number, shift: number, bits: number): Uint32Array {
  const mask = (1 << bits) - 1;
  const starts = new Uint32Array((1 << bits) + 1);
  for (let i = 0; i < n; i++) starts[((src[from + i * 4]! >>> shift) & mask) + 1]!++;
  for (let b = 1; b < starts.length; b++) starts[b]! += starts[b - 1]!;
  const next = starts.slice(0, 1 << bits);
  for (let i = 0; i < n; i++) {
    const s = from + i * 4;
    const d = to + next[(src[s]! >>> shift) & mask]!++ * 4;
    dst[d] = src[s]!; dst[d + 1] = src[s + 1]!; dst[d + 2] = src[s + 2]!; dst[d + 3] = src[s + 3]!;
  }
  return starts;
}

/**
 * Collects fingerprints streamed from DuckDB (`fingerprintWordsSql` columns) into one buffer; `expected`
 * rows (the files' record counts) sizes it up front, so 10 M ids never need a doubling.
 */
export async function collectFingerprints(db: DuckDb, sql: string, expected: number): Promise<FingerprintRun> {
  let words = new Uint32Array(4 * Math.max(expected, 1024));
  let n = 0;
  for await (const [w0, w1, w2, w3] of db.uint32Chunks(sql)) {
    const m = w0!.length;
    if ((n + m) * 4 > words.length) {
      const grown = new Uint32Array(Math.max(words.length * 2, (n + m) * 4));
      grown.set(words.subarray(0, n * 4));
      words = grown;
    }
    for (let i = 0; i < m; i++) {
      const at = (n + i) * 4;
      words[at] = w0![i]!; words[at + 1] = w1![i]!; words[at + 2] = w2![i]!; words[at + 3] = w3![i]!;
    }
    n += m;
  }
  return FingerprintRun.sort(words, n);
}

/** An index as loaded for a run. */
export interface EventIndex {
  eventsSnapshotId: bigint;
  maxProcessedAt: bigint | null;
  idFiles: IndexFile[];
  ids: FingerprintRun[];
  loserFiles: IndexFile[];
  /** Local paths DuckDB can read the losers from (Parquet). */
  loserLocals: string[];
}

export function hasFingerprint(runs: readonly FingerprintRun[], a: number, b: number, c: number, d: number): boolean {
  for (const r of runs) if (r.has(a, b, c, d)) return true;
  return false;
}

/**
 * Loads the index a metrics snapshot points at; EventIndexUnusable when it cannot serve `eventsSnapshotId`.
 * `parsed`: fingerprint files a long-running process kept from earlier runs, by path (a file is written
 * once and never changed, so a kept parse is exact); it is left holding just this index's files.
 */
export async function loadEventIndex(io: FileIO, cache: DataFileCache, location: string, eventsSnapshotId: bigint, duckdbVersion: string, parsed?: Map<string, FingerprintRun>): Promise<EventIndex> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await io.read(location))) as Manifest;
  } catch (e) {
    throw new EventIndexUnusable(`its manifest ${location} cannot be read (${(e as Error).message})`);
  }
  if (manifest?.format !== 1 || !Array.isArray(manifest['id-files']) || !Array.isArray(manifest['loser-files'])) throw new EventIndexUnusable(`its manifest ${location} is not an event index manifest`);
  if (manifest['duckdb-version'] !== duckdbVersion) throw new EventIndexUnusable(`it was built by DuckDB ${manifest['duckdb-version']}, this is ${duckdbVersion}`);
  if (manifest['events-snapshot-id'] !== eventsSnapshotId.toString()) throw new EventIndexUnusable(`it covers events snapshot ${manifest['events-snapshot-id']}, not ${eventsSnapshotId}`);
  const ids: FingerprintRun[] = [];
  try {
    for (const f of manifest['id-files']) {
      const kept = parsed?.get(f.path);
      ids.push(kept && kept.count === f.count ? kept : FingerprintRun.parse(await readFile(await cache.localPath(f.path)), f.count));
    }
    if (parsed) {
      parsed.clear();
      manifest['id-files'].forEach((f, i) => parsed.set(f.path, ids[i]!));
    }
    return {
      eventsSnapshotId,
      maxProcessedAt: manifest['max-processed-at-us'] === null ? null : BigInt(manifest['max-processed-at-us']),
      idFiles: manifest['id-files'],
      ids,
      loserFiles: manifest['loser-files'],
      loserLocals: await cache.localPaths(manifest['loser-files'].map((f) => f.path)),
    };
  } catch (e) {
    if (e instanceof EventIndexUnusable) throw e;
    throw new EventIndexUnusable(`one of its files cannot be read (${(e as Error).message})`);
  }
}

/** What a run writes: the index for the events snapshot its metrics are now current with. */
export interface EventIndexUpdate {
  eventsSnapshotId: bigint;
  maxProcessedAt: bigint | null;
  /** Fingerprint files kept from the previous index, and those of the ids this run added. */
  keptIds: IndexFile[];
  keptRuns: FingerprintRun[];
  newIds: FingerprintRun | null;
  /** Loser files kept from the previous index, and a new Parquet file's bytes (the new losers, or all of them when `keptLosers` is empty). */
  keptLosers: IndexFile[];
  newLosers: { bytes: Uint8Array; count: number } | null;
}

/**
 * Writes the new files and the manifest under `<tableLocation>/event-index/`; returns the manifest's
 * location and every file written (for clean-up if the commit fails).
 */
export async function writeEventIndex(io: FileIO, tableLocation: string, duckdbVersion: string, u: EventIndexUpdate): Promise<{ location: string; written: string[]; runs: Map<string, FingerprintRun> }> {
  const dir = eventIndexFolder(tableLocation);
  const written: string[] = [];
  const put = async (name: string, bytes: Uint8Array) => {
    const path = `${dir}/${name}`;
    await io.write(path, bytes);
    written.push(path);
    return path;
  };
  let idFiles = [...u.keptIds];
  let runs = [...u.keptRuns];
  if (u.newIds && u.newIds.count > 0) runs.push(u.newIds);
  if (runs.length > MAX_INDEX_FILES) {
    // Merge everything into one sorted file; the old files stay for older snapshots' manifests.
    const total = runs.reduce((n, r) => n + r.count, 0);
    const words = new Uint32Array(total * 4);
    let at = 0;
    for (const r of runs) { words.set(r.buffer.subarray(HEADER_WORDS), at); at += r.count * 4; }
    runs = [FingerprintRun.sort(words, total)];
    idFiles = [];
  }
  for (const r of runs.slice(idFiles.length)) idFiles.push({ path: await put(`${randomUUID()}.ids`, r.bytes()), count: r.count });
  const loserFiles = [...u.keptLosers];
  if (u.newLosers) loserFiles.push({ path: await put(`${randomUUID()}.losers`, u.newLosers.bytes), count: u.newLosers.count });
  const manifest: Manifest = {
    format: 1,
    'duckdb-version': duckdbVersion,
    'events-snapshot-id': u.eventsSnapshotId.toString(),
    'max-processed-at-us': u.maxProcessedAt === null ? null : u.maxProcessedAt.toString(),
    'id-files': idFiles,
    'loser-files': loserFiles,
  };
  const location = await put(`${randomUUID()}.index.json`, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  return { location, written, runs: new Map(idFiles.map((f, i) => [f.path, runs[i]!])) };
}
