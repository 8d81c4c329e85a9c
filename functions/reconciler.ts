/**
 * @module
 * Lambda entry point of the reconciler, run on a schedule (EventBridge, `DROVER_RECONCILE_SECONDS`): a consistent
 * Scan of the table finds orphaned work to drive and recomputes host allocations where that is safe.
 */
import { stageDrover } from './stage.js';

/** Scheduled handler; returns what it did, which also shows in the Lambda's logs. */
export const handler = async () => {
  const report = await (await stageDrover()).reconciler.reconcile();
  console.log(JSON.stringify({ message: 'reconcile', ...report }));
  return report;
};
