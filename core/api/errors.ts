/**
 * @module
 * Where domain errors become HTTP: the one mapping from `NotFoundError`, `ConflictError` and `TooLargeError` to
 * the Rancher error statuses (404, 409, 413), used by the app's error handler for `/v1` and `/agent` alike.
 */
import { ApiError, ConflictError, NotFoundError, statusError, TooLargeError, type DomainError } from '../errors.js';

const STATUS_OF: [new (...args: never[]) => DomainError, number][] = [
  [NotFoundError, 404],
  [ConflictError, 409],
  [TooLargeError, 413],
];

/**
 * The error a client sees for anything thrown: an `ApiError` as it is, a domain error as its status (with its
 * message, else the status's reason phrase), anything else as `undefined` (the handler answers 500 and logs it).
 *
 * @example
 * toApiError(new ConflictError('Resource 1i5 is being changed by another request; try again')).status // 409
 */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  for (const [kind, status] of STATUS_OF) {
    if (err instanceof kind) return statusError(status, err.publicMessage);
  }
  return undefined;
}
