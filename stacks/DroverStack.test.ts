/**
 * Synthesizes the stack offline (SST v2 skips its AWS bootstrap lookups under NODE_ENV=test) and checks the
 * CloudFormation it would deploy. No AWS call is made or mocked.
 */
import { describe, expect, it } from 'vitest';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { initProject } from 'sst/project.js';
import { App, getStack } from 'sst/constructs';
import { loadConfig } from '../core/config.js';
import { INDEXES } from '../core/store/table.js';
import { WORKFLOWS } from '../core/process/workflows.js';
import { DroverStack } from './DroverStack.js';

// A deploying shell that still exports an admin key (as deploys once had to): the stack must not pick it up.
const SHELL_ADMIN = { DROVER_ADMIN_ACCESS_KEY: 'SHELLADMINACCESS', DROVER_ADMIN_SECRET_KEY: 'shell-admin-secret-value' };
Object.assign(process.env, SHELL_ADMIN);

let synthesized: Promise<Template> | undefined;
/** The stage's template, synthesized once for every test of this file. */
function template(): Promise<Template> {
  synthesized ??= (async () => {
    await initProject({ stage: 'test' });
    const app = new App({ mode: 'deploy', stage: 'test' });
    app.stack(DroverStack);
    await app.finish();
    return Template.fromStack(getStack(DroverStack));
  })();
  return synthesized;
}

/** The logical id and properties of the function whose handler ends with `handler`. */
function functionOf(t: Template, handler: string): [string, any] {
  const found = Object.entries(t.findResources('AWS::Lambda::Function')).find(([, f]: [string, any]) => f.Properties.Handler?.endsWith(handler));
  if (!found) throw new Error(`no function with handler ${handler}`);
  return [found[0], (found[1] as any).Properties];
}

/** The policy documents attached to a function's role. */
function policiesOf(t: Template, fnProps: any): string[] {
  const role = JSON.stringify(fnProps.Role);
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p: any) => (p.Properties.Roles as unknown[]).some((r) => role.includes(JSON.stringify(r).replace(/^\{"Ref":"|"\}$/g, ''))))
    .map((p: any) => JSON.stringify(p.Properties.PolicyDocument));
}

describe('DroverStack', () => {
  it('synthesizes the table with every index and the API on the Hono handler', async () => {
    const t = await template();

    t.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: Object.keys(INDEXES).map((name) => Match.objectLike({ IndexName: name })),
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    // The HTTP API, the WebSocket API of `/v1/subscribe` (the next test) and the agents' doorbell.
    t.resourceCountIs('AWS::ApiGatewayV2::Api', 3);
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    const fns = Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: any }[];
    const handlers = fns.filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME).map((f) => f.Properties.Handler);
    for (const name of ['api', 'tasks', 'sweeper', 'reconciler', 'events', 'webhooks', 'recovery']) expect(handlers.some((h) => h.endsWith(`${name}.handler`)), name).toBe(true);
    // The table's stream feeds the events function, from the oldest record kept, with retries.
    const mappings = (Object.values(t.findResources('AWS::Lambda::EventSourceMapping')) as { Properties: any }[]).filter((m) =>
      JSON.stringify(m.Properties.EventSourceArn).includes('StreamArn'),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0].Properties).toMatchObject({ StartingPosition: 'TRIM_HORIZON', BatchSize: 100, MaximumRetryAttempts: 10 });
    const eventsFn = Object.entries(t.findResources('AWS::Lambda::Function')).find(([, f]: [string, any]) => f.Properties.Handler?.endsWith('events.handler'))!;
    expect(JSON.stringify(mappings[0].Properties.FunctionName)).toContain(eventsFn[0]);
    // The consumer puts events on the stage's bus, and may (only it may).
    t.resourceCountIs('AWS::Events::EventBus', 1);
    expect(JSON.stringify((eventsFn[1] as any).Properties.Environment.Variables.DROVER_EVENT_BUS_NAME)).toContain('Events');
    const eventsGrants = Object.values(t.findResources('AWS::IAM::Policy')).filter((p: any) => JSON.stringify(p.Properties.PolicyDocument).includes('"events:'));
    expect(eventsGrants).toHaveLength(1);
    expect(JSON.stringify(eventsGrants[0])).toContain('"Action":"events:PutEvents"');
    expect(JSON.stringify(eventsGrants[0])).not.toContain('events:*');
    // The consumer feeds the audit trail and webhook deliveries, whose bodies link to the API's URL.
    expect(JSON.stringify((eventsFn[1] as any).Properties.Environment.Variables.DROVER_STREAM_CONSUMER_ORIGIN)).toContain('ApiEndpoint');
    // It also decides recoveries (a crash loop past its cap is stopped from there: a workflow), with the stage's settings.
    const config = loadConfig(process.env);
    expect((eventsFn[1] as any).Properties.Environment.Variables.DROVER_RESTART_BACKOFF_MS).toBe(String(config.restart.backoffMs));
    const grantsOf = (fn: any) => {
      const role = fn.Properties.Role['Fn::GetAtt'][0];
      return Object.values(t.findResources('AWS::IAM::Policy'))
        .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === role))
        .map((p: any) => JSON.stringify(p.Properties.PolicyDocument))
        .join();
    };
    expect(grantsOf(eventsFn[1])).toContain('states:StartExecution');
    const webhooksFn = fns.find((f) => f.Properties.Handler?.endsWith('webhooks.handler'));
    expect(grantsOf(webhooksFn)).not.toContain('states:StartExecution');
    for (const f of fns.filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME)) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
    }

    // One Standard state machine per workflow; every host call waits for a task token with both timeouts.
    const machines = Object.values(t.findResources('AWS::StepFunctions::StateMachine')) as { Properties: any }[];
    expect(machines.length).toBe(Object.keys(WORKFLOWS).length);
    for (const [workflow, spec] of Object.entries(WORKFLOWS)) {
      const m = machines.find((x) => x.Properties.StateMachineName === `test-drover-${workflow}`);
      expect(m, workflow).toBeDefined();
      const tasks = callbackTasks(definitionOf(m!.Properties.DefinitionString));
      // One callback task per host step of the workflow, each with its own heartbeat and timeout.
      expect(tasks.map(([name]) => name), workflow).toEqual(spec.steps.filter((s) => s.kind === 'host').map((s) => s.name));
      for (const [name, task] of tasks) {
        const where = `${workflow}.${name}`;
        expect(task.HeartbeatSeconds, where).toBe(config.heartbeatSeconds);
        expect(task.TimeoutSeconds, where).toBe(config.actionTimeoutSeconds);
        expect(task.HeartbeatSeconds, where).toBeLessThan(task.TimeoutSeconds);
        expect(task.Catch?.flatMap((c: { ErrorEquals: string[] }) => c.ErrorEquals), where).toContain('States.HeartbeatTimeout');
      }
    }
    // The sweeper, the webhook worker and recovery (backoffs rounded up to it) every minute, the reconciler (a
    // consistent Scan of the table) every 10 minutes by default.
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    const rules = Object.values(t.findResources('AWS::Events::Rule')) as { Properties: any }[];
    const byId = Object.entries(t.findResources('AWS::Lambda::Function')) as [string, { Properties: any }][];
    const targetsOf = (schedule: string) =>
      rules
        .filter((r) => r.Properties.ScheduleExpression === schedule)
        .map((r) => JSON.stringify(r.Properties.Targets))
        .map((targets) => byId.find(([id]) => targets.includes(`"${id}"`))?.[1].Properties.Handler)
        .sort();
    expect(targetsOf('rate(1 minute)')).toEqual(['functions/recovery.handler', 'functions/subscribe.ping', 'functions/sweeper.handler', 'functions/webhooks.handler']);
    expect(targetsOf('rate(10 minutes)')).toEqual(['functions/reconciler.handler']);
  }, 120_000);

  it('runs every Drover function on arm64 and Node 22, from a minified ESM bundle', async () => {
    const t = await template();
    const ours = (Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: any }[]).filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME);
    // api, tasks, subscribe (connect and ping), agent doorbell, events, webhooks (queue and schedule), recovery,
    // sweeper, reconciler.
    expect(ours).toHaveLength(11);
    for (const f of ours) {
      expect(f.Properties.Architectures, f.Properties.Handler).toEqual(['arm64']);
      expect(f.Properties.Runtime, f.Properties.Handler).toBe('nodejs22.x');
    }
  });

  it('grants every function the data actions the store sends, on the table and its indexes; the Scan to the reconciler alone', async () => {
    const t = await template();
    const fns = (Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: any }[]).filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME);
    expect(fns.length).toBeGreaterThanOrEqual(10);
    const data = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'];
    for (const fn of fns) {
      const statements = policiesOf(t, fn.Properties).flatMap((p) => JSON.parse(p).Statement as { Action: string | string[]; Resource: unknown }[]);
      const onTable = statements.filter((st) => JSON.stringify(st.Resource).includes('MainTable') && !JSON.stringify(st.Resource).includes('StreamArn'));
      const actions = onTable.flatMap((st) => [st.Action].flat());
      const handler = fn.Properties.Handler;
      expect(actions, handler).not.toContain('dynamodb:*');
      expect(new Set(actions), handler).toEqual(new Set(handler.endsWith('reconciler.handler') ? [...data, 'dynamodb:Scan'] : data));
      // The table and its indexes, nothing else.
      for (const st of onTable) expect(JSON.stringify(st.Resource), handler).toMatch(/MainTable[^"]*","Arn"\]\}(,\{"Fn::Join":\["",\[\{"Fn::GetAtt":\["MainTable[^"]*","Arn"\]\},"\/index\/\*"\]\]\})?\]$/);
    }
    // Functions that start no workflow may not.
    for (const handler of ['subscribe.handler', 'subscribe.ping', 'webhooks.handler', 'webhooks.queueHandler']) {
      expect(policiesOf(t, functionOf(t, handler)[1]).join(), handler).not.toContain('states:');
    }
  }, 120_000);

  it('serves /v1/subscribe through a WebSocket API that the stream consumer pushes to', async () => {
    const t = await template();
    t.resourceCountIs('AWS::ApiGatewayV2::Api', 3);
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET' });
    // The HTTP API's $default, and $connect, $default, $disconnect of each WebSocket API (the doorbell's: the test after next).
    const routes = (Object.values(t.findResources('AWS::ApiGatewayV2::Route')) as { Properties: any }[]).map((r) => r.Properties.RouteKey).sort();
    expect(routes).toEqual(['$connect', '$connect', '$default', '$default', '$default', '$disconnect', '$disconnect']);
    const [subscriberId, subscriber] = functionOf(t, 'subscribe.handler');
    // All three routes go to the one subscriber function.
    const integrations = Object.values(t.findResources('AWS::ApiGatewayV2::Integration')).map((i) => JSON.stringify(i));
    expect(integrations.filter((i) => i.includes(subscriberId))).toHaveLength(3);
    // The HTTP API names the WebSocket API when asked for a stream it cannot hold; the subscriber records connections.
    for (const fn of [functionOf(t, 'api.handler')[1], subscriber]) expect(JSON.stringify(fn.Environment.Variables.DROVER_WEBSOCKET_URL)).toContain('wss://');
    // The consumer and the pinger post through the management API: ManageConnections on the API's connections,
    // nothing wider. (SST grants the same to the routes' function, which posts nothing; the narrowing of every
    // function's role is the AWS stage issue's.)
    const [, consumer] = functionOf(t, 'events.handler');
    const [, pinger] = functionOf(t, 'subscribe.ping');
    for (const fn of [consumer, pinger]) {
      expect(fn.Environment.Variables.DROVER_WEBSOCKET_ENDPOINT).toBeDefined();
      const manage = policiesOf(t, fn).filter((p) => p.includes('execute-api:ManageConnections'));
      expect(manage).toHaveLength(1);
      expect(manage[0]).toContain('@connections/*');
    }
    // Three on this API (the consumer, the pinger, SST's on the routes' function), one on the doorbell's (the tasks).
    const managers = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('execute-api:'));
    expect(managers).toHaveLength(4);
    expect(JSON.stringify(managers)).not.toContain('execute-api:*');
    for (const p of managers) expect(JSON.stringify(p).match(/"Action":"execute-api:[^"]*"/g)).toEqual(['"Action":"execute-api:ManageConnections"']);
    // Connecting needs the table, not the workflows.
    expect(policiesOf(t, subscriber).join()).not.toContain('states:');
    // Pings every minute (DROVER_EVENT_PING_SECONDS rounded up to EventBridge's finest rate).
    const rules = Object.values(t.findResources('AWS::Events::Rule')) as { Properties: any }[];
    expect(rules.some((r) => r.Properties.ScheduleExpression === 'rate(1 minute)' && JSON.stringify(r.Properties.Targets).includes(functionOf(t, 'subscribe.ping')[0]))).toBe(true);
  }, 120_000);

  it("serves the agents' doorbell through a WebSocket API of its own, which only the tasks function may post to", async () => {
    const t = await template();
    const apis = Object.entries(t.findResources('AWS::ApiGatewayV2::Api')).filter(([, a]: [string, any]) => a.Properties.ProtocolType === 'WEBSOCKET');
    const [doorbellApiId] = apis.find(([id]) => id.startsWith('AgentDoorbell'))!;
    // Its three routes go to its one function.
    const [routesFnId, routesFn] = functionOf(t, 'agent-doorbell.handler');
    const routeKeys = (Object.values(t.findResources('AWS::ApiGatewayV2::Route')) as { Properties: any }[])
      .filter((r) => JSON.stringify(r.Properties.ApiId).includes(doorbellApiId))
      .map((r) => r.Properties.RouteKey)
      .sort();
    expect(routeKeys).toEqual(['$connect', '$default', '$disconnect']);
    const integrations = (Object.values(t.findResources('AWS::ApiGatewayV2::Integration')) as { Properties: any }[]).filter((i) =>
      JSON.stringify(i.Properties.ApiId).includes(doorbellApiId),
    );
    expect(integrations).toHaveLength(3);
    for (const i of integrations) expect(JSON.stringify(i.Properties.IntegrationUri)).toContain(routesFnId);
    // The routes' function reads and writes the table (connections, liveness) and nothing else: no posting, no workflows.
    expect(routesFn).toMatchObject({ MemorySize: 256, Architectures: ['arm64'] });
    const routesPolicies = policiesOf(t, routesFn).join();
    expect(routesPolicies).not.toContain('execute-api:');
    expect(routesPolicies).not.toContain('states:');
    // The tasks function rings: it knows the management endpoint and may ManageConnections on this API's connections only.
    const [, tasks] = functionOf(t, 'tasks.handler');
    expect(JSON.stringify(tasks.Environment.Variables.DROVER_AGENT_DOORBELL_ENDPOINT)).toContain(doorbellApiId);
    const ringGrants = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes(doorbellApiId) && JSON.stringify(p).includes('execute-api:'));
    expect(ringGrants).toHaveLength(1);
    expect(policiesOf(t, tasks).filter((p) => p.includes(doorbellApiId) && p.includes('execute-api:ManageConnections'))).toHaveLength(1);
    expect(JSON.stringify(ringGrants[0])).toContain('@connections/*');
    // The API function tells agents the doorbell's URL; the keepalive and fallback intervals come from the stage's config.
    const [, apiFn] = functionOf(t, 'api.handler');
    expect(JSON.stringify(apiFn.Environment.Variables.DROVER_AGENT_DOORBELL_URL)).toContain(doorbellApiId);
    expect(JSON.stringify(apiFn.Environment.Variables.DROVER_AGENT_DOORBELL_URL)).toContain('wss://');
    expect(routesFn.Environment.Variables.DROVER_AGENT_KEEPALIVE_SECONDS).toBe(String(loadConfig(process.env).agentKeepaliveSeconds));
  }, 120_000);

  it('queues webhook deliveries for a worker, with a dead-letter queue, and grants sending only', async () => {
    const t = await template();
    const queues = Object.entries(t.findResources('AWS::SQS::Queue')) as [string, { Properties: any }][];
    expect(queues).toHaveLength(2);
    const dlq = queues.find(([id]) => id.includes('WebhookDeadLetters'))!;
    const queue = queues.find(([id]) => id.includes('WebhookDeliveries'))!;
    expect(dlq[1].Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    // A message that failed five receives moves to the dead-letter queue; one in work is hidden longer than the worker runs.
    expect(queue[1].Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlq[0], 'Arn'] }, maxReceiveCount: 5 });
    const worker = functionOf(t, 'webhooks.queueHandler');
    expect(queue[1].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(worker[1].Timeout);

    // The worker reads the queue ten messages at a time, reporting failed messages one by one.
    const fromQueue = (Object.values(t.findResources('AWS::Lambda::EventSourceMapping')) as { Properties: any }[]).filter((m) =>
      JSON.stringify(m.Properties.EventSourceArn).includes(queue[0]),
    );
    expect(fromQueue).toHaveLength(1);
    expect(fromQueue[0].Properties).toMatchObject({ BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(JSON.stringify(fromQueue[0].Properties.FunctionName)).toContain(worker[0]);

    // Who may use the queue: the stream consumer and the scheduled worker send (sqs:SendMessage on it, nothing else);
    // the queue's worker also sends (its retries) and receives through the mapping's grant. No sqs:* anywhere.
    const queueRef = JSON.stringify({ 'Fn::GetAtt': [queue[0], 'Arn'] });
    const sqsStatements = (fn: any) =>
      policiesOf(t, fn).flatMap((doc) => (JSON.parse(doc).Statement as any[]).filter((st) => JSON.stringify(st.Action).includes('sqs:')));
    for (const suffix of ['events.handler', 'webhooks.handler']) {
      const fn = functionOf(t, suffix)[1];
      expect(sqsStatements(fn), suffix).toEqual([{ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: JSON.parse(queueRef) }]);
      expect(JSON.stringify(fn.Environment.Variables.DROVER_WEBHOOK_QUEUE_URL), suffix).toContain(queue[0]);
    }
    const workerActions = sqsStatements(worker[1]).flatMap((st) => [st.Action].flat());
    expect(workerActions).toContain('sqs:SendMessage');
    expect(workerActions).toContain('sqs:ReceiveMessage');
    expect(workerActions).toContain('sqs:DeleteMessage');
    expect(sqsStatements(worker[1]).every((st) => JSON.stringify(st.Resource) === queueRef)).toBe(true);
    for (const other of ['api.handler', 'tasks.handler', 'sweeper.handler', 'reconciler.handler']) {
      expect(sqsStatements(functionOf(t, other)[1]), other).toEqual([]);
    }
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('sqs:*');
  }, 120_000);

  it('generates the admin key into a kept secret that only the authenticating functions may read, by ARN', async () => {
    const t = await template();
    const secrets = Object.entries(t.findResources('AWS::SecretsManager::Secret')) as [string, any][];
    expect(secrets).toHaveLength(1);
    const [secretId, secret] = secrets[0];
    // CloudFormation generates the value on the first deploy; the template holds only its shape.
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(secret.Properties.GenerateSecretString).toEqual({
      SecretStringTemplate: JSON.stringify({ accessKey: 'admin' }),
      GenerateStringKey: 'secretKey',
      ExcludePunctuation: true,
      IncludeSpace: false,
      PasswordLength: 40,
    });
    // A stack update or removal keeps it.
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(secret.UpdateReplacePolicy).toBe('Retain');

    // No trace of an admin key anywhere: not the deploying shell's, not the secret's value (a dynamic reference).
    const whole = JSON.stringify(t.toJSON());
    for (const v of Object.values(SHELL_ADMIN)) expect(whole).not.toContain(v);
    expect(whole).not.toContain('DROVER_ADMIN_ACCESS_KEY');
    expect(whole).not.toContain('DROVER_ADMIN_SECRET_KEY');
    expect(whole).not.toContain('{{resolve:secretsmanager');
    // Outputs name the secret (its ARN: a Ref), never its value.
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.AdminKeySecretArn.Value).toEqual({ Ref: secretId });
    for (const [name, o] of Object.entries(outputs)) expect(JSON.stringify(o.Value), name).not.toContain('SecretString');

    // The API and the WebSocket API's `$connect` authenticate: they get the ARN and GetSecretValue on that secret alone.
    const readers = ['api.handler', 'subscribe.handler'];
    const fns = Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: any }[];
    for (const fn of fns) {
      const handler = fn.Properties.Handler;
      const statements = policiesOf(t, fn.Properties).flatMap((p) => JSON.parse(p).Statement as { Action: string | string[]; Resource: unknown }[]);
      const onSecrets = statements.filter((st) => JSON.stringify(st.Action).includes('secretsmanager:') || JSON.stringify(st.Resource).includes(secretId));
      const env = fn.Properties.Environment?.Variables ?? {};
      if (readers.some((r) => handler?.endsWith(r))) {
        expect(onSecrets, handler).toEqual([{ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: secretId } }]);
        expect(env.DROVER_ADMIN_SECRET_ARN, handler).toEqual({ Ref: secretId });
      } else {
        expect(onSecrets, handler).toEqual([]);
        expect(env.DROVER_ADMIN_SECRET_ARN, handler).toBeUndefined();
      }
    }
    expect(fns.filter((f) => f.Properties.Environment?.Variables?.DROVER_ADMIN_SECRET_ARN)).toHaveLength(readers.length);
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('secretsmanager:*');
  }, 120_000);
});

/**
 * A state machine's definition as deployed: the JSON text, with each CloudFormation reference (`Ref`,
 * `Fn::GetAtt`: the tasks function's ARN) standing in as a placeholder string.
 */
function definitionOf(value: unknown): any {
  if (typeof value === 'string') return JSON.parse(value);
  const parts = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'cfn-reference')).join(''));
}

/** Every `lambda:invoke.waitForTaskToken` task of a definition (branches and map iterators included), by state name. */
function callbackTasks(def: { States: Record<string, any> }): [string, any][] {
  return Object.entries(def.States).flatMap(([name, state]): [string, any][] => [
    ...(state.Type === 'Task' && String(state.Resource).endsWith(':lambda:invoke.waitForTaskToken') ? [[name, state] as [string, any]] : []),
    ...((state.Branches ?? []) as { States: Record<string, any> }[]).flatMap(callbackTasks),
    ...[state.Iterator, state.ItemProcessor].filter(Boolean).flatMap(callbackTasks),
  ]);
}
