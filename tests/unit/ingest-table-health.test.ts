import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EventsTableEnv, closeEventsTable, openEventsTable } from '../support/events-table.ts';
import { maintainOnce, maintenanceSteps } from '../../maintenance/maintain.ts';
import { MemoryDeadLetterSink } from '../../pipeline/dead-letters.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { FileSource } from '../../pipeline/file-source.ts';
import { Ingestor } from '../../pipeline/ingest.ts';

/**
 * An ingest flushing every second commits 3,600 snapshots an hour, each adding a small file per partition
 * it touched and a manifest. Here the same at a smaller scale: rounds of many tiny flushes by the real
 * Ingestor, each round followed by one maintenance pass (what `lakehouse maintain --every` runs), and the
 * table's counts after every pass must depend on its partitions and the retention, not on the commits.
 */
const NOW = Date.UTC(2026, 10, 5, 12, 0, 0);
const ROUNDS = 3;
const EVENTS_PER_ROUND = 160;
const ROWS_PER_FLUSH = 4;
const RETAIN_LAST = 5;

let env: EventsTableEnv;
beforeEach(async () => { env = await openEventsTable('lakehouse-table-health-'); });
afterEach(() => closeEventsTable(env));

function writeRound(round: number): string {
  const file = path.join(env.dir, `round-${round}.ndjson`);
  const lines = [...generateMessages({ count: EVENTS_PER_ROUND, seed: round + 1, startMs: NOW - 3_600_000, spanMs: 3_600_000 })]
    .map((m) => Buffer.from(m.value).toString('utf8'));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

interface Counts { files: number; manifests: number; snapshots: number; rows: number; partitions: number }

async function counts(): Promise<Counts> {
  await env.table.refresh();
  const plan = await env.table.planFiles();
  return {
    files: plan.files.length,
    manifests: plan.metrics.manifestsTotal,
    snapshots: env.table.metadata.snapshots.length,
    rows: plan.files.reduce((n, f) => n + Number(f.recordCount), 0),
    partitions: new Set(plan.files.map((f) => JSON.stringify(f.partition, (_k, v) => typeof v === 'bigint' ? v.toString() : v))).size,
  };
}

describe('a table under many small ingest commits', () => {
  it('stays bounded by maintenance: after each pass one file per partition, few manifests and the retained snapshots, whatever the commits', async () => {
    const after: Counts[] = [];
    let commits = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const stats = await new Ingestor({
        table: env.table, source: new FileSource({ location: writeRound(round) }), group: 'live', deadLetters: new MemoryDeadLetterSink(),
        now: () => NOW, flushRows: ROWS_PER_FLUSH,
      }).run();
      expect(stats.written).toBe(EVENTS_PER_ROUND);
      commits += stats.commits;
      const before = await counts();
      // Every flush added files and (merging waits for 100 manifests) a manifest: this is what maintenance is for.
      expect(before.files).toBeGreaterThan(before.partitions * 10);
      const pass = await maintainOnce({
        catalog: env.catalog, tables: [env.table.identifier],
        steps: maintenanceSteps({ expire: { olderThanMs: Date.now() + 1, retainLast: RETAIN_LAST } }),
      });
      expect(pass.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
      after.push(await counts());
    }
    expect(commits).toBeGreaterThanOrEqual((ROUNDS * EVENTS_PER_ROUND) / ROWS_PER_FLUSH);
    for (const [i, c] of after.entries()) {
      expect(c.rows).toBe((i + 1) * EVENTS_PER_ROUND);
      expect(c.files).toBe(c.partitions);
      expect(c.manifests).toBeLessThanOrEqual(2);
      // The last RETAIN_LAST, plus the newest that records the group's positions (ingest resumes from it).
      expect(c.snapshots).toBeLessThanOrEqual(RETAIN_LAST + 1);
    }
  });
});
