import { LakehouseError, type ErrorOptions } from '../core/errors.ts';

/**
 * The table format's own error codes, beside the core's: metadata that breaks the spec, a schema that
 * does not match, catalog lookups, and the three commit outcomes (success, conflict, unknown).
 */
export type IcebergErrorCode =
  | 'INVALID_METADATA'
  | 'SCHEMA_MISMATCH'
  | 'NAMESPACE_NOT_FOUND'
  | 'TABLE_NOT_FOUND'
  | 'NAMESPACE_NOT_EMPTY'
  | 'COMMIT_CONFLICT'
  | 'COMMIT_STATE_UNKNOWN'
  | 'COMMIT_FAILED';

/** A commit whose requirements failed: nothing landed; rebase and retry (REST 409). */
export class CommitConflictError extends LakehouseError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('COMMIT_CONFLICT', message, { ...options, retryable: true });
    this.name = 'CommitConflictError';
  }
}

/**
 * A commit whose outcome is not known (5xx, timeout, lost connection): it may have landed.
 * Never retried blindly and never followed by deleting files: reload the table and look for our snapshot.
 */
export class CommitStateUnknownError extends LakehouseError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('COMMIT_STATE_UNKNOWN', message, { ...options, retryable: false });
    this.name = 'CommitStateUnknownError';
  }
}

