import type { TableMetadata } from '../iceberg/index.ts';

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
 * - `lakehouse.dead-letters.<group>` JSON object `{"<topic>:<partition>": "<mark>"}`: per source partition, the
 *                                 dead-letter sink's mark when the flush that last covered it started (a
 *                                 place in the sink every later letter lies past, e.g.
 *                                 `kafka:dead_letter_queue@0=1234`); carried forward like the offsets. A
 *                                 restart reads the sink from there to send no dead letter twice.
 * - `lakehouse.commit-id`         UUID of the flush, to find our snapshot after an unknown commit outcome
 * - `lakehouse.ingest.consumed`, `.dead-lettered`, `.duplicates`: counts of this flush, so that for every
 *                                 ingest snapshot consumed = added-records + dead-lettered + duplicates.
 * - `lakehouse.ingest.dead-lettered.<reason>`: the dead letters of this flush with that reason code (only
 *                                 reasons that occurred), summing to `.dead-lettered`; the health dashboard
 *                                 charts them per minute.
 *
 * Snapshot expiry must not take the newest carrier of a group's offsets, nor any snapshot between it and
 * the head (the walk back follows parent links): `lakehouse tables expire` passes the ingest groups' keys
 * (offsetKeysToRetain below) as the expiry's retainSummaryKeyPrefixes. Without that, a head written by someone else (a compaction,
 * another group) would leave the group nothing to resume from, and it would start over from the
 * source's default, duplicating everything it had ingested.
 */
export const SUMMARY_PREFIX = 'lakehouse.';
export const SOURCE_KEY = 'lakehouse.source';
export const OFFSETS_KEY_PREFIX = 'lakehouse.offsets.';
export const DEAD_LETTERS_KEY_PREFIX = 'lakehouse.dead-letters.';
export const COMMIT_ID_KEY = 'lakehouse.commit-id';
export const CONSUMED_KEY = 'lakehouse.ingest.consumed';
export const DEAD_LETTERED_KEY = 'lakehouse.ingest.dead-lettered';
export const DUPLICATES_KEY = 'lakehouse.ingest.duplicates';
export const DEAD_LETTERED_REASON_KEY_PREFIX = 'lakehouse.ingest.dead-lettered.';


/**
 * A backfill (`lakehouse backfill`) commits through the ingest loop and so writes the same keys, under
 * a group of its own: `lakehouse.offsets.backfill-<16 hex digits>`, the digits a hash of the source
 * (the file or prefix; the topic and range), so the same backfill run again finds its positions and
 * reads nothing, and a backfill never moves a live ingest's positions. Its positions are per file
 * (`<location>:0`, the next line) or per Kafka partition (the next offset within the range).
 */
export const BACKFILL_GROUP_PREFIX = 'backfill-';

/**
 * The offsets keys whose newest carrier snapshot expiry must keep (its retainSummaryKeyPrefixes): every
 * ingest group's, but no backfill's. A backfill whose positions were expired reads its source again and
 * skips every event_id the table holds, so its positions are a shortcut, not the record that keeps rows
 * once; pinning them would keep all history after a finished backfill forever, since nothing writes the
 * key again. (Keys act as prefixes there: a group named like the start of a backfill's key would keep it.)
 */
export function offsetKeysToRetain(metadata: TableMetadata): string[] {
  const keys = new Set<string>();
  for (const s of metadata.snapshots) {
    for (const k of Object.keys(s.summary)) {
      if (k.startsWith(OFFSETS_KEY_PREFIX) && !k.startsWith(OFFSETS_KEY_PREFIX + BACKFILL_GROUP_PREFIX)) keys.add(k);
    }
  }
  return [...keys].sort();
}
