/**
 * @module
 * Workflow benchmarks on the embedded engine and sim hosts (real agent protocol over loopback HTTP):
 * - action round trip: POST ?action=start → `running` observed, p50/p99, against the floor of the work the system
 *   does for the action: its store requests (counted on the DynamoDB client) priced at the store's sequential
 *   latency, plus its HTTP requests (the agent's poll, ack, progress and complete, and the POST itself) priced at a
 *   bare HTTP round trip to the same server, both units sampled between the starts. The benchmark client's own polling is not part of the floor: its GETs
 *   go to a second listener on the same app that runs each request under an AsyncLocalStorage mark, and the
 *   counter skips the store requests made under it;
 * - 1,000 containers created with startOnCreate at once: all must reach running; the time is compared with
 *   the store's write floor for the writes the run made.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { Client } from '../test/helpers/client.js';
import { startTestStack, type TestStack } from '../test/helpers/stack.js';
import { settle, waitFor } from '../test/helpers/wait.js';
import { fmt, measure, percentile } from './lib.js';

/**
 * Set while the benchmark's own requests run: `client` while the observing client's requests are served, `floor`
 * while the floor's units are sampled. Neither is the system's work.
 */
const observer = new AsyncLocalStorage<'client' | 'floor'>();

/** The agent protocol's requests, by kind, as the sim hosts send them. */
export type AgentCalls = Record<'poll' | 'ack' | 'progress' | 'complete' | 'other', number>;

/**
 * Counts the `/agent` requests made through the global `fetch` (the sim hosts' agent client uses it).
 *
 * @example
 * const agent = countAgentRequests(); // before the stack starts
 * agent.calls.ack; agent.restore();
 */
export function countAgentRequests(): { calls: AgentCalls; restore(): void } {
  const calls: AgentCalls = { poll: 0, ack: 0, progress: 0, complete: 0, other: 0 };
  const real = globalThis.fetch;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const path = new URL(url).pathname;
    if (path.startsWith('/agent/')) {
      const kind = /^\/agent\/commands\/[^/]+\/(ack|progress|complete)$/.exec(path)?.[1] as keyof AgentCalls | undefined;
      calls[kind ?? (path === '/agent/commands' ? 'poll' : 'other')]++;
    }
    return real(input, init);
  }) as typeof fetch;
  return { calls, restore: () => void (globalThis.fetch = real) };
}

const total = (c: AgentCalls) => c.poll + c.ack + c.progress + c.complete + c.other;
const minus = (a: AgentCalls, b: AgentCalls): AgentCalls =>
  ({ poll: a.poll - b.poll, ack: a.ack - b.ack, progress: a.progress - b.progress, complete: a.complete - b.complete, other: a.other - b.other });

/** A second listener on the stack's app whose requests run under the `observer` mark. */
async function observerServer(t: TestStack): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((ok, fail) => {
    const s = serve(
      { fetch: (req: Request, env: unknown) => observer.run('client', () => t.stack.app.fetch(req, env as never)), port: 0, hostname: '127.0.0.1' },
      () => ok(s),
    );
    s.once('error', fail);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

function percentiles(lat: number[]): { p50: number; p99: number } {
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

export async function workflowBench(): Promise<string[]> {
  // Before the stack starts: the sim hosts' agent clients take the global fetch when they are built.
  const agent = countAgentRequests();
  let t: TestStack | undefined;
  let watch: { url: string; close(): Promise<void> } | undefined;
  try {
    t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '2' }, simWorkMs: 0 });
    const { store, client } = t.stack;
    // Count every DynamoDB request the system makes, and the writes among them; the observer's apart.
    let requests = 0;
    let writes = 0;
    let observed = 0;
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const mark = observer.getStore();
        if (mark === 'client') observed++;
        else if (!mark) {
          requests++;
          if (/Put|Update|Delete|BatchWrite|TransactWrite/.test(String(ctx.commandName))) writes++;
        }
        return next(args);
      },
      { step: 'initialize', name: 'benchCounter' },
    );
    const api = t.admin;
    watch = await observerServer(t);
    const watcher = new Client(watch.url, t.stack.admin.accessKey, t.stack.admin.secretKey);
    await waitFor(watcher, '/v1/hosts', (h) => h.data?.length === 2 && h.data.every((x: any) => x.agentState === 'online'));

    // The write-rate floor: 16 in flight.
    const par = await measure(2000, 16, (i) => store.doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: `floorp#${i}`, sk: 'R' } })));
    // The latency units, sampled between the starts below so that they see the machine the starts see: one store
    // request at a time, and a bare HTTP round trip to the same server (the public versions root: no
    // authentication, no store).
    const storeLat: number[] = [];
    const httpLat: number[] = [];
    const sampleUnits = (round: number) =>
      observer.run('floor', async () => {
        for (let k = 0; k < 6; k++) {
          const s0 = performance.now();
          await store.doc.send(new PutCommand({ TableName: store.tableName, Item: { pk: `floor#${round}.${k}`, sk: 'R' } }));
          storeLat.push(performance.now() - s0);
        }
        for (let k = 0; k < 6; k++) {
          const s0 = performance.now();
          const r = await fetch(`${t!.stack.url}/`);
          await r.text();
          if (r.status !== 200) throw new Error(`GET / answered ${r.status}`);
          httpLat.push(performance.now() - s0);
        }
      });

    // Round trip of one start at a time, on stopped containers.
    const n = 50;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await api.post('/v1/containers', { imageUuid: 'sim:rt', name: `rt${i}`, startOnCreate: false });
      ids.push(r.body.id);
      await settle(watcher, `/v1/containers/${r.body.id}`);
    }
    // What one observing GET costs the store, measured with nothing else running, and a check that the mark works:
    // no store request counted as the system's meanwhile (an agent's long-poll may expire in the window: try again).
    let perPoll = NaN;
    for (let attempt = 0; attempt < 5 && Number.isNaN(perPoll); attempt++) {
      const quiet = { requests, observed };
      for (let i = 0; i < 20; i++) await watcher.get(`/v1/containers/${ids[0]}`);
      if (requests === quiet.requests) perPoll = (observed - quiet.observed) / 20;
    }
    if (Number.isNaN(perPoll)) throw new Error("observing GETs keep being counted as the system's: the mark does not reach the store");

    let polls = 0;
    const before = { requests, writes, observed, agent: { ...agent.calls } };
    const rtLat: number[] = [];
    for (let i = 0; i < n; i++) {
      const s0 = performance.now();
      const r = await api.post(`/v1/containers/${ids[i]}/?action=start`);
      if (r.status !== 202) throw new Error(`start failed: ${JSON.stringify(r.body)}`);
      const s = await waitFor(watcher, `/v1/containers/${ids[i]}`, (b) => (polls++, b.state === 'running'), { intervalMs: 2 });
      if (s.body.state !== 'running') throw new Error('not running');
      rtLat.push(performance.now() - s0);
      await sampleUnits(i);
    }
    const rt = percentiles(rtLat);
    const seq = percentiles(storeLat);
    const http = percentiles(httpLat);
    const perStart = (requests - before.requests) / n;
    const writesPerStart = (writes - before.writes) / n;
    const agentPerStart = minus(agent.calls, before.agent);
    const agentHttp = total(agentPerStart) / n;
    if (agentHttp === 0) throw new Error('no agent request was counted: the sim hosts no longer send through the global fetch');
    const pollsPerStart = polls / n;
    const observedPerStart = (observed - before.observed) / n;
    // The system's HTTP requests: the agent's, and the POST that starts the action.
    const httpPerStart = agentHttp + 1;
    const floorMs = perStart * seq.p50 + httpPerStart * http.p50;
    const per = (k: keyof AgentCalls) => fmt(agentPerStart[k] / n, 1);

    // 1,000 containers with startOnCreate at once.
    const w0 = { writes, requests, agent: { ...agent.calls } };
    const N = 1000;
    const t0 = performance.now();
    await measure(N, 50, (i) =>
      api.post('/v1/containers', { imageUuid: 'sim:bulk', name: `bulk${i}` }).then((r) => {
        if (r.status !== 201) throw new Error(`create failed ${r.status}: ${JSON.stringify(r.body)}`);
      }),
    );
    let running = 0;
    for (;;) {
      const r = await watcher.get('/v1/containers?name_prefix=bulk&state=running&limit=0');
      running = r.body.data.length;
      const settled = await watcher.get('/v1/containers?name_prefix=bulk&state_ne=running&limit=0');
      const stuckOrFailed = settled.body.data.filter((c: any) => c.transitioning !== 'yes');
      if (stuckOrFailed.length) {
        const first = stuckOrFailed[0];
        throw new Error(
          `${stuckOrFailed.length} containers ended in ${first.state} (first: ${first.id}, ${JSON.stringify(first.transitioningMessage)}) ` +
            `after ${fmt((performance.now() - t0) / 1000, 1)} s, with ${running} running`,
        );
      }
      if (running === N) break;
      if (performance.now() - t0 > 600_000) throw new Error(`only ${running} of ${N} running after 10 min`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const bulkSeconds = (performance.now() - t0) / 1000;
    const bulkWrites = writes - w0.writes;
    const bulkRequests = requests - w0.requests;
    const bulkAgent = total(minus(agent.calls, w0.agent));
    const writeFloorSeconds = bulkWrites / par.perSecond;

    return [
      `| store round trip, one at a time (PutItem, sampled between the starts) | p50 ${fmt(seq.p50, 2)} ms | 1.00 | the store unit of the floor below; ${storeLat.length} samples |`,
      `| HTTP round trip to the same server (GET /, no store, sampled between the starts) | p50 ${fmt(http.p50, 2)} ms | 1.00 | the HTTP unit of the floor below; ${httpLat.length} samples |`,
      `| action round trip: POST start → running observed (${n} sequential) | p50 ${fmt(rt.p50, 1)} ms, p99 ${fmt(rt.p99, 1)} ms | ${(rt.p50 / floorMs).toFixed(2)} | ` +
        `floor = ${fmt(perStart, 1)} store requests × ${fmt(seq.p50, 2)} ms + ${fmt(httpPerStart, 1)} HTTP requests × ${fmt(http.p50, 2)} ms = ${fmt(floorMs, 1)} ms; ` +
        `per start: ${fmt(perStart, 1)} store requests by the system (${fmt(writesPerStart, 1)} writes), ` +
        `${fmt(agentHttp, 1)} agent HTTP requests (poll ${per('poll')}, ack ${per('ack')}, progress ${per('progress')}, complete ${per('complete')}) + the POST; ` +
        `excluded: the client's ${fmt(pollsPerStart, 1)} polling GETs (${fmt(observedPerStart, 1)} store requests; one GET alone costs ${fmt(perPoll, 2)}) |`,
      `| ${N} containers, startOnCreate, created 50 at a time → all running | ${fmt(bulkSeconds, 1)} s, ${running}/${N} running, none lost | ${(bulkSeconds / writeFloorSeconds).toFixed(2)} | ` +
        `write floor = ${fmt(bulkWrites)} writes ÷ ${fmt(par.perSecond)} writes/s (16 in flight) = ${fmt(writeFloorSeconds, 1)} s; ` +
        `per container: ${fmt(bulkWrites / N, 1)} writes, ${fmt(bulkRequests / N, 1)} store requests, ${fmt(bulkAgent / N, 1)} agent HTTP requests |`,
    ];
  } finally {
    await watch?.close();
    await t?.close();
    agent.restore();
  }
}
