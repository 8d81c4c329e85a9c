/**
 * @module
 * Which failures the agent tries again, and how it waits between tries. Only the way to the server failing is
 * transient: a network error, a timeout, or the server saying so (5xx, 429, 408). Anything else (a 4xx the agent
 * did not expect, a TypeError in its own code) is a fault that no retry mends, so it is thrown at once. Retries
 * are bounded (`attempts`) and wait a full-jitter exponential backoff, so a fleet reconnecting after an outage
 * spreads out instead of arriving in waves.
 */

/** A non-2xx answer from the server. */
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

/** The server could not be reached, or did not answer in time (`timedOut`). */
export class AgentNetworkError extends Error {
  constructor(
    what: string,
    cause: unknown,
    readonly timedOut = false,
  ) {
    super(`${what}: ${timedOut ? 'timed out' : `network error (${describeCause(cause)})`}`, { cause });
    this.name = 'AgentNetworkError';
  }
}

function describeCause(e: unknown): string {
  const inner = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof inner?.code === 'string') return inner.code;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Whether a failure is worth trying again: network trouble, timeouts, and 5xx, 429 and 408 answers.
 *
 * @example
 * isTransient(new AgentHttpError(503, null, 'poll'))   // true
 * isTransient(new AgentHttpError(404, null, 'ack'))    // false
 * isTransient(new TypeError('x is not a function'))    // false: a bug, surfaced at once
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof AgentNetworkError) return true;
  if (e instanceof AgentHttpError) return e.status >= 500 || e.status === 429 || e.status === 408;
  return false;
}

/** How often to try, and how long to wait in between. */
export interface RetryPolicy {
  /** Tries per request, the first included (default 8: about 30 s of waiting on average, at most a minute). */
  attempts?: number;
  /** First backoff ceiling, ms (default 500). */
  baseMs?: number;
  /** Largest backoff ceiling, ms (default 30 000). */
  capMs?: number;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
}

export const DEFAULT_ATTEMPTS = 8;

/**
 * Full-jitter exponential backoff (AWS Architecture Blog): the n-th delay (from 0) is drawn uniformly from
 * [0, min(cap, base·2^n)).
 *
 * @example
 * const b = new Backoff({ baseMs: 500, capMs: 30_000 });
 * await b.sleep(signal); // first retry: 0–500 ms
 * b.reset();             // after a success
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;

  constructor(policy: RetryPolicy = {}) {
    this.baseMs = policy.baseMs ?? 500;
    this.capMs = policy.capMs ?? 30_000;
    this.random = policy.random ?? Math.random;
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
    return pause(this.next(), signal);
  }
}

/**
 * Waits `ms`, or less when `signal` aborts (it resolves then; it never throws).
 *
 * @example
 * await pause(5000, stopping.signal);
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
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

/**
 * Runs `fn` until it succeeds, fails for good (not `isTransient`), `signal` aborts or `policy.attempts` tries
 * have failed, waiting a full-jitter backoff between tries; then throws the last error.
 *
 * @example
 * const creds = await retry(() => client.register(token, facts), { attempts: 8 }, { signal, onError: warn });
 */
export async function retry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy = {},
  opts: { signal?: AbortSignal; onError?: (e: unknown) => void } = {},
): Promise<T> {
  const backoff = new Backoff(policy);
  const attempts = policy.attempts ?? DEFAULT_ATTEMPTS;
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
