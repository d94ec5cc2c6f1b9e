/**
 * Operations that produce snapshots (append, overwrite, rewrite, compaction, expire) and the metadata builder
 * that applies updates. Each operation returns its updates and requirements as data; the catalog
 * applies them (catalog-port.ts).
 */
export * from './snapshot-producer.ts';
export * from './fast-append.ts';
export * from './overwrite.ts';
export * from './rewrite-files.ts';
export * from './expire-snapshots.ts';
export * from './compaction-plan.ts';
export * from './compact-files.ts';
export * from './sort-rows.ts';
export * from './table-metadata-builder.ts';
export * from './manifest-merge.ts';
export * from './rewrite-manifests.ts';
export * from './remove-orphans.ts';
export * from './update-schema.ts';
export * from './update-partition-spec.ts';
export * from './update-properties.ts';
