/**
 * `make bench`, schema evolution: what extra columns (optional columns added to campaign_events that
 * the decoder does not know, filled from the event keys of their names) cost ingest's decode + buffer
 * step. Not a test: nothing here asserts a timing. Prints a Markdown table for the README.
 *
 *   EVOLUTION_EVENTS=400000 ROUNDS=5 node --import tsx bench/evolution-bench.ts
 *
 * The same pre-encoded messages (each carrying campaign_name and bid_micros) go through
 * EventBuffer.addMessage, draining every 100 k rows as ingest does, into (1) campaign_events as created
 * (the two keys are ignored), (2) the table with both columns added (the keys fill them), and (3) the
 * table with both columns while the messages do not carry them. Best of ROUNDS, alternating. The
 * reference in the same run: DuckDB read_json of the same NDJSON into a table with the same columns, on
 * one thread.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Schema, T } from '../iceberg/index.ts';
import { campaignEventsSchema } from '../domain/campaign-events.ts';
import { EventBuffer } from '../pipeline/event-buffer.ts';
import { DuckDb, sqlString } from '../sql/duckdb.ts';

const EVENTS = Number(process.env.EVOLUTION_EVENTS ?? 400_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const FLUSH_ROWS = 100_000;
const DAY = 86_400_000;
const NOW = Date.now();
const encoder = new TextEncoder();

const evolved = new Schema([
  ...campaignEventsSchema.fields,
  T.field(13, 'campaign_name', T.string()),
  T.field(14, 'bid_micros', T.long()),
], 1);

function event(i: number, extras: boolean): Record<string, unknown> {
  return {
    event_id: `evt-${i}-${(i * 2654435761) >>> 0}`, user_id: `user-${i % 50_000}`, campaign_id: `campaign-${i % 200}`,
    event_type: i % 10 === 0 ? 'click' : 'impression', platform: 'google', timestamp: new Date(NOW - (i % 3) * DAY - (i % 1000)).toISOString(),
    revenue: 0, country: 'DE', device_type: 'mobile',
    ...(extras ? { campaign_name: `Campaign ${i % 200}`, bid_micros: 1000 + (i % 5000) } : {}),
  };
}

/** ns per event of addMessage over `msgs` into a buffer for `schema`, draining every FLUSH_ROWS. */
function addAll(msgs: Uint8Array[], schema: Schema): number {
  const buffer = new EventBuffer({ schema });
  const processedAt = BigInt(NOW) * 1000n;
  const t0 = performance.now();
  for (const m of msgs) {
    if (buffer.addMessage(m, NOW, processedAt) !== true) throw new Error('bench message was not accepted');
    if (buffer.rows >= FLUSH_ROWS) buffer.drainBatch();
  }
  buffer.drainBatch();
  return ((performance.now() - t0) * 1e6) / msgs.length;
}

async function duckdbNs(file: string): Promise<number> {
  const db = await DuckDb.open({ threads: 1 });
  try {
    const columns = `{event_id: 'VARCHAR', user_id: 'VARCHAR', campaign_id: 'VARCHAR', event_type: 'VARCHAR', platform: 'VARCHAR', timestamp: 'TIMESTAMPTZ', revenue: 'DOUBLE', country: 'VARCHAR', device_type: 'VARCHAR', campaign_name: 'VARCHAR', bid_micros: 'BIGINT'}`;
    const t0 = performance.now();
    await db.run(`CREATE TABLE t AS SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = ${columns})`);
    return ((performance.now() - t0) * 1e6) / EVENTS;
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const withKeys = Array.from({ length: EVENTS }, (_, i) => encoder.encode(JSON.stringify(event(i, true))));
  const withoutKeys = Array.from({ length: EVENTS }, (_, i) => encoder.encode(JSON.stringify(event(i, false))));
  const dir = mkdtempSync(path.join(tmpdir(), 'lakehouse-evolution-bench-'));
  try {
    const file = path.join(dir, 'events.ndjson');
    writeFileSync(file, withKeys.map((m) => Buffer.from(m).toString('utf8')).join('\n') + '\n');
    const cases: [string, Uint8Array[], Schema][] = [
      ['campaign_events as created; messages carry 2 unknown keys (ignored)', withKeys, campaignEventsSchema],
      ['+ 2 extra columns (string, long); messages fill them', withKeys, evolved],
      ['+ 2 extra columns; messages do not carry them (nulls)', withoutKeys, evolved],
    ];
    const best = cases.map(() => Infinity);
    let duck = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      cases.forEach(([, msgs, schema], k) => { best[k] = Math.min(best[k]!, addAll(msgs, schema)); });
      duck = Math.min(duck, await duckdbNs(file));
    }
    console.log(`\n${EVENTS.toLocaleString('en-US')} events, best of ${ROUNDS}, Node ${process.versions.node}\n`);
    console.log('| decode + validate + fill Arrow columns (EventBuffer.addMessage) | ns/event | events/s | vs as created |');
    console.log('| --- | ---: | ---: | ---: |');
    cases.forEach(([name], k) => {
      console.log(`| ${name} | ${best[k]!.toFixed(0)} | ${Math.round(1e9 / best[k]!).toLocaleString('en-US')} | ${(best[k]! / best[0]!).toFixed(2)}x |`);
    });
    console.log(`| DuckDB read_json into a table with the same columns, 1 thread (reference) | ${duck.toFixed(0)} | ${Math.round(1e9 / duck).toLocaleString('en-US')} | ${(duck / best[0]!).toFixed(2)}x |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
