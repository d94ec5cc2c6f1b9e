import { LakehouseError } from '../core/errors.ts';
import { EVENT_FIELDS, EVENT_RULES, type EventType } from '../domain/campaign-events.ts';
import { REJECT_REASONS, type RejectReason } from './event-decoder.ts';

/**
 * Synthetic campaign events for demos, tests and benchmarks: 80 % impressions, 15 % clicks,
 * 5 % conversions, deterministic for a given seed so a test can recompute what it expects.
 * generateEvents gives table rows; generateMessages gives the Kafka messages apps send, including
 * invalid, late and duplicate ones for `lakehouse produce`.
 */
export interface GeneratorOptions {
  count: number;
  seed?: number;
  campaigns?: number;
  users?: number;
  /** Event times are spread over [startMs, startMs + spanMs). */
  startMs?: number;
  spanMs?: number;
  platforms?: string[];
  countries?: string[];
}

export interface CampaignEvent {
  event_id: string;
  user_id: string;
  campaign_id: string;
  event_type: EventType;
  platform: string | null;
  /** Microseconds since epoch, UTC. */
  event_time: bigint;
  revenue: number;
  country: string | null;
  device_type: string | null;
  processed_at: bigint;
}

/** mulberry32: tiny, fast, good enough for synthetic data, and reproducible across Node versions. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEVICES = ['mobile', 'desktop', 'tablet'];

export function* generateEvents(opts: GeneratorOptions): Generator<CampaignEvent> {
  const rnd = seededRandom(opts.seed ?? 42);
  const campaigns = opts.campaigns ?? 20;
  const users = opts.users ?? 10_000;
  const start = opts.startMs ?? Date.UTC(2026, 10, 1);
  const span = opts.spanMs ?? 3 * 24 * 3600 * 1000;
  const platforms = opts.platforms ?? ['google', 'meta', 'tiktok', 'linkedin'];
  const countries = opts.countries ?? ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN'];
  const processedAt = BigInt(Date.now()) * 1000n;
  for (let i = 0; i < opts.count; i++) {
    const r = rnd();
    const type: EventType = r < 0.8 ? 'impression' : r < 0.95 ? 'click' : 'conversion';
    const ms = start + Math.floor(rnd() * span);
    yield {
      event_id: `evt-${opts.seed ?? 42}-${i}`,
      user_id: `user-${Math.floor(rnd() * users)}`,
      campaign_id: `campaign-${String(Math.floor(rnd() * campaigns)).padStart(3, '0')}`,
      event_type: type,
      platform: platforms[Math.floor(rnd() * platforms.length)]!,
      event_time: BigInt(ms) * 1000n + BigInt(Math.floor(rnd() * 1000)),
      revenue: type === 'conversion' ? Math.round(rnd() * 20000) / 100 : 0,
      country: countries[Math.floor(rnd() * countries.length)]!,
      device_type: DEVICES[Math.floor(rnd() * DEVICES.length)]!,
      processed_at: processedAt,
    };
  }
}

// ---- Kafka messages as apps send them ----

export interface ProduceOptions extends GeneratorOptions {
  /** Share of messages that are invalid, one RejectReason after another (default 0). */
  invalidRate?: number;
  /** Share of messages that are valid but late: event time 1 to 6 hours before the on-time ones (default 0). */
  lateRate?: number;
  /** Share of messages that re-send an earlier message byte for byte, as a retrying app does (default 0). */
  duplicateRate?: number;
  /** Marketing channels; 75 % of events name one (and most of those a cost). */
  channels?: string[];
  /**
   * Live mode: event times follow this clock (ms; minus up to 2 s of device lag) instead of being
   * spread over [startMs, startMs + spanMs). For demos where freshness is measured.
   */
  clock?: () => number;
}

export type MessageKind = 'valid' | 'invalid' | 'late' | 'duplicate';

export interface GeneratedMessage {
  /** Kafka key: the user id, so one user's events stay in order on one partition. */
  key: string;
  /** JSON bytes (or, for some invalid messages, bytes that are not even that). */
  value: Uint8Array;
  kind: MessageKind;
  /** For invalid messages: the reason decodeEvent must give. */
  reason?: RejectReason;
}

const encoder = new TextEncoder();
/** Offsets (minutes east of UTC) apps in different zones send. */
const OFFSETS = [120, -330, 345, -480, 540, 0];
const HOUR_US = 3_600_000_000n;
/** Earlier messages a duplicate may repeat: recent ones, so most land in the same flush as the original. */
const RECENT = 1024;

function rate(name: string, v: number | undefined): number {
  const r = v ?? 0;
  if (!(r >= 0 && r <= 1)) throw new LakehouseError('INVALID_ARGUMENT', `Option ${name} must be a fraction between 0 and 1, got ${v}.`);
  return r;
}

/** ISO-8601 of epoch micros at a UTC offset, with 0, 3 or 6 fraction digits (`Z` for offset 0 unless asked). */
export function formatIsoMicros(micros: bigint, offsetMin = 0, fractionDigits: 0 | 3 | 6 = 6, zuluForUtc = true): string {
  const local = micros + BigInt(offsetMin) * 60_000_000n;
  const seconds = local >= 0n ? local / 1_000_000n : (local - 999_999n) / 1_000_000n;
  const sub = Number(local - seconds * 1_000_000n);
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = fractionDigits === 0 ? '' : `.${String(sub).padStart(6, '0').slice(0, fractionDigits)}`;
  if (offsetMin === 0 && zuluForUtc) return `${base}${fraction}Z`;
  const a = Math.abs(offsetMin);
  return `${base}${fraction}${offsetMin < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/**
 * Messages as the apps send them: JSON with `timestamp` as ISO-8601 (Z or an offset, with micro- or
 * milliseconds) or epoch milliseconds, revenue often left out when 0, a few optional fields missing.
 * Deterministic for a seed (and no clock). Invalid messages cycle through every RejectReason.
 */
export function* generateMessages(opts: ProduceOptions): Generator<GeneratedMessage> {
  const invalidRate = rate('invalidRate', opts.invalidRate);
  const lateRate = rate('lateRate', opts.lateRate);
  const duplicateRate = rate('duplicateRate', opts.duplicateRate);
  if (invalidRate + lateRate + duplicateRate > 1) {
    throw new LakehouseError('INVALID_ARGUMENT', `Options invalidRate + lateRate + duplicateRate add up to ${invalidRate + lateRate + duplicateRate}; they are shares of all messages and must add up to at most 1.`);
  }
  const channels = opts.channels ?? ['search', 'social', 'display', 'video', 'email', 'affiliate'];
  const rnd = seededRandom(((opts.seed ?? 42) ^ 0x5bd1e995) >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const events = generateEvents(opts);
  const recent: GeneratedMessage[] = [];
  let invalidCount = 0;

  const toMessage = (e: CampaignEvent, micros: bigint): Record<string, unknown> => {
    const m: Record<string, unknown> = { event_id: e.event_id, user_id: e.user_id, campaign_id: e.campaign_id, event_type: e.event_type };
    if (rnd() >= 0.02) m.platform = e.platform;
    const form = rnd();
    m.timestamp = form < 0.45 ? formatIsoMicros(micros, 0, 6)
      : form < 0.65 ? formatIsoMicros(micros, 0, 3)
        : form < 0.85 ? formatIsoMicros(micros, pick(OFFSETS), rnd() < 0.5 ? 6 : 0, false)
          : Number(micros / 1000n);
    if (e.revenue !== 0 || rnd() < 0.5) m.revenue = e.revenue;
    if (rnd() >= 0.02) m.country = e.country;
    if (rnd() >= 0.02) m.device_type = e.device_type;
    if (rnd() < 0.75) {
      m.channel = pick(channels);
      if (rnd() < 0.8) {
        // Spend per event: fractions of a cent per impression, up to a few units per click.
        m.cost = e.event_type === 'impression' ? Math.round(rnd() * 50) / 10000 : e.event_type === 'click' ? Math.round(rnd() * 300) / 100 : 0;
      }
    }
    return m;
  };
  const eventMicros = (e: CampaignEvent): bigint =>
    opts.clock ? BigInt(Math.floor((opts.clock() - rnd() * 2000) * 1000)) : e.event_time;
  const encode = (m: Record<string, unknown>): Uint8Array => encoder.encode(JSON.stringify(m));

  for (let i = 0; i < opts.count; i++) {
    const r = rnd();
    if (r >= invalidRate + lateRate && r < invalidRate + lateRate + duplicateRate && recent.length > 0) {
      const original = pick(recent);
      yield { key: original.key, value: original.value, kind: 'duplicate' };
      continue;
    }
    const next = events.next();
    if (next.done) return;
    const e = next.value;
    const micros = eventMicros(e);
    if (r < invalidRate) {
      const reason = REJECT_REASONS[invalidCount % REJECT_REASONS.length]!;
      const variant = Math.floor(invalidCount / REJECT_REASONS.length);
      invalidCount++;
      yield { key: e.user_id, value: invalidMessage(reason, variant, toMessage(e, micros), micros), kind: 'invalid', reason };
      continue;
    }
    const late = r < invalidRate + lateRate;
    const message: GeneratedMessage = {
      key: e.user_id,
      value: encode(toMessage(e, late ? micros - HOUR_US - BigInt(Math.floor(rnd() * 5 * 3600 * 1e6)) : micros)),
      kind: late ? 'late' : 'valid',
    };
    if (recent.length < RECENT) recent.push(message);
    else recent[i % RECENT] = message;
    yield message;
  }
}

const REQUIRED_KEYS = EVENT_FIELDS.filter((f) => f.required).map((f) => f.key);

/** A message that decodeEvent rejects for exactly `reason` (everything else about it is valid). */
function invalidMessage(reason: RejectReason, variant: number, m: Record<string, unknown>, micros: bigint): Uint8Array {
  const json = () => encoder.encode(JSON.stringify(m));
  const v3 = variant % 3;
  switch (reason) {
    case 'bad_json': {
      const text = JSON.stringify(m);
      return encoder.encode(v3 === 0 ? text.slice(0, text.length >> 1) : v3 === 1 ? `${text.slice(0, -1)},}` : `event_id=${String(m.event_id)}`);
    }
    case 'not_utf8': {
      // A lone continuation byte, a lead byte without its continuation, an encoded UTF-16 surrogate.
      m.user_id = `${String(m.user_id)}~~~`;
      const bytes = json();
      const at = bytes.indexOf(0x7e);
      bytes.set(v3 === 0 ? [0x80, 0x41, 0x41] : v3 === 1 ? [0xc3, 0x28, 0x41] : [0xed, 0xa0, 0x80], at);
      return bytes;
    }
    case 'oversize':
      // Extra bytes in a key the table does not know, or a user_id alone longer than a message may be.
      if (variant % 2 === 0) m.debug_payload = 'x'.repeat(EVENT_RULES.maxMessageBytes);
      else m.user_id = 'u'.repeat(EVENT_RULES.maxMessageBytes);
      return json();
    case 'missing_field': {
      const key = REQUIRED_KEYS[variant % REQUIRED_KEYS.length]!;
      if (variant % 2 === 0) delete m[key];
      else m[key] = null;
      return json();
    }
    case 'wrong_type': {
      const which = variant % 5;
      if (which === 0) m.revenue = String(m.revenue ?? 0);
      else if (which === 1) m.user_id = 12345;
      else if (which === 2) m.timestamp = formatIsoMicros(micros).slice(0, 19); // no zone
      else if (which === 3) m.timestamp = true;
      else m.cost = '0.25';
      return json();
    }
    case 'unknown_event_type':
      m.event_type = ['view', 'Click', 'purchase'][v3];
      return json();
    case 'out_of_range':
      if (v3 === 0) m.revenue = -5;
      else if (v3 === 1) m.cost = -0.01;
      else m.revenue = EVENT_RULES.maxAmount * 10;
      return json();
    case 'absurd_timestamp': {
      const which = variant % 4;
      // Epoch seconds where milliseconds belong (January 1970), before 2000, far future, zero.
      m.timestamp = which === 0 ? Number(micros / 1_000_000n) : which === 1 ? '1999-12-31T23:59:59Z' : which === 2 ? '2999-01-01T00:00:00Z' : 0;
      return json();
    }
    case 'empty':
      // No newline or CR: as an NDJSON line each stays one line, the same bytes Kafka would carry.
      return encoder.encode(v3 === 0 ? '' : v3 === 1 ? ' ' : '\t  \t');
  }
}
