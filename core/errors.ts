/**
 * @module
 * Drover's errors: `ApiError` (a failure a client sees, with its HTTP status and a stable code, rendered once by
 * the app's error handler as a Rancher error resource) and the domain errors the store and the domain throw
 * (`NotFoundError`, `ConflictError`, `TooLargeError`), which only the API layer turns into HTTP statuses.
 */

/** Reason phrases Rancher uses as `code` for non-validation errors (cattle `messages.properties`). */
export const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export interface ApiErrorOptions {
  /** Human-readable message; defaults to the code for non-validation errors. */
  message?: string | null;
  detail?: string | null;
  /** The offending input field (validation errors only). */
  fieldName?: string;
  cause?: unknown;
}

/**
 * An error a client sees. `status` is the HTTP status, `code` the stable machine code.
 *
 * @example
 * throw new ApiError(422, 'MissingRequired', { fieldName: 'imageUuid' });
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string | null;
  readonly fieldName?: string;
  /** The `message` shown in the error resource (null for plain validation errors). */
  readonly publicMessage: string | null;

  constructor(status: number, code: string, options: ApiErrorOptions = {}) {
    super(options.message ?? code, { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = options.detail ?? null;
    this.fieldName = options.fieldName;
    // Validation errors carry a null message, as Rancher's do.
    this.publicMessage = options.message === undefined ? (status === 422 ? null : code) : options.message;
  }
}

/**
 * A 422 validation error on one field.
 *
 * @example
 * throw new ValidationError('InvalidOption', 'networkMode');
 */
export class ValidationError extends ApiError {
  constructor(code: string, fieldName: string, detail?: string) {
    super(422, code, { fieldName, detail: detail ?? null, message: null });
    this.name = 'ValidationError';
  }
}

/**
 * Error with a status whose Rancher code is its reason phrase (404 `Not Found`, 409 `Conflict`, ...).
 *
 * @example
 * throw statusError(404);
 * throw statusError(409, "Cannot 'start' container 1i5 while it is in state running");
 */
export function statusError(status: number, message?: string): ApiError {
  const code = REASON[status] ?? String(status);
  return new ApiError(status, code, { message: message ?? code });
}

/**
 * Raised by the store when a conditional write lost a race. Callers retry or turn it into a 409.
 *
 * @example
 * try { await store.put(item, { expectVersion: 3 }) } catch (e) { if (e instanceof WriteConflictError) retry() }
 */
export class WriteConflictError extends Error {
  constructor(readonly id: string, cause?: unknown) {
    super(`Conditional write on ${id} lost a race`, { cause });
    this.name = 'WriteConflictError';
  }
}

/**
 * A failure the domain names without knowing about HTTP. `core/api/errors.ts` maps each kind to its status; no
 * code below `core/api/` branches on a status, it tests for these classes.
 */
export abstract class DomainError extends Error {
  /** The message a client may see; `undefined` leaves it to the API's default for the kind. */
  readonly publicMessage: string | undefined;

  constructor(message: string | undefined, fallback: string, cause?: unknown) {
    super(message ?? fallback, { cause });
    this.publicMessage = message;
  }
}

/**
 * What was asked for does not exist (or is not visible to the caller).
 *
 * @example
 * const cur = await store.get(id); if (!cur) throw new NotFoundError();
 */
export class NotFoundError extends DomainError {
  constructor(message?: string) {
    super(message, 'not found');
    this.name = 'NotFoundError';
  }
}

/**
 * The action cannot happen now: the resource is in a state that forbids it, or concurrent changes kept winning
 * the race after every retry. The message says which.
 *
 * @example
 * throw new ConflictError("Cannot 'start' container 1i5 while it is in state running");
 */
export class ConflictError extends DomainError {
  constructor(message: string, cause?: unknown) {
    super(message, message, cause);
    this.name = 'ConflictError';
  }
}

/**
 * An item would be larger than the store keeps (DynamoDB refuses items over 400 KB).
 *
 * @example
 * if (bytes > MAX_ITEM_BYTES) throw new TooLargeError(`container 1i5 would take ${kb} KB`);
 */
export class TooLargeError extends DomainError {
  constructor(message: string) {
    super(message, message);
    this.name = 'TooLargeError';
  }
}
