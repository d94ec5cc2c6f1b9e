import { LakehouseError } from '../core/errors.ts';

/**
 * The set of event_ids already stored, so that a copy re-sent after its first copy was committed (a
 * producer retry, an at-least-once upstream) is dropped at ingest instead of stored twice. The first
 * copy wins, as in the metrics job, whose global de-duplication remains the backstop beyond what this
 * set holds.
 *
 * Each id is held as a 64-bit fingerprint of its UTF-8 bytes in one open-addressing table (linear
 * probing, at most 3/4 full): 8 bytes of key plus 1 byte naming its generation per slot, so 12 to 24
 * bytes per id depending on where the table is between two doublings, and no per-id object. A lookup
 * hashes the id once and usually touches one cache line.
 *
 * Two fingerprints are equal for different ids with probability 2^-64 per pair; a collision would drop
 * a valid event. Checking N new ids against a set of n ids drops an expected N * n / 2^64 events: for
 * n = 10 M held and N = 10^9 ingested, 5.4e-4 events, i.e. one in about two thousand such billions.
 * (The hash is not keyed: ids chosen by an adversary could collide on purpose; event ids come from
 * our own apps.)
 *
 * Ids age out by generation: a generation collects the ids of about 1/32 of the horizon (or of
 * maxIds / 32 ids, whichever fills first), remembers the newest time among them, and is evicted once
 * that time is older than the horizon, so every id is kept at least the horizon (at most one
 * generation longer). Past maxIds the oldest generations are evicted early: memory stays bounded and
 * the effective horizon shrinks (effectiveHorizonMs reports it). Eviction sweeps the table in place
 * (deletion by backward shift), without a second copy of it.
 *
 * Only ids whose rows are committed belong in the set (the Ingestor adds a flush's ids after its
 * commit landed): a flush in flight is "staged" - looked up like the rest, but dropped whole if its
 * commit fails, so a replay of its records is never taken for a re-send.
 */

/** A fingerprint as two signed 32-bit halves; (0, 0) marks an empty slot and is never produced. */
export interface Fingerprint {
  lo: number;
  hi: number;
}

/**
 * 64-bit fingerprint of bytes [from, to): two MurmurHash3-style lanes over 4-byte words, each with its
 * own constants, cross-mixed and finalized as murmur3 x86_128 does. ~40 ns for a 36-byte UUID.
 */
export function fingerprint(d: Uint8Array, from: number, to: number, out: Fingerprint): void {
  const len = to - from;
  let h1 = 0x9747b28c ^ len;
  let h2 = 0x2f8c3e1d ^ len;
  let i = from;
  const whole = to - 3;
  for (; i < whole; i += 4) {
    const k = d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24);
    let k1 = Math.imul(k, 0xcc9e2d51);
    k1 = Math.imul((k1 << 15) | (k1 >>> 17), 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let k2 = Math.imul(k, 0x85ebca6b);
    k2 = Math.imul((k2 << 16) | (k2 >>> 16), 0xc2b2ae35);
    h2 ^= k2;
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (Math.imul(h2, 9) + 0x38495ab5) | 0;
  }
  if (i < to) {
    let k = 0;
    for (let s = 0; i < to; i++, s += 8) k |= d[i]! << s;
    let k1 = Math.imul(k, 0xcc9e2d51);
    h1 ^= Math.imul((k1 << 15) | (k1 >>> 17), 0x1b873593);
    let k2 = Math.imul(k, 0x85ebca6b);
    h2 ^= Math.imul((k2 << 16) | (k2 >>> 16), 0xc2b2ae35);
  }
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  out.lo = h1 === 0 && h2 === 0 ? 1 : h1;
  out.hi = h2;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const MAX_LOAD = 0.75;
/** Fingerprints whose slots are touched at once before they are inserted (see touch()). */
const TOUCH_AHEAD = 32;
const MIN_CAPACITY = 1024;

/**
 * Open addressing over fingerprints: slot s holds keys[2s] (lo) and keys[2s + 1] (hi), and optionally a
 * one-byte tag. Grows by doubling. The home slot is the top bits of hi, so walking a smaller table in
 * slot order visits its fingerprints in the order of their homes in a larger one: a flush's ids (staged
 * in a small table) are added to the index front to back, page after page, instead of at random (which
 * cost a cache and a TLB miss per id at 10 M ids), and a doubling rehashes front to back too.
 */
export class FingerprintTable {
  keys: Int32Array;
  tags: Uint8Array | null;
  mask: number;
  /** 32 - log2(capacity): home(hi) = hi >>> shift. */
  shift: number;
  size = 0;

  constructor(capacity = MIN_CAPACITY, tagged = false) {
    let cap = MIN_CAPACITY;
    while (cap < capacity) cap *= 2;
    this.keys = new Int32Array(2 * cap);
    this.tags = tagged ? new Uint8Array(cap) : null;
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  get capacity(): number {
    return this.mask + 1;
  }

  get bytes(): number {
    return this.keys.byteLength + (this.tags?.byteLength ?? 0);
  }

  has(lo: number, hi: number): boolean {
    return this.probe(lo, hi) >= 0;
  }

  /**
   * Grows (by doubling) until `size` fingerprints fit within the load bound. Ids inserted in home order
   * (a staged flush) land in the first part of a table that is still too small for all of them: they
   * pile up there in one long probe run, and every doubling on the way rebuilds it. Sized first, each
   * lands near its home (measured: a first 100 k-id commit into an empty index took 11 s, and 0.1 s).
   */
  reserve(size: number): void {
    while (size > this.capacity * MAX_LOAD) this.grow();
  }

  /** Adds the fingerprint with `tag`; false (and nothing changed) when it is already there. */
  insert(lo: number, hi: number, tag = 0): boolean {
    if (this.size + 1 > this.capacity * MAX_LOAD) this.grow();
    const found = this.probe(lo, hi);
    if (found >= 0) return false;
    const s = ~found;
    this.keys[2 * s] = lo;
    this.keys[2 * s + 1] = hi;
    if (this.tags) this.tags[s] = tag;
    this.size++;
    return true;
  }

  /**
   * Reads the home slot of each fingerprint in keys[from, to) (pairs), and nothing else: independent
   * loads the CPU overlaps, so that the inserts after it find their slots in cache instead of waiting
   * for memory one at a time (JavaScript has no prefetch instruction).
   */
  touch(keys: Int32Array, from: number, to: number): number {
    const k = this.keys;
    const t = this.tags;
    const shift = this.shift;
    let sum = 0;
    for (let s = from; s < to; s += 2) {
      const home = keys[s + 1]! >>> shift;
      sum += k[2 * home]!;
      if (t) sum += t[home]!;
    }
    return sum;
  }

  /** The slot holding the fingerprint, or ~slot of the empty slot where it would go. */
  private probe(lo: number, hi: number): number {
    const k = this.keys;
    const m = this.mask;
    let s = hi >>> this.shift;
    for (;;) {
      const a = k[2 * s]!;
      const b = k[2 * s + 1]!;
      if (a === lo && b === hi) return s;
      if (a === 0 && b === 0) return ~s;
      s = (s + 1) & m;
    }
  }

  clear(): void {
    if (this.size === 0) return;
    this.keys.fill(0);
    this.size = 0;
  }

  /**
   * Removes every entry whose tag is marked in `evict` (256 entries, 1 = remove), in one pass and in
   * place. Returns how many were removed.
   */
  sweep(evict: Uint8Array): number {
    const tags = this.tags;
    if (!tags) throw new LakehouseError('INTERNAL', 'FingerprintTable.sweep needs a tagged table.');
    const k = this.keys;
    const cap = this.capacity;
    let n = 0;
    // Deleting at s shifts later entries of its cluster back, possibly into s: look at s again. An
    // entry shifted across the end of the array comes from slots already looked at (and kept).
    for (let s = 0; s < cap;) {
      if ((k[2 * s] !== 0 || k[2 * s + 1] !== 0) && evict[tags[s]!] === 1) {
        this.deleteAt(s);
        n++;
      } else s++;
    }
    return n;
  }

  /** Knuth's algorithm R: empties slot i and moves back the entries whose probe path crossed it. */
  private deleteAt(i: number): void {
    const k = this.keys;
    const t = this.tags;
    const m = this.mask;
    const shift = this.shift;
    let j = i;
    for (;;) {
      j = (j + 1) & m;
      const lo = k[2 * j]!;
      const hi = k[2 * j + 1]!;
      if (lo === 0 && hi === 0) break;
      const home = hi >>> shift;
      // The entry at j stays when its home lies cyclically in (i, j]: the hole is not on its path.
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      k[2 * i] = lo;
      k[2 * i + 1] = hi;
      if (t) t[i] = t[j]!;
      i = j;
    }
    k[2 * i] = 0;
    k[2 * i + 1] = 0;
    this.size--;
  }

  private grow(): void {
    const old = this.keys;
    const oldTags = this.tags;
    const cap = this.capacity * 2;
    const k = new Int32Array(2 * cap);
    const t = oldTags ? new Uint8Array(cap) : null;
    const m = cap - 1;
    const shift = this.shift - 1;
    for (let s = 0; s < old.length / 2; s++) {
      const lo = old[2 * s]!;
      const hi = old[2 * s + 1]!;
      if (lo === 0 && hi === 0) continue;
      let d = hi >>> shift;
      while (k[2 * d] !== 0 || k[2 * d + 1] !== 0) d = (d + 1) & m;
      k[2 * d] = lo;
      k[2 * d + 1] = hi;
      if (t) t[d] = oldTags![s]!;
    }
    this.keys = k;
    this.tags = t;
    this.mask = m;
    this.shift = shift;
  }
}

export interface DedupIndexOptions {
  /** Keep every id at least this long after the time it was added with (ms); > 0. */
  horizonMs: number;
  /** Hold at most this many ids; past it the oldest generations go first. Default DEFAULT_DEDUP_MAX_IDS. */
  maxIds?: number;
}

/** 7 days: a retry or an at-least-once redelivery comes far sooner; older copies are the metrics job's. */
export const DEFAULT_DEDUP_HORIZON_MS = 7 * 24 * 3600 * 1000;
/**
 * 10 M ids, 144 MiB once the table has doubled to 2^24 slots: what fits beside ingest's default 256 MiB
 * buffer budget under a 512 MiB process.
 */
export const DEFAULT_DEDUP_MAX_IDS = 10_000_000;

/** Generations per horizon (and per maxIds): the granularity of eviction. */
const GENERATIONS = 32;
/** Live generations are told apart by a one-byte tag; past this many, new ids join the newest one. */
const MAX_LIVE_GENERATIONS = 250;

interface Generation {
  tag: number;
  count: number;
  minMs: number;
  maxMs: number;
}

export class DedupIndex {
  readonly horizonMs: number;
  readonly maxIds: number;
  private readonly table = new FingerprintTable(MIN_CAPACITY, true);
  /** Ids of the flush in flight (see the file comment). */
  private readonly staged = new FingerprintTable();
  /** Oldest first. */
  private gens: Generation[] = [];
  private readonly byTag: Array<Generation | undefined> = new Array(256);
  private nextTag = 0;
  private readonly genSpanMs: number;
  private readonly genMaxIds: number;
  /** Ids added with an older time are not kept (they are past the horizon already). */
  private floorMs = -Infinity;
  /** Ids evicted early because of maxIds, since the index was made. */
  evictedEarly = 0;

  constructor(opts: DedupIndexOptions) {
    if (!(Number.isSafeInteger(opts.horizonMs) && opts.horizonMs > 0)) {
      throw new LakehouseError('INVALID_ARGUMENT', `De-duplication horizon must be a positive whole number of milliseconds, got ${opts.horizonMs}.`);
    }
    const maxIds = opts.maxIds ?? DEFAULT_DEDUP_MAX_IDS;
    if (!(Number.isSafeInteger(maxIds) && maxIds >= GENERATIONS)) {
      throw new LakehouseError('INVALID_ARGUMENT', `De-duplication maxIds must be a whole number >= ${GENERATIONS}, got ${maxIds}.`);
    }
    this.horizonMs = opts.horizonMs;
    this.maxIds = maxIds;
    this.genSpanMs = Math.max(1, Math.floor(opts.horizonMs / GENERATIONS));
    this.genMaxIds = Math.ceil(maxIds / GENERATIONS);
  }

  /** Ids held (committed ones; the staged flush not included). */
  get size(): number {
    return this.table.size;
  }

  /** Bytes of the arrays held, the staged flush's included. */
  get bytes(): number {
    return this.table.bytes + this.staged.bytes;
  }

  /** How far back the oldest id held reaches from `nowMs` (the horizon, or less after early evictions). */
  effectiveHorizonMs(nowMs: number): number {
    const oldest = this.gens[0];
    if (!oldest || this.evictedEarly === 0) return this.horizonMs;
    return Math.max(0, Math.min(this.horizonMs, nowMs - oldest.minMs));
  }

  /** Whether an id with this fingerprint is committed (or in the flush in flight). */
  has(lo: number, hi: number): boolean {
    return this.table.has(lo, hi) || (this.staged.size > 0 && this.staged.has(lo, hi));
  }

  /** Adds one committed id, stored at `timeMs` (its processed_at). */
  add(lo: number, hi: number, timeMs: number): void {
    if (timeMs < this.floorMs) return;
    let g = this.gens[this.gens.length - 1];
    if (!g || ((g.count >= this.genMaxIds || timeMs - g.minMs >= this.genSpanMs || g.maxMs - timeMs >= this.genSpanMs) && this.gens.length < MAX_LIVE_GENERATIONS)) {
      g = this.openGeneration(timeMs);
    }
    if (!this.table.insert(lo, hi, g.tag)) return;
    g.count++;
    if (timeMs < g.minMs) g.minMs = timeMs;
    if (timeMs > g.maxMs) g.maxMs = timeMs;
    if (this.table.size > this.maxIds) this.evictForSize();
  }

  /** The ids of the flush about to be committed: looked up from now on, added or dropped later. */
  stage(lo: Int32Array, hi: Int32Array, n: number): void {
    if (this.staged.size > 0) throw new LakehouseError('INTERNAL', 'DedupIndex.stage: the previous flush was neither committed nor dropped.');
    for (let i = 0; i < n; i++) this.staged.insert(lo[i]!, hi[i]!);
  }

  /** The staged flush committed at `timeMs`: its ids join the index. */
  commitStaged(timeMs: number): void {
    const k = this.staged.keys;
    const n = k.length;
    // Past maxIds the index evicts, so it never holds more than that (and one).
    this.table.reserve(Math.min(this.table.size + this.staged.size, this.maxIds + 1));
    // Touch one chunk ahead of the one inserted, so the loads of the next chunk overlap these inserts.
    this.table.touch(k, 0, Math.min(n, 2 * TOUCH_AHEAD));
    for (let from = 0; from < n; from += 2 * TOUCH_AHEAD) {
      const to = Math.min(n, from + 2 * TOUCH_AHEAD);
      this.table.touch(k, to, Math.min(n, to + 2 * TOUCH_AHEAD));
      for (let s = from; s < to; s += 2) {
        if (k[s] !== 0 || k[s + 1] !== 0) this.add(k[s]!, k[s + 1]!, timeMs);
      }
    }
    this.staged.clear();
  }

  /** The staged flush did not commit: its ids are forgotten (a replay must not look like a re-send). */
  dropStaged(): void {
    this.staged.clear();
  }

  /** Forgets every committed id (before a reload from the table); a staged flush stays staged. */
  clear(): void {
    this.table.clear();
    this.gens = [];
    this.byTag.fill(undefined);
    this.floorMs = -Infinity;
  }

  /** Evicts the generations whose newest id is older than the horizon at `nowMs`; returns ids evicted. */
  advance(nowMs: number): number {
    const cutoff = nowMs - this.horizonMs;
    if (cutoff > this.floorMs) this.floorMs = cutoff;
    let n = 0;
    while (n < this.gens.length && this.gens[n]!.maxMs < cutoff) n++;
    return n === 0 ? 0 : this.evictOldest(n);
  }

  private openGeneration(timeMs: number): Generation {
    while (this.byTag[this.nextTag] !== undefined) this.nextTag = (this.nextTag + 1) & 0xff;
    const g: Generation = { tag: this.nextTag, count: 0, minMs: timeMs, maxMs: timeMs };
    this.nextTag = (this.nextTag + 1) & 0xff;
    this.byTag[g.tag] = g;
    this.gens.push(g);
    return g;
  }

  /** Over maxIds: the oldest generations go until 7/8 of it is left, so sweeps stay rare. */
  private evictForSize(): void {
    const target = Math.floor(this.maxIds * 7 / 8);
    let left = this.table.size;
    let n = 0;
    // The newest generation goes too only when it alone is over the target: memory is the bound.
    while (n < this.gens.length && left > target) left -= this.gens[n++]!.count;
    const evicted = this.evictOldest(n);
    this.evictedEarly += evicted;
    const kept = this.gens[0];
    // Ids older than what is kept now are not taken back in (a reload reads them in time order).
    this.floorMs = Math.max(this.floorMs, kept ? kept.minMs : this.floorMs);
  }

  private evictOldest(n: number): number {
    const evict = new Uint8Array(256);
    const victims = this.gens.slice(0, n);
    for (const g of victims) evict[g.tag] = 1;
    const count = this.table.sweep(evict);
    for (const g of victims) this.byTag[g.tag] = undefined;
    this.gens = this.gens.slice(n);
    return count;
  }
}
