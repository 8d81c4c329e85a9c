/**
 * @module
 * The one error family of Drover: every failure a caller can see is an `ApiError` with a stable code,
 * rendered once by the app's error handler (Rancher error resource on `/v1`).
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
 * A domain error: what was asked cannot be done, for a reason the caller can act on. Code below `core/api/` throws
 * these; the app's error handler alone gives them an HTTP status.
 *
 * @example
 * if (!res) throw new NotFoundError(`Resource ${id} not found`);
 */
export class DomainError extends Error {}

/** The resource does not exist (or is no longer visible). HTTP: 404. */
export class NotFoundError extends DomainError {
  constructor(message = 'Not Found') {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The resource's state or a concurrent change refuses the request; trying again may succeed. HTTP: 409. */
export class ConflictError extends DomainError {
  constructor(message = 'Conflict') {
    super(message);
    this.name = 'ConflictError';
  }
}
