import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type CompactionResult, Table, type TableIdentifier, compactTable } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { decodeEvent, isRejection } from '../../pipeline/event-decoder.ts';
import { type GeneratedMessage, generateMessages } from '../../pipeline/event-generator.ts';
import { Ingestor } from '../../pipeline/ingest.ts';
import { KafkaDeadLetterSink } from '../../pipeline/kafka-dead-letters.ts';
import { produceMessages } from '../../pipeline/kafka-producer.ts';
import { createKafkaSource } from '../../pipeline/kafka-source.ts';
import { ensureTopics } from '../../pipeline/kafka-topics.ts';
import { findRecordedOffsets } from '../../pipeline/offsets.ts';
import { runMetrics } from '../../sql/campaign-metrics-job.ts';
import { expireKeepingWriters } from '../../maintenance/retention.ts';
import { canonicalRows } from '../interop/canonical.ts';
import { readWithPyIceberg } from '../interop/readers.ts';
import { expectedMetrics } from '../support/campaign-metrics-oracle.ts';
import { diffMetrics, readMetricsWithPyIceberg } from '../support/campaign-metrics-scenarios.ts';
import { highWatermarks, requireKafkaBrokers, until, useKafkaTestEnv } from '../support/kafka-test-kit.ts';

/**
 * Compaction beside a live Kafka ingest and a metrics job that runs over and over (real broker, SQLite
 * catalog on a local warehouse): PyIceberg reads exactly the valid messages, once each, the file count
 * drops, campaign_metrics equals the plain oracle over the raw messages, a compaction causes no metrics
 * work, and ingest's recorded positions survive a compaction followed by snapshot expiry.
 */
const brokers = requireKafkaBrokers();
/** Decoding clock: after the generator's event times (November 2026), so none is "in the future". */
const NOW = Date.UTC(2026, 10, 5, 12, 0, 0);
const NOW_MICROS = BigInt(NOW) * 1000n;
const unique = (what: string) => `lakehouse-test-${what}-${randomBytes(4).toString('hex')}`;

const kit = useKafkaTestEnv('kafka-compaction');

/** Repeats `fn` until stopped; collects what it returns and every error (a test asserts there are none). */
function loop<T>(fn: () => Promise<T>, pauseMs: number): { results: T[]; errors: unknown[]; stop: () => Promise<void> } {
  let stopped = false;
  const results: T[] = [];
  const errors: unknown[] = [];
  const done = (async () => {
    while (!stopped) {
      try { results.push(await fn()); } catch (e) { errors.push(e); }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return { results, errors, stop: async () => { stopped = true; await done; } };
}

describe('compaction during a live Kafka ingest and metrics runs', () => {
  it('keeps every row exactly once (PyIceberg), drops the file count, leaves campaign_metrics exact and causes it no work', async () => {
    const topic = unique('events');
    const dlqTopic = unique('dlq');
    kit.topicsMade.push(topic, dlqTopic);
    await ensureTopics(brokers, [{ topic, partitions: 3, retentionMs: 3_600_000 }, { topic: dlqTopic, partitions: 1, retentionMs: 3_600_000 }]);
    const name = unique('table').replace(/-/g, '_');
    const eventsId: TableIdentifier = { namespace: ['interop'], name };
    const metricsId: TableIdentifier = { namespace: ['interop'], name: `${name}_metrics` };
    await kit.wh.createTable(name, campaignEventsSchema, campaignEventsSpec);
    const group = unique('group');

    const messages: GeneratedMessage[] = [...generateMessages({ count: 1200, seed: 1201, invalidRate: 0.03, lateRate: 0.05, duplicateRate: 0 })];
    const valid = messages.filter((m) => m.kind !== 'invalid');
    const expectedRows = canonicalRows(campaignEventsSchema, valid.map((m) => {
      const d = decodeEvent(m.value, NOW);
      if (isRejection(d)) throw new Error(`generated ${m.kind} message rejected: ${d.detail}`);
      return { ...d, processed_at: NOW_MICROS };
    }));

    // The ingest: small flushes, so every partition gets many small files.
    const abort = new AbortController();
    let ingest!: Ingestor;
    const source = createKafkaSource({
      brokers, topic, group, heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, maxWaitTimeMs: 200,
      positionsFor: () => ingest.positionsFor(), onAssignment: () => ingest.discardUncommitted(),
    });
    const deadLetters = new KafkaDeadLetterSink({ brokers, topic: dlqTopic });
    const ingestTable = new Table(kit.wh.catalog, await kit.wh.catalog.loadTable(eventsId));
    ingest = new Ingestor({ table: ingestTable, source, group, deadLetters, now: () => NOW, flushRows: 150, flushIntervalMs: 300 });
    const run = ingest.run(abort.signal).finally(async () => { await source.close().catch(() => {}); await deadLetters.close().catch(() => {}); });

    const loadEvents = async () => new Table(kit.wh.catalog, await kit.wh.catalog.loadTable(eventsId));
    const allRecorded = async () => {
      const high = await highWatermarks(kit.admin, topic);
      const recorded = findRecordedOffsets((await loadEvents()).metadata, group).positions;
      return [...high].every(([k, h]) => (recorded.get(k) ?? 0n) >= h);
    };
    const metricsLoop = loop(() => runMetrics({ catalog: kit.wh.catalog, events: eventsId, metrics: metricsId, threads: 1 }), 500);
    const compactions = loop(async () => compactTable(await loadEvents(), { minInputFiles: 2 }), 300);
    try {
      const bursts = [valid.length / 3, (2 * valid.length) / 3].map(Math.floor);
      const cut = [0, messages.indexOf(valid[bursts[0]!]!), messages.indexOf(valid[bursts[1]!]!), messages.length];
      for (let b = 0; b < 2; b++) {
        await produceMessages({ brokers, topic, messages: messages.slice(cut[b]!, cut[b + 1]!) });
        await until(`burst ${b + 1} committed`, allRecorded);
      }
      await until('a compaction committed while ingest and the metrics job run', () => compactions.results.some((r: CompactionResult) => r.committed.length > 0));
      await compactions.stop();
      // The last burst with ingest and metrics only, so the table has small files left to compact below.
      await produceMessages({ brokers, topic, messages: messages.slice(cut[2]!, cut[3]!) });
      await until('every message committed', allRecorded);
    } finally {
      await compactions.stop();
      await metricsLoop.stop();
    }
    expect(compactions.errors).toEqual([]);
    expect(metricsLoop.errors).toEqual([]);
    expect(compactions.results.reduce((n, r) => n + r.committed.length, 0)).toBeGreaterThan(0);

    // Quiet table (ingest idle but running): metrics current, then one more compaction.
    const before = await readWithPyIceberg({ catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: `interop.${name}` });
    expect(before).toEqual(expectedRows);
    await runMetrics({ catalog: kit.wh.catalog, events: eventsId, metrics: metricsId, threads: 1 });
    const metricsSnapshots = (await kit.wh.catalog.loadTable(metricsId)).metadata.snapshots.length;
    const filesBefore = (await (await loadEvents()).planFiles()).files.length;
    const last = await compactTable(await loadEvents());
    expect(last.committed.length).toBeGreaterThan(0);
    const filesAfter = (await (await loadEvents()).planFiles()).files.length;
    expect(filesAfter).toBeLessThan(filesBefore);
    const after = await readWithPyIceberg({ catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: `interop.${name}` });
    expect(after).toEqual(before);

    // The compaction causes no metrics work: nothing recomputed, nothing committed.
    const m = await runMetrics({ catalog: kit.wh.catalog, events: eventsId, metrics: metricsId, threads: 1 });
    expect(m).toMatchObject({ snapshotId: null, windowsRecomputed: 0 });
    expect((await kit.wh.catalog.loadTable(metricsId)).metadata.snapshots.length).toBe(metricsSnapshots);
    const got = await readMetricsWithPyIceberg(kit.wh, metricsId);
    expect(diffMetrics(expectedMetrics([{ messages: valid, processedAtMicros: NOW_MICROS }], { windowSeconds: 300 }), got.rows)).toEqual([]);

    // Expiry of everything it may take, with compactions at the head: ingest's positions and the metrics
    // job's source snapshot stay reachable, so neither starts over.
    const events = await loadEvents();
    const expired = await expireKeepingWriters(kit.wh.catalog, events, { olderThanMs: Date.now() + 60_000, retainLast: 1 });
    expect(expired.expiredSnapshotIds.length).toBeGreaterThan(0);
    await events.refresh();
    expect(findRecordedOffsets(events.metadata, group).positions).toEqual(await highWatermarks(kit.admin, topic));
    expect((await runMetrics({ catalog: kit.wh.catalog, events: eventsId, metrics: metricsId, threads: 1 })).mode).not.toBe('full');

    abort.abort();
    const stats = await run;
    expect(stats.written).toBe(valid.length);
    expect(await readWithPyIceberg({ catalogUri: kit.wh.catalogUri, warehouse: kit.wh.warehouse, table: `interop.${name}` })).toEqual(expectedRows);
  });
});
