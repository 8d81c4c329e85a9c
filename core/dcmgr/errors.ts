/**
 * @module
 * dcmgr's errors: the error classes Wakame clients see, with their HTTP status and three-digit code
 * (`{"error":"Dcmgr::Endpoints::InvalidInstanceState","message":"stopped","code":"125"}`), and the one mapping
 * from everything else thrown below the `/api` routes into them.
 */
import { ApiError, ConflictError, NotFoundError, TooLargeError } from '../errors.js';

/** Every dcmgr error Drover answers with: its status and code (wv:dcmgr/lib/dcmgr/endpoints/errors.rb). */
export const DCMGR_ERRORS = {
  UnknownUUIDResource: [404, '100'],
  InvalidCredentialHeaders: [400, '102'],
  InvalidRequestCredentials: [400, '103'],
  DisabledAccount: [403, '104'],
  OperationNotPermitted: [403, '105'],
  DatabaseError: [400, '110'],
  UnknownVolume: [404, '113'],
  UnknownHostNode: [404, '114'],
  UnknownInstance: [404, '115'],
  OutOfHostCapacity: [400, '120'],
  UnknownSshKeyPair: [404, '121'],
  InvalidInstanceState: [400, '125'],
  DuplicateHostname: [400, '126'],
  UnknownImage: [404, '127'],
  UnknownInstanceSpec: [404, '128'],
  UnknownNetwork: [404, '129'],
  UnknownSecurityGroup: [404, '133'],
  InvalidImageID: [400, '137'],
  InvalidInstanceSpec: [400, '138'],
  UndefinedInstanceID: [404, '139'],
  InvalidHostNodeID: [400, '141'],
  InvalidSecurityGroupRule: [400, '142'],
  InvalidParameter: [400, '143'],
  ExistsRegisteredInstance: [400, '158'],
  ExceedQuotaLimit: [400, '162'],
  UnknownDcNetwork: [404, '163'],
  InvalidSshPublicKey: [400, '173'],
  IncompatibleHostNode: [400, '179'],
  PasswordNotInDatabase: [410, '201'],
  // Not dcmgr's: Drover's answers where dcmgr had none (credentials, size, a feature it does not offer).
  Unauthorized: [401, '401'],
  RouteNotFound: [404, '404'],
  NotSupported: [501, '501'],
  RequestTooLarge: [413, '413'],
  ServiceUnavailable: [503, '503'],
  InternalError: [500, '500'],
} as const satisfies Record<string, readonly [number, string]>;

export type DcmgrErrorName = keyof typeof DCMGR_ERRORS;

/** Drover's own classes are named in their own namespace, so a client never mistakes them for dcmgr's. */
const DROVER_ONLY = new Set<DcmgrErrorName>(['Unauthorized', 'RouteNotFound', 'NotSupported', 'RequestTooLarge', 'ServiceUnavailable', 'InternalError']);

/**
 * An error a Wakame client sees. The message defaults to the class name, as dcmgr's do.
 *
 * @example
 * throw new DcmgrError('InvalidInstanceState', 'stopped');
 */
export class DcmgrError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(
    readonly kind: DcmgrErrorName,
    message?: string,
  ) {
    super(message ?? kind);
    this.name = 'DcmgrError';
    [this.status, this.code] = DCMGR_ERRORS[kind];
  }

  /** The body dcmgr renders: `{error, message, code}`. */
  toBody(): { error: string; message: string; code: string } {
    const error = DROVER_ONLY.has(this.kind) ? `Drover::${this.kind}` : `Dcmgr::Endpoints::${this.kind}`;
    return { error, message: this.message, code: this.code };
  }
}

/** Rancher statuses thrown by shared code (authentication, body limits), as dcmgr classes. */
const BY_STATUS: Record<number, DcmgrErrorName> = {
  400: 'InvalidParameter',
  401: 'Unauthorized',
  403: 'OperationNotPermitted',
  404: 'UnknownUUIDResource',
  409: 'InvalidInstanceState',
  413: 'RequestTooLarge',
  422: 'InvalidParameter',
  501: 'NotSupported',
  503: 'ServiceUnavailable',
};

/**
 * The dcmgr error a client sees for anything thrown under `/api`; `undefined` for an unexpected error (the
 * handler answers 500 and logs it).
 *
 * @example
 * toDcmgrError(new NotFoundError()).toBody() // { error: 'Dcmgr::Endpoints::UnknownUUIDResource', ... code: '100' }
 */
export function toDcmgrError(err: unknown): DcmgrError | undefined {
  if (err instanceof DcmgrError) return err;
  if (err instanceof NotFoundError) return new DcmgrError('UnknownUUIDResource', err.publicMessage);
  // A lost race after every retry: the request may be repeated, as after any refused state change.
  if (err instanceof ConflictError) return new DcmgrError('InvalidInstanceState', err.publicMessage);
  if (err instanceof TooLargeError) return new DcmgrError('RequestTooLarge', err.publicMessage);
  if (err instanceof ApiError) {
    const kind = BY_STATUS[err.status];
    if (!kind) return undefined;
    const message = err.fieldName ? `${err.fieldName}: ${err.code}${err.detail ? ` (${err.detail})` : ''}` : (err.publicMessage ?? err.code);
    return new DcmgrError(kind, message);
  }
  return undefined;
}
