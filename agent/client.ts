/**
 * @module
 * The agent's side of the `/agent` HTTP protocol: register, poll, ack, progress, complete. Transient failures
 * (network errors, 5xx, 429) are retried with full-jitter exponential backoff, so a fleet reconnecting after
 * an outage spreads out; commands are deduplicated by id, because delivery is at-least-once.
 */
import type { AgentCommand, HostFacts } from '../core/agent/protocol.js';

/** Protocol version the agent speaks, sent on every request (notes §A.8). */
export const AGENT_VERSION = '1';

/** A host's agent credential, as registration returns it. */
export interface Credentials {
  hostId: string;
  accessKey: string;
  secretKey: string;
}

/** What the agent tells the server about its host when registering (the server's own type: one contract). */
export type { HostFacts };

/** How a command ended. */
export type Outcome = { result: Record<string, unknown> } | { error: string };

/** A non-2xx answer. */
export class AgentHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    const msg = (body as { message?: unknown } | null)?.message;
    super(`${what}: HTTP ${status}${typeof msg === 'string' ? ` ${msg}` : ''}`);
    this.name = 'AgentHttpError';
  }
}

/**
 * Whether a failure is worth retrying: network trouble, timeouts, 408, 429 and 5xx.
 *
 * @example
 * isTransient(new AgentHttpError(503, null, 'poll')) // true
 * isTransient(new AgentHttpError(404, null, 'ack'))  // false
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof AgentHttpError) return e.status >= 500 || e.status === 429 || e.status === 408;
  return true;
}

/**
 * Full-jitter exponential backoff (AWS Architecture Blog): a random delay in [0, min(cap, base·2^attempt)).
 *
 * @example
 * const b = new Backoff({ baseMs: 500, capMs: 30_000 });
 * await b.sleep(signal); // first retry: 0–500 ms
 * b.reset();             // after a success
 */
export class Backoff {
  attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;

  constructor(opts: { baseMs?: number; capMs?: number; random?: () => number } = {}) {
    this.baseMs = opts.baseMs ?? 500;
    this.capMs = opts.capMs ?? 30_000;
    this.random = opts.random ?? Math.random;
  }

  /** The next delay in ms, and one more attempt counted. */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }

  /** Waits the next delay; resolves early (without throwing) when `signal` aborts. */
  sleep(signal?: AbortSignal): Promise<void> {
    const ms = this.next();
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

export interface AgentClientOptions {
  /** Base URL of the Drover server (`http://127.0.0.1:8080`). */
  url: string;
  credentials?: Credentials;
  /** Per-request timeout in ms on top of a long-poll's wait (default 15000). */
  requestTimeoutMs?: number;
  backoff?: { baseMs?: number; capMs?: number };
  fetch?: typeof fetch;
}

/** How many command ids the client remembers for deduplication. */
const SEEN_LIMIT = 10_000;

/**
 * Talks to one Drover server as one host.
 *
 * @example
 * const client = new AgentClient({ url });
 * client.credentials = await client.register(token, facts);
 * for (const cmd of await client.poll(20)) await client.ack(cmd.id);
 */
export class AgentClient {
  credentials?: Credentials;
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly backoffOpts: { baseMs?: number; capMs?: number };
  private readonly seen = new Set<string>();

  constructor(opts: AgentClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.credentials = opts.credentials;
    this.timeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.fetchImpl = opts.fetch ?? fetch;
    this.backoffOpts = opts.backoff ?? {};
  }

  /** A fresh backoff with this client's settings. */
  backoff(): Backoff {
    return new Backoff(this.backoffOpts);
  }

  /**
   * Registers the host with a registration token (one attempt; see `retry`).
   *
   * @example
   * const creds = await client.register('ABC…:s3cret', { uuid, hostname, vcpu: 4, memoryMb: 8192, labels: {} });
   */
  async register(token: string, facts: HostFacts, signal?: AbortSignal): Promise<Credentials> {
    const body = await this.request<Credentials>('POST', '/agent/register', { token, ...facts }, { auth: false, signal });
    return { hostId: body.hostId, accessKey: body.accessKey, secretKey: body.secretKey };
  }

  /**
   * Waiting commands not seen before (long-polls up to `waitSeconds`). A command delivered again (the ack
   * was lost, or another poll overlapped) is dropped here, so it never runs twice.
   *
   * @example
   * const fresh = await client.poll(20, 10, signal);
   */
  async poll(waitSeconds: number, limit = 20, signal?: AbortSignal): Promise<AgentCommand[]> {
    return (await this.pollBatch(waitSeconds, limit, signal)).commands;
  }

  /**
   * `poll`, also telling how many commands the server delivered (`delivered > commands.length`: some were
   * repeats, typically because their acks are still on the way).
   *
   * @example
   * const { commands, delivered } = await client.pollBatch(20);
   */
  async pollBatch(waitSeconds: number, limit = 20, signal?: AbortSignal): Promise<{ commands: AgentCommand[]; delivered: number }> {
    const q = `?wait=${encodeURIComponent(String(waitSeconds))}&limit=${limit}`;
    const body = await this.request<{ data: AgentCommand[] }>('GET', `/agent/commands${q}`, undefined, {
      signal,
      timeoutMs: waitSeconds * 1000 + this.timeoutMs,
    });
    const all = body.data ?? [];
    const commands: AgentCommand[] = [];
    for (const cmd of all) {
      if (this.seen.has(cmd.id)) continue;
      this.remember(cmd.id);
      commands.push(cmd);
    }
    return { commands, delivered: all.length };
  }

  /** Whether a command id was already delivered to this client. */
  hasSeen(id: string): boolean {
    return this.seen.has(id);
  }

  /**
   * Acknowledges a command (idempotent on the server).
   *
   * @example
   * await client.ack(cmd.id);
   */
  async ack(id: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/agent/commands/${encodeURIComponent(id)}/ack`, {}, { signal, commandId: id });
  }

  /**
   * Reports progress (and heartbeats). `'gone'` means the server no longer wants the command (410): stop it.
   *
   * @example
   * if ((await client.progress(cmd.id, 'Pulling image', 30)) === 'gone') abort();
   */
  async progress(id: string, message?: string | null, progress?: number | null, signal?: AbortSignal): Promise<'ok' | 'gone'> {
    const body: Record<string, unknown> = {};
    if (message !== undefined && message !== null) body.message = message;
    if (progress !== undefined && progress !== null) body.progress = Math.max(0, Math.min(100, Math.round(progress)));
    try {
      await this.request('POST', `/agent/commands/${encodeURIComponent(id)}/progress`, body, { signal, commandId: id });
      return 'ok';
    } catch (e) {
      if (e instanceof AgentHttpError && (e.status === 410 || e.status === 404)) return 'gone';
      throw e;
    }
  }

  /**
   * Completes a command with its result or error. `duplicate` is true when the server had the outcome already.
   *
   * @example
   * await client.complete(cmd.id, { result: { fields: { externalId } } });
   * await client.complete(cmd.id, { error: 'image not found' });
   */
  async complete(id: string, outcome: Outcome, signal?: AbortSignal): Promise<{ duplicate: boolean }> {
    return this.request('POST', `/agent/commands/${encodeURIComponent(id)}/complete`, outcome, { signal, commandId: id });
  }

  /**
   * Runs `fn` until it succeeds, fails for good (not `isTransient`), `signal` aborts or `attempts` run out,
   * sleeping a full-jitter backoff between tries.
   *
   * @example
   * await client.retry(() => client.complete(id, outcome), { signal });
   */
  async retry<T>(fn: () => Promise<T>, opts: { signal?: AbortSignal; attempts?: number; onError?: (e: unknown) => void } = {}): Promise<T> {
    const backoff = this.backoff();
    const attempts = opts.attempts ?? Infinity;
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!isTransient(e) || i >= attempts || opts.signal?.aborted) throw e;
        opts.onError?.(e);
        await backoff.sleep(opts.signal);
        if (opts.signal?.aborted) throw e;
      }
    }
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_LIMIT) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }

  private async request<T = unknown>(
    method: string,
    path: string,
    body: unknown,
    o: { auth?: boolean; signal?: AbortSignal; timeoutMs?: number; commandId?: string },
  ): Promise<T> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-drover-agent-version': AGENT_VERSION,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (o.commandId) headers['x-drover-command-id'] = o.commandId;
    if (o.auth !== false) {
      const c = this.credentials;
      if (!c) throw new Error('agent has no credentials: register first');
      headers.authorization = `Basic ${Buffer.from(`${c.accessKey}:${c.secretKey}`).toString('base64')}`;
    }
    const timeout = AbortSignal.timeout(o.timeoutMs ?? this.timeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    const res = await this.fetchImpl(`${this.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (!res.ok) throw new AgentHttpError(res.status, parsed, `${method} ${path}`);
    return parsed as T;
  }
}
