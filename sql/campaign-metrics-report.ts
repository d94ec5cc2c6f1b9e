import { LakehouseError } from '../core/errors.ts';
import { WINDOW_SIZES, type CampaignMetricsRow } from '../domain/campaign-metrics-table.ts';
import { drawReport } from './report/draw-report.ts';
import { jsonForScript, pageScript, scriptHash } from './report/page-script.ts';
import { REPORT_ELEMENT_IDS, type CampaignTotals, type CtrSeries, type MetricsReportModel } from './report/report-data.ts';

export { jsonForScript } from './report/page-script.ts';
export type { CampaignTotals, CtrPoint, CtrSeries, MetricsReportModel } from './report/report-data.ts';

/**
 * The self-contained HTML report of `campaign_metrics` that `make demo` writes: one file that opens in a
 * browser with no server and loads nothing (no CDN, fonts or images; a Content-Security-Policy forbids
 * every fetch and lets only the report's own script run). Node aggregates the rows into a small model
 * (sql/report/report-data.ts), embedded as JSON; an inline script, the source of sql/report/draw-report.ts,
 * draws three SVG charts from it at load time:
 *   - `ctr-trend`: CTR % per window, one line per campaign (top N by impressions). A mark is a point
 *     with a CTR; windows without impressions, or without a row, are gaps.
 *   - `revenue`: horizontal bars, top N campaigns by revenue. A mark is a bar (campaigns with revenue > 0).
 *   - `funnel`: impressions, clicks and conversions as three small multiples over the same campaigns
 *     (top N by impressions), each with its own linear scale so clicks and conversions stay visible.
 *     A mark is a bar with a value > 0.
 * Each chart's <svg> carries `data-chart` and `data-marks` (marks drawn); `body[data-charts-drawn]` is the
 * number of charts drawn, or `error` with the message in `#report-error`. tests/integration/
 * campaign-metrics-report-chromium.test.ts checks these in headless Chromium.
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

/** Draws the charts; built once, so its CSP hash is computed once. */
const DRAW_SCRIPT = pageScript(drawReport, REPORT_ELEMENT_IDS);

/** Only the exact drawing script may run, so injected markup could not execute. */
const CSP = `default-src 'none'; script-src ${scriptHash(DRAW_SCRIPT)}; style-src 'unsafe-inline'; img-src data:`;

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
#${REPORT_ELEMENT_IDS.error} { padding: 12px 16px; border-left: 4px solid var(--error); color: var(--error); background: #fdecea; white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem; }
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
<div id="${REPORT_ELEMENT_IDS.error}" role="alert" hidden></div>
<noscript><p class="empty">The charts are drawn by a small script in this file; allow JavaScript to see them. The tables need none.</p></noscript>
${empty}
${summaryHtml(m)}
<section>
<h2>CTR per ${m.trend.bucketMs ? escapeHtml(durationLabel(m.trend.bucketMs)) : 'window'}</h2>
<p class="note">Top ${n} campaigns by impressions. CTR = 100 × clicks / impressions, summed over platform, country and channel${m.trend.bucketMs ? ` and over the windows of each ${escapeHtml(durationLabel(m.trend.bucketMs))} (${count.format(m.windows.length)} windows are too many to draw one by one)` : ''}; a gap is a ${m.trend.bucketMs ? 'period' : 'window'} without impressions. Hollow points are ${m.trend.bucketMs ? 'periods with a window' : 'windows'} still open when the metrics were computed.</p>
<div id="${REPORT_ELEMENT_IDS.ctrTrend}"></div>
</section>
<section>
<h2>Revenue by campaign</h2>
<p class="note">Top ${n} campaigns by revenue, summed over all windows.${others}</p>
<div id="${REPORT_ELEMENT_IDS.revenue}"></div>
</section>
<section>
<h2>Impressions, clicks and conversions</h2>
<p class="note">Top ${n} campaigns by impressions. Each panel has its own scale, so clicks and conversions stay visible beside impressions.</p>
<div id="${REPORT_ELEMENT_IDS.funnel}"></div>
</section>
</main>
<footer>Generated ${escapeHtml(utc(Date.parse(m.generatedAt)))}${m.source ? ` from ${escapeHtml(m.source)}` : ''} by lakehouse. This file is self-contained: it loads nothing from the network.</footer>
<script type="application/json" id="${REPORT_ELEMENT_IDS.data}">${jsonForScript(m)}</script>
<script>${DRAW_SCRIPT}</script>
</body>
</html>
`;
}
