/**
 * The notebook's questions (notebooks/campaign-analysis.ipynb) from a Node program, through the library:
 * open the catalog the CLI opens (`lakehouse/catalog`), and query its tables by name with DuckDB
 * (`lakehouse/sql`), at the current snapshot and at the table's first one.
 *
 *   lakehouse demo && npm run build && node --import tsx examples/campaign-sql.ts [PROJECT_DIR]
 *
 * PROJECT_DIR (default: the working directory) is where the CLI would run: its lakehouse.config.json,
 * else ./warehouse/catalog.db. Prints one JSON line per question.
 */
import path from 'node:path';
import { loadCatalog } from 'lakehouse/catalog';
import { SqlSession } from 'lakehouse/sql';

const cwd = path.resolve(process.argv[2] ?? '.');
const say = (step: string, fields: Record<string, unknown>) =>
  console.log(JSON.stringify({ step, ...fields }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
/** One statement's rows as objects (column name -> value; BIGINT as bigint, timestamps as ISO-8601). */
const rows = async (session: SqlSession, sql: string) => {
  const [r] = await session.query(sql);
  return r!.values.map((row) => Object.fromEntries(r!.columns.map((c, i) => [c.name, row[i]])));
};

const catalog = await loadCatalog({ cwd });
try {
  const now = await SqlSession.open({ catalog });
  try {
    say('tables', { tables: await now.tableNames() });
    const [counts] = await rows(now, `
      SELECT (SELECT count(*) FROM lakehouse.campaign_events) AS events, (SELECT count(*) FROM lakehouse.campaign_metrics) AS metric_rows`);
    say('current', counts!);

    // Click-through rate per hour over every campaign, from the metrics windows.
    const hourly = await rows(now, `
      SELECT date_trunc('hour', window_start) AS hour, 100.0 * sum(clicks) / nullif(sum(impressions), 0) AS ctr_percent
      FROM lakehouse.campaign_metrics GROUP BY 1 ORDER BY 1`);
    say('hourly-ctr', { hours: hourly.length, first: hourly[0], last: hourly.at(-1) });

    const top = await rows(now, `
      SELECT campaign_id, sum(impressions) AS impressions, round(100.0 * sum(clicks) / sum(impressions), 2) AS ctr_percent
      FROM lakehouse.campaign_metrics GROUP BY 1 ORDER BY impressions DESC, campaign_id LIMIT 5`);
    say('top-campaigns', { campaigns: top });
  } finally {
    now.close();
  }

  // Dead letters per ingest commit, from the snapshot summaries the ingest writes.
  const events = await catalog.loadTable({ namespace: ['lakehouse'], name: 'campaign_events' });
  const snapshots = [...events.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
  const deadLettered = snapshots.reduce((n, s) => n + Number(s.summary['lakehouse.ingest.dead-lettered'] ?? 0), 0);
  say('dead-letters', { commits: snapshots.length, deadLettered });

  // Time travel: the same question against the table's first snapshot.
  const first = snapshots[0]!;
  const then = await SqlSession.open({ catalog, snapshotId: first.snapshotId });
  try {
    const [c] = await rows(then, `
      SELECT count(*) AS events, round(100.0 * count(*) FILTER (WHERE event_type = 'click') / count(*) FILTER (WHERE event_type = 'impression'), 2) AS ctr_percent
      FROM lakehouse.campaign_events`);
    say('first-snapshot', { snapshotId: first.snapshotId, ...c });
  } finally {
    then.close();
  }
} finally {
  await catalog.close();
}
