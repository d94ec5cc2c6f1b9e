import { Schema, T, type NestedField, type PartitionSpec } from '../iceberg/index.ts';

/**
 * The `campaign_metrics` table: one row per tumbling window per campaign (and per selected
 * extra dimension), materialized from `campaign_events` by sql/campaign_metrics.sql. Catalogs assign
 * fresh field ids in column order when a table is created (as Java's do), so the ids below only fix the
 * order; the grain columns come first so a table with dimensions reads naturally.
 */
export const CAMPAIGN_METRICS_TABLE = 'campaign_metrics';

/**
 * Summary key of a metrics snapshot: the campaign_events snapshot id the metrics are current with. The
 * metrics job reads the events snapshots after it, so snapshot expiry keeps it (maintenance/retention.ts).
 */
export const SOURCE_SNAPSHOT_KEY = 'lakehouse.metrics.source-snapshot-id';
/** Table property of a metrics table: the events table it is computed from, `namespace.table`. */
export const SOURCE_TABLE_PROPERTY = 'lakehouse.metrics.source-table';

/** Window sizes a deployment may choose; windows are aligned to the UTC epoch. */
export const WINDOW_SIZES = { '1m': 60, '5m': 300, '1h': 3600 } as const;
export type WindowSize = keyof typeof WINDOW_SIZES;
export const DEFAULT_WINDOW: WindowSize = '5m';

/** Extra grouping dimensions, in the order they appear in the table when selected. */
export const METRIC_DIMENSIONS = ['platform', 'country', 'channel'] as const;
export type MetricDimension = (typeof METRIC_DIMENSIONS)[number];

const DIMENSION_FIELDS: Record<MetricDimension, NestedField> = {
  platform: T.field(16, 'platform', T.string(), false, 'Grouping dimension (selected at table creation)'),
  country: T.field(17, 'country', T.string(), false, 'Grouping dimension (selected at table creation)'),
  channel: T.field(18, 'channel', T.string(), false, 'Grouping dimension (selected at table creation)'),
};

/** The schema for a choice of dimensions: grain columns first, then the measures (README: metric definitions). */
export function campaignMetricsSchema(dimensions: readonly MetricDimension[] = []): Schema {
  const dims = METRIC_DIMENSIONS.filter((d) => dimensions.includes(d)).map((d) => DIMENSION_FIELDS[d]);
  return new Schema([
    T.field(1, 'window_start', T.timestamptz(), true, 'Start of the tumbling window (inclusive, UTC-aligned)'),
    T.field(2, 'window_end', T.timestamptz(), true, 'End of the window (exclusive)'),
    T.field(3, 'campaign_id', T.string(), true),
    ...dims,
    T.field(4, 'impressions', T.long(), true, 'Distinct event_id of type impression'),
    T.field(5, 'clicks', T.long(), true, 'Distinct event_id of type click'),
    T.field(6, 'conversions', T.long(), true, 'Distinct event_id of type conversion'),
    T.field(7, 'revenue', T.double(), true, 'Sum of revenue'),
    T.field(8, 'spend', T.double(), true, 'Sum of cost (0 when no event carries one)'),
    T.field(9, 'ctr_percent', T.double(), false, '100 * clicks / impressions; NULL when impressions = 0'),
    T.field(10, 'cvr_percent', T.double(), false, '100 * conversions / clicks; NULL when clicks = 0'),
    T.field(11, 'cpc', T.double(), false, 'spend / clicks; NULL when clicks = 0'),
    T.field(12, 'cpa', T.double(), false, 'spend / conversions; NULL when conversions = 0'),
    T.field(13, 'roas', T.double(), false, 'revenue / spend; NULL when spend = 0'),
    T.field(14, 'complete', T.boolean(), true, 'window_end <= the watermark when the row was computed'),
    T.field(15, 'processed_at', T.timestamptz(), true, 'When the metrics job computed the row'),
  ]);
}

/** day(window_start): a dashboard's time range prunes to whole days. */
export const campaignMetricsSpec: PartitionSpec = {
  specId: 0,
  fields: [{ sourceId: 1, fieldId: 1000, name: 'window_start_day', transform: 'day' }],
};

/**
 * One row as lakehouse's table reader returns it (Iceberg value representation: timestamptz and long
 * as bigint microseconds / counts, double as number).
 */
export interface CampaignMetricsRow {
  window_start: bigint;
  window_end: bigint;
  campaign_id: string;
  platform?: string | null;
  country?: string | null;
  channel?: string | null;
  impressions: bigint;
  clicks: bigint;
  conversions: bigint;
  revenue: number;
  spend: number;
  ctr_percent: number | null;
  cvr_percent: number | null;
  cpc: number | null;
  cpa: number | null;
  roas: number | null;
  complete: boolean;
  processed_at: bigint;
}
