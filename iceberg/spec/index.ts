/**
 * The table format's data model, as the spec defines it: types and schemas, partition specs and their
 * transforms, sort orders, table metadata and the updates and requirements that change it, snapshot
 * summaries, metadata files, manifests, and the values of primitive types.
 */
export * from './types.ts';
export * from './schema.ts';
export * from './partition-spec.ts';
export * from './partition-spec-text.ts';
export * from './partition-key.ts';
export * from './partition-transforms.ts';
export * from './sort-order.ts';
export * from './table-metadata.ts';
export * from './table-updates.ts';
export * from './table-properties.ts';
export * from './snapshot-summary.ts';
export * from './metadata-files.ts';
export * from './manifest/index.ts';
export * from './values/index.ts';
