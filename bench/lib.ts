/**
 * @module
 * Small benchmark helpers: run N operations at a fixed concurrency and report rate and latency percentiles.
 */

export interface Measure {
  ops: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/**
 * Runs `op(i)` for i in [0, n) with `concurrency` in flight; latencies in ms.
 *
 * @example
 * const m = await measure(1000, 16, (i) => store.get(`1i${i}`));
 */
export async function measure(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<Measure> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) {
        const s = performance.now();
        await op(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
  return { ops: n, seconds, perSecond: n / seconds, p50: pct(50), p99: pct(99) };
}

export const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
