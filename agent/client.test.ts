/**
 * The agent's protocol client without a server: deduplication of redelivered commands, how a failed request is
 * reported (network and timeout failures as `AgentNetworkError`, answers as `AgentHttpError`, anything else as
 * it is), and protocol limits applied before sending.
 */
import { describe, expect, it } from 'vitest';
import { AgentClient } from './client.js';
import { AgentHttpError, AgentNetworkError, isTransient, retry } from './retry.js';

function fakeFetch(replies: (() => Response)[]): { fetch: typeof fetch; calls: string[]; bodies: unknown[] } {
  const calls: string[] = [];
  const bodies: unknown[] = [];
  let i = 0;
  const f = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push(`${init?.method ?? 'GET'} ${String(url)}`);
    bodies.push(init?.body ? JSON.parse(String(init.body)) : undefined);
    const next = replies[Math.min(i++, replies.length - 1)];
    return next();
  }) as typeof fetch;
  return { fetch: f, calls, bodies };
}

const json = (status: number, body: unknown) => () =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const creds = { hostId: '1h1', accessKey: 'AK', secretKey: 'SK' };
const cmd = (id: string) => ({ id, resourceId: '1i1', name: 'compute.instance.activate' });
const thrower = (e: unknown) => () => {
  throw e;
};

describe('AgentClient', () => {
  it('drops commands it has seen before', async () => {
    const { fetch } = fakeFetch([json(200, { data: [cmd('a'), cmd('b')] }), json(200, { data: [cmd('b'), cmd('c')] })]);
    const client = new AgentClient({ url: 'http://x', credentials: creds, fetch });
    expect((await client.poll(0)).commands.map((c) => c.id)).toEqual(['a', 'b']);
    const second = await client.poll(0);
    expect(second.commands.map((c) => c.id)).toEqual(['c']);
    expect(second.delivered).toBe(2);
  });

  it('retries network errors and 5xx with backoff, but not 4xx', async () => {
    const flaky = fakeFetch([thrower(new TypeError('fetch failed')), json(503, { message: 'busy' }), json(200, { duplicate: false })]);
    const client = new AgentClient({ url: 'http://x', credentials: creds, fetch: flaky.fetch });
    await expect(retry(() => client.complete('a', { result: {} }), { baseMs: 1, capMs: 2 })).resolves.toEqual({ duplicate: false });
    expect(flaky.calls).toHaveLength(3);

    const refused = fakeFetch([json(404, { message: 'Command a not found' })]);
    const c2 = new AgentClient({ url: 'http://x', credentials: creds, fetch: refused.fetch });
    const err = await retry(() => c2.ack('a'), { baseMs: 1, capMs: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(AgentHttpError);
    expect(err.status).toBe(404);
    expect(isTransient(err)).toBe(false);
    expect(refused.calls).toHaveLength(1);
  });

  it("reports 410 on progress as 'gone'", async () => {
    const { fetch } = fakeFetch([json(410, { message: 'closed' })]);
    const client = new AgentClient({ url: 'http://x', credentials: creds, fetch });
    expect(await client.progress('a', 'working', 50)).toBe('gone');
  });

  it('reports a failure on the way to the server as AgentNetworkError, and anything else as it is', async () => {
    const request = (f: typeof fetch, o: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
      new AgentClient({ url: 'http://x', credentials: creds, fetch: f, requestTimeoutMs: o.timeoutMs }).ack('a', o.signal).catch((e) => e);

    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    const down = await request(fakeFetch([thrower(refused)]).fetch);
    expect(down).toBeInstanceOf(AgentNetworkError);
    expect([down.timedOut, down.message, down.cause]).toEqual([false, 'POST /agent/commands/a/ack: network error (ECONNREFUSED)', refused]);
    const reset = await request(fakeFetch([thrower(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))]).fetch);
    expect(reset).toBeInstanceOf(AgentNetworkError);
    // The body cut short while it was read.
    const cut = await request(fakeFetch([() => ({ ok: true, status: 200, text: thrower(new TypeError('terminated')) }) as unknown as Response]).fetch);
    expect(cut).toBeInstanceOf(AgentNetworkError);

    // No answer within the request's timeout.
    const hang = ((_url: unknown, init?: RequestInit) =>
      new Promise((_, reject) => {
        const signal = init!.signal!;
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason));
      })) as typeof fetch;
    const slow = await request(hang, { timeoutMs: 5 });
    expect(slow).toBeInstanceOf(AgentNetworkError);
    expect([slow.timedOut, isTransient(slow)]).toEqual([true, true]);

    // The caller's own abort is no failure of the server.
    const gaveUp = await request(hang, { signal: AbortSignal.abort() });
    expect(gaveUp).not.toBeInstanceOf(AgentNetworkError);
    expect(isTransient(gaveUp)).toBe(false);

    // A bug (here: a URL fetch cannot parse) is thrown as it is.
    const bug = new TypeError('Failed to parse URL from http://x y/agent');
    expect(await request(fakeFetch([thrower(bug)]).fetch)).toBe(bug);
    const noKey = await new AgentClient({ url: 'http://x', fetch: fakeFetch([json(200, {})]).fetch }).ack('a').catch((e) => e);
    expect([noKey.constructor, isTransient(noKey)]).toEqual([Error, false]);
  });

  it('cuts a progress message and an error to the protocol limits, and sends no headers the server ignores', async () => {
    const f = fakeFetch([json(200, { ok: true }), json(200, { duplicate: false })]);
    let headers: Record<string, string> = {};
    const spy = ((url: string, init: RequestInit) => {
      headers = init.headers as Record<string, string>;
      return f.fetch(url, init);
    }) as typeof fetch;
    const client = new AgentClient({ url: 'http://x', credentials: creds, fetch: spy });
    await client.progress('a', 'm'.repeat(5000), 250);
    await client.complete('a', { error: 'e'.repeat(40_000) });
    expect(f.bodies).toEqual([{ message: 'm'.repeat(1024), progress: 100 }, { error: 'e'.repeat(32_768) }]);
    expect(Object.keys(headers).sort()).toEqual(['accept', 'authorization', 'content-type']);
  });
});
