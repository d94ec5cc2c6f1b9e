import type { GeneratedMessage } from '../../pipeline/event-generator.ts';

/**
 * The reference for `campaign_metrics` : the metric definitions of the README done
 * the plainest way, over the raw messages as they were ingested, one commit (flush) after another. It
 * shares no code with sql/ or with the decoder in pipeline/ (types only), so a bug there cannot hide
 * here by being copied; tests compare what an independent reader finds in the table with this.
 *
 * Ingest is modelled, not called: a commit is one Ingestor flush, so
 * - inside one commit the Ingestor writes only the first copy of an event_id (EventBuffer drops the
 *   later ones before they reach the table);
 * - every row of a commit has that commit's processed_at; among the copies in the table, the one with
 *   the smallest (processed_at, event_time, event_type, campaign_id) is the event, all others are ignored.
 */

/** A message as a test hands it to the ingest: a plain JSON object, or a generator message (bytes). */
export type RawMessage = Record<string, unknown> | GeneratedMessage;

export interface OracleCommit {
  messages: readonly RawMessage[];
  /** processed_at the ingest gave every row of this commit (its clock at the flush), µs since epoch. */
  processedAtMicros: bigint;
}

export type OracleDimension = 'platform' | 'country' | 'channel';
const DIMENSION_ORDER: readonly OracleDimension[] = ['platform', 'country', 'channel'];

export interface OracleOptions {
  /** Tumbling window length in seconds (60, 300 or 3600), aligned to the UTC epoch. */
  windowSeconds: number;
  dimensions?: readonly OracleDimension[];
  /** watermark = max(event_time) - this; default 10 minutes. */
  allowedLatenessMs?: number;
}

/** One event as the table holds it. */
export interface OracleEvent {
  event_id: string;
  campaign_id: string;
  event_type: 'impression' | 'click' | 'conversion';
  /** µs since epoch, UTC. */
  event_time: bigint;
  revenue: number;
  cost: number | null;
  platform: string | null;
  country: string | null;
  channel: string | null;
  processed_at: bigint;
}

/** One expected row of campaign_metrics (processed_at left out: it is when the job ran). */
export interface OracleRow {
  window_start: bigint;
  window_end: bigint;
  campaign_id: string;
  platform?: string | null;
  country?: string | null;
  channel?: string | null;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
  spend: number;
  ctr_percent: number | null;
  cvr_percent: number | null;
  cpc: number | null;
  cpa: number | null;
  roas: number | null;
  complete: boolean;
}

export const DEFAULT_ALLOWED_LATENESS_MS = 10 * 60 * 1000;

const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * A message `timestamp` in µs since epoch: an ISO-8601 date-time with a zone (fraction digits past the
 * sixth dropped), or a JSON number of epoch milliseconds. Anything else is a mistake in the test.
 */
export function parseTimestampMicros(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(Math.round(v * 1000));
  if (typeof v !== 'string') throw new Error(`oracle: timestamp ${JSON.stringify(v)} is neither an ISO string nor epoch ms`);
  const m = ISO.exec(v);
  if (!m) throw new Error(`oracle: timestamp ${JSON.stringify(v)} is not ISO-8601 with a zone`);
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new Error(`oracle: timestamp ${JSON.stringify(v)} names no real time`);
  }
  const fraction = BigInt((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  let offsetMinutes = 0;
  const zone = m[8]!;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0'));
  }
  return BigInt(ms) * 1000n + fraction - BigInt(offsetMinutes) * 60_000_000n;
}

function isGenerated(m: RawMessage): m is GeneratedMessage {
  return (m as GeneratedMessage).value instanceof Uint8Array && typeof (m as GeneratedMessage).kind === 'string';
}

const decoder = new TextDecoder();

function text(o: Record<string, unknown>, key: string, required: boolean): string | null {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new Error(`oracle: message ${JSON.stringify(o)} has no ${key}`);
    return null;
  }
  if (typeof v !== 'string') throw new Error(`oracle: ${key} of ${JSON.stringify(o)} is not a string`);
  return v;
}

function amount(o: Record<string, unknown>, key: string): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number') throw new Error(`oracle: ${key} of ${JSON.stringify(o)} is not a number`);
  return v;
}

/** The event a valid message carries; null for a generator message it made invalid on purpose. */
export function messageEvent(m: RawMessage, processedAt: bigint): OracleEvent | null {
  let o: Record<string, unknown>;
  if (isGenerated(m)) {
    if (m.kind === 'invalid') return null;
    o = JSON.parse(decoder.decode(m.value)) as Record<string, unknown>;
  } else {
    o = m;
  }
  const type = text(o, 'event_type', true);
  if (type !== 'impression' && type !== 'click' && type !== 'conversion') throw new Error(`oracle: event_type ${type} in a message meant to be valid`);
  return {
    event_id: text(o, 'event_id', true)!,
    campaign_id: text(o, 'campaign_id', true)!,
    event_type: type,
    event_time: parseTimestampMicros(o.timestamp),
    revenue: amount(o, 'revenue') ?? 0,
    cost: amount(o, 'cost'),
    platform: text(o, 'platform', false),
    country: text(o, 'country', false),
    channel: text(o, 'channel', false),
    processed_at: processedAt,
  };
}

/** The rows campaign_events holds after these commits: per commit, the first copy of each event_id. */
export function tableEvents(commits: readonly OracleCommit[]): OracleEvent[] {
  const rows: OracleEvent[] = [];
  for (const c of commits) {
    const seen = new Set<string>();
    for (const m of c.messages) {
      const e = messageEvent(m, c.processedAtMicros);
      if (e === null || seen.has(e.event_id)) continue;
      seen.add(e.event_id);
      rows.push(e);
    }
  }
  return rows;
}

function beats(a: OracleEvent, b: OracleEvent): boolean {
  if (a.processed_at !== b.processed_at) return a.processed_at < b.processed_at;
  if (a.event_time !== b.event_time) return a.event_time < b.event_time;
  if (a.event_type !== b.event_type) return a.event_type < b.event_type;
  return a.campaign_id < b.campaign_id;
}

/** One event per event_id: the copy that wins. */
export function winningEvents(rows: readonly OracleEvent[]): OracleEvent[] {
  const best = new Map<string, OracleEvent>();
  for (const e of rows) {
    const held = best.get(e.event_id);
    if (held === undefined || beats(e, held)) best.set(e.event_id, e);
  }
  return [...best.values()];
}

/** max(event_time over every row in campaign_events) - lateness, µs; null when there are no rows. */
export function watermarkMicros(rows: readonly OracleEvent[], allowedLatenessMs = DEFAULT_ALLOWED_LATENESS_MS): bigint | null {
  if (rows.length === 0) return null;
  let max = rows[0]!.event_time;
  for (const e of rows) if (e.event_time > max) max = e.event_time;
  return max - BigInt(allowedLatenessMs) * 1000n;
}

function ratio(num: number, den: number, scale = 1): number | null {
  return den === 0 ? null : (scale * num) / den;
}

/** Expected campaign_metrics after ingesting `commits` in order and running the job once over them. */
export function expectedMetrics(commits: readonly OracleCommit[], opts: OracleOptions): OracleRow[] {
  const dims = DIMENSION_ORDER.filter((d) => (opts.dimensions ?? []).includes(d));
  const width = BigInt(opts.windowSeconds) * 1_000_000n;
  const rows = tableEvents(commits);
  const watermark = watermarkMicros(rows, opts.allowedLatenessMs);
  const groups = new Map<string, OracleRow>();
  for (const e of winningEvents(rows)) {
    // Floor division: event times are after 2000, so truncation toward zero is the floor.
    const start = (e.event_time / width) * width;
    const key = JSON.stringify([start.toString(), e.campaign_id, ...dims.map((d) => e[d])]);
    let r = groups.get(key);
    if (!r) {
      r = {
        window_start: start, window_end: start + width, campaign_id: e.campaign_id,
        impressions: 0, clicks: 0, conversions: 0, revenue: 0, spend: 0,
        ctr_percent: null, cvr_percent: null, cpc: null, cpa: null, roas: null, complete: false,
      };
      for (const d of dims) r[d] = e[d];
      groups.set(key, r);
    }
    // One winner per event_id, so counting winners counts distinct event_ids.
    if (e.event_type === 'impression') r.impressions++;
    else if (e.event_type === 'click') r.clicks++;
    else r.conversions++;
    r.revenue += e.revenue;
    r.spend += e.cost ?? 0;
  }
  const out: OracleRow[] = [];
  for (const r of groups.values()) {
    r.ctr_percent = ratio(r.clicks, r.impressions, 100);
    r.cvr_percent = ratio(r.conversions, r.clicks, 100);
    r.cpc = ratio(r.spend, r.clicks);
    r.cpa = ratio(r.spend, r.conversions);
    r.roas = ratio(r.revenue, r.spend);
    r.complete = watermark !== null && r.window_end <= watermark;
    out.push(r);
  }
  return out.sort(compareRowKeys);
}

/** The grain of a row as one string: window_start, campaign_id, then the dimensions it has. */
export function rowKey(r: Pick<OracleRow, 'window_start' | 'campaign_id' | OracleDimension>): string {
  return JSON.stringify([r.window_start.toString().padStart(20, '0'), r.campaign_id, ...DIMENSION_ORDER.filter((d) => d in r).map((d) => r[d] ?? null)]);
}

export function compareRowKeys(a: OracleRow, b: OracleRow): number {
  const x = rowKey(a);
  const y = rowKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
