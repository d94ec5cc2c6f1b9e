/**
 * Iceberg table properties this project reads, as named KEY/DEFAULT pairs (after iceberg-go
 * `properties.go`), so each key and its default are spelled once. Keys and defaults are the Java implementation's.
 */
export const WRITE_TARGET_FILE_SIZE_BYTES = 'write.target-file-size-bytes';
export const WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT = 512 * 1024 * 1024;

export const PARQUET_COMPRESSION = 'write.parquet.compression-codec';
export const PARQUET_COMPRESSION_DEFAULT = 'zstd';

export const METRICS_MODE_DEFAULT = 'write.metadata.metrics.default';
/** truncate(16): string/binary bounds are cut to 16 characters/bytes (upper bounds rounded up). */
export const METRICS_MODE_DEFAULT_DEFAULT = 'truncate(16)';

export const COMMIT_NUM_RETRIES = 'commit.retry.num-retries';
export const COMMIT_NUM_RETRIES_DEFAULT = 4;
export const COMMIT_MIN_RETRY_WAIT_MS = 'commit.retry.min-wait-ms';
export const COMMIT_MIN_RETRY_WAIT_MS_DEFAULT = 100;
export const COMMIT_MAX_RETRY_WAIT_MS = 'commit.retry.max-wait-ms';
export const COMMIT_MAX_RETRY_WAIT_MS_DEFAULT = 60_000;

/** Merge small manifests on commit (Java `MergingSnapshotProducer`); appends, overwrites and rewrites. */
export const MANIFEST_MERGE_ENABLED = 'commit.manifest-merge.enabled';
export const MANIFEST_MERGE_ENABLED_DEFAULT = true;
/** The group holding a commit's new manifest is merged only once it has this many manifests. */
export const MANIFEST_MIN_MERGE_COUNT = 'commit.manifest.min-count-to-merge';
export const MANIFEST_MIN_MERGE_COUNT_DEFAULT = 100;
/** Manifests are merged up to this size (and rewrite-manifests writes manifests of about this size). */
export const MANIFEST_TARGET_SIZE_BYTES = 'commit.manifest.target-size-bytes';
export const MANIFEST_TARGET_SIZE_BYTES_DEFAULT = 8 * 1024 * 1024;

export const METADATA_PREVIOUS_VERSIONS_MAX = 'write.metadata.previous-versions-max';
export const METADATA_PREVIOUS_VERSIONS_MAX_DEFAULT = 100;

export const MAX_SNAPSHOT_AGE_MS = 'history.expire.max-snapshot-age-ms';
export const MAX_SNAPSHOT_AGE_MS_DEFAULT = 5 * 24 * 60 * 60 * 1000;
export const MIN_SNAPSHOTS_TO_KEEP = 'history.expire.min-snapshots-to-keep';
export const MIN_SNAPSHOTS_TO_KEEP_DEFAULT = 1;

export const FORMAT_VERSION = 'format-version';
export const FORMAT_VERSION_DEFAULT = 2;

/**
 * Table properties follow the rule of every other setting: absent or blank means the default, and a
 * value that is not an integer fails with a sentence naming the property instead of silently becoming
 * the default (Java's `PropertyUtil.propertyAsInt` throws as well), so a mistyped
 * `commit.retry.num-retries` cannot quietly change how a table is written.
 */
export { boolProperty, intProperty } from '../../core/properties.ts';
