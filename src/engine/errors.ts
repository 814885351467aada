/**
 * One error type for the engine, with a category callers branch on (as
 * containerd's errdefs). Docker's messages and exit codes are chosen from the
 * category only at the edges (CLI, UI).
 */
export type ErrorCategory =
  | 'not-found'
  | 'already-exists'
  | 'invalid-argument'
  | 'failed-precondition'
  | 'conflict'
  | 'unauthorized'
  | 'unavailable'
  | 'internal';

export class BerthError extends Error {
  override readonly name = 'BerthError';
  constructor(
    readonly category: ErrorCategory,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const notFound = (message: string, cause?: unknown) => new BerthError('not-found', message, { cause });
export const invalidArgument = (message: string, cause?: unknown) => new BerthError('invalid-argument', message, { cause });
export const conflict = (message: string, cause?: unknown) => new BerthError('conflict', message, { cause });
export const failedPrecondition = (message: string, cause?: unknown) => new BerthError('failed-precondition', message, { cause });
export const unavailable = (message: string, cause?: unknown) => new BerthError('unavailable', message, { cause });
export const internal = (message: string, cause?: unknown) => new BerthError('internal', message, { cause });

export function isBerthError(e: unknown, category?: ErrorCategory): e is BerthError {
  return e instanceof BerthError && (category === undefined || e.category === category);
}
