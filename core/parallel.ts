/**
 * @module
 * Runs work over a list with a bounded number of calls in flight.
 */

/**
 * Calls `fn` on every item, at most `limit` at a time; resolves when all are done (rejects on the first throw).
 *
 * @example
 * await inParallel(batches, 4, (batch) => writeBatch(batch));
 */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
