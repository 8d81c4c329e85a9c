/**
 * The webhook delivery queue. SQS has no local engine here, so its client is a stub that records the real
 * `SendMessageBatchCommand`s it is sent (and can refuse them); everything else is real: a Drover wired as the table
 * stream's consumer (`DROVER_STREAM_CONSUMER_ORIGIN`) over dynalite, fed DynamoDB Streams records, and a local HTTP
 * receiver for the attempts.
 */
import { createServer, type Server } from 'node:http';
import type { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { startDynalite, type EmbeddedDynamo } from '../embedded/dynalite.js';
import { WebhookDispatcher } from '../domain/webhooks.js';
import { createDrover, type Drover } from '../runtime.js';
import { dynamoClient, ensureTable } from '../store/connect.js';
import { toItem, type Resource } from '../store/item.js';
import { changeOfStreamRecord } from '../store/stream.js';
import { SqsDeliveryQueue } from './webhook-queue.js';

/** A stub SQS client: records every batch; while `refuse` is set, answers each entry as failed. */
function stubSqs() {
  const sent: SendMessageBatchCommand[] = [];
  const stub = {
    sent,
    refuse: false,
    /** The delivery ids sent so far, with their delays. */
    attempts: () => sent.flatMap((c) => c.input.Entries ?? []).map((e) => ({ id: JSON.parse(e.MessageBody!).deliveryId as string, delaySeconds: e.DelaySeconds })),
    client: {
      send: async (c: unknown) => {
        const cmd = c as SendMessageBatchCommand;
        const entries = cmd.input.Entries ?? [];
        if (stub.refuse) return { Successful: [], Failed: entries.map((e) => ({ Id: e.Id, SenderFault: false, Code: 'InternalError', Message: 'stub refuses' })) };
        sent.push(cmd);
        return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: '' })), Failed: [] };
      },
    },
  };
  return stub;
}

let db: EmbeddedDynamo;
let drover: Drover;
let sqs: ReturnType<typeof stubSqs>;
let receiver: Server;
let receiverUrl: string;
let posts = 0;
const auth = { authorization: `Basic ${Buffer.from('QUEUEADMIN:queue-secret').toString('base64')}`, 'content-type': 'application/json' };

async function api(method: string, path: string, body?: unknown) {
  const res = await drover.app.request(`https://api.example.com${path}`, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

/** The stream record of a resource's create. */
const created = (res: Resource) => ({ Keys: marshall({ pk: res.id, sk: 'R' }), NewImage: marshall(toItem(res), { removeUndefinedValues: true }) });

/** What the stream consumer does with a batch (`functions/events.ts`). */
async function consume(resources: Resource[]) {
  for (const r of resources) drover.events.consume(changeOfStreamRecord(created(r)));
  await drover.events.settled();
  await drover.webhooks.settled();
}

async function deliveriesOf(resourceId: string) {
  return (await api('GET', `/v1/webhookdeliveries?resourceId=${resourceId}`)).body.data as any[];
}

beforeAll(async () => {
  db = await startDynalite();
  const client = dynamoClient({ region: 'us-east-1', endpoint: db.endpoint, local: true });
  await ensureTable(client, 'drover-queue-test');
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  sqs = stubSqs();
  drover = await createDrover({
    config: loadConfig({ DROVER_RUNNER: 'inline', DROVER_STREAM_CONSUMER_ORIGIN: 'https://api.example.com' }),
    client,
    tableName: 'drover-queue-test',
    admin: { accessKey: 'QUEUEADMIN', secretKey: 'queue-secret' },
    webhookQueue: new SqsDeliveryQueue({ client: sqs.client, queueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/webhooks' }),
  });
});
afterAll(async () => {
  drover?.stop();
  await new Promise((ok) => receiver.close(ok));
  await db.close();
});

describe('the stream consumer with a delivery queue', () => {
  it('records each delivery once and queues its id, ten per request, without attempting it', async () => {
    // Twelve webhooks of the project take container events: one event makes twelve deliveries.
    for (let i = 0; i < 12; i++) expect((await api('POST', '/v1/webhooks', { url: receiverUrl, eventFilter: { resourceTypes: ['container'] } })).status).toBe(201);
    const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'queued' });
    const stored = (await drover.store.get(made.body.id))!;
    await consume([stored]);

    const deliveries = await deliveriesOf(stored.id);
    expect(deliveries).toHaveLength(12);
    expect(deliveries.every((d) => d.status === 'pending' && d.attempts === 0)).toBe(true);
    expect(posts).toBe(0);
    expect(sqs.sent.map((c) => c.input.Entries!.length)).toEqual([10, 2]);
    expect(sqs.sent[0].input.QueueUrl).toBe('https://sqs.us-east-1.amazonaws.com/000000000000/webhooks');
    expect(sqs.attempts().map((a) => a.id).sort()).toEqual(deliveries.map((d) => d.id).sort());
    expect(sqs.attempts().every((a) => a.delaySeconds === undefined)).toBe(true);
  });

  it('fails the batch when the queue refuses, and a retried batch queues the same deliveries again', async () => {
    const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'refused' });
    const stored = (await drover.store.get(made.body.id))!;
    const before = sqs.attempts().length;
    sqs.refuse = true;
    await expect(consume([stored])).rejects.toThrow(/SQS refused 10 of 10/);
    const first = await deliveriesOf(stored.id);
    expect(first).toHaveLength(12);

    // Lambda retries the batch: the event keeps its id, so it gets the deliveries it has, not new ones.
    sqs.refuse = false;
    await consume([stored]);
    expect((await deliveriesOf(stored.id)).map((d) => d.id).sort()).toEqual(first.map((d) => d.id).sort());
    expect(sqs.attempts().slice(before).map((a) => a.id).sort()).toEqual(first.map((d) => d.id).sort());
  });

  it('queues a retry with its wait as the delay when SQS can hold it, and leaves a longer one to runDue', async () => {
    const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'retried' });
    await consume([(await drover.store.get(made.body.id))!]);
    const [short, long] = await deliveriesOf(made.body.id);
    let draw = 0.001;
    const worker = new WebhookDispatcher({
      store: drover.store,
      settings: { ...loadConfig({}).webhooks, retryBaseMs: 2_000_000, retryCapMs: 2_000_000 },
      render: () => ({}),
      random: () => draw,
      queue: new SqsDeliveryQueue({ client: sqs.client, queueUrl: 'q' }),
    });
    const sentBefore = sqs.attempts().length;
    await worker.attempt(short.id); // the receiver answers 500: a 2 s wait
    draw = 0.9;
    await worker.attempt(long.id); // a 30-minute wait: past SQS's longest delay
    expect(posts).toBe(2);
    const after = Object.fromEntries((await deliveriesOf(made.body.id)).map((d) => [d.id, d]));
    expect(after[short.id]).toMatchObject({ status: 'retrying', attempts: 1, responseCode: 500 });
    expect(after[long.id]).toMatchObject({ status: 'retrying', attempts: 1 });
    expect(sqs.attempts().slice(sentBefore)).toEqual([{ id: short.id, delaySeconds: 2 }]);
  });
});

describe('SqsDeliveryQueue', () => {
  it('sends a message per attempt naming the delivery, with its delay', async () => {
    const stub = stubSqs();
    await new SqsDeliveryQueue({ client: stub.client, queueUrl: 'q' }).send([{ id: '1whd1' }, { id: '1whd2', delaySeconds: 30 }]);
    expect(stub.sent).toHaveLength(1);
    expect(stub.sent[0].input.Entries).toEqual([
      { Id: '0', MessageBody: '{"deliveryId":"1whd1"}', DelaySeconds: undefined },
      { Id: '1', MessageBody: '{"deliveryId":"1whd2"}', DelaySeconds: 30 },
    ]);
  });
});
