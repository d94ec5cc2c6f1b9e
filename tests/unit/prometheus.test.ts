import { describe, expect, it } from 'vitest';
import { createIngestMetrics } from '../../pipeline/prometheus.ts';

describe('ingest metrics on prom-client', () => {
  it('renders labelled series with their labels and reads them back', async () => {
    const m = createIngestMetrics();
    m.lag.set(42, { topic: 'campaign_events', partition: '1' });
    m.deadLettered.inc(3, { reason: 'bad_json' });
    const text = await m.registry.render();
    expect(text).toMatch(/^lakehouse_ingest_lag\{topic="campaign_events",partition="1"\} 42$/m);
    expect(text).toMatch(/^lakehouse_ingest_dead_lettered_total\{reason="bad_json"\} 3$/m);
    expect(await m.lag.get({ topic: 'campaign_events', partition: '1' })).toBe(42);
    expect(await m.deadLettered.get({ reason: 'bad_json' })).toBe(3);
    m.lag.remove({ topic: 'campaign_events', partition: '1' });
    expect(await m.registry.render()).not.toMatch(/^lakehouse_ingest_lag\{/m);
  });

  it('counts histogram observations and sums them', async () => {
    const m = createIngestMetrics();
    m.flushSeconds.observe(0.25);
    m.flushSeconds.observe(2);
    expect(await m.flushSeconds.observations()).toEqual({ count: 2, sum: 2.25 });
    expect(await m.registry.render()).toMatch(/^lakehouse_ingest_flush_seconds_bucket\{le="0.25"\} 1$/m);
  });

  it('adds the process metrics (CPU, memory, event-loop lag, GC) after the ingest metrics when asked', async () => {
    const m = createIngestMetrics();
    expect(await m.registry.render()).not.toContain('process_cpu_seconds_total');
    m.registry.collectProcessMetrics();
    const text = await m.registry.render();
    for (const [name, type] of [['process_cpu_seconds_total', 'counter'], ['process_resident_memory_bytes', 'gauge'], ['nodejs_eventloop_lag_seconds', 'gauge'], ['nodejs_gc_duration_seconds', 'histogram']]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
    expect(text.indexOf('lakehouse_ingest_paused')).toBeLessThan(text.indexOf('process_cpu_seconds_total'));
  });

  it('refuses a counter decrement and a second metric of the same name with a sentence naming the metric', () => {
    const m = createIngestMetrics();
    expect(() => m.commits.inc(-1)).toThrow(/lakehouse_ingest_commits_total can only go up/);
    expect(() => m.registry.counter('lakehouse_ingest_commits_total', 'again')).toThrow(/lakehouse_ingest_commits_total/);
  });
});
