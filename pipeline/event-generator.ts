import type { EventType } from './campaign-events.ts';

/**
 * Synthetic campaign events for demos, tests and benchmarks: 80 % impressions, 15 % clicks,
 * 5 % conversions, deterministic for a given seed so a test can recompute what it expects.
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
