import { expect } from 'vitest';
import type { PyIcebergSnapshot } from '../interop/readers.ts';

/**
 * What each dashboard chart must show, computed here from what PyIceberg reads (campaign_metrics rows,
 * campaign_events rows, campaign_events' snapshot summaries): sums and ratios in plain TypeScript, an
 * independent derivation of the numbers Superset gets through DuckDB. Rows are compared as sets of
 * "key -> value" after rounding doubles to 6 significant digits (SUM order differs between engines).
 */

export interface MetricsRow {
  windowStartMs: number;
  windowEndMs: number;
  campaign: string;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
  spend: number;
  /** The dimensions a table was created with (`metrics run --dimensions`); absent otherwise. */
  platform?: string;
  country?: string;
  channel?: string;
}

export interface EventRow { eventTimeMs: number; processedAtMs: number }

const HOUR = 3_600_000;
const MINUTE = 60_000;

function double(v: unknown): number {
  if (v === null) return NaN;
  if (typeof v === 'string' && /^[0-9a-f]{16}$/i.test(v)) return Buffer.from(v, 'hex').readDoubleBE(0);
  return Number(v);
}

/** campaign_metrics rows from verify.py's canonical JSON lines. */
export function metricsRows(lines: string[]): MetricsRow[] {
  return lines.map((l) => {
    const r = JSON.parse(l) as Record<string, string>;
    return {
      windowStartMs: Number(BigInt(r.window_start!) / 1000n), windowEndMs: Number(BigInt(r.window_end!) / 1000n), campaign: r.campaign_id!,
      impressions: Number(r.impressions), clicks: Number(r.clicks), conversions: Number(r.conversions),
      revenue: double(r.revenue), spend: double(r.spend),
      ...(r.platform !== undefined ? { platform: r.platform } : {}), ...(r.country !== undefined ? { country: r.country } : {}),
      ...(r.channel !== undefined ? { channel: r.channel } : {}),
    };
  });
}

export function eventRows(lines: string[]): EventRow[] {
  return lines.map((l) => {
    const r = JSON.parse(l) as Record<string, string>;
    return { eventTimeMs: Number(BigInt(r.event_time!) / 1000n), processedAtMs: Number(BigInt(r.processed_at!) / 1000n) };
  });
}

const ratio = (num: number, den: number, scale = 1) => (den === 0 ? null : (scale * num) / den);

interface Sums { impressions: number; clicks: number; conversions: number; revenue: number; spend: number }

export function sumBy(rows: MetricsRow[], key: (r: MetricsRow) => string): Map<string, Sums> {
  const out = new Map<string, Sums>();
  for (const r of rows) {
    const k = key(r);
    const s = out.get(k) ?? { impressions: 0, clicks: 0, conversions: 0, revenue: 0, spend: 0 };
    s.impressions += r.impressions; s.clicks += r.clicks; s.conversions += r.conversions; s.revenue += r.revenue; s.spend += r.spend;
    out.set(k, s);
  }
  return out;
}

type Row = Record<string, number | string | null>;

/** Expected rows of each chart, by chart name. */
export function expectedCampaignCharts(rows: MetricsRow[]): Record<string, Row[]> {
  const hourly = sumBy(rows, (r) => `${Math.floor(r.windowStartMs / HOUR) * HOUR}|${r.campaign}`);
  const byCampaign = sumBy(rows, (r) => r.campaign);
  const byWindow = sumBy(rows, (r) => String(r.windowStartMs));
  const newestEnd = Math.max(...rows.map((r) => r.windowEndMs));
  const recent = [...sumBy(rows.filter((r) => r.windowStartMs >= newestEnd - 15 * MINUTE), () => 'all').values()][0]
    ?? { impressions: 0, clicks: 0, conversions: 0, revenue: 0, spend: 0 };
  const split = (k: string) => { const [t, c] = k.split('|'); return { window_start: Number(t), campaign_id: c! }; };
  return {
    'CTR per campaign (hourly)': [...hourly].map(([k, s]) => ({ ...split(k), ctr_percent: ratio(s.clicks, s.impressions, 100) })),
    'CVR per campaign (hourly)': [...hourly].map(([k, s]) => ({ ...split(k), cvr_percent: ratio(s.conversions, s.clicks, 100) })),
    'Revenue by campaign': [...byCampaign].map(([c, s]) => ({ campaign_id: c, revenue: s.revenue })),
    'Impressions, clicks, conversions over time': [...byWindow].map(([t, s]) => ({ window_start: Number(t), impressions: s.impressions, clicks: s.clicks, conversions: s.conversions })),
    'Spend, CPC, CPA, ROAS by campaign': [...byCampaign].map(([c, s]) => ({
      campaign_id: c, spend: s.spend, cpc: ratio(s.spend, s.clicks), cpa: ratio(s.spend, s.conversions), roas: ratio(s.revenue, s.spend), revenue: s.revenue,
    })),
    'Impressions, last 15 min': [{ impressions: recent.impressions }],
    'Clicks, last 15 min': [{ clicks: recent.clicks }],
    'Conversions, last 15 min': [{ conversions: recent.conversions }],
    'Revenue, last 15 min': [{ revenue: recent.revenue }],
    'CTR %, last 15 min': [{ ctr_percent: ratio(recent.clicks, recent.impressions, 100) }],
  };
}

/** Late = ingested more than 10 minutes after it happened (the metrics job's default allowed lateness). */
export const LATE_AFTER_MS = 10 * MINUTE;

/** Expected rows of the health charts but freshness (which moves with the clock). */
export function expectedHealthCharts(snapshots: PyIcebergSnapshot[], events: EventRow[]): Record<string, Row[]> {
  const ingest = snapshots.filter((s) => s.summary['lakehouse.ingest.consumed'] !== undefined);
  const perMinute = new Map<number, { consumed: number; written: number; dead_lettered: number; duplicates: number }>();
  const letters = new Map<string, number>();
  for (const s of ingest) {
    const minute = Math.floor(Number(s.timestamp_ms) / MINUTE) * MINUTE;
    const m = perMinute.get(minute) ?? { consumed: 0, written: 0, dead_lettered: 0, duplicates: 0 };
    m.consumed += Number(s.summary['lakehouse.ingest.consumed']);
    m.written += Number(s.summary['added-records'] ?? 0);
    m.dead_lettered += Number(s.summary['lakehouse.ingest.dead-lettered']);
    m.duplicates += Number(s.summary['lakehouse.ingest.duplicates']);
    perMinute.set(minute, m);
    for (const [k, v] of Object.entries(s.summary)) {
      if (!k.startsWith('lakehouse.ingest.dead-lettered.')) continue;
      const key = `${minute}|${k.slice('lakehouse.ingest.dead-lettered.'.length)}`;
      letters.set(key, (letters.get(key) ?? 0) + Number(v));
    }
  }
  const late = new Map<number, number>();
  for (const e of events) {
    const minute = Math.floor(e.processedAtMs / MINUTE) * MINUTE;
    late.set(minute, (late.get(minute) ?? 0) + (e.processedAtMs - e.eventTimeMs > LATE_AFTER_MS ? 1 : 0));
  }
  return {
    'Events per minute': [...perMinute].map(([t, m]) => ({ committed_at: t, ...m })),
    'Dead letters per minute by reason': [...letters].map(([k, n]) => { const [t, reason] = k.split('|'); return { committed_at: Number(t), reason: reason!, letters: n }; }),
    'Late events per minute': [...late].map(([t, n]) => ({ processed_at: t, late_events: n })),
    'Duplicates dropped': [{ duplicates: ingest.reduce((a, s) => a + Number(s.summary['lakehouse.ingest.duplicates']), 0) }],
  };
}

function round(v: unknown, digits: number): unknown {
  if (typeof v !== 'number' || Number.isInteger(v)) return v;
  return Number(v.toPrecision(digits));
}

/**
 * Rows as sorted "column=value" strings, doubles rounded to `digits` significant digits, so row order and
 * summation order do not matter.
 */
export function canonicalChartRows(rows: Row[] | Record<string, unknown>[], digits = 9): string[] {
  return rows.map((r) => Object.keys(r).sort().map((k) => `${k}=${JSON.stringify(round(r[k], digits))}`).join(' ')).sort();
}

export function expectSameRows(chart: string, actual: Record<string, unknown>[], expected: Row[]): void {
  expect(canonicalChartRows(actual), chart).toEqual(canonicalChartRows(expected));
}
