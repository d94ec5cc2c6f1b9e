import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_RULES, campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { MemoryDeadLetterSink } from '../../pipeline/dead-letters.ts';
import { FileSource } from '../../pipeline/file-source.ts';
import { Ingestor } from '../../pipeline/ingest.ts';
import { canonicalRows } from './canonical.ts';
import { type Warehouse, openWarehouse } from './helpers.ts';
import { VENV_TIMEOUT_MS, ensureVenv, readWithPyIceberg } from './readers.ts';

/**
 * The validation limits seen from outside: events with ids hundreds and thousands of characters long go
 * through the real ingest path (NDJSON file source, decoder, buffer, Parquet, Iceberg commit) and
 * PyIceberg reads them back exactly, while what a limit is for still goes to the dead letters with its
 * reason. Expected rows are written out by hand from the input, not by the decoder.
 */

const NOW = Date.UTC(2026, 10, 5, 12);
let wh: Warehouse;
beforeAll(async () => {
  await ensureVenv();
  wh = await openWarehouse('event-limits');
}, VENV_TIMEOUT_MS);
afterAll(async () => wh?.close());

const TIME = '2026-11-04T09:30:00.250Z';
function message(id: string, campaign: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { event_id: id, user_id: `u-${id}`, campaign_id: campaign, event_type: 'click', platform: 'meta', timestamp: TIME, revenue: 0, ...over };
}
function row(id: string, campaign: string): Record<string, unknown> {
  return {
    event_id: id, user_id: `u-${id}`, campaign_id: campaign, event_type: 'click', platform: 'meta', event_time: BigInt(Date.parse(TIME)) * 1000n,
    revenue: 0, country: null, device_type: null, channel: null, cost: null, processed_at: BigInt(NOW) * 1000n,
  };
}

describe('campaign_events through the ingest path: long values kept, limits still enforced', () => {
  it('stores 300- and 5,000-character campaign ids exactly (PyIceberg reads them, filters on them) and dead-letters oversize, absurd and empty records', async () => {
    const c300 = `spring-sale-${'a'.repeat(288)}`;
    const c5000 = `brand|${'long campaign name '.repeat(263)}`.slice(0, 5_000);
    const cJapanese = `キャンペーン-${'東京'.repeat(1_000)}`;
    expect([c300.length, c5000.length]).toEqual([300, 5_000]);

    const lines = [
      JSON.stringify(message('e-300', c300)),
      JSON.stringify(message('e-5000', c5000)),
      JSON.stringify(message('e-ja', cJapanese)),
      JSON.stringify(message('e-short', 'c-1')),
      JSON.stringify(message('e-oversize', 'c-1', { notes: 'x'.repeat(EVENT_RULES.maxMessageBytes) })),
      JSON.stringify(message('e-seconds', 'c-1', { timestamp: Math.floor(Date.parse(TIME) / 1000) })),
      JSON.stringify(message('e-micros-revenue', 'c-1', { event_type: 'conversion', revenue: 12.5e12 })),
      '',
    ];
    const file = path.join(wh.dir, 'long-ids.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    const table = await wh.createTable('campaign_events_long_ids', campaignEventsSchema, campaignEventsSpec);
    const deadLetters = new MemoryDeadLetterSink();
    const stats = await new Ingestor({ table, source: new FileSource({ location: file }), group: 'limits', deadLetters, now: () => NOW }).run();

    expect(stats).toMatchObject({ consumed: 8, written: 4, deadLettered: 4, duplicates: 0 });
    expect(deadLetters.letters.map((l) => [l.offset, l.reason])).toEqual([[4n, 'oversize'], [5n, 'absurd_timestamp'], [6n, 'out_of_range'], [7n, 'empty']]);

    const ref = { catalogUri: wh.catalogUri, warehouse: wh.warehouse, table: 'interop.campaign_events_long_ids' };
    const expected = [row('e-300', c300), row('e-5000', c5000), row('e-ja', cJapanese), row('e-short', 'c-1')];
    expect(await readWithPyIceberg(ref)).toEqual(canonicalRows(campaignEventsSchema, expected));
    // Column bounds in the manifests are truncated to 16 characters; a filter on the full value must still find the row.
    expect(await readWithPyIceberg({ ...ref, filter: `campaign_id == '${c5000}'` })).toEqual(canonicalRows(campaignEventsSchema, [row('e-5000', c5000)]));
  });
});
