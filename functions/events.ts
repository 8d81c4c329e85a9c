/**
 * @module
 * Lambda entry point of the table's stream consumer: every committed change the stream reports goes through the
 * same event feed the embedded stack runs on its store's change feed, into the event log, the audit trail and
 * webhook deliveries, whose new ones go onto the delivery queue.
 */
import { webhookQueueOf } from '../core/events/webhook-queue.js';
import { changeOfStreamRecord, type StreamRecord } from '../core/store/stream.js';
import { stageDrover } from './stage.js';

/** A DynamoDB Streams event as Lambda delivers it (only what is read). */
interface StreamEvent {
  Records: { dynamodb?: StreamRecord }[];
}

/**
 * Stream handler. A failed append, delivery record or send to the queue or the bus fails the batch, which Lambda
 * retries; a change delivered again keeps the id its event got the first time (`EventLog.claimId`), so nothing is
 * logged twice, and its event keeps the deliveries it got (`WebhookDeliveries.createOnce`), queued again if pending.
 */
export const handler = async (event: StreamEvent) => {
  const { events, audit, webhooks, bus } = await stageDrover({ webhookQueue: webhookQueueOf });
  for (const r of event.Records) if (r.dynamodb) events.consume(changeOfStreamRecord(r.dynamodb));
  await events.settled();
  // What the events feed here (DROVER_STREAM_CONSUMER_ORIGIN set): the audit trail, and webhook deliveries (queued).
  await audit.settled();
  await webhooks.settled();
  await bus?.settled();
  return { records: event.Records.length };
};
