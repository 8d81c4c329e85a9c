/**
 * @module
 * The agent's side of the `/agent` HTTP protocol: register, poll, ack, progress, complete, one try each. A failure
 * reaching the server is thrown as an `AgentNetworkError` (transient, see `retry.ts`), a non-2xx answer as an
 * `AgentHttpError`, anything else as it is. Commands are deduplicated by id, because delivery is at-least-once.
 */
import { PROGRESS_MESSAGE_MAX, COMMAND_ERROR_MAX, type AgentCommand, type CommandOutcome, type Doorbell, type ExitReport, type HealthReport, type HostFacts } from '../core/agent/protocol.js';
import { AgentHttpError, AgentNetworkError } from './retry.js';

/** A host's agent credential, as registration returns it. */
export interface Credentials {
  hostId: string;
  accessKey: string;
  secretKey: string;
  /** The key the host's access server verifies tokens with (given at registration and with the host's facts). */
  hostAccessKey?: string;
}

/** System error codes of a connection that failed or broke (Node's `net`/`dns`, undici). */
const NETWORK_CODE = /^(E(CONNREFUSED|CONNRESET|CONNABORTED|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|NETDOWN|AI_AGAIN|NOTFOUND)|UND_ERR_)/;

/**
 * Whether `fetch` (or reading its body) failed on the way to the server, rather than on what it was given:
 * undici reports a network failure as `TypeError('fetch failed')` and a body cut short as `TypeError('terminated')`,
 * while a bad URL or header is a TypeError with another message, a bug to surface.
 */
function isNetworkFailure(e: unknown): boolean {
  if (e instanceof TypeError && (e.message === 'fetch failed' || e.message === 'terminated')) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODE.test(code);
}

export interface AgentClientOptions {
  /** Base URL of the Drover server (`http://127.0.0.1:8080`). */
  url: string;
  credentials?: Credentials;
  /** Per-request timeout in ms on top of a long-poll's wait (default 15000). */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

/** Whether a poll answer's `doorbell` is one the agent can use (a WebSocket URL and positive intervals). */
function isDoorbell(d: unknown): d is Doorbell {
  const b = d as Doorbell | null | undefined;
  return (
    !!b &&
    typeof b.url === 'string' &&
    /^wss?:\/\//.test(b.url) &&
    [b.keepaliveSeconds, b.fallbackPollSeconds].every((n) => typeof n === 'number' && n > 0)
  );
}

/** How many command ids the client remembers for deduplication. */
const SEEN_LIMIT = 10_000;

/**
 * Talks to one Drover server as one host.
 *
 * @example
 * const client = new AgentClient({ url });
 * client.credentials = await client.register(token, facts);
 * for (const cmd of (await client.poll(20)).commands) await client.ack(cmd.id);
 */
export class AgentClient {
  credentials?: Credentials;
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly seen = new Set<string>();

  constructor(opts: AgentClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.credentials = opts.credentials;
    this.timeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /**
   * Registers the host with a registration token.
   *
   * @example
   * const creds = await client.register('ABC…:s3cret', { uuid, hostname, vcpu: 4, memoryMb: 8192, labels: {} });
   */
  async register(token: string, facts: HostFacts, signal?: AbortSignal): Promise<Credentials> {
    const body = await this.request<Credentials>('POST', '/agent/register', { token, ...facts }, { auth: false, signal });
    return { hostId: body.hostId, accessKey: body.accessKey, secretKey: body.secretKey, hostAccessKey: body.hostAccessKey };
  }

  /**
   * Reports the host's facts again (an agent started with a saved credential: its driver, access server or sandbox
   * may have changed) and returns the host's access key.
   *
   * @example
   * client.credentials!.hostAccessKey = await client.reportFacts({ hostname, vcpu: 4, memoryMb: 8192, labels: {} });
   */
  async reportFacts(facts: Omit<HostFacts, 'uuid'>, signal?: AbortSignal): Promise<string | undefined> {
    const body = await this.request<{ hostAccessKey?: string }>('POST', '/agent/facts', facts, { signal });
    return body.hostAccessKey;
  }

  /**
   * Waiting commands not seen before (long-polls up to `waitSeconds`), and how many the server delivered. A
   * command delivered again (the ack was lost, or another poll overlapped) is dropped here, so it never runs
   * twice; `delivered > commands.length` then tells that some acks are still on the way. `doorbell` is where the
   * server rings this agent, when it has one (AWS).
   *
   * @example
   * const { commands, delivered, doorbell } = await client.poll(20, 10, signal);
   */
  async poll(waitSeconds: number, limit = 20, signal?: AbortSignal): Promise<{ commands: AgentCommand[]; delivered: number; doorbell?: Doorbell }> {
    const q = `?wait=${encodeURIComponent(String(waitSeconds))}&limit=${limit}`;
    const body = await this.request<{ data: AgentCommand[]; doorbell?: Doorbell }>('GET', `/agent/commands${q}`, undefined, {
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
    return { commands, delivered: all.length, doorbell: isDoorbell(body.doorbell) ? body.doorbell : undefined };
  }

  /**
   * Acknowledges a command (idempotent on the server).
   *
   * @example
   * await client.ack(cmd.id);
   */
  async ack(id: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/agent/commands/${encodeURIComponent(id)}/ack`, {}, { signal });
  }

  /**
   * Reports progress (and heartbeats). `'gone'` means the server no longer wants the command (410, 404): stop it.
   * A message longer than the protocol allows is cut to fit.
   *
   * @example
   * if ((await client.progress(cmd.id, 'Pulling image', 30)) === 'gone') abort();
   */
  async progress(id: string, message?: string | null, progress?: number | null, signal?: AbortSignal): Promise<'ok' | 'gone'> {
    const body: Record<string, unknown> = {};
    if (message !== undefined && message !== null) body.message = message.slice(0, PROGRESS_MESSAGE_MAX);
    if (progress !== undefined && progress !== null) body.progress = Math.max(0, Math.min(100, Math.round(progress)));
    try {
      await this.request('POST', `/agent/commands/${encodeURIComponent(id)}/progress`, body, { signal });
      return 'ok';
    } catch (e) {
      if (e instanceof AgentHttpError && (e.status === 410 || e.status === 404)) return 'gone';
      throw e;
    }
  }

  /**
   * Completes a command with its result or error (an error message is cut to what the protocol allows).
   * `duplicate` is true when the server had the outcome already.
   *
   * @example
   * await client.complete(cmd.id, { result: { fields: { externalId } } });
   * await client.complete(cmd.id, { error: 'image not found' });
   */
  async complete(id: string, outcome: CommandOutcome, signal?: AbortSignal): Promise<{ duplicate: boolean }> {
    const body = 'error' in outcome ? { error: outcome.error.slice(0, COMMAND_ERROR_MAX) } : outcome;
    return this.request('POST', `/agent/commands/${encodeURIComponent(id)}/complete`, body, { signal });
  }

  /**
   * Reports health transitions of the host's instances; the answer lists those to report again later.
   *
   * @example
   * const { retry } = await client.health([{ resourceId: '1i5', healthy: false, message: 'connection refused' }]);
   */
  health(reports: HealthReport[], signal?: AbortSignal): Promise<{ retry: string[] }> {
    return this.request('POST', '/agent/health', { data: reports }, { signal });
  }

  /**
   * Reports instances that stopped on their own; the answer lists those to report again later.
   *
   * @example
   * await client.exits([{ resourceId: '1i5', exitCode: 1 }]);
   */
  exits(reports: ExitReport[], signal?: AbortSignal): Promise<{ retry: string[] }> {
    return this.request('POST', '/agent/exits', { data: reports }, { signal });
  }

  /**
   * The `Authorization` header of the host's credential (the doorbell's handshake sends it too).
   *
   * @example
   * new WebSocket(doorbell.url, { headers: { authorization: client.authorization() } });
   */
  authorization(): string {
    const c = this.credentials;
    if (!c) throw new Error('agent has no credentials: register first');
    return `Basic ${Buffer.from(`${c.accessKey}:${c.secretKey}`).toString('base64')}`;
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_LIMIT) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }

  /**
   * One request. Throws `AgentNetworkError` when the server was not reached or did not answer within the timeout,
   * `AgentHttpError` on a non-2xx answer, and the caller's own abort (or any other error) as it is.
   */
  private async request<T = unknown>(
    method: string,
    path: string,
    body: unknown,
    o: { auth?: boolean; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<T> {
    const what = `${method} ${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (o.auth !== false) headers.authorization = this.authorization();
    const timeout = AbortSignal.timeout(o.timeoutMs ?? this.timeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (e) {
      if (o.signal?.aborted) throw e; // the caller gave up: not the server's failure
      if (timeout.aborted) throw new AgentNetworkError(what, e, true);
      if (isNetworkFailure(e)) throw new AgentNetworkError(what, e);
      throw e;
    }
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (!res.ok) throw new AgentHttpError(res.status, parsed, what);
    return parsed as T;
  }
}
