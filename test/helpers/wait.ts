/**
 * @module
 * Waiting the way Rancher clients do (cattle `wait_transitioning`): poll a resource until a condition holds,
 * recording every state seen on the way.
 */
import type { Client } from './client.js';

export interface Settled {
  body: any;
  /** Distinct states observed, in order (consecutive repeats folded). */
  states: string[];
}

/**
 * Polls `path` every `intervalMs` until `done(body)` is true; throws with the observed states on timeout.
 *
 * @example
 * const { body, states } = await waitFor(api, `/v1/containers/${id}`, (c) => c.transitioning !== 'yes');
 */
export async function waitFor(
  client: Client,
  path: string,
  done: (body: any) => boolean,
  opts: { timeoutMs?: number; intervalMs?: number; seen?: string[] } = {},
): Promise<Settled> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const states = opts.seen ? [...opts.seen] : [];
  for (;;) {
    const r = await client.get(path);
    if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    if (states[states.length - 1] !== r.body.state) states.push(r.body.state);
    if (done(r.body)) return { body: r.body, states };
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting on ${path}; states seen: ${states.join(' → ')}; last: ${JSON.stringify(r.body).slice(0, 400)}`);
    }
    await new Promise((res) => setTimeout(res, opts.intervalMs ?? 20));
  }
}

/**
 * Waits until the resource has settled (`transitioning` is not `yes`).
 *
 * @example
 * const c = (await settle(api, `/v1/containers/${id}`)).body;
 */
export function settle(client: Client, path: string, opts?: { timeoutMs?: number; seen?: string[] }): Promise<Settled> {
  return waitFor(client, path, (b) => b.transitioning !== 'yes', opts);
}

/**
 * Polls `fn` every 10 ms until it gives a truthy value, and returns it; throws after `ms`.
 *
 * @example
 * const success = await until(() => wf.calls.find((c) => c.kind === 'success'));
 * await until(async () => (await outbox.get(hostId, id))?.status === 'acked');
 */
export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
