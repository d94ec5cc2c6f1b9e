import { createHash } from 'node:crypto';
import { LakehouseError } from '../core/errors.ts';
import { WINDOW_SIZES, type CampaignMetricsRow } from '../domain/campaign-metrics-table.ts';

/**
 * The self-contained HTML report of `campaign_metrics` that `make demo` writes (issue 5): one file that
 * opens in a browser with no server and loads nothing (no CDN, fonts or images; a Content-Security-Policy
 * forbids every fetch and lets only the report's own script run). Node aggregates the rows into a small
 * model, embedded as JSON; an inline script draws three SVG charts from it at load time:
 *   - `ctr-trend`: CTR % per window, one line per campaign (top N by impressions). A mark is a point
 *     with a CTR; windows without impressions, or without a row, are gaps.
 *   - `revenue`: horizontal bars, top N campaigns by revenue. A mark is a bar (campaigns with revenue > 0).
 *   - `funnel`: impressions, clicks and conversions as three small multiples over the same campaigns
 *     (top N by impressions), each with its own linear scale so clicks and conversions stay visible.
 *     A mark is a bar with a value > 0.
 * Each chart's <svg> carries `data-chart` and `data-marks` (marks drawn); `body[data-charts-drawn]` is the
 * number of charts drawn, or `error` with the message in `#report-error`. tests/integration/
 * metrics-report-chromium.test.ts checks these in headless Chromium.
 */

export interface MetricsReportOptions {
  /** Page heading; default "Campaign metrics". */
  title?: string;
  /** Shown in the footer; default: now. */
  generatedAt?: Date;
  /** Window size the rows were computed with ('1m', '5m', '1h'); shown under the heading. */
  window: string;
  /** Campaigns per chart and in the summary table; default {@link DEFAULT_TOP_CAMPAIGNS}. */
  topCampaigns?: number;
  /** Where the rows came from (e.g. table name and snapshot id); shown in the footer. */
  source?: string;
}

export const DEFAULT_TOP_CAMPAIGNS = 8;
export const DEFAULT_REPORT_TITLE = 'Campaign metrics';

/** One campaign's sums over every window (and dimension value) in the report. */
export interface CampaignTotals {
  campaign: string;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
  spend: number;
  /** 100 * clicks / impressions of the sums; null when impressions = 0. */
  ctrPercent: number | null;
  /** 100 * conversions / clicks of the sums; null when clicks = 0. */
  cvrPercent: number | null;
}

/** One window of one campaign, summed across extra dimensions (platform, country, channel). */
export interface CtrPoint {
  /** Index into {@link MetricsReportModel.trend} starts. */
  w: number;
  /** 100 * clicks / impressions; null when impressions = 0 (drawn as a gap). */
  ctr: number | null;
  clicks: number;
  impressions: number;
  /** Every row of the window was complete (its end behind the watermark when computed). */
  complete: boolean;
}

export interface CtrSeries {
  campaign: string;
  /** Ascending by window; windows where the campaign has no row are absent. */
  points: CtrPoint[];
}

/** What the report shows, in JSON-safe numbers (counts fit 2^53; times are epoch milliseconds, UTC). */
export interface MetricsReportModel {
  title: string;
  window: string;
  generatedAt: string;
  source: string | null;
  topCampaigns: number;
  /** Distinct window starts, ascending, epoch ms. */
  windows: number[];
  /** Window length in ms (from the rows), null without rows. */
  windowMs: number | null;
  /** End of the last window, epoch ms; null without rows. */
  lastWindowEnd: number | null;
  /**
   * The CTR trend's time axis: bucket starts (epoch ms, ascending) and the bucket length. A bucket is one
   * window, or several consecutive windows summed when there are more than MAX_TREND_POINTS windows
   * (three days of 5-minute windows are unreadable as single points).
   */
  trend: { bucketMs: number | null; starts: number[] };
  totals: Omit<CampaignTotals, 'campaign'> & { rows: number; campaigns: number; incompleteWindows: number; roas: number | null };
  /** Top N by impressions (ties: campaign id), for the CTR lines, the funnel and the summary table. */
  topByImpressions: CampaignTotals[];
  ctrTrend: CtrSeries[];
  /** Top N by revenue among campaigns with revenue > 0. */
  revenue: Array<{ campaign: string; revenue: number }>;
  /** Campaigns with revenue > 0 beyond the top N, and their revenue. */
  revenueOthers: { campaigns: number; revenue: number };
}

interface Sums {
  impressions: bigint;
  clicks: bigint;
  conversions: bigint;
  revenue: number;
  spend: number;
  complete: boolean;
}

function emptySums(): Sums {
  return { impressions: 0n, clicks: 0n, conversions: 0n, revenue: 0, spend: 0, complete: true };
}

function addRow(s: Sums, r: CampaignMetricsRow): void {
  s.impressions += BigInt(r.impressions);
  s.clicks += BigInt(r.clicks);
  s.conversions += BigInt(r.conversions);
  s.revenue += r.revenue;
  s.spend += r.spend;
  s.complete &&= r.complete;
}

function percent(part: bigint, whole: bigint): number | null {
  return whole === 0n ? null : (100 * Number(part)) / Number(whole);
}

/** Timestamps arrive as bigint microseconds (Iceberg timestamptz); the charts work in epoch ms. */
function microsToMs(micros: bigint): number {
  return Number(BigInt(micros) / 1000n);
}

/** Highest value first; equal values by campaign id, so the same rows always give the same report. */
function rankBy<T extends { campaign: string }>(items: T[], value: (t: T) => number): T[] {
  return [...items].sort((a, b) => value(b) - value(a) || (a.campaign < b.campaign ? -1 : a.campaign > b.campaign ? 1 : 0));
}

function validateOptions(opts: MetricsReportOptions): number {
  if (typeof opts.window !== 'string' || opts.window.trim() === '') {
    throw new LakehouseError('INVALID_ARGUMENT', `Metrics report option window must name the window size the rows were computed with (e.g. '5m'), got ${JSON.stringify(opts.window)}.`);
  }
  const top = opts.topCampaigns ?? DEFAULT_TOP_CAMPAIGNS;
  if (!Number.isSafeInteger(top) || top < 1) {
    throw new LakehouseError('INVALID_ARGUMENT', `Metrics report option topCampaigns must be a positive whole number, got ${String(opts.topCampaigns)}.`);
  }
  if (opts.generatedAt !== undefined && Number.isNaN(opts.generatedAt.getTime())) {
    throw new LakehouseError('INVALID_ARGUMENT', 'Metrics report option generatedAt is an invalid Date.');
  }
  return top;
}

/**
 * Aggregates metrics rows into what the report draws. Rows of the same window and campaign that differ
 * only in extra dimensions are summed, and ratios are recomputed from the sums (the CTR of an aggregate
 * is 100 * sum(clicks) / sum(impressions), not a mean of the rows' ctr_percent).
 */
export function buildMetricsReportModel(rows: readonly CampaignMetricsRow[], opts: MetricsReportOptions): MetricsReportModel {
  const top = validateOptions(opts);
  const perCampaign = new Map<string, Sums>();
  const perWindow = new Map<string, Map<number, Sums>>();
  const windowSet = new Set<number>();
  const windowLengths = new Set<number>();
  let lastWindowEnd: number | null = null;
  const all = emptySums();

  for (const r of rows) {
    const start = microsToMs(r.window_start);
    const end = microsToMs(r.window_end);
    windowSet.add(start);
    windowLengths.add(end - start);
    if (lastWindowEnd === null || end > lastWindowEnd) lastWindowEnd = end;
    const id = String(r.campaign_id);
    let c = perCampaign.get(id);
    if (!c) perCampaign.set(id, (c = emptySums()));
    addRow(c, r);
    addRow(all, r);
    let byWindow = perWindow.get(id);
    if (!byWindow) perWindow.set(id, (byWindow = new Map()));
    let w = byWindow.get(start);
    if (!w) byWindow.set(start, (w = emptySums()));
    addRow(w, r);
  }

  const windows = [...windowSet].sort((a, b) => a - b);
  const windowMs = windowLengths.size ? Math.min(...windowLengths) : null;
  const bucketMs = trendBucket(windows, windowMs);
  const bucketOf = (t: number) => (bucketMs === null ? t : Math.floor(t / bucketMs) * bucketMs);
  const trendStarts = [...new Set(windows.map(bucketOf))].sort((a, b) => a - b);
  const bucketIndex = new Map(trendStarts.map((t, i) => [t, i]));
  const campaigns: CampaignTotals[] = [...perCampaign].map(([campaign, s]) => ({
    campaign,
    impressions: Number(s.impressions),
    clicks: Number(s.clicks),
    conversions: Number(s.conversions),
    revenue: s.revenue,
    spend: s.spend,
    ctrPercent: percent(s.clicks, s.impressions),
    cvrPercent: percent(s.conversions, s.clicks),
  }));

  const topByImpressions = rankBy(campaigns, (c) => c.impressions).slice(0, top);
  const ctrTrend: CtrSeries[] = topByImpressions.map(({ campaign }) => ({
    campaign,
    points: [...bucketed(perWindow.get(campaign)!, bucketOf)]
      .map(([start, s]) => ({
        w: bucketIndex.get(start)!,
        ctr: percent(s.clicks, s.impressions),
        clicks: Number(s.clicks),
        impressions: Number(s.impressions),
        complete: s.complete,
      }))
      .sort((a, b) => a.w - b.w),
  }));

  const earning = rankBy(campaigns.filter((c) => c.revenue > 0), (c) => c.revenue);
  const revenue = earning.slice(0, top).map(({ campaign, revenue }) => ({ campaign, revenue }));
  const rest = earning.slice(top);

  let incompleteWindows = 0;
  for (const byWindow of perWindow.values()) for (const s of byWindow.values()) if (!s.complete) incompleteWindows += 1;

  return {
    title: opts.title ?? DEFAULT_REPORT_TITLE,
    window: opts.window,
    generatedAt: (opts.generatedAt ?? new Date()).toISOString(),
    source: opts.source ?? null,
    topCampaigns: top,
    windows,
    // Several lengths would mean rows of different window sizes were mixed; the smallest keeps points apart.
    windowMs,
    lastWindowEnd,
    trend: { bucketMs, starts: trendStarts },
    totals: {
      rows: rows.length,
      campaigns: perCampaign.size,
      incompleteWindows,
      impressions: Number(all.impressions),
      clicks: Number(all.clicks),
      conversions: Number(all.conversions),
      revenue: all.revenue,
      spend: all.spend,
      ctrPercent: percent(all.clicks, all.impressions),
      cvrPercent: percent(all.conversions, all.clicks),
      roas: all.spend === 0 ? null : all.revenue / all.spend,
    },
    topByImpressions,
    ctrTrend,
    revenue,
    revenueOthers: { campaigns: rest.length, revenue: rest.reduce((sum, c) => sum + c.revenue, 0) },
  };
}

/** Most points per CTR line before consecutive windows are summed into larger buckets. */
export const MAX_TREND_POINTS = 120;
/** Bucket lengths tried, smallest first; each is a multiple of every window size (1m, 5m, 1h). */
const TREND_BUCKETS_MS = [3_600_000, 2 * 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000, 7 * 86_400_000];

/** null when the windows themselves fit; else the smallest bucket that brings the span under the limit. */
function trendBucket(windows: number[], windowMs: number | null): number | null {
  if (windows.length <= MAX_TREND_POINTS || windowMs === null) return null;
  const span = windows[windows.length - 1]! - windows[0]! + windowMs;
  const candidates = [15 * 60_000, 30 * 60_000, ...TREND_BUCKETS_MS].filter((b) => b > windowMs && b % windowMs === 0);
  return candidates.find((b) => span / b <= MAX_TREND_POINTS) ?? candidates[candidates.length - 1] ?? null;
}

/** Per-window sums re-summed per bucket (counts add; `complete` only if every window was). */
function bucketed(byWindow: Map<number, Sums>, bucketOf: (t: number) => number): Map<number, Sums> {
  const out = new Map<number, Sums>();
  for (const [start, s] of byWindow) {
    const b = bucketOf(start);
    const acc = out.get(b);
    if (!acc) out.set(b, { ...s });
    else {
      acc.impressions += s.impressions;
      acc.clicks += s.clicks;
      acc.conversions += s.conversions;
      acc.revenue += s.revenue;
      acc.spend += s.spend;
      acc.complete = acc.complete && s.complete;
    }
  }
  return out;
}

function durationLabel(ms: number): string {
  if (ms % 86_400_000 === 0) return ms === 86_400_000 ? 'day' : `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? 'hour' : `${ms / 3_600_000} hours`;
  return `${ms / 60_000} minutes`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON for a <script type="application/json"> element: `<`, `>` and `&` become \u escapes, so no
 * data value can close the element (`</script>`) or open a comment; JSON.parse restores them.
 * U+2028/2029 are escaped for older JS parsers. bigint values, should any reach here, become numbers.
 */
export function jsonForScript(value: unknown): string {
  const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const money = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function pct(v: number | null): string {
  return v === null ? '–' : `${v.toFixed(2)} %`;
}

function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function windowLabel(window: string): string {
  const seconds = (WINDOW_SIZES as Record<string, number>)[window];
  if (seconds === undefined) return `${window} windows`;
  return seconds % 3600 === 0 ? `${seconds / 3600}-hour windows` : `${seconds / 60}-minute windows`;
}

function summaryHtml(m: MetricsReportModel): string {
  const t = m.totals;
  const range = m.windows.length ? `${utc(m.windows[0]!)} → ${utc(m.lastWindowEnd!)}` : '–';
  const cells: Array<[string, string]> = [
    ['Time range', range],
    ['Windows', count.format(m.windows.length) + (t.incompleteWindows ? ` (${count.format(t.incompleteWindows)} campaign windows still open)` : '')],
    ['Campaigns', count.format(t.campaigns)],
    ['Rows', count.format(t.rows)],
    ['Impressions', count.format(t.impressions)],
    ['Clicks', count.format(t.clicks)],
    ['Conversions', count.format(t.conversions)],
    ['CTR', pct(t.ctrPercent)],
    ['CVR', pct(t.cvrPercent)],
    ['Revenue', money.format(t.revenue)],
    ['Spend', money.format(t.spend)],
    ['ROAS', t.roas === null ? '–' : t.roas.toFixed(2)],
  ];
  const totals = cells.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  const top = m.topByImpressions.length === 0
    ? '<p class="note">No campaigns.</p>'
    : `<table class="top">
<thead><tr><th scope="col">Campaign</th><th scope="col">Impressions</th><th scope="col">Clicks</th><th scope="col">Conversions</th><th scope="col">CTR</th><th scope="col">CVR</th><th scope="col">Revenue</th></tr></thead>
<tbody>
${m.topByImpressions.map((c) => `<tr><td class="id">${escapeHtml(c.campaign)}</td><td>${count.format(c.impressions)}</td><td>${count.format(c.clicks)}</td><td>${count.format(c.conversions)}</td><td>${pct(c.ctrPercent)}</td><td>${pct(c.cvrPercent)}</td><td>${money.format(c.revenue)}</td></tr>`).join('\n')}
</tbody>
</table>`;
  return `<section class="summary">
<div><h2>Totals</h2>
<table class="totals">
${totals}
</table></div>
<div><h2>Top ${m.topCampaigns} campaigns by impressions</h2>
${top}</div>
</section>`;
}

/**
 * Draws the charts from #report-data. Plain ES2020 in a string (this project's TypeScript has no DOM
 * types); every data string reaches the page through textContent or setAttribute, never as markup.
 * The text is static so its CSP hash is computed once.
 */
const DRAW_SCRIPT = `
(function () {
  'use strict';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  var METRIC_COLORS = { impressions: '#4e79a7', clicks: '#f28e2b', conversions: '#e15759', revenue: '#59a14f' };
  var W = 960;
  var LABEL_CHARS = 22;
  var countFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  var compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  var moneyFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG_NS, name);
    for (var k in attrs) node.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(node);
    return node;
  }
  function label(parent, x, y, str, attrs) {
    var a = attrs || {};
    a.x = x; a.y = y;
    var t = el('text', a, parent);
    t.textContent = str;
    return t;
  }
  function tip(node, str) { el('title', {}, node).textContent = str; }
  function short(id) { return id.length > LABEL_CHARS ? id.slice(0, LABEL_CHARS - 1) + '\\u2026' : id; }
  function pct(v) { return v === null ? 'n/a' : v.toFixed(2) + ' %'; }
  function utc(ms) { return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'; }

  function niceTicks(max, count) {
    if (!(max > 0)) max = 1;
    var raw = max / count;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var n = raw / mag;
    var step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
    var top = Math.ceil(max / step - 1e-9) * step;
    var ticks = [];
    for (var i = 0; i * step <= top + step / 2; i++) ticks.push(Number((i * step).toPrecision(12)));
    return { max: top, ticks: ticks };
  }

  var TIME_STEPS = [60e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, 604800e3, 2592000e3];
  function timeTicks(lo, hi, count) {
    var step = TIME_STEPS[TIME_STEPS.length - 1];
    for (var i = 0; i < TIME_STEPS.length; i++) if ((hi - lo) / TIME_STEPS[i] <= count) { step = TIME_STEPS[i]; break; }
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
    return { step: step, ticks: ticks };
  }

  function newChart(host, kind, height, description) {
    var svg = el('svg', { viewBox: '0 0 ' + W + ' ' + height, width: '100%', role: 'img', 'aria-label': description, 'data-chart': kind, 'data-marks': 0, class: 'chart' });
    host.appendChild(svg);
    return svg;
  }
  function noData(svg, x, y, message) { label(svg, x, y, message, { class: 'nodata', 'text-anchor': 'middle' }); }

  function drawCtrTrend(host, m) {
    var series = m.ctrTrend;
    var legendRows = Math.max(series.length, 1);
    var top = 24, bottom = 64, left = 64, right = 220;
    var height = Math.max(380, top + 22 * legendRows + bottom);
    var svg = newChart(host, 'ctr-trend', height, 'CTR per window, top campaigns by impressions');
    var pw = W - left - right, ph = height - top - bottom;
    var marks = 0;
    var maxCtr = 0;
    series.forEach(function (s) { s.points.forEach(function (p) { if (p.ctr !== null && p.ctr > maxCtr) maxCtr = p.ctr; }); });
    var yScale = niceTicks(maxCtr, 5);
    var y = function (v) { return top + ph - (v / yScale.max) * ph; };
    var T = m.trend.starts;
    var lo = T.length ? T[0] : 0;
    var hi = T.length ? T[T.length - 1] : 1;
    if (hi === lo) { var pad = m.trend.bucketMs || m.windowMs || 60e3; lo -= pad; hi += pad; }
    var x = function (t) { return left + ((t - lo) / (hi - lo)) * pw; };

    var grid = el('g', { class: 'grid' }, svg);
    yScale.ticks.forEach(function (v) {
      el('line', { x1: left, x2: left + pw, y1: y(v), y2: y(v) }, grid);
      label(grid, left - 8, y(v) + 4, v + ' %', { 'text-anchor': 'end', class: 'tick' });
    });
    var axis = el('g', { class: 'axis' }, svg);
    el('line', { x1: left, x2: left + pw, y1: top + ph, y2: top + ph }, axis);
    el('line', { x1: left, x2: left, y1: top, y2: top + ph }, axis);
    if (T.length) {
      var tt = timeTicks(lo, hi, 8), prevDay = '';
      tt.ticks.forEach(function (t) {
        var iso = new Date(t).toISOString(), day = iso.slice(0, 10);
        el('line', { x1: x(t), x2: x(t), y1: top + ph, y2: top + ph + 5 }, axis);
        label(axis, x(t), top + ph + 18, tt.step >= 86400e3 ? day : iso.slice(11, 16), { 'text-anchor': 'middle', class: 'tick' });
        if (tt.step < 86400e3 && day !== prevDay) label(axis, x(t), top + ph + 32, day, { 'text-anchor': 'middle', class: 'tick day' });
        prevDay = day;
      });
    }
    label(svg, left + pw / 2, height - 10, m.trend.bucketMs ? 'Bucket start (UTC)' : 'Window start (UTC)', { 'text-anchor': 'middle', class: 'axis-label' });
    label(svg, 16, top + ph / 2, 'CTR (%)', { 'text-anchor': 'middle', class: 'axis-label', transform: 'rotate(-90 16 ' + (top + ph / 2) + ')' });

    var dense = T.length > 120;
    series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      var g = el('g', { class: 'series' }, svg);
      var d = '', prev = null;
      s.points.forEach(function (p) {
        if (p.ctr === null) { prev = null; return; }
        var px = x(T[p.w]).toFixed(1), py = y(p.ctr).toFixed(1);
        d += (prev !== null && prev.w === p.w - 1 ? ' L' : ' M') + px + ' ' + py;
        prev = p;
      });
      if (d) el('path', { d: d.trim(), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round' }, g);
      s.points.forEach(function (p) {
        if (p.ctr === null) return;
        var c = el('circle', { cx: x(T[p.w]).toFixed(1), cy: y(p.ctr).toFixed(1), r: dense ? 1.8 : 3.2, fill: p.complete ? color : '#fff', stroke: color, 'stroke-width': 1.5, class: 'mark' }, g);
        tip(c, s.campaign + '\\n' + utc(T[p.w]) + '\\nCTR ' + pct(p.ctr) + ' (' + countFmt.format(p.clicks) + ' clicks / ' + countFmt.format(p.impressions) + ' impressions)' + (p.complete ? '' : '\\nwindow still open'));
        marks++;
      });
      var ly = top + 6 + i * 22, lx = left + pw + 24;
      var item = el('g', { class: 'legend-item' }, svg);
      el('line', { x1: lx, x2: lx + 18, y1: ly, y2: ly, stroke: color, 'stroke-width': 3 }, item);
      label(item, lx + 26, ly + 4, short(s.campaign), { class: 'legend' });
      tip(item, s.campaign);
    });
    if (!series.length) noData(svg, left + pw / 2, top + ph / 2, 'No data');
    else if (!marks) noData(svg, left + pw / 2, top + ph / 2, 'No window had impressions');
    svg.setAttribute('data-marks', String(marks));
  }

  function drawRevenue(host, m) {
    var rows = m.revenue;
    var top = 12, bottom = 56, left = 190, right = 110, rowH = 28;
    var height = top + Math.max(rows.length, 2) * rowH + bottom;
    var svg = newChart(host, 'revenue', height, 'Revenue by campaign, top campaigns by revenue');
    var pw = W - left - right, ph = height - top - bottom;
    var max = rows.length ? rows[0].revenue : 0;
    var xs = niceTicks(max, 6);
    var x = function (v) { return left + (v / xs.max) * pw; };
    var grid = el('g', { class: 'grid' }, svg);
    xs.ticks.forEach(function (v) {
      el('line', { x1: x(v), x2: x(v), y1: top, y2: top + ph }, grid);
      label(grid, x(v), top + ph + 18, compactFmt.format(v), { 'text-anchor': 'middle', class: 'tick' });
    });
    label(svg, left + pw / 2, height - 10, 'Revenue (sum over all windows)', { 'text-anchor': 'middle', class: 'axis-label' });
    var total = m.totals.revenue;
    var marks = 0;
    rows.forEach(function (r, i) {
      var cy = top + i * rowH;
      var name = label(svg, left - 10, cy + rowH / 2 + 4, short(r.campaign), { 'text-anchor': 'end', class: 'category' });
      tip(name, r.campaign);
      var bar = el('rect', { x: left, y: cy + 4, width: Math.max(1, x(r.revenue) - left).toFixed(1), height: rowH - 8, fill: METRIC_COLORS.revenue, class: 'mark' }, svg);
      tip(bar, r.campaign + '\\nrevenue ' + moneyFmt.format(r.revenue) + (total > 0 ? ' (' + (100 * r.revenue / total).toFixed(1) + ' % of all revenue)' : ''));
      label(svg, x(r.revenue) + 6, cy + rowH / 2 + 4, moneyFmt.format(r.revenue), { class: 'value' });
      marks++;
    });
    el('line', { x1: left, x2: left, y1: top, y2: top + ph, class: 'axis-line' }, svg);
    if (!rows.length) noData(svg, left + pw / 2, top + ph / 2, 'No revenue');
    svg.setAttribute('data-marks', String(marks));
  }

  function drawFunnel(host, m) {
    var rows = m.topByImpressions;
    var metrics = ['impressions', 'clicks', 'conversions'];
    var top = 40, bottom = 40, left = 190, gap = 28, rowH = 26, valueRoom = 56;
    var height = top + Math.max(rows.length, 2) * rowH + bottom;
    var svg = newChart(host, 'funnel', height, 'Impressions, clicks and conversions by campaign, top campaigns by impressions');
    var panelW = (W - left - 12 - gap * (metrics.length - 1)) / metrics.length;
    var ph = height - top - bottom;
    var marks = 0;
    rows.forEach(function (r, i) {
      var name = label(svg, left - 10, top + i * rowH + rowH / 2 + 4, short(r.campaign), { 'text-anchor': 'end', class: 'category' });
      tip(name, r.campaign);
    });
    metrics.forEach(function (metric, k) {
      var x0 = left + k * (panelW + gap), barMax = panelW - valueRoom;
      var color = METRIC_COLORS[metric];
      var max = 0;
      rows.forEach(function (r) { if (r[metric] > max) max = r[metric]; });
      var xs = niceTicks(max, 4);
      var head = el('g', { class: 'legend-item' }, svg);
      el('rect', { x: x0, y: 10, width: 12, height: 12, fill: color }, head);
      label(head, x0 + 18, 20, metric.charAt(0).toUpperCase() + metric.slice(1), { class: 'legend' });
      var grid = el('g', { class: 'grid' }, svg);
      xs.ticks.forEach(function (v) {
        var gx = x0 + (v / xs.max) * barMax;
        el('line', { x1: gx, x2: gx, y1: top - 4, y2: top + ph }, grid);
        label(grid, gx, top + ph + 16, compactFmt.format(v), { 'text-anchor': 'middle', class: 'tick' });
      });
      el('line', { x1: x0, x2: x0, y1: top - 4, y2: top + ph, class: 'axis-line' }, svg);
      rows.forEach(function (r, i) {
        var v = r[metric], cy = top + i * rowH;
        var w = (v / xs.max) * barMax;
        if (v > 0) {
          var bar = el('rect', { x: x0, y: cy + 4, width: Math.max(1, w).toFixed(1), height: rowH - 8, fill: color, class: 'mark' }, svg);
          var extra = metric === 'clicks' ? ' (CTR ' + pct(r.ctrPercent) + ')' : metric === 'conversions' ? ' (CVR ' + pct(r.cvrPercent) + ')' : '';
          tip(bar, r.campaign + '\\n' + countFmt.format(v) + ' ' + metric + extra);
          marks++;
        }
        label(svg, x0 + Math.max(w, 0) + 5, cy + rowH / 2 + 4, compactFmt.format(v), { class: 'value' });
      });
    });
    label(svg, left + (W - left) / 2, height - 6, 'Count over all windows (each panel has its own scale)', { 'text-anchor': 'middle', class: 'axis-label' });
    if (!rows.length) noData(svg, left + (W - left) / 2, top + ph / 2, 'No data');
    svg.setAttribute('data-marks', String(marks));
  }

  var drawn = 0;
  try {
    var model = JSON.parse(document.getElementById('report-data').textContent);
    drawCtrTrend(document.getElementById('chart-ctr-trend'), model); drawn++;
    drawRevenue(document.getElementById('chart-revenue'), model); drawn++;
    drawFunnel(document.getElementById('chart-funnel'), model); drawn++;
    document.body.dataset.chartsDrawn = String(drawn);
  } catch (e) {
    var box = document.getElementById('report-error');
    box.textContent = 'The charts could not be drawn (' + drawn + ' of 3 drawn): ' + (e && e.stack ? e.stack : String(e));
    box.hidden = false;
    document.body.dataset.chartsDrawn = 'error';
  }
})();
`;

/** The CSP source for DRAW_SCRIPT: only this exact script may run, so injected markup could not execute. */
const DRAW_SCRIPT_HASH = `'sha256-${createHash('sha256').update(DRAW_SCRIPT, 'utf8').digest('base64')}'`;

const CSP = `default-src 'none'; script-src ${DRAW_SCRIPT_HASH}; style-src 'unsafe-inline'; img-src data:`;

const STYLE = `
:root { --ink: #1f2933; --muted: #616e7c; --rule: #e4e7eb; --panel: #f8f9fa; --error: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; line-height: 1.45; }
header, main, footer { max-width: 1040px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.1rem; margin: 28px 0 6px; }
.sub, .note, footer { color: var(--muted); font-size: 0.9rem; }
.note { margin: 0 0 8px; }
.empty { padding: 12px 16px; background: var(--panel); border-left: 4px solid #4e79a7; }
#report-error { padding: 12px 16px; border-left: 4px solid var(--error); color: var(--error); background: #fdecea; white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem; }
.summary { display: flex; flex-wrap: wrap; gap: 32px; }
table { border-collapse: collapse; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: right; }
th[scope="row"], td.id, thead th:first-child { text-align: left; }
td.id { max-width: 260px; overflow-wrap: anywhere; }
thead th { color: var(--muted); font-weight: 600; }
.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
.chart text { fill: var(--ink); }
.chart .tick, .chart .value { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.chart .axis-label { fill: var(--muted); font-size: 12px; }
.chart .nodata { fill: var(--muted); font-size: 16px; }
.chart .grid line { stroke: var(--rule); }
.chart .axis line, .chart .axis-line { stroke: #9aa5b1; }
.chart .mark:hover { opacity: 0.8; }
footer { margin-top: 32px; padding-bottom: 28px; border-top: 1px solid var(--rule); padding-top: 12px; }
`;

/**
 * One self-contained HTML document for `campaign_metrics` rows (see the module comment). Every data
 * string is escaped for HTML here and drawn through textContent in the page.
 */
export function renderMetricsReport(rows: readonly CampaignMetricsRow[], opts: MetricsReportOptions): string {
  const m = buildMetricsReportModel(rows, opts);
  const n = m.topCampaigns;
  const range = m.windows.length ? ` · ${utc(m.windows[0]!)} → ${utc(m.lastWindowEnd!)}` : '';
  const others = m.revenueOthers.campaigns
    ? ` The other ${count.format(m.revenueOthers.campaigns)} campaigns with revenue add ${money.format(m.revenueOthers.revenue)}.`
    : '';
  const empty = rows.length === 0
    ? `<p class="empty">There are no metrics rows to report${m.source ? ` in ${escapeHtml(m.source)}` : ''}: no window has been materialized yet. Ingest events and run the metrics job, then render the report again. The charts below are drawn empty.</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>${escapeHtml(m.title)}</title>
<style>${STYLE}</style>
</head>
<body data-charts-drawn="0">
<header>
<h1>${escapeHtml(m.title)}</h1>
<p class="sub">${escapeHtml(windowLabel(m.window))} · ${count.format(m.totals.campaigns)} campaigns${escapeHtml(range)}</p>
</header>
<main>
<div id="report-error" role="alert" hidden></div>
<noscript><p class="empty">The charts are drawn by a small script in this file; allow JavaScript to see them. The tables need none.</p></noscript>
${empty}
${summaryHtml(m)}
<section>
<h2>CTR per ${m.trend.bucketMs ? escapeHtml(durationLabel(m.trend.bucketMs)) : 'window'}</h2>
<p class="note">Top ${n} campaigns by impressions. CTR = 100 × clicks / impressions, summed over platform, country and channel${m.trend.bucketMs ? ` and over the windows of each ${escapeHtml(durationLabel(m.trend.bucketMs))} (${count.format(m.windows.length)} windows are too many to draw one by one)` : ''}; a gap is a ${m.trend.bucketMs ? 'period' : 'window'} without impressions. Hollow points are ${m.trend.bucketMs ? 'periods with a window' : 'windows'} still open when the metrics were computed.</p>
<div id="chart-ctr-trend"></div>
</section>
<section>
<h2>Revenue by campaign</h2>
<p class="note">Top ${n} campaigns by revenue, summed over all windows.${others}</p>
<div id="chart-revenue"></div>
</section>
<section>
<h2>Impressions, clicks and conversions</h2>
<p class="note">Top ${n} campaigns by impressions. Each panel has its own scale, so clicks and conversions stay visible beside impressions.</p>
<div id="chart-funnel"></div>
</section>
</main>
<footer>Generated ${escapeHtml(utc(Date.parse(m.generatedAt)))}${m.source ? ` from ${escapeHtml(m.source)}` : ''} by lakehouse. This file is self-contained: it loads nothing from the network.</footer>
<script type="application/json" id="report-data">${jsonForScript(m)}</script>
<script>${DRAW_SCRIPT}</script>
</body>
</html>
`;
}
