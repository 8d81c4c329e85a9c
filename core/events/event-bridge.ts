/**
 * @module
 * Publishing `resource.change` events to an EventBridge bus (D10): what the table stream's consumer does in AWS, so
 * rules on the bus can route Drover's events to other services. Events go out in batches of ten, in feed order.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DroverConfig } from '../config.js';
import type { StoredEvent } from '../store/events.js';

/** An event entry may carry up to 256 KB; past this the resource is left out (`truncated: true`), never the event. */
const MAX_DETAIL_BYTES = 200 * 1024;
/** PutEvents takes at most ten entries. */
const BATCH = 10;

export interface EventBridgePublisherOptions {
  client: Pick<EventBridgeClient, 'send'>;
  busName: string;
  /** The event as the API renders it (the stream's shape). */
  render: (event: StoredEvent) => Record<string, unknown>;
}

/**
 * Publishes events to a bus, queued and sent in order.
 *
 * @example
 * const bus = new EventBridgePublisher({ client: new EventBridgeClient({}), busName, render });
 * feed.subscribe((e) => bus.add(e)); await bus.settled();
 */
export class EventBridgePublisher {
  private pending: StoredEvent[] = [];
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly opts: EventBridgePublisherOptions) {}

  /** Queues an event; it is sent with the next batch. */
  add(event: StoredEvent): void {
    this.pending.push(event);
    this.chain = this.chain.then(() => this.flush()).catch((e) => {
      this.failure ??= e;
    });
  }

  /**
   * Resolves once every queued event is on the bus; rejects (once) if a batch failed, so a stream batch is retried.
   *
   * @example
   * await bus.settled();
   */
  async settled(): Promise<void> {
    await this.chain;
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) throw failure;
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, BATCH);
      const out = await this.opts.client.send(new PutEventsCommand({ Entries: batch.map((e) => this.entry(e)) }));
      if (out.FailedEntryCount) throw new Error(`EventBridge refused ${out.FailedEntryCount} of ${batch.length} events`);
    }
  }

  private entry(e: StoredEvent): PutEventsRequestEntry {
    const rendered = this.opts.render(e);
    let detail = JSON.stringify(rendered);
    if (Buffer.byteLength(detail) > MAX_DETAIL_BYTES) detail = JSON.stringify({ ...rendered, data: null, truncated: true });
    return { EventBusName: this.opts.busName, Source: 'drover', DetailType: e.name, Detail: detail, Time: new Date(e.time), Resources: [] };
  }
}

/**
 * The stage's publisher when the stack names its bus (`DROVER_EVENT_BUS_NAME`); the stream consumer's entry point
 * passes this to `createDrover`, so only its bundle carries the EventBridge client.
 *
 * @example
 * const drover = await stageDrover({ eventBus: eventBusOf });
 */
export function eventBusOf(config: DroverConfig, render: EventBridgePublisherOptions['render']): EventBridgePublisher | undefined {
  if (!config.eventBusName) return undefined;
  return new EventBridgePublisher({ client: new EventBridgeClient({ region: config.region }), busName: config.eventBusName, render });
}
