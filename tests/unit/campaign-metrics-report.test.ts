/**
 * The pure half of the metrics report (sql/metrics-report.ts): aggregation, ranking, escaping and the
 * document's self-containment. That the charts draw is proven in a browser by
 * tests/integration/metrics-report-chromium.test.ts.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CampaignMetricsRow } from '../../domain/campaign-metrics-table.ts';
import { buildMetricsReportModel, escapeHtml, jsonForScript, renderMetricsReport } from '../../sql/campaign-metrics-report.ts';

const MIN_5 = 300_000_000n; // microseconds
const T0 = BigInt(Date.parse('2024-03-09T23:55:00Z')) * 1000n;

function row(w: number, campaign: string, impressions: bigint, clicks: bigint, conversions: bigint, revenue: number, extra: Partial<CampaignMetricsRow> = {}): CampaignMetricsRow {
  return {
    window_start: T0 + BigInt(w) * MIN_5, window_end: T0 + BigInt(w + 1) * MIN_5, campaign_id: campaign,
    impressions, clicks, conversions, revenue, spend: 1,
    // Deliberately not consistent with the counts: the report must recompute ratios from sums.
    ctr_percent: 99, cvr_percent: 99, cpc: 1, cpa: 1, roas: 1,
    complete: true, processed_at: T0, ...extra,
  };
}

/** The JSON the page draws from, as the browser would parse it. */
function embeddedModel(html: string): unknown {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!);
}

describe('buildMetricsReportModel', () => {
  it('sums rows of one window and campaign across dimensions and takes CTR from the sums', () => {
    const m = buildMetricsReportModel([
      row(0, 'a', 100n, 1n, 0n, 5, { platform: 'ios', country: 'DE', channel: 'search' }),
      row(0, 'a', 300n, 9n, 3n, 7, { platform: 'android', country: 'FR', channel: 'social' }),
      row(1, 'a', 200n, 4n, 1n, 2, { platform: 'ios', country: 'DE', channel: 'search' }),
    ], { window: '5m' });

    expect(m.windows).toEqual([Date.parse('2024-03-09T23:55:00Z'), Date.parse('2024-03-10T00:00:00Z')]);
    // 10 / 400 = 2.5 %, not the mean of 1 % and 3 %, and not the rows' ctr_percent.
    expect(m.ctrTrend).toEqual([{ campaign: 'a', points: [
      { w: 0, ctr: 2.5, clicks: 10, impressions: 400, complete: true },
      { w: 1, ctr: 2, clicks: 4, impressions: 200, complete: true },
    ] }]);
    expect(m.topByImpressions[0]).toMatchObject({ campaign: 'a', impressions: 600, clicks: 14, conversions: 4, revenue: 14 });
    expect(m.totals).toMatchObject({ rows: 3, campaigns: 1, impressions: 600, clicks: 14, conversions: 4, revenue: 14, spend: 3 });
    expect(m.lastWindowEnd).toBe(Date.parse('2024-03-10T00:05:00Z'));
    expect(m.windowMs).toBe(300_000);
  });

  it('gives a null CTR (a gap) for a window with clicks but no impressions, and a null CVR without clicks', () => {
    const m = buildMetricsReportModel([row(0, 'a', 0n, 2n, 1n, 0), row(1, 'a', 50n, 0n, 0n, 0)], { window: '5m' });

    expect(m.ctrTrend[0]!.points.map((p) => p.ctr)).toEqual([null, 0]);
    expect(m.topByImpressions[0]).toMatchObject({ ctrPercent: 4, cvrPercent: 50 });
    const noClicks = buildMetricsReportModel([row(0, 'b', 50n, 0n, 0n, 0)], { window: '5m' });
    expect(noClicks.topByImpressions[0]!.cvrPercent).toBeNull();
    expect(noClicks.totals.cvrPercent).toBeNull();
  });

  it('marks a window open when any of its rows is incomplete', () => {
    const m = buildMetricsReportModel([
      row(0, 'a', 10n, 1n, 0n, 0, { platform: 'ios' }),
      row(0, 'a', 10n, 1n, 0n, 0, { platform: 'web', complete: false }),
    ], { window: '5m' });

    expect(m.ctrTrend[0]!.points[0]!.complete).toBe(false);
    expect(m.totals.incompleteWindows).toBe(1);
  });

  it('keeps the top N by impressions and, separately, the top N with revenue > 0, ties by campaign id', () => {
    const m = buildMetricsReportModel([
      row(0, 'c', 500n, 1n, 0n, 0),
      row(0, 'b', 300n, 1n, 1n, 40),
      row(0, 'a', 300n, 1n, 1n, 40),
      row(0, 'd', 10n, 1n, 1n, 90),
      row(0, 'e', 5n, 1n, 1n, 1),
    ], { window: '5m', topCampaigns: 2 });

    expect(m.topByImpressions.map((c) => c.campaign)).toEqual(['c', 'a']);
    expect(m.ctrTrend.map((s) => s.campaign)).toEqual(['c', 'a']);
    expect(m.revenue).toEqual([{ campaign: 'd', revenue: 90 }, { campaign: 'a', revenue: 40 }]);
    expect(m.revenueOthers).toEqual({ campaigns: 2, revenue: 41 });
  });

  it('sums consecutive windows into buckets when there are too many to draw, CTR from the bucket sums', () => {
    // 300 five-minute windows (25 h): 15-minute buckets give 100 points, under the limit of 120.
    const rows = Array.from({ length: 300 }, (_, w) => row(w + 1, 'a', 10n, BigInt(w % 3), 0n, 0));
    const m = buildMetricsReportModel(rows, { window: '5m' });
    expect(m.trend.bucketMs).toBe(15 * 60_000);
    expect(m.trend.starts).toHaveLength(100);
    const first = m.ctrTrend[0]!.points[0]!;
    // T0 is 23:55, so window 1 starts at 00:00: the first bucket holds windows 1..3 (clicks 1 + 2 + 0).
    expect(first).toMatchObject({ w: 0, impressions: 30, clicks: 3, ctr: 10 });
    expect(buildMetricsReportModel(rows.slice(0, 100), { window: '5m' }).trend.bucketMs).toBeNull();
  });

  it('converts bigint counts and microsecond timestamps to JSON-safe numbers', () => {
    const m = buildMetricsReportModel([row(0, 'a', 5_000_000_000n, 7n, 1n, 1)], { window: '5m' });

    expect(() => JSON.stringify(m)).not.toThrow();
    expect(m.totals.impressions).toBe(5_000_000_000);
    expect(typeof m.windows[0]).toBe('number');
  });

  it('rejects options that make no report, naming the option', () => {
    expect(() => buildMetricsReportModel([], { window: '5m', topCampaigns: 0 })).toThrow(/topCampaigns/);
    expect(() => buildMetricsReportModel([], { window: '5m', topCampaigns: 2.5 })).toThrow(/topCampaigns/);
    expect(() => buildMetricsReportModel([], { window: '' })).toThrow(/window/);
  });
});

describe('escaping', () => {
  it('escapeHtml leaves no markup or attribute delimiter', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('jsonForScript cannot close its <script> element and parses back to the same value', () => {
    const value = { id: '</script><script>alert(1)</script><!-- & \u2028', n: 12n };
    const json = jsonForScript(value);

    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual({ id: value.id, n: 12 });
  });

  it('renders a hostile campaign id only as escaped text, and intact in the embedded data', () => {
    const hostile = `</script><script>alert("x")</script><img src=x onerror='alert(1)'>`;
    const html = renderMetricsReport([row(0, hostile, 10n, 1n, 1n, 3)], { window: '5m', title: '<b>Q1</b>', source: 'a "b" <c>' });

    expect(html).not.toContain(hostile);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html).toContain('<td class="id">&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt;</td>');
    expect(html).toContain('<title>&lt;b&gt;Q1&lt;/b&gt;</title>');
    expect(html).toContain('from a &quot;b&quot; &lt;c&gt; by lakehouse');
    expect((embeddedModel(html) as { topByImpressions: Array<{ campaign: string }> }).topByImpressions[0]!.campaign).toBe(hostile);
  });
});

describe('renderMetricsReport', () => {
  it('loads nothing from outside the file, and its CSP admits exactly its drawing script', () => {
    const html = renderMetricsReport([row(0, 'a', 10n, 1n, 1n, 3)], { window: '5m' });

    expect(html).not.toMatch(/\s(src|href)=/i);
    expect(html).not.toMatch(/url\(|@import/i);
    // The one URL is the SVG namespace name, which is never fetched.
    expect(html.match(/https?:\/\/[^\s'"]+/g)).toEqual(['http://www.w3.org/2000/svg']);
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const hash = createHash('sha256').update(script).digest('base64');
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-${hash}';`);
  });

  it('explains an empty report and still embeds a drawable model with no rows', () => {
    const html = renderMetricsReport([], { window: '1h', source: 'lakehouse.campaign_metrics' });

    expect(html).toContain('There are no metrics rows to report in lakehouse.campaign_metrics');
    expect(html).toContain('1-hour windows · 0 campaigns');
    expect(embeddedModel(html)).toMatchObject({ windows: [], ctrTrend: [], revenue: [], topByImpressions: [], windowMs: null, lastWindowEnd: null });
  });

  it('shows the generation time and source in the footer', () => {
    const html = renderMetricsReport([], { window: '5m', generatedAt: new Date('2024-03-10T00:20:31Z'), source: 'lakehouse.campaign_metrics @ snapshot 7' });

    expect(html).toMatch(/<footer>Generated 2024-03-10 00:20 UTC from lakehouse\.campaign_metrics @ snapshot 7 /);
  });
});
