/**
 * @module
 * Lambda entry points of webhook delivery in AWS. `queueHandler` is the delivery queue's worker: each SQS message
 * names a delivery to attempt now if it is due (`core/events/webhook-queue.ts`); the outcome is recorded in the
 * table, and a receiver's refusal is a normal retry, queued again with its delay. A message whose attempt threw
 * (Drover's own failure: the table or the queue could not be reached) is reported failed, so SQS delivers it again,
 * and after the queue's receive limit moves it to the dead-letter queue, kept 14 days. A message there names a
 * delivery still in the table: pending or retrying, the scheduled `handler` attempts it once it is due; to have it
 * tried at once, use the delivery's `redeliver` action (`POST /v1/webhookdeliveries/<id>?action=redeliver`), or move
 * the dead letters back to the queue (SQS redrive: `aws sqs start-message-move-task --source-arn <dlq arn>`), which
 * is harmless, a duplicate being a no-op. `handler` runs every minute and attempts every delivery due: the safety net
 * for what the queue missed and for retries that wait longer than a message's longest delay (900 s). A delivery
 * that fails every attempt ends `failed`, disabling its webhook, listable and redeliverable by hand.
 */
import { attemptMessages, webhookQueueOf, type QueueMessage } from '../core/events/webhook-queue.js';
import { stageDrover } from './stage.js';

/** Scheduled handler. */
export const handler = async () => {
  await (await stageDrover({ webhookQueue: webhookQueueOf })).webhooks.runDue();
  return { ran: true };
};

/** SQS handler, with partial batch responses (`ReportBatchItemFailures` on the event source mapping). */
export const queueHandler = async (event: { Records: QueueMessage[] }) => {
  const { webhooks } = await stageDrover({ webhookQueue: webhookQueueOf });
  return { batchItemFailures: await attemptMessages(webhooks, event.Records) };
};
