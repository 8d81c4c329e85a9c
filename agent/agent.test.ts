/**
 * The agent against a scripted server (no HTTP): a bug or a refusal ends it as 'fatal' instead of being retried,
 * transient failures are retried a bounded number of times, and polling outlasts an outage.
 */
import { describe, expect, it } from 'vitest';
import type { AgentCommand } from '../core/agent/protocol.js';
import { startAgent, type AgentLogger } from './agent.js';
import { SimDriver } from './sim-driver.js';
import { AgentHttpError } from './retry.js';
import { until } from '../test/helpers/wait.js';

type Route = (method: string, path: string, body: unknown) => Response | Promise<Response>;

/** A fetch that answers with `route` and records every call as `METHOD /path`. */
function server(route: Route): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const f = (async (url: string | URL | Request, init?: RequestInit) => {
    const u = new URL(String(url));
    const call = `${init?.method ?? 'GET'} ${u.pathname}`;
    calls.push(call);
    return route(init?.method ?? 'GET', u.pathname, init?.body ? JSON.parse(String(init.body)) : undefined);
  }) as typeof fetch;
  return { fetch: f, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function logger(): AgentLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

const credentials = { hostId: '1h1', accessKey: 'AK', secretKey: 'SK' };
const fast = { attempts: 3, baseMs: 1, capMs: 2 };

const command = (id: string): AgentCommand => ({
  id,
  hostId: '1h1',
  name: 'compute.instance.activate',
  action: 'start',
  resourceId: '1i1',
  actionId: 'a1',
  data: {},
  processData: {},
  heartbeatSeconds: 30,
  timeoutSeconds: 300,
  status: 'pending',
  createdAt: 0,
  secondsRemaining: 300,
});

/** Polls answer with `cmds` once, then with nothing. */
function once(cmds: AgentCommand[]): () => Response {
  let given = false;
  return () => {
    const data = given ? [] : cmds;
    given = true;
    return json(200, { data });
  };
}

describe('the agent', () => {
  it('ends fatal on a bug in its own code instead of polling again', async () => {
    // A command that is not an object makes the client's deduplication read `id` of null: a TypeError.
    const s = server(() => json(200, { data: [null] }));
    const log = logger();
    const agent = await startAgent({ url: 'http://x', credentials, driver: new SimDriver(), fetch: s.fetch, logger: log, retry: fast, idlePollMs: 1 });
    expect(await agent.done).toBe('fatal');
    expect(s.calls).toEqual(['GET /agent/commands']);
    expect(log.lines.find((l) => l.startsWith('error'))).toMatch(/^error polling stopped: TypeError: .*null/);
    await agent.stop({ graceMs: 0 });
  });

  it('ends fatal on a 4xx it cannot mend (no token to register again with), after one poll', async () => {
    for (const status of [400, 401, 403]) {
      const s = server(() => json(status, { message: 'no' }));
      const agent = await startAgent({ url: 'http://x', credentials, driver: new SimDriver(), fetch: s.fetch, logger: logger(), retry: fast });
      expect(await agent.done).toBe('fatal');
      expect(s.calls).toEqual(['GET /agent/commands']);
      await agent.stop({ graceMs: 0 });
    }
  });

  it('ends fatal when handling a command hits a bug, and runs nothing for it', async () => {
    const driver = new SimDriver({ workMs: 0 });
    const s = server((method, path) => {
      if (path.endsWith('/ack')) throw new TypeError("Cannot read properties of undefined (reading 'headers')");
      return once([command('c1')])();
    });
    const agent = await startAgent({ url: 'http://x', credentials, driver, fetch: s.fetch, logger: logger(), retry: fast, idlePollMs: 1 });
    expect(await agent.done).toBe('fatal');
    expect(s.calls.filter((c) => c.endsWith('/ack'))).toHaveLength(1);
    expect(s.calls.some((c) => c.includes('/progress') || c.includes('/complete'))).toBe(false);
    expect(driver.instances.size).toBe(0);
    await agent.stop({ graceMs: 0 });
  });

  it('gives up registering after the bound when the server keeps failing', async () => {
    const s = server(() => json(503, { message: 'starting' }));
    const log = logger();
    const err = await startAgent({ url: 'http://x', token: 'A:B', driver: new SimDriver(), fetch: s.fetch, logger: log, retry: fast }).catch((e) => e);
    expect(err).toBeInstanceOf(AgentHttpError);
    expect(err.status).toBe(503);
    expect(s.calls).toEqual(Array(3).fill('POST /agent/register'));
    expect(log.lines.filter((l) => l.startsWith('warn registration failed'))).toHaveLength(2);
  });

  it.each([
    { what: 'a completion still failing (502) after the bound', progress: 200, complete: 502, completes: 3 },
    { what: 'a report and a completion the server refuses (409, 422) after one try', progress: 409, complete: 422, completes: 1 },
  ])('gives up $what, logs it, and goes on polling', async ({ progress, complete, completes }) => {
    const poll = once([command('c1')]);
    const s = server((method, path) => {
      if (path.endsWith('/progress')) return json(progress, { message: 'progress' });
      if (path.endsWith('/complete')) return json(complete, { message: 'complete' });
      if (path === '/agent/commands') return poll();
      return json(200, { ok: true });
    });
    const count = (suffix: string) => s.calls.filter((c) => c.endsWith(suffix)).length;
    const log = logger();
    const agent = await startAgent({ url: 'http://x', credentials, driver: new SimDriver({ workMs: 0 }), fetch: s.fetch, logger: log, retry: fast, idlePollMs: 1 });
    try {
      await until(() => log.lines.some((l) => l.startsWith('error') && l.includes('completion lost')));
      expect([count('/progress'), count('/complete')]).toEqual([1, completes]);
      if (progress !== 200) expect(log.lines.some((l) => l.startsWith('warn') && l.includes('progress not sent (POST'))).toBe(true);
      const polls = count('GET /agent/commands');
      await until(() => count('GET /agent/commands') > polls);
    } finally {
      await agent.stop({ graceMs: 0 });
    }
    expect(await agent.done).toBe('stopped');
  });

  it('polls on through an outage, backing off, and runs what comes after it', async () => {
    let failures = 0;
    const poll = once([command('c1')]);
    const s = server((method, path) => {
      if (path === '/agent/commands' && failures < 6) {
        failures++;
        throw new TypeError('fetch failed');
      }
      if (path === '/agent/commands') return poll();
      return json(200, path.endsWith('/complete') ? { duplicate: false } : { ok: true });
    });
    const driver = new SimDriver({ workMs: 0 });
    const agent = await startAgent({ url: 'http://x', credentials, driver, fetch: s.fetch, logger: logger(), retry: fast, idlePollMs: 1 });
    try {
      await until(() => s.calls.includes('POST /agent/commands/c1/complete'));
      expect(failures).toBe(6); // more than `attempts`: polling is not a bounded retry
      expect(driver.instance('1i1')?.state).toBe('running');
    } finally {
      await agent.stop({ graceMs: 0 });
    }
    expect(await agent.done).toBe('stopped');
  });

  it('polls again only once the commands it was handed are acked, so it is not handed them twice', async () => {
    // The server answers the ack late; every poll records whether the ack had been answered by then.
    let ackAnswered = false;
    const pollSawAck: boolean[] = [];
    const polls = once([command('c1')]);
    const s = server(async (method, path) => {
      if (path.endsWith('/ack')) {
        await new Promise((r) => setTimeout(r, 50));
        ackAnswered = true;
        return json(200, { data: { ...command('c1'), status: 'acked' } });
      }
      if (method === 'GET') {
        pollSawAck.push(ackAnswered);
        return polls();
      }
      return json(200, { ok: true, duplicate: false });
    });
    const agent = await startAgent({ url: 'http://x', credentials, driver: new SimDriver({ workMs: 0 }), fetch: s.fetch, logger: logger(), retry: fast, pollWaitSeconds: 0, idlePollMs: 1 });
    await until(() => pollSawAck.length >= 2);
    // The first poll handed out c1; the next one came only after c1's ack was answered.
    expect(pollSawAck.slice(0, 2)).toEqual([false, true]);
    await agent.stop({ graceMs: 100 });
  });
});
