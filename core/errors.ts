/**
 * One error base class for the whole project (after iceberg-rust `Error` and kafkajs
 * `KafkaJSError`): a stable `code` scripts can match on, a `retryable` flag the retry helper obeys,
 * context fields for logs, and the underlying `cause`. Messages say what failed and how to fix it.
 */
/**
 * Codes every layer may use. Each edge adds its own (the table format's commit and metadata codes in
 * `iceberg/errors.ts`, `QUERY_FAILED` in the DuckDB adapter): `code` is an open string so that a
 * layer's codes live with the layer, and scripts match on the string either way.
 */
export type CoreErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'UNSUPPORTED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'VALIDATION_FAILED'
  | 'IO_ERROR'
  | 'INTERNAL';

/** A code of the core's list, or one an edge declares (a string literal type of its own). */
export type ErrorCode = CoreErrorCode | (string & {});

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

export function isLakehouseError(e: unknown): e is LakehouseError {
  return e instanceof LakehouseError;
}

/** The message of any thrown value, for wrapping into a sentence of our own. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
