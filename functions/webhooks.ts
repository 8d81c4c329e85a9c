/**
 * @module
 * Lambda entry point of the webhook worker, run on a schedule (EventBridge): attempts every delivery due now. The
 * deliveries wait in the table (the stream consumer records them), so the table is the queue, and a delivery that
 * fails every attempt ends `failed`, disabling its webhook: the dead letter, kept where it can be listed and
 * redelivered.
 */
import { stageDrover } from './stage.js';

/** Scheduled handler. */
export const handler = async () => {
  await (await stageDrover()).webhooks.runDue();
  return { ran: true };
};
