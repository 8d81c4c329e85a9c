/**
 * @module
 * Calling the API's Lambda entry point (`functions/api.ts`) in a test the way API Gateway v2 does, for the tests of
 * the other entry points that set up through the API.
 */

/** A JSON answer of the API function. */
export interface LambdaAnswer {
  status: number;
  body: any;
}

/**
 * A caller of the API function with one `Authorization` header, from the host `api.example.com` over https.
 *
 * @example
 * const api = lambdaApi(`Basic ${Buffer.from('AK:SK').toString('base64')}`);
 * const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s' });
 */
export function lambdaApi(authorization: string) {
  return async (method: string, path: string, body?: unknown, query = ''): Promise<LambdaAnswer> => {
    const { handler } = await import('../../functions/api.js');
    const out = await handler(
      {
        version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: query,
        headers: { host: 'api.example.com', authorization, 'x-forwarded-proto': 'https' },
        requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'r', routeKey: '$default', stage: '$default', timeEpoch: Date.now() },
        body: body === undefined ? undefined : JSON.stringify(body), isBase64Encoded: false,
      } as never,
      {} as never,
    );
    return { status: out.statusCode as number, body: JSON.parse(out.body as string) };
  };
}
