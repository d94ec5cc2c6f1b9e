/**
 * Source positions recorded in Iceberg snapshot summaries, the way Kafka Connect's Iceberg sink records
 * `kafka.connect.offsets.<topic>.<group>`. The table is the only durable record of progress:
 * a position is recorded in the very snapshot that holds the rows read up to it, so a crash anywhere
 * before that commit lands replays the records, and anywhere after skips them.
 *
 * Every key we write is under the one prefix `lakehouse.`:
 * - `lakehouse.source`            description of the source, e.g. `kafka:campaign_events` (for people)
 * - `lakehouse.offsets.<group>`   JSON object `{"<topic>:<partition>": "<next offset>"}`: the next offset to
 *                                 read per partition, as a decimal string (offsets are 64-bit). It covers
 *                                 every partition the group has ever recorded, not only the ones in this
 *                                 snapshot (carried forward), so the newest such snapshot is the whole truth.
 * - `lakehouse.commit-id`         UUID of the flush, to find our snapshot after an unknown commit outcome
 * - `lakehouse.ingest.consumed`, `.dead-lettered`, `.duplicates`: counts of this flush, so that for every
 *                                 ingest snapshot consumed = added-records + dead-lettered + duplicates.
 * - `lakehouse.ingest.dead-lettered.<reason>`: the dead letters of this flush with that reason code (only
 *                                 reasons that occurred), summing to `.dead-lettered`; the health dashboard
 *                                 charts them per minute.
 *
 * Snapshot expiry must not take the newest carrier of a group's offsets, nor any snapshot between it and
 * the head (the walk back follows parent links): `lakehouse tables expire` passes OFFSETS_KEY_PREFIX as
 * the expiry's retainSummaryKeyPrefixes. Without that, a head written by someone else (a compaction,
 * another group) would leave the group nothing to resume from, and it would start over from the
 * source's default, duplicating everything it had ingested.
 */
export const SUMMARY_PREFIX = 'lakehouse.';
export const SOURCE_KEY = 'lakehouse.source';
export const OFFSETS_KEY_PREFIX = 'lakehouse.offsets.';
export const COMMIT_ID_KEY = 'lakehouse.commit-id';
export const CONSUMED_KEY = 'lakehouse.ingest.consumed';
export const DEAD_LETTERED_KEY = 'lakehouse.ingest.dead-lettered';
export const DUPLICATES_KEY = 'lakehouse.ingest.duplicates';
export const DEAD_LETTERED_REASON_KEY_PREFIX = 'lakehouse.ingest.dead-lettered.';

