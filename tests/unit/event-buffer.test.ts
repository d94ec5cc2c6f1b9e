import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { recordBatchToRows, PARQUET_FIELD_ID_KEY, checkBatchSchema, writeDataFiles, readParquetBytes, Schema, T } from '../../iceberg/index.ts';
import { LakehouseError } from '../../core/errors.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';
import { EventBuffer } from '../../pipeline/event-buffer.ts';
import { fingerprint } from '../../pipeline/dedup-index.ts';
import { type CampaignEventRow, EventScan, type Rejection, decodeEvent, isRejection, parseIsoTimestampMicros, scanEvent } from '../../pipeline/event-decoder.ts';
import { ExtraFields } from '../../pipeline/event-extras.ts';
import { generateMessages } from '../../pipeline/event-generator.ts';
import { MemoryIO } from '../support/memory-file-io.ts';

/** 2026-11-01T00:00:00Z in microseconds: day 20 758 since 1970 (x 86 400 s). */
const DAY0_US = 1_793_491_200_000_000n;
const PROCESSED_US = 1_795_262_400_000_000n; // 2026-11-21T12:00:00Z
const NOW_MS = 1_795_262_400_000;

function event(i: number, extra: Partial<CampaignEventRow> = {}): CampaignEventRow {
  return {
    event_id: `evt-${i}`, user_id: `user-${i % 7}`, campaign_id: `campaign-${i % 3}`, event_type: i % 2 ? 'click' : 'impression',
    platform: 'google', event_time: DAY0_US + BigInt(i) * 1_000_001n, revenue: i * 0.5, country: 'DE', device_type: 'mobile',
    channel: 'search', cost: i * 0.01, ...extra,
  };
}

/** What a row reads back as: the event plus processed_at, in table column names. */
function expected(e: CampaignEventRow, processedAt = PROCESSED_US): Record<string, unknown> {
  return { ...e, processed_at: processedAt };
}

function drainRows(buffer: EventBuffer): Record<string, unknown>[] {
  const batch = buffer.drain();
  if (!batch) return [];
  return recordBatchToRows(batch, campaignEventsSchema);
}

describe('EventBuffer: columns read back as the rows added', () => {
  it('round-trips values, nulls and unicode through one RecordBatch', () => {
    const rows = [
      event(1),
      event(2, { platform: null, country: null, device_type: null, channel: null, cost: null }),
      event(3, { user_id: 'Zoë-東京-🚀', campaign_id: 'ünïcødé', channel: 'e-mail ✉', revenue: 0 }),
      event(4, { platform: '', country: 'ƒ'.repeat(60), cost: 0 }),
    ];
    const buffer = new EventBuffer({});
    for (const r of rows) expect(buffer.add(r, PROCESSED_US)).toBe(true);
    expect(buffer.rows).toBe(4);
    expect(drainRows(buffer)).toEqual(rows.map((r) => expected(r)));
  });

  it('lays the batch out as icebergToArrowSchema: every column in table order, with field ids, passing checkBatchSchema', () => {
    const buffer = new EventBuffer({});
    buffer.add(event(1), PROCESSED_US);
    buffer.add(event(2, { channel: null, cost: null }), PROCESSED_US);
    const batch = buffer.drain()!;
    expect(batch.schema.fields.map((f) => f.name)).toEqual(campaignEventsSchema.fields.map((f) => f.name));
    expect(batch.schema.fields.map((f) => f.metadata.get(PARQUET_FIELD_ID_KEY))).toEqual(campaignEventsSchema.fields.map((f) => String(f.id)));
    expect(() => checkBatchSchema(campaignEventsSchema, batch)).not.toThrow();
    expect(() => checkBatchSchema(campaignEventsSchema, batch.schema)).not.toThrow();
    expect(batch.schema.fields.find((f) => f.name === 'event_time')!.type).toEqual(new arrow.TimestampMicrosecond('UTC'));
    // No nulls in a column: no validity bitmap; some nulls: the count is exact.
    expect(batch.getChild('country')!.nullCount).toBe(0);
    expect(batch.getChild('cost')!.nullCount).toBe(1);
  });

  it('keeps the first of duplicate event_ids within one buffer and reports the others', () => {
    const buffer = new EventBuffer({});
    expect(buffer.add(event(1), PROCESSED_US)).toBe(true);
    expect(buffer.add(event(1, { user_id: 'someone-else' }), PROCESSED_US)).toBe(false);
    expect(buffer.add(event(2, { event_id: 'é' }), PROCESSED_US)).toBe(true);
    expect(buffer.add(event(3, { event_id: 'é' }), PROCESSED_US)).toBe(false);
    expect(buffer.add(event(4, { event_id: 'evt-1 ' }), PROCESSED_US)).toBe(true);
    expect(drainRows(buffer).map((r) => [r.event_id, r.user_id])).toEqual([['evt-1', 'user-1'], ['é', 'user-2'], ['evt-1 ', 'user-4']]);
  });

  it('drops duplicates across growth of the arrays and starts over after a drain', () => {
    const buffer = new EventBuffer({ initialCapacity: 2 });
    let added = 0;
    for (let i = 0; i < 5000; i++) if (buffer.add(event(i % 3000), PROCESSED_US)) added++;
    expect(added).toBe(3000);
    const rows = drainRows(buffer);
    expect(rows.map((r) => r.event_id)).toEqual(Array.from({ length: 3000 }, (_, i) => `evt-${i}`));
    expect(rows[2999]).toEqual(expected(event(2999)));
    // A drained buffer forgets the ids: the next flush may hold the same event again (the metrics job de-duplicates).
    expect(buffer.add(event(1), PROCESSED_US)).toBe(true);
  });

  it('reports bytes held that grow with the rows, and resets rows, bytes, oldest time and first-added time on drain', () => {
    const buffer = new EventBuffer({ initialCapacity: 16 });
    const empty = buffer.bytes;
    expect(empty).toBeGreaterThan(0);
    expect(buffer.oldestEventTimeMs).toBeNull();
    expect(buffer.firstAddedAtMs).toBeNull();
    for (let i = 0; i < 1000; i++) buffer.add(event(1000 - i, { user_id: `user-${'x'.repeat(i % 50)}` }), PROCESSED_US + BigInt(i) * 1000n);
    expect(buffer.bytes).toBeGreaterThan(empty + 1000 * (3 * 8 + 2 * 8));
    expect(buffer.oldestEventTimeMs).toBe(Number((DAY0_US + 1_000_001n) / 1000n));
    expect(buffer.firstAddedAtMs).toBe(Number(PROCESSED_US / 1000n));
    expect(buffer.drain()!.numRows).toBe(1000);
    expect([buffer.rows, buffer.bytes, buffer.oldestEventTimeMs, buffer.firstAddedAtMs]).toEqual([0, empty, null, null]);
    expect(buffer.drain()).toBeNull();
  });

  it('writes Parquet files partitioned by day(event_time) and event_type that read back as the rows', async () => {
    const io = new MemoryIO();
    const buffer = new EventBuffer({});
    const rows = [event(1), event(2), event(3, { event_time: DAY0_US + 86_400_000_000n, channel: null }), event(4, { user_id: '東京' })];
    for (const r of rows) buffer.add(r, PROCESSED_US);
    const files = await writeDataFiles([buffer.drain()!], {
      io, schema: campaignEventsSchema, spec: campaignEventsSpec, tableLocation: 'mem://wh/lakehouse/campaign_events', fileNamePrefix: 't',
    });
    expect(files.map((f) => f.partition).sort()).toEqual([[20758, 'click'], [20758, 'impression'], [20759, 'click']].sort());
    const back: Record<string, unknown>[] = [];
    for (const f of files) back.push(...recordBatchToRows(await readParquetBytes(await io.read(f.filePath), campaignEventsSchema), campaignEventsSchema));
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.event_id).localeCompare(String(b.event_id));
    expect(back.sort(byId)).toEqual(rows.map((r) => expected(r)).sort(byId));
  });
});

describe('EventBuffer: ids already stored (the seen option)', () => {
  it('drops an event whose id the seen set holds, by either path, and hands over the fingerprint of every row it keeps', () => {
    const stored = new Set<string>();
    const fp = { lo: 0, hi: 0 };
    const bytesOf = (id: string) => new TextEncoder().encode(id);
    for (const id of ['evt-2', 'evt-4']) {
      fingerprint(bytesOf(id), 0, bytesOf(id).length, fp);
      stored.add(`${fp.lo}:${fp.hi}`);
    }
    const buffer = new EventBuffer({ seen: { has: (lo, hi) => stored.has(`${lo}:${hi}`) } });
    expect(buffer.add(event(1), PROCESSED_US)).toBe(true);
    expect(buffer.add(event(2), PROCESSED_US)).toBe(false);
    // The message path too.
    expect(buffer.addMessage(new TextEncoder().encode(JSON.stringify({ event_id: 'evt-4', user_id: 'u', campaign_id: 'c', event_type: 'click', timestamp: '2026-11-01T00:00:00Z' })), NOW_MS, PROCESSED_US)).toBe(false);
    expect(buffer.addMessage(new TextEncoder().encode(JSON.stringify({ event_id: 'evt-5', user_id: 'u', campaign_id: 'c', event_type: 'click', timestamp: '2026-11-01T00:00:00Z' })), NOW_MS, PROCESSED_US)).toBe(true);
    const drained = buffer.drainBatch()!;
    expect(drained.batch.numRows).toBe(2);
    const ids = recordBatchToRows(drained.batch, campaignEventsSchema).map((r) => r.event_id as string);
    expect(ids).toEqual(['evt-1', 'evt-5']);
    ids.forEach((id, i) => {
      fingerprint(bytesOf(id), 0, bytesOf(id).length, fp);
      expect([drained.lo[i], drained.hi[i]]).toEqual([fp.lo, fp.hi]);
    });
  });
});

describe('EventBuffer: the table schema decides the layout', () => {
  it('fills a table created before channel and cost (ids 1..10) without those columns', () => {
    const old = new Schema(campaignEventsSchema.fields.filter((f) => f.id <= 10));
    const buffer = new EventBuffer({ schema: old });
    buffer.add(event(1), PROCESSED_US);
    const batch = buffer.drain()!;
    expect(batch.schema.fields.map((f) => f.name)).toEqual(old.fields.map((f) => f.name));
    expect(() => checkBatchSchema(old, batch)).not.toThrow();
  });

  it('writes nulls for an optional column events do not fill, with that column\'s field id', () => {
    const grown = new Schema([...campaignEventsSchema.fields, T.field(40, 'region', T.string())]);
    const buffer = new EventBuffer({ schema: grown });
    buffer.add(event(1), PROCESSED_US);
    const batch = buffer.drain()!;
    expect(() => checkBatchSchema(grown, batch)).not.toThrow();
    expect(recordBatchToRows(batch, grown)[0]).toEqual({ ...expected(event(1)), region: null });
    expect(batch.schema.fields.at(-1)!.metadata.get(PARQUET_FIELD_ID_KEY)).toBe('40');
  });

  it('refuses at construction a schema it cannot fill, naming the column', () => {
    const cases: Array<[Schema, string]> = [
      [new Schema([...campaignEventsSchema.fields, T.field(40, 'region', T.string(), true)]), '"region" is required'],
      [new Schema(campaignEventsSchema.fields.map((f) => (f.name === 'platform' ? { ...f, required: true } : f))), '"platform" is required'],
      [new Schema(campaignEventsSchema.fields.map((f) => (f.name === 'revenue' ? { ...f, type: T.float() } : f))), '"revenue" is float'],
      [new Schema(campaignEventsSchema.fields.filter((f) => f.name !== 'event_id')), '"event_id"'],
    ];
    for (const [schema, text] of cases) {
      expect(() => new EventBuffer({ schema })).toThrow(LakehouseError);
      expect(() => new EventBuffer({ schema })).toThrow(text);
    }
    expect(() => new EventBuffer({ initialCapacity: 0 })).toThrow('initialCapacity');
  });
});

describe('EventBuffer on an evolved table: renamed columns and extra columns', () => {
  const text = (s: string) => new TextEncoder().encode(s);
  const base = '"event_id":"%","user_id":"u","campaign_id":"c","event_type":"click","timestamp":"2026-11-01T12:00:00Z","country":"DE"';
  const msg = (id: string, extra = '') => text(`{${base.replace('%', id)}${extra}}`);
  /** campaign_events with country renamed to country_code and one extra column of each fillable type. */
  const evolved = new Schema([
    ...campaignEventsSchema.fields.map((f) => (f.name === 'country' ? { ...f, name: 'country_code' } : f)),
    T.field(13, 'campaign_name', T.string()), T.field(14, 'is_test', T.boolean()), T.field(15, 'slot', T.int()),
    T.field(16, 'bid', T.long()), T.field(17, 'score', T.float()), T.field(18, 'price', T.double()),
    T.field(19, 'day', T.date()), T.field(20, 'shown_at', T.timestamptz()), T.field(21, 'blob', T.binary()),
  ], 3);
  const columnIds = new Map(campaignEventsSchema.fields.map((f) => [f.id, f.name]));
  const extras = ',"campaign_name":"Winter","is_test":false,"slot":3,"bid":9007199254740991,"score":0.5,"price":1.25,"day":"2026-11-01","shown_at":1793534400000,"blob":"x"';
  const filled = {
    campaign_name: 'Winter', is_test: false, slot: 3, bid: 9007199254740991n, score: 0.5, price: 1.25, day: 20758, shown_at: 1_793_534_400_000_000n, blob: null,
  };

  it('fills a renamed column by its field id, and extra columns from the keys of their names, by either path', () => {
    const fast = new EventBuffer({ schema: evolved, columnIds });
    const slow = new EventBuffer({ schema: evolved, columnIds });
    // d is all ASCII with short numbers: the byte fast path takes it (a's 16-digit bid goes to decodeEvent).
    const messages = [msg('a', extras), msg('b'), msg('c', ',"campaign_name":"Ünï\u00e7ode","slot":null'), msg('d', ',"campaign_name":"Spring","bid":-42,"price":2.5,"slot":7')];
    for (const m of messages) {
      expect(fast.addMessage(m, NOW_MS, PROCESSED_US)).toBe(true);
      const r = decodeEvent(m, NOW_MS, new ExtraFields(evolved.fields.filter((f) => f.id >= 13 && f.id <= 20), parseIsoTimestampMicros));
      expect(isRejection(r)).toBe(false);
      slow.add(r as CampaignEventRow, PROCESSED_US);
    }
    const fastRows = recordBatchToRows(fast.drain()!, evolved);
    expect(recordBatchToRows(slow.drain()!, evolved)).toEqual(fastRows);
    expect(fastRows[0]).toMatchObject({ event_id: 'a', country_code: 'DE', ...filled });
    expect(fastRows[1]).toMatchObject({ event_id: 'b', country_code: 'DE', campaign_name: null, is_test: null, slot: null, bid: null, day: null, shown_at: null });
    expect(fastRows[2]).toMatchObject({ event_id: 'c', campaign_name: 'Ünïçode', slot: null });
    expect(fastRows[3]).toMatchObject({ event_id: 'd', campaign_name: 'Spring', bid: -42n, price: 2.5, slot: 7, score: null });
    expect(scanEvent(messages[3]!, NOW_MS, new EventScan(new ExtraFields(evolved.fields.filter((f) => f.id >= 13), parseIsoTimestampMicros)))).toBe(true);
  });

  it('keeps the known fields on the byte fast path when the table has extra columns', () => {
    const scan = new EventScan(new ExtraFields(evolved.fields.filter((f) => f.id === 13), parseIsoTimestampMicros));
    expect(scanEvent(msg('a', ',"campaign_name":"Winter","unknown":true'), NOW_MS, scan)).toBe(true);
    expect(scan.extraKind[0]).not.toBe(0);
  });

  it('dead-letters an event whose extra field has the wrong kind of value, the same way on both paths', () => {
    const cases: [string, string][] = [
      [',"slot":1.5', 'Field "slot" must be a whole number'],
      [',"slot":3000000000', 'outside the int range'],
      [',"is_test":"yes"', 'Field "is_test" must be true or false'],
      [',"campaign_name":7', 'Field "campaign_name" must be a string'],
      [',"day":"2026-02-30"', 'Field "day" must be a date'],
      [',"shown_at":"yesterday"', 'Field "shown_at" must be an ISO-8601 time'],
      [',"price":"1.0"', 'Field "price" must be a finite number'],
    ];
    for (const [extra, detail] of cases) {
      const fast = new EventBuffer({ schema: evolved, columnIds });
      const r = fast.addMessage(msg('x', extra), NOW_MS, PROCESSED_US);
      expect(isRejection(r), extra).toBe(true);
      expect((r as Rejection).detail).toContain(detail);
      expect(fast.rows).toBe(0);
    }
  });
});

describe('EventBuffer.addMessage: the byte fast path gives what decodeEvent + add gives', () => {
  /** Runs messages through both paths; returns per-message outcomes and the drained rows of each. */
  function bothPaths(messages: Array<Uint8Array | null>) {
    const slow = new EventBuffer({ initialCapacity: 8 });
    const fast = new EventBuffer({ initialCapacity: 8 });
    const outcomes = messages.map((m) => {
      const r = decodeEvent(m, NOW_MS);
      const viaSlow: boolean | Rejection = isRejection(r) ? r : slow.add(r, PROCESSED_US);
      return { viaSlow, viaFast: fast.addMessage(m, NOW_MS, PROCESSED_US) };
    });
    return { outcomes, slowRows: drainRows(slow), fastRows: drainRows(fast) };
  }

  it('on 20 000 generated messages: valid, late, duplicate and every kind of invalid', () => {
    const messages = [...generateMessages({ count: 20_000, seed: 11, invalidRate: 0.1, lateRate: 0.05, duplicateRate: 0.05, startMs: Date.UTC(2026, 10, 1) })];
    const { outcomes, slowRows, fastRows } = bothPaths(messages.map((m) => m.value));
    for (const o of outcomes) expect(o.viaFast).toEqual(o.viaSlow);
    expect(fastRows).toEqual(slowRows);
    expect(fastRows.length).toBeGreaterThan(15_000);
    // The comparison is worth something only if the fast path took the valid ones itself.
    const scan = new EventScan();
    const fastTaken = messages.filter((m) => scanEvent(m.value, NOW_MS, scan));
    expect(fastTaken.length).toBe(messages.filter((m) => m.kind !== 'invalid').length);
  });

  it('on 5 000 randomly damaged messages (bytes replaced, dropped or inserted)', () => {
    const originals = [...generateMessages({ count: 500, seed: 3, startMs: Date.UTC(2026, 10, 1) })].map((m) => m.value);
    const interesting = [...'"\\,:{}[] 0123456789-+.eEtfnulZT'].map((c) => c.charCodeAt(0)).concat([0x00, 0x0a, 0x1f, 0x7f, 0x80, 0xc3, 0xff]);
    let seed = 99;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const damaged = Array.from({ length: 5000 }, (_, k) => {
      let b = [...originals[k % originals.length]!];
      for (let j = 0, edits = 1 + rnd(3); j < edits; j++) {
        const at = rnd(b.length);
        const op = rnd(3);
        if (op === 0) b[at] = interesting[rnd(interesting.length)]!;
        else if (op === 1) b.splice(at, 1);
        else b.splice(at, 0, interesting[rnd(interesting.length)]!);
      }
      return Uint8Array.from(b);
    });
    const { outcomes, slowRows, fastRows } = bothPaths(damaged);
    outcomes.forEach((o, k) => expect(o.viaFast, new TextDecoder().decode(damaged[k]!)).toEqual(o.viaSlow));
    expect(fastRows).toEqual(slowRows);
    // Both kinds of outcome occur, so the comparison covers accepting and rejecting.
    expect(outcomes.filter((o) => o.viaSlow === true).length).toBeGreaterThan(500);
    expect(outcomes.filter((o) => isRejection(o.viaSlow)).length).toBeGreaterThan(2000);
  });

  it('on hand-made edge cases: escapes, unicode, whitespace, number forms, repeated keys, nested values', () => {
    const text = (s: string) => new TextEncoder().encode(s);
    const fields = '"user_id":"u","campaign_id":"c","event_type":"click","timestamp":"2026-11-01T12:34:56.5+02:00"';
    const messages = [
      `{"event_id":"a",${fields}}`,
      `{"event_id":"b\\"q",${fields}}`,
      `{"event_id":"\\u0063",${fields}}`,
      `{"event_id":"東京",${fields}}`,
      `\uFEFF{"event_id":"bom",${fields}}`,
      `{ "event_id" : "ws" ,\n ${fields} }`,
      `{"event_id":"n1",${fields},"revenue":1e2,"cost":1E-2}`,
      `{"event_id":"n2",${fields},"revenue":0.1,"cost":-0}`,
      `{"event_id":"n3",${fields},"revenue":12.345678901234567,"cost":123456789012345678}`,
      `{"event_id":"n4",${fields},"revenue":5e-324,"cost":1.7976931348623157e308}`,
      `{"event_id":"n5",${fields},"revenue":0.30000000000000004,"cost":9007199254740993}`,
      `{"event_id":"n6",${fields},"revenue":01}`,
      `{"event_id":"n7",${fields},"revenue":1.}`,
      `{"event_id":"n8",${fields},"revenue":-}`,
      `{"event_id":"t1","user_id":"u","campaign_id":"c","event_type":"click","timestamp":1793536496123.25}`,
      `{"event_id":"t2","user_id":"u","campaign_id":"c","event_type":"click","timestamp":"2026-11-01 12:34:56Z"}`,
      `{"event_id":"t3","user_id":"u","campaign_id":"c","event_type":"click","timestamp":"2026-11-01T12:34:56.1234567890Z"}`,
      `{"event_id":"r1",${fields},"event_type":"view","event_type":"impression"}`,
      `{"event_id":"r2",${fields},"platform":"x","platform":null}`,
      `{"event_id":"x1",${fields},"extra":{"a":[1,{"b":null}]},"flag":true,"other":false}`,
      `{"event_id":"x2",${fields},"platform":true}`,
      `{"event_id":"x3",${fields},"country":""}`,
      `{"event_id":"",${fields}}`,
      `{"event_id":"a",${fields}}`,
      `{"event_id":"tab\there",${fields}}`,
      `{"event_id":"e1",${fields}} x`,
      `{"event_id":"e2",${fields},}`,
      `{"event_id":"e3" ${fields}}`,
      `{}`,
      `[]`,
      `"just a string"`,
      `{"event_id":"e4",${fields}`,
      `{"event_id":"e5","user_id":"u","campaign_id":"c","event_type":"click","timestamp":"2026-11-01T12:34:56Z","revenue":"1"}`,
      // Another producer's key order, twice: the scanner's key prediction adapts, values must not change.
      `{"cost":0.5,"timestamp":"2026-11-01T12:34:56Z","event_type":"conversion","campaign_id":"c","user_id":"u","event_id":"o1","revenue":3}`,
      `{"cost":0.5,"timestamp":"2026-11-01T12:34:56Z","event_type":"conversion","campaign_id":"c","user_id":"u","event_id":"o2","revenue":4}`,
    ].map(text) as Array<Uint8Array | null>;
    messages.push(null, new Uint8Array(0), Uint8Array.from([0x7b, 0xff, 0x7d]));
    const { outcomes, slowRows, fastRows } = bothPaths(messages);
    outcomes.forEach((o, k) => expect(o.viaFast, `message ${k}`).toEqual(o.viaSlow));
    expect(fastRows).toEqual(slowRows);
    expect(fastRows.map((r) => r.event_id)).toContain('b"q');
    const scan = new EventScan();
    const taken = messages.map((m, k) => (m !== null && scanEvent(m, NOW_MS, scan) ? k : -1)).filter((k) => k >= 0);
    expect(taken).toEqual([0, 5, 6, 7, 14, 16, 17, 18, 21, 23, 33, 34]);
  });
});
