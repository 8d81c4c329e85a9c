/**
 * @module
 * Small benchmark helpers: run N operations at a fixed concurrency and report rate and latency percentiles, or
 * run a floor and what is compared with it in alternating rounds, so both see the same machine.
 */

export interface Measure {
  ops: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** Latencies (ms) of `op(i)` for i in [0, n) with `concurrency` in flight, and the wall time in seconds. */
async function run(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<{ lat: number[]; seconds: number }> {
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
  return { lat, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The `p`th percentile of `xs` (nearest rank below; `xs` is not changed).
 *
 * @example
 * percentile([5, 1, 3], 50) // 3
 */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summarize(lat: number[], seconds: number): Measure {
  return { ops: lat.length, seconds, perSecond: lat.length / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/**
 * Runs `op(i)` for i in [0, n) with `concurrency` in flight; latencies in ms.
 *
 * @example
 * const m = await measure(1000, 16, (i) => store.get(`1i${i}`));
 */
export async function measure(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<Measure> {
  const { lat, seconds } = await run(n, concurrency, op);
  return summarize(lat, seconds);
}

/**
 * Measures a floor and a subject in `rounds` alternating rounds of `n` operations each (floor first), and
 * sums them up per side: a machine shared with other work slows both alike rather than one of them.
 *
 * @example
 * const { floor, subject } = await versus(3, 500, 8, (i) => bare(i), (i) => api(i));
 */
export async function versus(
  rounds: number,
  n: number,
  concurrency: number,
  floorOp: (i: number) => Promise<unknown>,
  subjectOp: (i: number) => Promise<unknown>,
): Promise<{ floor: Measure; subject: Measure }> {
  const sides = [
    { op: floorOp, lat: [] as number[], seconds: 0 },
    { op: subjectOp, lat: [] as number[], seconds: 0 },
  ];
  for (let r = 0; r < rounds; r++) {
    for (const side of sides) {
      const m = await run(n, concurrency, (i) => side.op(r * n + i));
      side.lat.push(...m.lat);
      side.seconds += m.seconds;
    }
  }
  return { floor: summarize(sides[0].lat, sides[0].seconds), subject: summarize(sides[1].lat, sides[1].seconds) };
}

export const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
