import { classifyS3Error } from '../iceberg/io/index.ts';
import { LakehouseError, errorMessage } from '../core/errors.ts';
import { GLUE_ACCESS_KEY_ID, GLUE_ENDPOINT, GLUE_REGION, GLUE_SECRET_ACCESS_KEY, GLUE_SESSION_TOKEN } from './glue-options.ts';
import { redactSecrets } from './redact.ts';

/**
 * What a failed Glue call means: whether it may be repeated, whether it may have been applied (which
 * decides between a conflict and an unknown commit outcome), and the sentence that says what to fix.
 */

export type GlueErrorKind =
  | 'not-found'
  | 'already-exists'
  | 'concurrent'
  | 'invalid-input'
  | 'auth'
  | 'access-denied'
  | 'no-credentials'
  | 'no-region'
  | 'throttled'
  | 'server'
  | 'network'
  | 'unreachable'
  | 'client';

export interface GlueErrorClass {
  kind: GlueErrorKind;
  /** Worth repeating as is (reads): throttling, 5xx, timeouts, connection resets. */
  retryable: boolean;
  /** Whether a failed mutating request may still have been applied: only when no answer was an error from Glue itself. */
  applied: 'no' | 'maybe';
}

/** Names AWS's JSON protocol uses when the signature or the keys are wrong (not when permissions are). */
const AUTH_NAMES = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'InvalidToken',
]);

/** The AWS error name (`EntityNotFoundException`), from the SDK's `name` or the protocol's `__type`. */
export function errorName(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { name?: unknown; __type?: unknown };
  const name = typeof o.name === 'string' && o.name !== 'Error' ? o.name : typeof o.__type === 'string' ? o.__type : undefined;
  return name?.replace(/^.*#/, '');
}

/**
 * Sorts an SDK or socket error into what to do about it. An answer from Glue with a 4xx status is a
 * definite refusal (nothing was applied); a 5xx, a timeout or a dropped connection may hide a success.
 */
export function classifyGlueError(e: unknown): GlueErrorClass {
  const name = errorName(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const refused = (kind: GlueErrorKind): GlueErrorClass => ({ kind, retryable: false, applied: 'no' });
  switch (name) {
    case 'EntityNotFoundException':
      return refused('not-found');
    case 'AlreadyExistsException':
      return refused('already-exists');
    case 'ConcurrentModificationException':
      return refused('concurrent');
    case 'InvalidInputException':
    case 'ValidationException':
      return refused('invalid-input');
    case 'AccessDeniedException':
      return refused('access-denied');
    case 'CredentialsProviderError':
      return refused('no-credentials');
  }
  if (name && AUTH_NAMES.has(name)) return refused('auth');
  if (/region is missing/i.test(errorMessage(e))) return refused('no-region');
  const transport = classifyS3Error(e);
  switch (transport.kind) {
    case 'throttled':
      // AWS throttles before doing anything.
      return { kind: 'throttled', retryable: true, applied: 'no' };
    case 'server':
      return { kind: 'server', retryable: true, applied: 'maybe' };
    case 'network':
      return { kind: 'network', retryable: true, applied: 'maybe' };
    case 'unreachable':
      // No connection was made, so nothing was sent.
      return { kind: 'unreachable', retryable: false, applied: 'no' };
    case 'access-denied':
      return refused(status === 403 ? 'access-denied' : 'auth');
  }
  if (status !== undefined && status >= 400 && status < 500) return refused('client');
  // No answer from Glue that we understand: whatever it was, it may have been applied.
  return { kind: 'client', retryable: false, applied: 'maybe' };
}

export interface GlueFailureContext {
  catalog: string;
  /** The endpoint URL tried. */
  endpoint: string;
  /** What was attempted, e.g. `read table db.t`. */
  what: string;
  /** Credential values that must not appear in the message. */
  secrets?: string[];
}

/**
 * A sentence for a failed Glue call: what was attempted, where, and how to fix it. Credentials are
 * never repeated; for signature errors not even the server's message is, since some of those echo the
 * access key id from the request.
 */
export function describeGlueFailure(e: unknown, ctx: GlueFailureContext): LakehouseError {
  const c = classifyGlueError(e);
  const name = errorName(e) ?? 'Error';
  const detail = redactSecrets(errorMessage(e), ctx.secrets ?? []);
  const at = `Glue catalog '${ctx.catalog}' could not ${ctx.what} at ${ctx.endpoint}`;
  const opts = { cause: e, retryable: c.retryable, context: { catalog: ctx.catalog, endpoint: ctx.endpoint, glueError: name } };
  switch (c.kind) {
    case 'unreachable':
      return new LakehouseError(
        'IO_ERROR',
        `${at}: cannot connect (${(e as { code?: string }).code ?? name}). Check ${GLUE_ENDPOINT} (or the region) and that the service is running.`,
        opts,
      );
    case 'auth':
      return new LakehouseError(
        'INVALID_CONFIG',
        `${at}: the endpoint rejected the credentials (${name}). Check ${GLUE_ACCESS_KEY_ID}, ${GLUE_SECRET_ACCESS_KEY} and ${GLUE_SESSION_TOKEN} (or the AWS_* variables / profile in use).`,
        opts,
      );
    case 'no-credentials':
      return new LakehouseError(
        'INVALID_CONFIG',
        `${at}: no AWS credentials were found. Set ${GLUE_ACCESS_KEY_ID} and ${GLUE_SECRET_ACCESS_KEY}, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile.`,
        opts,
      );
    case 'no-region':
      return new LakehouseError('INVALID_CONFIG', `${at}: no AWS region is configured. Set ${GLUE_REGION} (or AWS_REGION).`, opts);
    case 'access-denied':
      return new LakehouseError('INVALID_CONFIG', `${at}: access denied (${detail}). Grant the identity the Glue permission for this call.`, opts);
    case 'invalid-input':
      return new LakehouseError('INVALID_ARGUMENT', `${at}: Glue rejected the request (${name}: ${detail}).`, opts);
    case 'throttled':
    case 'server':
    case 'network':
      return new LakehouseError('IO_ERROR', `${at}: ${name}: ${detail} (still failing after retries; try again later).`, opts);
    default:
      return new LakehouseError('IO_ERROR', `${at}: ${name}: ${detail}.`, opts);
  }
}
