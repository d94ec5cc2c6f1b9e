import { Schema } from '../iceberg/schema.ts';
import { T } from '../iceberg/types.ts';
import type { PartitionSpec } from '../iceberg/partition-spec.ts';

/**
 * The `campaign_events` table: one row per ad event. The ingest issue grows this module into the one
 * place that also holds the field rules, so the validation and the Iceberg schema cannot drift.
 * Field ids are fixed here so every deployment gets the same ids (Iceberg readers resolve by id).
 */
export const CAMPAIGN_EVENTS_TABLE = 'campaign_events';
export const EVENT_TYPES = ['impression', 'click', 'conversion'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const campaignEventsSchema = new Schema([
  T.field(1, 'event_id', T.string(), true, 'Unique id of the event, set by the app that emitted it'),
  T.field(2, 'user_id', T.string(), true),
  T.field(3, 'campaign_id', T.string(), true),
  T.field(4, 'event_type', T.string(), true, 'impression, click or conversion'),
  T.field(5, 'platform', T.string(), false),
  T.field(6, 'event_time', T.timestamptz(), true, 'When the event happened (UTC, microseconds)'),
  T.field(7, 'revenue', T.double(), true, 'Revenue of a conversion, 0 otherwise'),
  T.field(8, 'country', T.string(), false),
  T.field(9, 'device_type', T.string(), false),
  T.field(10, 'processed_at', T.timestamptz(), true, 'When lakehouse wrote the row'),
]);

/** day(event_time) and event_type: metrics jobs scan one day and one event type at a time. */
export const campaignEventsSpec: PartitionSpec = {
  specId: 0,
  fields: [
    { sourceId: 6, fieldId: 1000, name: 'event_time_day', transform: 'day' },
    { sourceId: 4, fieldId: 1001, name: 'event_type', transform: 'identity' },
  ],
};
