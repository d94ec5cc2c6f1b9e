/**
 * One error base class for the whole project (STYLE habit 6, after iceberg-rust `Error` and kafkajs
 * `KafkaJSError`): a stable `code` scripts can match on, a `retryable` flag the retry helper obeys,
 * context fields for logs, and the underlying `cause`. Messages say what failed and how to fix it.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'INVALID_METADATA'
  | 'UNSUPPORTED'
  | 'SCHEMA_MISMATCH'
  | 'NOT_FOUND'
  | 'NAMESPACE_NOT_FOUND'
  | 'TABLE_NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'NAMESPACE_NOT_EMPTY'
  | 'COMMIT_CONFLICT'
  | 'COMMIT_STATE_UNKNOWN'
  | 'COMMIT_FAILED'
  | 'VALIDATION_FAILED'
  | 'IO_ERROR'
  | 'QUERY_FAILED'
  | 'INTERNAL';

export interface ErrorOptions {
  retryable?: boolean;
  context?: Record<string, unknown>;
  cause?: unknown;
}

export class LakehouseError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LakehouseError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.context = options.context ?? {};
  }
}

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

export function isLakehouseError(e: unknown): e is LakehouseError {
  return e instanceof LakehouseError;
}

/** The message of any thrown value, for wrapping into a sentence of our own. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
