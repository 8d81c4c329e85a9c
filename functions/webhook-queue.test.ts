/**
 * Webhook delivery through the queue in AWS, entry point by entry point: the stream consumer (`functions/events.ts`)
 * queues each new delivery and the queue's worker (`functions/webhooks.ts`, `queueHandler`) attempts what each SQS
 * message names, against dynalite and a local HTTP receiver. SQS has no local engine here: a stand-in HTTP server
 * answers the real SQS client's SendMessageBatch (AWS JSON 1.0, at `DROVER_WEBHOOK_QUEUE_URL`) and records the
 * messages, and the tests hand them to the worker as Lambda's SQS event source would.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDynamo } from '../core/embedded/dynalite.js';
import { toItem, type Resource } from '../core/store/item.js';
import { lambdaApi, stageTable, stageEnv } from '../test/helpers/lambda.js';
import { until } from '../test/helpers/wait.js';

interface Message {
  messageId: string;
  body: string;
  delaySeconds?: number;
}

let db: EmbeddedDynamo;
let receiver: Server;
let sqs: Server;
let receiverUrl: string;
/** What the receiver answers, and every body it got. */
let answer = 204;
const posts: string[] = [];
/** Every message the stand-in queue took; while `refuse` is set it fails every entry. */
const queued: Message[] = [];
let refuse = false;
const auth = `Basic ${Buffer.from('QUEUEADMIN:queue-secret').toString('base64')}`;

function listen(server: Server): Promise<string> {
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

/** Requests to the API function. */
const api = lambdaApi(auth);

/** Runs the stream consumer on the creates of these resources. */
async function stream(...created: Resource[]) {
  const { handler } = await import('./events.js');
  return handler({ Records: created.map((r) => ({ dynamodb: { Keys: marshall({ pk: r.id, sk: 'R' }), NewImage: marshall(toItem(r), { removeUndefinedValues: true }) } })) });
}

/** Runs the queue's worker on these messages. */
async function work(...messages: Message[]) {
  const { queueHandler } = await import('./webhooks.js');
  return queueHandler({ Records: messages.map(({ messageId, body }) => ({ messageId, body })) });
}

async function delivery(id: string) {
  return (await api('GET', `/v1/webhookdeliveries/${id}`)).body;
}

/** A new container, as the stream reports its create, and the one delivery it got, taken off the queue. */
async function containerDelivered(name: string): Promise<Message> {
  const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name });
  const { stageDrover } = await import('./stage.js');
  const before = queued.length;
  expect(await stream((await (await stageDrover()).store.get(made.body.id))!)).toEqual({ records: 1 });
  const [d] = (await api('GET', '/v1/webhookdeliveries', undefined, `resourceId=${made.body.id}`)).body.data;
  expect(queued.slice(before)).toEqual([expect.objectContaining({ body: JSON.stringify({ deliveryId: d.id }) })]);
  return queued[before];
}

beforeAll(async () => {
  db = await stageTable('drover-queue-fn-test');
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posts.push(body);
      res.writeHead(answer).end();
    });
  });
  receiverUrl = `${await listen(receiver)}/hook`;
  sqs = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']);
      const input = JSON.parse(raw) as { Entries: { Id: string; MessageBody: string; DelaySeconds?: number }[] };
      if (target !== 'AmazonSQS.SendMessageBatch') return void res.writeHead(400).end();
      const md5 = (s: string) => createHash('md5').update(s).digest('hex');
      const out = refuse
        ? { Successful: [], Failed: input.Entries.map((e) => ({ Id: e.Id, SenderFault: false, Code: 'InternalError', Message: 'stand-in refuses' })) }
        : {
            Successful: input.Entries.map((e) => {
              const messageId = `m${queued.length + 1}`;
              queued.push({ messageId, body: e.MessageBody, delaySeconds: e.DelaySeconds });
              return { Id: e.Id, MessageId: messageId, MD5OfMessageBody: md5(e.MessageBody) };
            }),
            Failed: [],
          };
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(out));
    });
  });
  const queueUrl = `${await listen(sqs)}/000000000000/drover-webhooks`;
  stageEnv('drover-queue-fn-test', db, {
    DROVER_ADMIN_ACCESS_KEY: 'QUEUEADMIN',
    DROVER_ADMIN_SECRET_KEY: 'queue-secret',
    DROVER_STREAM_CONSUMER_ORIGIN: 'https://api.example.com',
    DROVER_WEBHOOK_QUEUE_URL: queueUrl,
    // A retry waits under 50 ms: a one-second delay on its message.
    DROVER_WEBHOOK_RETRY_BASE_MS: '50',
  });
  // The container is the consumer's and the worker's: the first entry point called wires the stage, as in AWS.
  expect(await work()).toEqual({ batchItemFailures: [] });
  expect((await api('POST', '/v1/webhooks', { url: receiverUrl, eventFilter: { resourceTypes: ['container'] } })).status).toBe(201);
});
afterAll(async () => {
  await new Promise((ok) => receiver.close(ok));
  await new Promise((ok) => sqs.close(ok));
  await db.close();
});

describe('functions/webhooks queueHandler', () => {
  it('attempts the delivery a message names, once however often the message comes', async () => {
    const m = await containerDelivered('once');
    expect(m.delaySeconds).toBeUndefined();
    expect(posts).toHaveLength(0); // the consumer only queued it
    // SQS delivers at least once: the same message twice in a batch, and again later.
    expect(await work(m, { ...m, messageId: `${m.messageId}-again` })).toEqual({ batchItemFailures: [] });
    expect(await work(m)).toEqual({ batchItemFailures: [] });
    expect(posts).toHaveLength(1);
    const d = await delivery(JSON.parse(m.body).deliveryId);
    expect(d).toMatchObject({ status: 'delivered', attempts: 1, responseCode: 204 });
    expect(JSON.parse(posts[0]).data.resource.name).toBe('once');
  });

  it("records a receiver's refusal as a retry and queues it again with its delay", async () => {
    const m = await containerDelivered('refused');
    const id = JSON.parse(m.body).deliveryId as string;
    answer = 503;
    const before = queued.length;
    expect(await work(m)).toEqual({ batchItemFailures: [] });
    const d = await delivery(id);
    expect(d).toMatchObject({ status: 'retrying', attempts: 1, responseCode: 503 });
    const again = queued.slice(before);
    expect(again).toEqual([expect.objectContaining({ body: m.body, delaySeconds: 1 })]);

    // SQS hands the message over once its delay has passed: the retry is due, and this time the receiver takes it.
    answer = 204;
    await until(() => Date.now() >= d.nextAttemptAtTS);
    expect(await work(again[0])).toEqual({ batchItemFailures: [] });
    expect(await delivery(id)).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it("reports the messages whose attempt failed in Drover, for SQS to deliver again and dead-letter", async () => {
    const ok = await containerDelivered('fine');
    const broken = await containerDelivered('unqueued');
    const postsBefore = posts.length;
    // The queue refuses the retry of a refused delivery: its message is reported, the other one is done.
    answer = 500;
    refuse = true;
    try {
      const out = await work(broken, { messageId: 'no-such', body: JSON.stringify({ deliveryId: '1whd999999' }) }, { messageId: 'garbled', body: 'not json' });
      expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([broken.messageId, 'no-such'].sort());
    } finally {
      refuse = false;
      answer = 204;
    }
    expect(await delivery(JSON.parse(broken.body).deliveryId)).toMatchObject({ status: 'retrying', attempts: 1 });
    expect(await work(ok)).toEqual({ batchItemFailures: [] });
    expect(await delivery(JSON.parse(ok.body).deliveryId)).toMatchObject({ status: 'delivered' });
    expect(posts.length).toBe(postsBefore + 2);
  });
});
