-- campaign_metrics: tumbling-window metrics per campaign from campaign_events.
-- The definitions are the README's "Metric definitions"; this file is what `lakehouse metrics run` executes.
--
-- Input:  a table or view `campaign_events` with the campaign_events columns, and four variables.
-- Output: the view `campaign_metrics_result`, one row per window and grain, in the campaign_metrics column
--         order, over `campaign_metrics_sums` (the counts and exact sums per window and grain); and
--         `duplicate_copies`, every copy of every repeated event_id ranked (copy_rank > 1: the copies that
--         do not count).
--
-- Run it by hand in the DuckDB CLI over a local warehouse:
--   SET TimeZone = 'UTC';
--   CREATE VIEW campaign_events AS SELECT * FROM read_parquet('warehouse/lakehouse/campaign_events/data/**/*.parquet');
--   SET VARIABLE window_seconds = 300;                      -- 60, 300 or 3600
--   SET VARIABLE dimensions = []::VARCHAR[];                -- or ['platform'], ['platform', 'country', 'channel']
--   SET VARIABLE watermark = (SELECT max(event_time) FROM campaign_events) - INTERVAL 10 MINUTE;
--   SET VARIABLE processed_at = now();
--   .read sql/campaign_metrics.sql
--   SELECT * FROM campaign_metrics_result ORDER BY window_start, campaign_id;
-- (A glob over the data folder also reads files that later snapshots replaced; the job passes exactly the
-- files of the table's current snapshot that can hold the windows it recomputes.)

-- Each event_id counts once: the copy with the earliest processed_at (the first ingested) wins; the
-- remaining columns only break exact ties so the choice never depends on file order.
-- Most ids have one copy, so only the ids whose 64-bit hash repeats go through the window function (an id
-- that merely shares a hash with another is ranked alone and kept): memory follows the duplicates, not the
-- table, and the rest streams straight into the aggregation.
CREATE OR REPLACE TEMP TABLE repeated_hashes AS
SELECT hash(event_id) AS h FROM campaign_events GROUP BY h HAVING count(*) > 1;

-- Every copy of a repeated id with its rank; copy_rank 1 is the copy that counts.
CREATE OR REPLACE TEMP TABLE duplicate_copies AS
SELECT *, row_number() OVER (
    PARTITION BY event_id
    ORDER BY processed_at, event_time, event_type, campaign_id, user_id, platform, country, device_type, channel, revenue, cost
) AS copy_rank
FROM campaign_events
WHERE hash(event_id) IN (SELECT h FROM repeated_hashes);

CREATE OR REPLACE TEMP VIEW unique_events AS
SELECT * FROM campaign_events WHERE hash(event_id) NOT IN (SELECT h FROM repeated_hashes)
UNION ALL BY NAME
SELECT * EXCLUDE (copy_rank) FROM duplicate_copies WHERE copy_rank = 1;

-- Revenue and cost are summed exactly: each amount counts to 12 decimal places (DECIMAL(38,12)), the sum is
-- integer arithmetic, and only the total is rounded to a double. A window's sums therefore do not depend on
-- the order DuckDB's threads add its rows in, and the sums of a window's parts add up to exactly the sum of
-- the whole: what lets a resident metrics runner add new events to a window without reading it again.
CREATE OR REPLACE TEMP TABLE campaign_metrics_sums AS
WITH windowed AS (
    -- Windows are aligned to the UTC epoch: window_start = floor(event_time / size) * size, in microseconds.
    SELECT
        make_timestamptz(epoch_us(event_time) // (getvariable('window_seconds')::BIGINT * 1000000)
                                              * (getvariable('window_seconds')::BIGINT * 1000000)) AS window_start,
        * EXCLUDE (processed_at)
    FROM unique_events
)
SELECT
    window_start,
    -- campaign_id plus the selected dimensions form the grain.
    COLUMNS(c -> c = 'campaign_id' OR list_contains(getvariable('dimensions'), c)),
    count(*) FILTER (WHERE event_type = 'impression') AS impressions,
    count(*) FILTER (WHERE event_type = 'click') AS clicks,
    count(*) FILTER (WHERE event_type = 'conversion') AS conversions,
    coalesce(sum(revenue::DECIMAL(38, 12)), 0)::DECIMAL(38, 12) AS revenue,
    coalesce(sum(cost::DECIMAL(38, 12)), 0)::DECIMAL(38, 12) AS spend
FROM windowed
GROUP BY ALL;

-- The rows of campaign_metrics from a table of sums like campaign_metrics_sums.
CREATE OR REPLACE TEMP MACRO campaign_metrics_rows(sums) AS TABLE
SELECT
    window_start,
    window_start + to_seconds(getvariable('window_seconds')) AS window_end,
    COLUMNS(c -> c = 'campaign_id' OR list_contains(getvariable('dimensions'), c)),
    impressions,
    clicks,
    conversions,
    revenue::DOUBLE AS revenue,
    spend::DOUBLE AS spend,
    CASE WHEN impressions = 0 THEN NULL ELSE 100 * clicks::DOUBLE / impressions END AS ctr_percent,
    CASE WHEN clicks = 0 THEN NULL ELSE 100 * conversions::DOUBLE / clicks END AS cvr_percent,
    CASE WHEN clicks = 0 THEN NULL ELSE spend::DOUBLE / clicks END AS cpc,
    CASE WHEN conversions = 0 THEN NULL ELSE spend::DOUBLE / conversions END AS cpa,
    CASE WHEN spend = 0 THEN NULL ELSE revenue::DOUBLE / spend::DOUBLE END AS roas,
    window_start + to_seconds(getvariable('window_seconds')) <= getvariable('watermark') AS complete,
    getvariable('processed_at')::TIMESTAMPTZ AS processed_at
FROM query_table(sums);

-- A view: the job reads it once, in order, a chunk at a time.
CREATE OR REPLACE TEMP VIEW campaign_metrics_result AS SELECT * FROM campaign_metrics_rows(campaign_metrics_sums);
