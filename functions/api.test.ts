/**
 * The Lambda entry serves the same app as the local stack. It is driven here with API Gateway v2 events
 * (the shape API Gateway sends; no AWS client is mocked) against a DynamoDB-compatible endpoint configured
 * exactly as a deployed stage would be: DROVER_TABLE_NAME plus an endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDynamo } from '../core/embedded/dynalite.js';
import { stageTable, stageEnv } from '../test/helpers/lambda.js';

let db: EmbeddedDynamo;
let handler: (event: any, context: any) => Promise<any>;
const auth = `Basic ${Buffer.from('LAMBDAADMIN:lambda-secret').toString('base64')}`;

function event(method: string, path: string, body?: unknown, query = '') {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    headers: { host: 'api.example.com', authorization: auth, 'x-forwarded-proto': 'https' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '25/Nov/2026:10:00:00 +0000',
      timeEpoch: Date.now(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

beforeAll(async () => {
  db = await stageTable('drover-test');
  stageEnv('drover-test', db, {
    // No hosts here (stageEnv: processes complete inline); this suite is about hosting the app on Lambda.
    DROVER_ADMIN_ACCESS_KEY: 'LAMBDAADMIN',
    DROVER_ADMIN_SECRET_KEY: 'lambda-secret',
  });
  ({ handler } = await import('./api.js'));
});
afterAll(async () => {
  await db.close();
});

describe('functions/api handler', () => {
  it('serves the Rancher API from a configured table', async () => {
    const created = await handler(event('POST', '/v1/containers', { imageUuid: 'sim:web', name: 'lambda' }), {});
    expect(created.statusCode).toBe(201);
    const body = JSON.parse(created.body);
    expect(body.state).toBe('creating');
    expect(body.links.self).toBe(`https://api.example.com/v1/containers/${body.id}`);
    expect(created.headers['x-api-schemas']).toBe('https://api.example.com/v1/schemas');

    const listed = await handler(event('GET', '/v1/containers', undefined, 'name=lambda'), {});
    expect(listed.statusCode).toBe(200);
    const list = JSON.parse(listed.body);
    expect(list.data.map((c: { id: string }) => c.id)).toEqual([body.id]);
    expect(list.data[0].state).toBe('running');
  });

  it('renders errors as Rancher error resources', async () => {
    const missing = await handler(event('GET', '/v1/containers/1i999999'), {});
    expect(missing.statusCode).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ type: 'error', status: 404, code: 'Not Found' });
  });
});

describe('functions/api handler: the Wakame API', () => {
  const wakame = (method: string, path: string, body?: string) => {
    const e = event(method, path);
    Object.assign(e.headers, { 'x-vdc-account-uuid': 'a-shpoolxx', 'content-type': 'application/x-www-form-urlencoded' });
    return handler({ ...e, body }, {});
  };

  it('serves /api/12.03 from the same table, with the shared pool seeded, JSON and YAML', async () => {
    const images = await wakame('GET', '/api/12.03/images.json');
    expect(images.statusCode).toBe(200);
    expect(JSON.parse(images.body)[0].results.map((i: { id: string }) => i.id)).toContain('wmi-centos1d64');
    const yml = await wakame('GET', '/api/12.03/networks/nw-demo1.yml');
    expect([yml.statusCode, yml.headers['content-type']]).toEqual([200, 'text/yaml; charset=utf-8']);
    // The adapter sends YAML base64-encoded, which API Gateway decodes for the client.
    const text = yml.isBase64Encoded ? Buffer.from(yml.body, 'base64').toString('utf8') : yml.body;
    expect(text).toMatch(/^---\n:id: nw-demo1\n/);
  });

  it("renders the Wakame API's errors as dcmgr's {error, message, code}", async () => {
    // No host runs the hypervisor on this stage: dcmgr's 400/143.
    const refused = await wakame('POST', '/api/12.03/instances', 'image_id=wmi-centos1d64&hypervisor=kvm&cpu_cores=1&memory_size=256');
    expect([refused.statusCode, JSON.parse(refused.body)]).toEqual([
      400,
      { error: 'Dcmgr::Endpoints::InvalidParameter', message: 'Unknown/Inactive hypervisor:kvm', code: '143' },
    ]);
  });
});

describe('functions/tasks, functions/sweeper and functions/reconciler handlers', () => {
  it('run the workflow tasks, the sweeper and the reconciler against the configured table', async () => {
    const { handler: tasks } = await import('./tasks.js');
    const { handler: sweeper } = await import('./sweeper.js');
    const { handler: reconciler } = await import('./reconciler.js');
    // A task for an action that is not (or no longer) running changes nothing and says so.
    const out = await tasks({
      task: 'fail',
      id: '1i424242',
      actionId: 'not-running',
      workflow: 'instance-start',
      stepName: 'Activate',
      error: { Error: 'AgentError', Cause: 'boom' },
    });
    expect(out).toEqual({ superseded: true });
    const created = await handler(event('POST', '/v1/containers', { imageUuid: 'sim:web', name: 'swept' }), {});
    expect(created.statusCode).toBe(201);
    // Nothing is overdue in this stage, so a sweep examines nothing.
    expect(await sweeper()).toEqual({ checked: 0, redriven: [], failed: [], purged: [], oldestOverdueSeconds: 0 });
    // The reconciler reads every resource and finds nothing to do: everything here finished inline.
    const report = await reconciler();
    expect(report.scanned).toBeGreaterThanOrEqual(3);
    expect(report).toEqual({
      scanned: report.scanned,
      checked: 0,
      redriven: [],
      failed: [],
      purged: [],
      created: [],
      errors: [],
      correctedHosts: [],
      skippedHosts: [],
    });
  });
});

describe('functions/events handler (the table stream consumer)', () => {
  it('turns stream records into events in the log, as the embedded feed does, and skips what is no event', async () => {
    const { handler: events } = await import('./events.js');
    const { stageDrover } = await import('./stage.js');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    const { toItem } = await import('../core/store/item.js');
    const drover = await stageDrover();
    const created = JSON.parse((await handler(event('POST', '/v1/containers', { imageUuid: 'sim:web', name: 'streamed' }), {})).body);
    const stored = (await drover.store.get(created.id))!;
    const before = { ...stored, state: 'starting', version: stored.version - 1 };
    const record = (oldRes: unknown, newRes: unknown) => ({
      dynamodb: {
        Keys: marshall({ pk: stored.id, sk: 'R' }),
        ...(oldRes ? { OldImage: marshall(toItem(oldRes as never), { removeUndefinedValues: true }) } : {}),
        ...(newRes ? { NewImage: marshall(toItem(newRes as never), { removeUndefinedValues: true }) } : {}),
      },
    });
    // A config item's change is no event.
    const config = { dynamodb: { Keys: marshall({ pk: 'config#x', sk: 'C' }), NewImage: marshall({ pk: 'config#x', sk: 'C', value: 1 }) } };
    expect(await events({ Records: [record(before, stored), config] })).toEqual({ records: 2 });
    // Lambda retries a batch: the change keeps the event id it got, and nothing is logged twice.
    expect(await events({ Records: [record(before, stored)] })).toEqual({ records: 1 });
    const logged = (await drover.events.log.after(stored.projectId, undefined)).filter((e) => e.resourceId === stored.id);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ name: 'resource.change', resourceType: 'container', previousState: 'starting', version: stored.version });
    expect(logged[0].resource.state).toBe(stored.state);
  });
});
