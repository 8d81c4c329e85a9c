/**
 * @module
 * Lambda entry point of the table's stream consumer: every committed change the stream reports goes through the
 * same event feed the embedded stack runs on its store's change feed, into the event log, the audit trail,
 * webhook deliveries (new ones go onto the delivery queue), automatic recovery's decisions (recorded with their due
 * time; `functions/recovery.ts` acts), the event bus, and the WebSocket API's `/v1/subscribe` clients.
 */
import { connectionPosterOf } from '../core/events/api-gateway-poster.js';
import { eventBusOf } from '../core/events/event-bridge.js';
import { webhookQueueOf } from '../core/events/webhook-queue.js';
import { changeOfStreamRecord, type StreamRecord } from '../core/store/stream.js';
import { stageDrover, type StageWiring } from './stage.js';

/** The consumer's clients: the delivery queue, the event bus and the WebSocket stage's management API. */
export const wiring: StageWiring = { webhookQueue: webhookQueueOf, eventBus: eventBusOf, connectionPoster: connectionPosterOf };

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
  const { events, audit, webhooks, bus, live, health } = await stageDrover(wiring);
  for (const r of event.Records) {
    if (!r.dynamodb) continue;
    const change = changeOfStreamRecord(r.dynamodb);
    events.consume(change);
    live?.observe(change);
  }
  await events.settled();
  // Subscribers get events once they are in the log (a connection that arrived is replayed from it first).
  await live?.settled();
  // What the events feed here (DROVER_STREAM_CONSUMER_ORIGIN set): the audit trail, webhook deliveries (queued), recovery.
  await audit.settled();
  await health.settled();
  await webhooks.settled();
  await bus?.settled();
  return { records: event.Records.length };
};
