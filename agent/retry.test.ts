/**
 * The agent's retry rules: which failures are transient, that retries stop after the bound, that each wait is
 * a full-jitter draw under its ceiling, and that a bug is thrown at once instead of being retried.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentHttpError, AgentNetworkError, Backoff, DEFAULT_ATTEMPTS, isTransient, retry } from './retry.js';

const http = (status: number) => new AgentHttpError(status, { message: 'x' }, 'POST /agent/commands/a/ack');
const network = () => new AgentNetworkError('GET /agent/commands', new TypeError('fetch failed'));

afterEach(() => {
  vi.useRealTimers();
});

describe('isTransient', () => {
  it('is true for the way to the server failing: network errors, timeouts, 5xx, 429 and 408', () => {
    for (const e of [network(), new AgentNetworkError('GET /agent/commands', null, true), ...[500, 502, 503, 504, 429, 408].map(http)]) {
      expect(isTransient(e), e.message).toBe(true);
    }
  });

  it('is false for answers no retry changes, and for bugs', () => {
    for (const status of [400, 401, 403, 404, 409, 410, 413, 422]) expect(isTransient(http(status)), String(status)).toBe(false);
    const bugs = [
      new TypeError("Cannot read properties of undefined (reading 'id')"),
      new TypeError('fetch failed'), // only as the client wraps it (AgentNetworkError) is it a network error
      new RangeError('Invalid array length'),
      new Error('agent has no credentials: register first'),
      new DOMException('This operation was aborted', 'AbortError'),
      'a string',
      undefined,
    ];
    for (const e of bugs) expect(isTransient(e), String(e)).toBe(false);
  });
});

describe('Backoff', () => {
  it('draws each delay from [0, min(cap, base·2^attempt)) and starts over after reset', () => {
    const top = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6].map(() => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0 });
    expect(bottom.next()).toBe(0);
    top.reset();
    expect(top.next()).toBe(99);
  });

  it('with real randomness, stays under its ceiling and spreads out (full jitter, not a fixed delay)', () => {
    const ceilings = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
    const draws = Array.from({ length: 200 }, () => {
      const b = new Backoff({ baseMs: 100, capMs: 1000 });
      return ceilings.map(() => b.next());
    });
    for (const row of draws) row.forEach((d, i) => expect(d >= 0 && d < ceilings[i], `${d} < ${ceilings[i]}`).toBe(true));
    for (let i = 0; i < ceilings.length; i++) {
      const column = draws.map((row) => row[i]);
      // 200 uniform draws: at least one in each quarter of [0, ceiling).
      for (let q = 0; q < 4; q++) {
        expect(column.some((d) => d >= (q * ceilings[i]) / 4 && d < ((q + 1) * ceilings[i]) / 4), `attempt ${i}, quarter ${q}`).toBe(true);
      }
    }
  });
});

describe('retry', () => {
  it('waits the jittered delays between tries', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const draws = [0.5, 0.25, 0.999];
    const p = retry(
      async () => {
        calls++;
        if (calls < 4) throw network();
        return 'ok';
      },
      { baseMs: 100, capMs: 150, random: () => draws.shift()! },
    );
    // Delays: 0.5·100 = 50, 0.25·min(150, 200) = 37, 0.999·min(150, 400) = 149.
    await vi.advanceTimersByTimeAsync(0);
    for (const [delay, tries] of [[50, 1], [37, 2], [149, 3]]) {
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(calls).toBe(tries);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(tries + 1);
    }
    await expect(p).resolves.toBe('ok');
    expect(calls).toBe(4);
  });

  it('stops after `attempts` tries and throws the last error', async () => {
    let calls = 0;
    const warned: unknown[] = [];
    const errors = Array.from({ length: 10 }, (_, i) => new AgentHttpError(503, { message: `busy ${i}` }, 'GET /agent/commands'));
    const err = await retry(
      async () => {
        throw errors[calls++];
      },
      { attempts: 4, baseMs: 1, capMs: 1 },
      { onError: (e) => warned.push(e) },
    ).catch((e) => e);
    expect(calls).toBe(4);
    expect(err).toBe(errors[3]);
    expect(warned).toEqual(errors.slice(0, 3));
  });

  it('is bounded by default too', async () => {
    let calls = 0;
    const err = await retry(
      async () => {
        calls++;
        throw network();
      },
      { baseMs: 0 },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(AgentNetworkError);
    expect(calls).toBe(DEFAULT_ATTEMPTS);
  });

  it('throws a bug or a refusal at once, without waiting', async () => {
    for (const e of [new TypeError('client.ack is not a function'), http(422)]) {
      let calls = 0;
      const thrown = await retry(
        async () => {
          calls++;
          throw e;
        },
        { attempts: 100, baseMs: 60_000 },
      ).catch((x) => x);
      expect([thrown, calls]).toEqual([e, 1]);
    }
  });

  it('stops when its signal aborts', async () => {
    const stop = new AbortController();
    let calls = 0;
    const p = retry(
      async () => {
        if (++calls === 2) stop.abort();
        throw network();
      },
      { attempts: 100, baseMs: 1, capMs: 1 },
      { signal: stop.signal },
    ).catch((e) => e);
    expect(await p).toBeInstanceOf(AgentNetworkError);
    expect(calls).toBe(2);
  });
});
