/**
 * @module
 * The stage's webhook delivery queue (SQS; AWS only): the stream consumer queues each new delivery, and a retry whose
 * wait fits SQS's longest delay (900 s) is queued again with that delay; the queue's worker (`functions/webhooks.ts`,
 * `queueHandler`) attempts what each message names. A message is `{"deliveryId":"1whd3"}` and only says "attempt
 * delivery 1whd3 now if it is due": the table keeps the delivery's status, attempts and next attempt, and the
 * attempt's claim makes a duplicate message a no-op. Only the entry points that use the queue import this module,
 * so no other Lambda bundle carries the SQS client.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DroverConfig } from '../config.js';
import type { DeliveryQueue, QueuedAttempt, WebhookDispatcher } from '../domain/webhooks.js';

/** SendMessageBatch takes at most ten entries. */
const BATCH = 10;

/** The longest `DelaySeconds` SQS takes. */
export const SQS_MAX_DELAY_SECONDS = 900;

export interface SqsDeliveryQueueOptions {
  client: Pick<SQSClient, 'send'>;
  queueUrl: string;
}

/**
 * Queues delivery attempts on an SQS queue, ten per request.
 *
 * @example
 * const queue = new SqsDeliveryQueue({ client: new SQSClient({}), queueUrl });
 * await queue.send([{ id: '1whd3' }, { id: '1whd4', delaySeconds: 30 }]);
 */
export class SqsDeliveryQueue implements DeliveryQueue {
  readonly maxDelaySeconds = SQS_MAX_DELAY_SECONDS;

  constructor(private readonly opts: SqsDeliveryQueueOptions) {}

  /** Sends the attempts; rejects if SQS refused any of them (the caller's batch is then retried). */
  async send(attempts: QueuedAttempt[]): Promise<void> {
    for (let i = 0; i < attempts.length; i += BATCH) {
      const batch = attempts.slice(i, i + BATCH);
      const out = await this.opts.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.opts.queueUrl,
          Entries: batch.map((a, n) => ({ Id: String(n), MessageBody: JSON.stringify({ deliveryId: a.id }), DelaySeconds: a.delaySeconds })),
        }),
      );
      if (out.Failed?.length) {
        throw new Error(`SQS refused ${out.Failed.length} of ${batch.length} delivery attempts (${out.Failed[0].Code}: ${out.Failed[0].Message ?? ''})`);
      }
    }
  }
}

/**
 * The stage's queue when the stack names one (`DROVER_WEBHOOK_QUEUE_URL`); its client talks to the queue URL's host.
 *
 * @example
 * const drover = await stageDrover({ webhookQueue: webhookQueueOf });
 */
export function webhookQueueOf(config: DroverConfig): SqsDeliveryQueue | undefined {
  const queueUrl = config.webhookQueueUrl;
  if (!queueUrl) return undefined;
  return new SqsDeliveryQueue({ client: new SQSClient({ region: config.region, endpoint: new URL(queueUrl).origin }), queueUrl });
}

/** An SQS message as Lambda delivers it (only what is read). */
export interface QueueMessage {
  messageId: string;
  body: string;
}

/**
 * Attempts the delivery each message names, all at once, and returns the messages to report failed (Lambda's partial
 * batch response): those whose attempt threw, which SQS delivers again and, after the queue's receive limit, moves
 * to the dead-letter queue. A receiver's refusal is no failure (the retry is recorded and queued); a body that
 * names no delivery is logged and dropped, as trying it again cannot help.
 *
 * @example
 * return { batchItemFailures: await attemptMessages(drover.webhooks, event.Records) };
 */
export async function attemptMessages(
  webhooks: Pick<WebhookDispatcher, 'attempt'>,
  messages: QueueMessage[],
  log: (err: unknown) => void = (e) => console.error('webhook queue:', e),
): Promise<{ itemIdentifier: string }[]> {
  const outcomes = await Promise.allSettled(
    messages.map(async (m) => {
      const id = deliveryIdOf(m.body);
      if (id) await webhooks.attempt(id);
      else log(new Error(`message ${m.messageId} names no delivery: ${m.body.slice(0, 200)}`));
    }),
  );
  return outcomes.flatMap((o, i) => {
    if (o.status === 'fulfilled') return [];
    log(new Error(`attempt of message ${messages[i].messageId} failed`, { cause: o.reason }));
    return [{ itemIdentifier: messages[i].messageId }];
  });
}

/** The delivery id a message body names, or `undefined`. */
function deliveryIdOf(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { deliveryId?: unknown } | null)?.deliveryId;
    return typeof id === 'string' && id ? id : undefined;
  } catch {
    return undefined;
  }
}
