import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toBinary, DataFileContent, type DataFile, ManifestEntryStatus, encodeManifest, encodeManifestList, applyUpdates, newTableMetadata, serializeTableMetadata, T } from '../../iceberg/index.ts';
import { campaignEventsSchema, campaignEventsSpec } from '../../domain/campaign-events.ts';

/**
 * Pins the exact bytes of the Avro manifest, the manifest list and the metadata JSON we write for a
 * fixed input. Any change to field ids, names, ordering, header keys or encodings shows up as a diff.
 * Regenerate deliberately with `UPDATE_GOLDEN=1 npx vitest run tests/unit/golden.test.ts` and review
 * the diff. (That these bytes are readable by others is proved by the interop suite.)
 */
const GOLDEN = fileURLToPath(new URL('../golden/', import.meta.url));
const SYNC = new Uint8Array(16).map((_, i) => i * 17);
const SNAPSHOT_ID = 7_777_777_777_777_777_777n; // above 2^53 on purpose
const DAY_2026_11_01 = 20393;

function golden(name: string, actual: Uint8Array | string): void {
  const file = path.join(GOLDEN, name);
  const bytes = typeof actual === 'string' ? Buffer.from(actual, 'utf8') : Buffer.from(actual);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, bytes);
  }
  expect(existsSync(file), `${file} is missing; create it with UPDATE_GOLDEN=1`).toBe(true);
  expect(bytes.equals(readFileSync(file)), `${name} differs from the golden file`).toBe(true);
}

const file: DataFile = {
  content: DataFileContent.DATA,
  filePath: 'file:///wh/lakehouse/campaign_events/data/event_time_day=2026-11-01/event_type=click/f-00000.parquet',
  fileFormat: 'PARQUET',
  partition: [DAY_2026_11_01, 'click'],
  recordCount: 3,
  fileSizeInBytes: 4321,
  columnSizes: new Map([[1, 100], [6, 40]]),
  valueCounts: new Map([[1, 3], [6, 3]]),
  nullValueCounts: new Map([[1, 0], [6, 0]]),
  nanValueCounts: new Map([[7, 0]]),
  lowerBounds: new Map([[1, toBinary(T.string(), 'evt-1')], [6, toBinary(T.timestamptz(), 1_793_491_200_000_000n)]]),
  upperBounds: new Map([[1, toBinary(T.string(), 'evt-3')], [6, toBinary(T.timestamptz(), 1_793_577_599_999_999n)]]),
  splitOffsets: [4],
  sortOrderId: 0,
  specId: 0,
};

describe('golden files', () => {
  const metadata = newTableMetadata({
    schema: campaignEventsSchema, spec: campaignEventsSpec, location: 'file:///wh/lakehouse/campaign_events',
    tableUuid: '11111111-2222-3333-4444-555555555555', nowMs: 1_793_491_200_000, properties: { owner: 'golden' },
  });

  it('manifest Avro bytes', () => {
    const { bytes } = encodeManifest({
      schema: campaignEventsSchema, spec: campaignEventsSpec, formatVersion: 2, snapshotId: SNAPSHOT_ID, syncMarker: SYNC,
      entries: [{ status: ManifestEntryStatus.ADDED, snapshotId: SNAPSHOT_ID, sequenceNumber: null, fileSequenceNumber: null, dataFile: file }],
    });
    golden('manifest-v2.avro', bytes);
  });

  it('manifest list Avro bytes', () => {
    const { manifest } = encodeManifest({
      schema: campaignEventsSchema, spec: campaignEventsSpec, formatVersion: 2, snapshotId: SNAPSHOT_ID,
      entries: [{ status: ManifestEntryStatus.ADDED, snapshotId: SNAPSHOT_ID, sequenceNumber: null, fileSequenceNumber: null, dataFile: file }],
    });
    const bytes = encodeManifestList({
      formatVersion: 2, snapshotId: SNAPSHOT_ID, parentSnapshotId: null, sequenceNumber: 1n, syncMarker: SYNC,
      manifests: [{ ...manifest, manifestPath: 'file:///wh/lakehouse/campaign_events/metadata/m0.avro', manifestLength: 5000 }],
    });
    golden('manifest-list-v2.avro', bytes);
  });

  it('table metadata JSON, new and after one append', () => {
    golden('00000-new.metadata.json', serializeTableMetadata(metadata));
    const after = applyUpdates(metadata, [
      {
        action: 'add-snapshot',
        snapshot: {
          snapshotId: SNAPSHOT_ID, parentSnapshotId: null, sequenceNumber: 1, timestampMs: 1_793_491_260_000,
          manifestList: 'file:///wh/lakehouse/campaign_events/metadata/snap-7777777777777777777-1-x.avro',
          summary: { operation: 'append', 'added-data-files': '1', 'added-records': '3', 'total-records': '3' }, schemaId: 0,
        },
      },
      { action: 'set-snapshot-ref', refName: 'main', ref: { snapshotId: SNAPSHOT_ID, type: 'branch' } },
    ], { previousMetadataLocation: 'file:///wh/lakehouse/campaign_events/metadata/00000-x.metadata.json', nowMs: 1_793_491_260_000 });
    golden('00001-append.metadata.json', serializeTableMetadata(after));
  });
});
