/**
 * @module
 * A small HTTP client for the tests: real requests over loopback to the running app, with Basic auth.
 */

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
  /** The body exactly as received. */
  text: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Send this raw text as the body instead of JSON. */
  raw?: string;
}

/**
 * Talks to a Drover server as one API key.
 *
 * @example
 * const admin = new Client(stack.url, stack.admin.accessKey, stack.admin.secretKey);
 * const { status, body } = await admin.post('/v1/containers', { imageUuid: 'sim:web' });
 */
export class Client {
  constructor(
    readonly baseUrl: string,
    readonly accessKey?: string,
    readonly secretKey?: string,
    readonly defaultHeaders: Record<string, string> = {},
  ) {}

  /** A client with the same key that always sends these extra headers. */
  with(headers: Record<string, string>): Client {
    return new Client(this.baseUrl, this.accessKey, this.secretKey, { ...this.defaultHeaders, ...headers });
  }

  async request<T = any>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.defaultHeaders, ...(opts.headers ?? {}) };
    if (this.accessKey !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.accessKey}:${this.secretKey}`).toString('base64')}`;
    }
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    // Like gdapi-python, send JSON without a Content-Type header.
    const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const res = await fetch(url, { method, headers, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* keep text */
    }
    return { status: res.status, body: parsed as T, headers: res.headers, text };
  }

  get<T = any>(path: string, opts?: RequestOptions) {
    return this.request<T>('GET', path, undefined, opts);
  }
  post<T = any>(path: string, body?: unknown, opts?: RequestOptions) {
    return this.request<T>('POST', path, body ?? {}, opts);
  }
  put<T = any>(path: string, body?: unknown, opts?: RequestOptions) {
    return this.request<T>('PUT', path, body ?? {}, opts);
  }
  del<T = any>(path: string, opts?: RequestOptions) {
    return this.request<T>('DELETE', path, undefined, opts);
  }
}
