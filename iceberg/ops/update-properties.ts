import { LakehouseError } from '../../core/errors.ts';
import {
  COMMIT_MAX_RETRY_WAIT_MS, COMMIT_MIN_RETRY_WAIT_MS, COMMIT_NUM_RETRIES, FORMAT_VERSION, MANIFEST_TARGET_SIZE_BYTES,
  MAX_SNAPSHOT_AGE_MS, METADATA_PREVIOUS_VERSIONS_MAX, MIN_SNAPSHOTS_TO_KEEP, WRITE_TARGET_FILE_SIZE_BYTES, intProperty,
} from '../spec/table-properties.ts';
import type { TableMetadata } from '../spec/table-metadata.ts';
import type { MetadataChange } from './update-schema.ts';

/** Setting or removing one table property; only the table's identity is required (properties merge). */
export type PropertyChange =
  | { kind: 'set-property'; key: string; value: string }
  | { kind: 'unset-property'; key: string };

/** Properties this project reads as whole numbers: a bad value is refused here, not at the next write. */
const INTEGER_PROPERTIES = [
  WRITE_TARGET_FILE_SIZE_BYTES, COMMIT_NUM_RETRIES, COMMIT_MIN_RETRY_WAIT_MS, COMMIT_MAX_RETRY_WAIT_MS,
  MANIFEST_TARGET_SIZE_BYTES, METADATA_PREVIOUS_VERSIONS_MAX, MAX_SNAPSHOT_AGE_MS, MIN_SNAPSHOTS_TO_KEEP,
];

export function planPropertyChange(metadata: TableMetadata, change: PropertyChange): MetadataChange & { unchanged?: string } {
  const key = change.key;
  if (key.trim() === '') throw new LakehouseError('INVALID_ARGUMENT', 'A table property needs a non-empty key.');
  // Java reserves format-version: it is the metadata's own field, changed by an upgrade, never a property.
  if (key === FORMAT_VERSION) throw new LakehouseError('INVALID_ARGUMENT', `"${FORMAT_VERSION}" is not a property but the table's format version (v${metadata.formatVersion}); it cannot be set or removed here.`);
  const requirements = [{ type: 'assert-table-uuid' as const, uuid: metadata.tableUuid }];
  if (change.kind === 'set-property') {
    if (INTEGER_PROPERTIES.includes(key)) intProperty({ [key]: change.value }, key, 0, { min: 0 });
    if (metadata.properties[key] === change.value) return { updates: [], requirements, unchanged: `Property ${key} is already ${JSON.stringify(change.value)}.` };
    return { updates: [{ action: 'set-properties', updates: { [key]: change.value } }], requirements };
  }
  if (!(key in metadata.properties)) return { updates: [], requirements, unchanged: `Property ${key} is not set.` };
  return { updates: [{ action: 'remove-properties', removals: [key] }], requirements };
}
