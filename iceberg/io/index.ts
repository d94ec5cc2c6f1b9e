/**
 * Storage behind the table format: the FileIO port and its two implementations, local files and
 * S3-compatible object stores, chosen by location (`resolveFileIO`).
 */
export * from './file-io.ts';
export * from './local-file-io.ts';
export * from './resolve-file-io.ts';
export { S3FileIO, classifyS3Error, parseS3Location, type S3FileIOOptions, type S3Location, type S3ErrorKind, type S3ErrorClass } from './s3-file-io.ts';
