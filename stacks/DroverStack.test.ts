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

let synthesized: Promise<Template> | undefined;

/** The stage's template, synthesized once for the file. */
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

/** The logical id and resource of the one Lambda function whose handler ends with `suffix`. */
function functionWith(t: Template, suffix: string): [string, { Properties: any }] {
  const found = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([, f]) => (f as any).Properties.Handler?.endsWith(suffix));
  expect(found, suffix).toHaveLength(1);
  return found[0] as [string, { Properties: any }];
}

/** The IAM policies attached to a function's role, as JSON text. */
function policiesOf(t: Template, fn: { Properties: any }): string[] {
  const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
  return Object.entries(t.findResources('AWS::IAM::Policy'))
    .filter(([, p]) => (p as any).Properties.Roles.some((r: { Ref?: string }) => r.Ref === role))
    .map(([, p]) => JSON.stringify((p as any).Properties.PolicyDocument));
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
    t.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    const fns = Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: any }[];
    const handlers = fns.filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME).map((f) => f.Properties.Handler);
    for (const name of ['api', 'tasks', 'sweeper', 'reconciler', 'events', 'webhooks']) expect(handlers.some((h) => h.endsWith(`${name}.handler`)), name).toBe(true);
    // The table's stream feeds the events function, from the oldest record kept, with retries.
    const mappings = (Object.values(t.findResources('AWS::Lambda::EventSourceMapping')) as { Properties: any }[]).filter((m) =>
      JSON.stringify(m.Properties.EventSourceArn).includes('StreamArn'),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0].Properties).toMatchObject({ StartingPosition: 'TRIM_HORIZON', BatchSize: 100, MaximumRetryAttempts: 10 });
    const eventsFn = functionWith(t, 'events.handler');
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
    for (const f of fns.filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME)) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
    }

    // One Standard state machine per workflow; every host call waits for a task token with both timeouts.
    const machines = Object.values(t.findResources('AWS::StepFunctions::StateMachine')) as { Properties: any }[];
    expect(machines.length).toBe(Object.keys(WORKFLOWS).length);
    const config = loadConfig(process.env);
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
    // The sweeper and the webhook worker every minute, the reconciler (a consistent Scan of the table) every 10
    // minutes by default.
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
    expect(targetsOf('rate(1 minute)')).toEqual(['functions/sweeper.handler', 'functions/webhooks.handler']);
    expect(targetsOf('rate(10 minutes)')).toEqual(['functions/reconciler.handler']);
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
    const worker = functionWith(t, 'webhooks.queueHandler');
    expect(queue[1].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(worker[1].Properties.Timeout);

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
    const sqsStatements = (fn: { Properties: any }) =>
      policiesOf(t, fn).flatMap((doc) => (JSON.parse(doc).Statement as any[]).filter((st) => JSON.stringify(st.Action).includes('sqs:')));
    for (const suffix of ['events.handler', 'webhooks.handler']) {
      const fn = functionWith(t, suffix)[1];
      expect(sqsStatements(fn), suffix).toEqual([{ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: JSON.parse(queueRef) }]);
      expect(JSON.stringify(fn.Properties.Environment.Variables.DROVER_WEBHOOK_QUEUE_URL), suffix).toContain(queue[0]);
    }
    const workerActions = sqsStatements(worker[1]).flatMap((st) => [st.Action].flat());
    expect(workerActions).toContain('sqs:SendMessage');
    expect(workerActions).toContain('sqs:ReceiveMessage');
    expect(workerActions).toContain('sqs:DeleteMessage');
    expect(sqsStatements(worker[1]).every((st) => JSON.stringify(st.Resource) === queueRef)).toBe(true);
    for (const other of ['api.handler', 'tasks.handler', 'sweeper.handler', 'reconciler.handler']) {
      expect(sqsStatements(functionWith(t, other)[1]), other).toEqual([]);
    }
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('sqs:*');
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
