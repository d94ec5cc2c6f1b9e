import { Schema, T, resolveColumn, type NestedField, type PrimitiveType, type PartitionSpec, type TableMetadata } from '../iceberg/index.ts';

/**
 * The `campaign_events` table: one row per ad event, and the rules a Kafka message must meet to become
 * one. Both come from EVENT_FIELDS below, so the validation (pipeline/event-decoder.ts) and the Iceberg
 * schema cannot drift. Field ids are fixed here so every deployment gets the same ids (Iceberg
 * readers resolve by id); ids 1..10 are the original table, 11 and 12 (channel, cost) were added later.
 */
export const CAMPAIGN_EVENTS_TABLE = 'campaign_events';
export const EVENT_TYPES = ['impression', 'click', 'conversion'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * What a message field holds, and so how it is checked and which Iceberg type stores it:
 * - `string`: a JSON string (Iceberg string) of any length: only the whole message's byte cap
 *   (EVENT_RULES.maxMessageBytes) bounds it, since a long id or name harms nothing (Iceberg strings
 *   have no length limit) while a length rule would drop real events. A required one must be non-empty.
 * - `event_type`: a string that is exactly one of EVENT_TYPES (lower case).
 * - `timestamp`: an ISO-8601 string WITH a zone (`Z` or `±hh:mm`), or a JSON number of epoch
 *   milliseconds (fractions kept to the microsecond); Iceberg timestamptz (UTC microseconds).
 * - `amount`: a JSON number, 0 <= x <= EVENT_RULES.maxAmount (Iceberg double).
 */
export type EventFieldKind = 'string' | 'event_type' | 'timestamp' | 'amount';

export interface EventFieldRule {
  /** Key in the JSON message. */
  key: string;
  /** Table column it fills (differs from the key only for `timestamp` -> `event_time`). */
  column: string;
  fieldId: number;
  kind: EventFieldKind;
  /** The message must carry a non-null value; otherwise `missing_field`. */
  required: boolean;
  /** Value used when an optional field is absent or null; the column is then required in the table. */
  default?: number;
  doc?: string;
}

/**
 * Every field of an event message, in message order. Platform, country and device type are optional:
 * the table has always allowed nulls there, and dropping a whole event because an app does not know
 * the device would lose revenue rows. Unknown keys in a message are ignored (apps may add fields
 * before the table grows a column for them).
 */
export const EVENT_FIELDS: readonly EventFieldRule[] = [
  { key: 'event_id', column: 'event_id', fieldId: 1, kind: 'string', required: true, doc: 'Unique id of the event, set by the app that emitted it' },
  { key: 'user_id', column: 'user_id', fieldId: 2, kind: 'string', required: true },
  { key: 'campaign_id', column: 'campaign_id', fieldId: 3, kind: 'string', required: true },
  { key: 'event_type', column: 'event_type', fieldId: 4, kind: 'event_type', required: true, doc: 'impression, click or conversion' },
  { key: 'platform', column: 'platform', fieldId: 5, kind: 'string', required: false },
  { key: 'timestamp', column: 'event_time', fieldId: 6, kind: 'timestamp', required: true, doc: 'When the event happened (UTC, microseconds)' },
  { key: 'revenue', column: 'revenue', fieldId: 7, kind: 'amount', required: false, default: 0, doc: 'Revenue of a conversion, 0 otherwise' },
  { key: 'country', column: 'country', fieldId: 8, kind: 'string', required: false },
  { key: 'device_type', column: 'device_type', fieldId: 9, kind: 'string', required: false },
  { key: 'channel', column: 'channel', fieldId: 11, kind: 'string', required: false, doc: 'Marketing channel (search, social, display, ...), when the app knows it' },
  { key: 'cost', column: 'cost', fieldId: 12, kind: 'amount', required: false, doc: 'Spend attributed to the event, when the app knows it' },
];

/** Columns the table adds to what a message carries. */
export const PROCESSED_AT_COLUMN = 'processed_at';
const processedAtField = T.field(10, PROCESSED_AT_COLUMN, T.timestamptz(), true, 'When lakehouse wrote the row');

/**
 * Limits every message is held to. Each one stops a harm (memory, a unit bug stored as if it were
 * data); none rejects a plausible event. README "Validation limits" lists them with their reasons.
 */
export const EVENT_RULES = {
  /**
   * Largest accepted message value in bytes (`oversize`), checked before decoding: it bounds the memory
   * one message costs (its bytes, the decoded string, the parsed object) and how far the buffer can pass
   * its byte limits between two checks (ingest looks every 64 records), and it keeps the dead letter of a
   * message under the cap far below Kafka's default 1 MiB message limit. A typical event is ~250 B;
   * 64 KiB holds ids and names thousands of characters long (a 5,000-character campaign id is 5 KB,
   * 15 KB in a CJK script) with room for keys the table does not know.
   */
  maxMessageBytes: 64 * 1024,
  /**
   * Earliest accepted event time (`absurd_timestamp`): epoch seconds sent as milliseconds land in
   * January 1970 and placeholder dates (0, 1900-01-01) before it, and no real ad event is that old
   * (backfills reach back years, not decades).
   * It also keeps every event time positive, which the buffer's microsecond columns rely on.
   */
  minEventTime: '2000-01-01T00:00:00Z',
  /**
   * How far past the processing time an event may claim to be (`absurd_timestamp`): a day covers device
   * clocks set to the wrong zone (at most 14 h ahead). Further is a broken clock or epoch microseconds
   * sent as milliseconds, and one such event would move the metrics watermark (max event_time) that far
   * ahead, marking windows complete that are still receiving events.
   */
  maxFutureMs: 24 * 3600 * 1000,
  /**
   * Largest revenue or cost of one event (`out_of_range`; below 0 is too, as is a non-finite number):
   * 10^12 currency units is about a million US dollars or more in every currency, so more is a unit
   * bug (micros sent as units), not a sale, and would swamp every sum it enters.
   */
  maxAmount: 1e12,
  eventTypes: EVENT_TYPES,
  fields: EVENT_FIELDS,
} as const;

/** EVENT_RULES.minEventTime in epoch milliseconds. */
export const MIN_EVENT_TIME_MS = Date.parse(EVENT_RULES.minEventTime);

function icebergType(kind: EventFieldKind): PrimitiveType {
  switch (kind) {
    case 'string':
    case 'event_type': return T.string();
    case 'timestamp': return T.timestamptz();
    case 'amount': return T.double();
  }
}

function tableField(f: EventFieldRule): NestedField {
  return T.field(f.fieldId, f.column, icebergType(f.kind), f.required || f.default !== undefined, f.doc);
}

/** The table schema, derived from EVENT_FIELDS plus processed_at, in field-id order. */
export const campaignEventsSchema = new Schema(
  [...EVENT_FIELDS.map(tableField), processedAtField].sort((a, b) => a.id - b.id),
);

/** day(event_time) and event_type: metrics jobs scan one day and one event type at a time. */
export const campaignEventsSpec: PartitionSpec = {
  specId: 0,
  fields: [
    { sourceId: 6, fieldId: 1000, name: 'event_time_day', transform: 'day' },
    { sourceId: 4, fieldId: 1001, name: 'event_type', transform: 'identity' },
  ],
};

/**
 * Which campaign_events column each field id of a table holds: the column of that name in the current
 * schema, or the one renamed from it (found by field id through the table's schema history). Ingest fills
 * the column with that id, so a rename in the table does not stop events from landing in it.
 */
export function campaignEventsColumnIds(metadata: TableMetadata): Map<number, string> {
  const out = new Map<number, string>();
  for (const column of [...EVENT_FIELDS.map((f) => f.column), PROCESSED_AT_COLUMN]) {
    const f = resolveColumn(metadata, column);
    if (f) out.set(f.id, column);
  }
  return out;
}
