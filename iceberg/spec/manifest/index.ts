/**
 * Manifests and manifest lists (spec "Manifests", "Manifest Lists"): the data-file records, and their
 * Avro encoding with the spec's field ids. The Avro layer itself stays private to this room.
 */
export * from './manifest-types.ts';
export { UNASSIGNED_SEQ, partitionType, manifestAvroSchema, encodeManifest, writeManifest, readManifest, type ManifestWriteOptions } from './manifest.ts';
export { manifestListAvroSchema, encodeManifestList, writeManifestList, readManifestList, type ManifestListWriteOptions } from './manifest-list.ts';
