/**
 * The agent's protocol client without a server: full-jitter backoff bounds, retry of transient failures only,
 * and deduplication of redelivered commands.
 */
import { describe, expect, it } from 'vitest';
import { AgentClient, AgentHttpError, Backoff, isTransient } from './client.js';

function fakeFetch(replies: (() => Response)[]): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  let i = 0;
  const f = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push(`${init?.method ?? 'GET'} ${String(url)}`);
    const next = replies[Math.min(i++, replies.length - 1)];
    return next();
  }) as typeof fetch;
  return { fetch: f, calls };
}

const json = (status: number, body: unknown) => () =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const creds = { hostId: '1h1', accessKey: 'AK', secretKey: 'SK' };
const cmd = (id: string) => ({ id, resourceId: '1i1', name: 'compute.instance.activate' });

describe('Backoff', () => {
  it('draws each delay from [0, min(cap, base·2^attempt)) and starts over after reset', () => {
    const top = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6].map(() => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0 });
    expect(bottom.next()).toBe(0);
    top.reset();
    expect(top.next()).toBe(99);
  });
});

describe('AgentClient', () => {
  it('drops commands it has seen before', async () => {
    const { fetch } = fakeFetch([json(200, { data: [cmd('a'), cmd('b')] }), json(200, { data: [cmd('b'), cmd('c')] })]);
    const client = new AgentClient({ url: 'http://x', credentials: creds, fetch });
    expect((await client.poll(0)).map((c) => c.id)).toEqual(['a', 'b']);
    const second = await client.pollBatch(0);
    expect(second.commands.map((c) => c.id)).toEqual(['c']);
    expect(second.delivered).toBe(2);
  });

  it('retries network errors and 5xx with backoff, but not 4xx', async () => {
    const flaky = fakeFetch([
      () => {
        throw new TypeError('fetch failed');
      },
      json(503, { message: 'busy' }),
      json(200, { duplicate: false }),
    ]);
    const client = new AgentClient({ url: 'http://x', credentials: creds, fetch: flaky.fetch, backoff: { baseMs: 1, capMs: 2 } });
    await expect(client.retry(() => client.complete('a', { result: {} }))).resolves.toEqual({ duplicate: false });
    expect(flaky.calls).toHaveLength(3);

    const refused = fakeFetch([json(404, { message: 'Command a not found' })]);
    const c2 = new AgentClient({ url: 'http://x', credentials: creds, fetch: refused.fetch, backoff: { baseMs: 1, capMs: 2 } });
    const err = await c2.retry(() => c2.ack('a')).catch((e) => e);
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
});
