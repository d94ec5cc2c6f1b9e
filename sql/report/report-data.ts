/**
 * What the campaign_metrics report hands from Node to the page: the model Node aggregates from the rows
 * (embedded in the HTML as JSON) and the ids of the elements the page's drawing script reads and fills.
 * Both sides import these types, so a field renamed on one side fails type-checking on the other.
 */

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

/** Element ids the HTML declares and the drawing script looks up. */
export interface ReportElementIds {
  /** The <script type="application/json"> holding the {@link MetricsReportModel}. */
  data: string;
  /** Hidden box that shows why the charts could not be drawn. */
  error: string;
  ctrTrend: string;
  revenue: string;
  funnel: string;
}

export const REPORT_ELEMENT_IDS: ReportElementIds = {
  data: 'report-data',
  error: 'report-error',
  ctrTrend: 'chart-ctr-trend',
  revenue: 'chart-revenue',
  funnel: 'chart-funnel',
};
