/**
 * The table stream's consumer in AWS, driven with DynamoDB Streams records (the shape Lambda delivers; no AWS client
 * is mocked) against a DynamoDB-compatible endpoint, configured as the stack configures it
 * (`DROVER_STREAM_CONSUMER_ORIGIN`): each change becomes an event in the log, an audit entry, and a signed webhook
 * delivery; without a delivery queue (`DROVER_WEBHOOK_QUEUE_URL` unset) the consumer attempts them itself, and the
 * scheduled worker attempts what is due (`functions/webhook-queue.test.ts` covers the queue). An exit under a
 * restart policy is decided there too (the attempt recorded with its due time, nothing begun: a Lambda holds no
 * timer), and the scheduled recovery function begins the restart once it is due.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDynamo } from '../core/embedded/dynalite.js';
import type { RecoveryRecord } from '../core/domain/health.js';
import { SYSTEM_CALLER } from '../core/domain/ledger.js';
import { toItem, type Resource } from '../core/store/item.js';
import { lambdaApi, stageTable, stageEnv } from '../test/helpers/lambda.js';
import { until } from '../test/helpers/wait.js';

let db: EmbeddedDynamo;
let receiver: Server;
let receiverUrl: string;
const received: { headers: Record<string, unknown>; body: string }[] = [];
const auth = `Basic ${Buffer.from('STREAMADMIN:stream-secret').toString('base64')}`;

/** Requests to the API function. */
const api = lambdaApi(auth);

/** The stream record of one change of a resource. */
const record = (before: Resource | undefined, after: Resource) => ({
  dynamodb: {
    Keys: marshall({ pk: after.id, sk: 'R' }),
    ...(before ? { OldImage: marshall(toItem(before), { removeUndefinedValues: true }) } : {}),
    NewImage: marshall(toItem(after), { removeUndefinedValues: true }),
  },
});

beforeAll(async () => {
  db = await stageTable('drover-stream-test');
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  stageEnv('drover-stream-test', db, {
    DROVER_ADMIN_ACCESS_KEY: 'STREAMADMIN',
    DROVER_ADMIN_SECRET_KEY: 'stream-secret',
    DROVER_STREAM_CONSUMER_ORIGIN: 'https://api.example.com',
    DROVER_RESTART_BACKOFF_MS: '50',
  });
});
afterAll(async () => {
  await new Promise((ok) => receiver.close(ok));
  await db.close();
});

describe('functions/events, functions/webhooks and functions/recovery', () => {
  it('turn the stream into events, audit entries and signed webhook deliveries', async () => {
    const hook = await api('POST', '/v1/webhooks', { url: receiverUrl, eventFilter: { resourceTypes: ['container'] } });
    expect(hook.status).toBe(201);
    const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'streamed' });
    const { stageDrover } = await import('./stage.js');
    const drover = await stageDrover();
    const stored = (await drover.store.get(made.body.id))!;
    // The stream's view of the create: the resource under its create action, then finished.
    const creating: Resource = { ...stored, state: 'creating', version: 0, action: { id: 'act-create', name: 'create', input: {}, caller: 'admin', at: stored.created, from: 'requested' } };
    const { handler: consume } = await import('./events.js');
    expect(await consume({ Records: [record(undefined, creating), record(creating, stored)] })).toEqual({ records: 2 });

    const events = (await drover.events.log.after(stored.projectId, undefined)).filter((e) => e.resourceId === stored.id);
    expect(events.map((e) => e.version)).toEqual([0, stored.version]);

    const audit = await api('GET', '/v1/auditentries', undefined, `resourceId=${stored.id}`);
    expect(audit.body.data).toEqual([expect.objectContaining({ actionId: 'act-create', action: 'create', outcome: 'succeeded' })]);

    // Both events reached the receiver, signed with the webhook's secret, with links to the API's origin.
    expect(received).toHaveLength(2);
    for (const r of received) {
      const [t, v1] = String(r.headers['x-drover-signature']).split(',').map((kv) => kv.split('=')[1]);
      expect(createHmac('sha256', hook.body.secret).update(`${t}.${r.body}`).digest('hex')).toBe(v1);
      expect(JSON.parse(r.body).data.resource.links.self).toMatch(/^https:\/\/api\.example\.com\/v1\//);
    }
    // Nothing is due: the scheduled worker has nothing to attempt.
    const { handler: worker } = await import('./webhooks.js');
    expect(await worker()).toEqual({ ran: true });
    expect(received).toHaveLength(2);
  });

  it('record a restart policy\'s attempt from the stream, and the scheduled recovery function begins it when due', async () => {
    const made = await api('POST', '/v1/containers', { imageUuid: 'sim:s', name: 'exits', restartPolicy: { name: 'always' } });
    const { stageDrover } = await import('./stage.js');
    const { store, ledger } = await stageDrover();
    const running = (await store.get(made.body.id))!;
    expect(running.state).toBe('running');
    // The instance exits (the `exit` process, as an agent's report begins it).
    const begun = await ledger.begin(running, 'exit', { exitCode: 1 }, SYSTEM_CALLER);
    const ref = { id: running.id, actionId: begun.resource.action!.id };
    const reported = (await ledger.report(ref, { fields: { exit: { code: 1, at: Date.now() } } }, begun.resource))!;
    const stopped = (await ledger.complete(ref, {}, reported))!.resource;

    const { handler: consume } = await import('./events.js');
    await consume({ Records: [record(running, begun.resource), record(begun.resource, reported), record(reported, stopped)] });
    const decided = (await store.get(running.id))!;
    const rec = decided.fields.recovery as RecoveryRecord;
    expect([decided.state, decided.action ?? null]).toEqual(['stopped', null]);
    expect(rec).toMatchObject({ attempts: 1, action: 'start', nextAt: expect.any(Number) });

    const { handler: recover } = await import('./recovery.js');
    // Due 50 ms after it was recorded: the function begins it on the first run at or after that.
    const ran = await until(async () => {
      const out = await recover();
      return out.begun.length ? out : undefined;
    });
    expect(ran).toEqual({ begun: [running.id] });
    const restarted = (await store.get(running.id))!;
    expect([restarted.state, restarted.fields.startCount, (restarted.fields.recovery as RecoveryRecord).nextAt]).toEqual(['running', 2, undefined]);
    expect(await recover()).toEqual({ begun: [] });
  });
});
