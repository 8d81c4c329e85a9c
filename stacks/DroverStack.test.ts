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
import { allDefinitions } from '../core/workflows/asl.js';
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
    // A batch that failed every retry is halved down to the failing record first, then goes to the events'
    // dead-letter queue (as does one older than 12 hours) instead of blocking its shard.
    const eventDlq = Object.keys(t.findResources('AWS::SQS::Queue')).find((id) => id.startsWith('EventDeadLetters'))!;
    expect(mappings[0].Properties).toMatchObject({
      BisectBatchOnFunctionError: true,
      MaximumRecordAgeInSeconds: 12 * 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [eventDlq, 'Arn'] } } },
    });
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
    // The delivery queue, its dead-letter queue, and the stream consumer's dead-letter queue.
    expect(queues).toHaveLength(3);
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
    const toQueue = { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: JSON.parse(queueRef) };
    // The consumer also records failed stream batches on its dead-letter queue (the event source's own grant).
    const eventDlq = queues.find(([id]) => id.includes('EventDeadLetters'))!;
    const toEventDlq = { Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [eventDlq[0], 'Arn'] } };
    for (const [suffix, expected] of [['events.handler', [toQueue, toEventDlq]], ['webhooks.handler', [toQueue]]] as const) {
      const fn = functionOf(t, suffix)[1];
      expect(sqsStatements(fn), suffix).toEqual(expected);
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

  it('grants no * action anywhere, no * resource on data, workflow, event, queue or secret APIs, and each function exactly the workflow actions it sends', async () => {
    const t = await template();
    // Actions AWS offers on no narrower resource than `*`: X-Ray's, CloudWatch Logs' delivery and retention
    // plumbing (the state machines' logging, CDK's log retention), and the stream poller's ListStreams.
    const anyResourceAllowed = new Set([
      'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
      'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries',
      'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
      'logs:PutRetentionPolicy', 'logs:DeleteRetentionPolicy',
      'dynamodb:ListStreams',
    ]);
    const guarded = /^(dynamodb|states|events|sqs|sns|secretsmanager|ssm|kms):/;
    const policies = Object.entries(t.findResources('AWS::IAM::Policy')) as [string, { Properties: any }][];
    expect(policies.length).toBeGreaterThan(10);
    for (const [id, p] of policies) {
      for (const st of p.Properties.PolicyDocument.Statement as { Effect: string; Action: string | string[]; Resource: unknown }[]) {
        const actions = [st.Action].flat();
        const resources = [st.Resource].flat();
        for (const a of actions) expect(a, id).not.toContain('*');
        if (resources.includes('*')) {
          for (const a of actions) expect(anyResourceAllowed.has(a), `${id}: ${a} on *`).toBe(true);
        }
        if (actions.some((a) => guarded.test(a) && !anyResourceAllowed.has(a))) {
          for (const r of resources) expect(r, `${id}: ${actions.join()}`).not.toBe('*');
        }
      }
    }

    // Per function, the exact workflow actions its code sends (stacks/grants.ts explains each).
    const send = ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'];
    const expected: Record<string, string[]> = {
      'api.handler': ['states:StartExecution', ...send],
      'tasks.handler': ['states:StartExecution', 'states:SendTaskSuccess'],
      'sweeper.handler': ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution'],
      'reconciler.handler': ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution'],
      'events.handler': ['states:StartExecution'],
      'recovery.handler': ['states:StartExecution'],
      'webhooks.handler': [],
      'webhooks.queueHandler': [],
      'subscribe.handler': [],
      'subscribe.ping': [],
      'agent-doorbell.handler': [],
    };
    const machines = Object.keys(WORKFLOWS);
    for (const [handler, actions] of Object.entries(expected)) {
      const statements = policiesOf(t, functionOf(t, handler)[1]).flatMap((doc) =>
        (JSON.parse(doc).Statement as { Action: string | string[]; Resource: unknown }[]).filter((st) => JSON.stringify(st.Action).includes('"states:')),
      );
      expect(statements.flatMap((st) => [st.Action].flat()).sort(), handler).toEqual([...actions].sort());
      for (const st of statements) {
        // Every machine of this stage, by ARN: the machines themselves, or (Describe, Stop) their executions.
        const onExecutions = [st.Action].flat().some((a) => a === 'states:DescribeExecution' || a === 'states:StopExecution');
        const arns = [st.Resource].flat().map((r) => JSON.stringify(r));
        expect(arns.map((a) => /:states:[^"]*:(stateMachine|execution):test-drover-([a-z-]+)(:\*)?"/.exec(a)?.slice(1)), handler).toEqual(
          machines.map((w) => [onExecutions ? 'execution' : 'stateMachine', w, onExecutions ? ':*' : undefined]),
        );
      }
    }
    // Every function of the stage is in that list.
    const stageFunctions = (Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: any }[]).filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME);
    expect(stageFunctions.map((f) => String(f.Properties.Handler).replace('functions/', '')).sort()).toEqual(Object.keys(expected).sort());
  }, 120_000);

  it("runs each workflow with core's definition, logs executions at the stage's level and keeps the table as the stage's config says", async () => {
    const t = await template();
    const config = loadConfig(process.env);
    const [tasksId] = functionOf(t, 'tasks.handler');
    const placeholder = 'arn:aws:lambda:region:account:function:tasks';
    const expected = allDefinitions({ tasksFunctionArn: placeholder, heartbeatSeconds: config.heartbeatSeconds, timeoutSeconds: config.actionTimeoutSeconds });
    const machines = Object.values(t.findResources('AWS::StepFunctions::StateMachine')) as { Properties: any }[];
    for (const [workflow, definition] of Object.entries(expected)) {
      const m = machines.find((x) => x.Properties.StateMachineName === `test-drover-${workflow}`)!;
      // The whole definition, with the one reference in it (the tasks function's ARN) substituted.
      const parts = m.Properties.DefinitionString['Fn::Join'][1] as unknown[];
      const text = parts
        .map((p) => {
          if (typeof p === 'string') return p;
          expect(p, workflow).toEqual({ 'Fn::GetAtt': [tasksId, 'Arn'] });
          return placeholder;
        })
        .join('');
      expect(JSON.parse(text), workflow).toEqual(JSON.parse(JSON.stringify(definition)));
      // A dev stage logs errors, with execution data, to its own log group kept 14 days; no X-Ray.
      expect(m.Properties.LoggingConfiguration).toMatchObject({ Level: 'ERROR', IncludeExecutionData: true });
      const groupRef = m.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
      const group = t.findResources('AWS::Logs::LogGroup')[groupRef];
      expect(group.Properties).toMatchObject({ LogGroupName: `/aws/vendedlogs/states/test-drover-${workflow}`, RetentionInDays: 14 });
      expect(group.DeletionPolicy).toBe('Delete');
      expect(m.Properties.TracingConfiguration).toEqual({ Enabled: false });
    }
    // The machines' roles may invoke the tasks function and deliver their logs; they send no workflow action.
    for (const p of Object.values(t.findResources('AWS::IAM::Policy')).filter((p: any) => JSON.stringify(p.Properties.Roles).includes('Workflow'))) {
      const actions = (p as any).Properties.PolicyDocument.Statement.flatMap((st: any) => [st.Action].flat());
      expect(actions).toContain('lambda:InvokeFunction');
      expect(actions).toContain('logs:CreateLogDelivery');
      expect(actions.filter((a: string) => a.startsWith('states:'))).toEqual([]);
    }
    // Functions: no X-Ray on a dev stage, logs kept 14 days.
    for (const f of Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: any }[]) expect(f.Properties.TracingConfig).toBeUndefined();
    for (const r of Object.values(t.findResources('Custom::LogRetention')) as { Properties: any }[]) expect(r.Properties.RetentionInDays).toBe(14);

    // A dev stage's table goes with its stack: no deletion protection, no point-in-time recovery.
    const [table] = Object.values(t.findResources('AWS::DynamoDB::Table')) as { Properties: any; DeletionPolicy: string }[];
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties.DeletionProtectionEnabled).toBe(false);
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: false });
  }, 120_000);

  it('alarms on overdue actions, function errors and throttles, failed and timed-out executions and dead letters, to one topic', async () => {
    const t = await template();
    const [topicId] = Object.keys(t.findResources('AWS::SNS::Topic'));
    expect(topicId).toBeDefined();
    // No alarm e-mail configured on this stage: no subscription (the synth test covers one that has it).
    t.resourceCountIs('AWS::SNS::Subscription', 0);
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')) as { Properties: any }[];
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    // Named by the stage, as everything of it.
    for (const a of alarms) expect(a.Properties.AlarmName).toMatch(/^test-drover-/);
    const metric = (namespace: string, name: string) => alarms.filter((a) => a.Properties.Namespace === namespace && a.Properties.MetricName === name);

    // The sweeper's metric (Embedded Metric Format, functions/sweeper.ts), for this stage.
    const overdue = metric('Drover', 'OldestOverdueActionSeconds');
    expect(overdue).toHaveLength(1);
    expect(overdue[0].Properties).toMatchObject({ Dimensions: [{ Name: 'Stage', Value: 'test' }], Statistic: 'Maximum', Threshold: 300, ComparisonOperator: 'GreaterThanThreshold' });

    // Every function of the stage: its errors and its throttles.
    const fnIds = Object.entries(t.findResources('AWS::Lambda::Function'))
      .filter(([, f]: [string, any]) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME)
      .map(([id]) => id)
      .sort();
    const dimensionOf = (a: { Properties: any }) => a.Properties.Dimensions[0].Value.Ref;
    for (const name of ['Errors', 'Throttles']) {
      const found = metric('AWS/Lambda', name);
      expect(found.map(dimensionOf).sort(), name).toEqual(fnIds);
      for (const a of found) expect(a.Properties).toMatchObject({ Statistic: 'Sum', Threshold: 0, Period: 300 });
    }
    // Every state machine: failed and timed-out executions.
    const machineIds = Object.keys(t.findResources('AWS::StepFunctions::StateMachine')).sort();
    for (const name of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      expect(metric('AWS/States', name).map(dimensionOf).sort(), name).toEqual(machineIds);
    }
    // Both dead-letter queues: any visible message.
    const dlqs = Object.keys(t.findResources('AWS::SQS::Queue')).filter((id) => id.includes('DeadLetters'));
    expect(dlqs).toHaveLength(2);
    const visible = metric('AWS/SQS', 'ApproximateNumberOfMessagesVisible');
    expect(visible.map((a) => a.Properties.Dimensions[0].Value['Fn::GetAtt'][0]).sort()).toEqual(dlqs.sort());
    expect(alarms).toHaveLength(1 + 2 * fnIds.length + 2 * machineIds.length + dlqs.length);
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
