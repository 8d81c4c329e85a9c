/**
 * Domain errors become the HTTP answers they always were: 404, 409 and 413 with the Rancher reason phrase as
 * code and the domain's message (or the phrase when it has none); anything unknown is left to the 500 path.
 */
import { describe, expect, it } from 'vitest';
import { ApiError, ConflictError, NotFoundError, TooLargeError, ValidationError } from '../errors.js';
import { toApiError } from './errors.js';

describe('toApiError', () => {
  it('maps each domain error to its status, code and message', () => {
    expect(toApiError(new NotFoundError())).toMatchObject({ status: 404, code: 'Not Found', publicMessage: 'Not Found' });
    expect(toApiError(new NotFoundError('Command x not found'))).toMatchObject({ status: 404, publicMessage: 'Command x not found' });
    expect(toApiError(new ConflictError("Cannot 'start' container 1i5 while it is in state running"))).toMatchObject({
      status: 409,
      code: 'Conflict',
      publicMessage: "Cannot 'start' container 1i5 while it is in state running",
    });
    expect(toApiError(new TooLargeError('too big'))).toMatchObject({ status: 413, code: 'Request Entity Too Large', publicMessage: 'too big' });
  });

  it('passes API errors through and leaves anything else to the 500 path', () => {
    const v = new ValidationError('MissingRequired', 'imageUuid');
    expect(toApiError(v)).toBe(v);
    expect(toApiError(new ApiError(410, 'Gone'))).toMatchObject({ status: 410 });
    expect(toApiError(new Error('boom'))).toBeUndefined();
  });
});
