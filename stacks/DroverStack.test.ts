/**
 * Synthesizes the stack offline (SST v2 skips its AWS bootstrap lookups under NODE_ENV=test) and checks the
 * CloudFormation it would deploy. No AWS call is made or mocked.
 */
import { describe, expect, it } from 'vitest';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { initProject } from 'sst/project.js';
import { App, getStack } from 'sst/constructs';
import { INDEXES } from '../core/store/table.js';
import { WORKFLOWS } from '../core/process/workflows.js';
import { DroverStack } from './DroverStack.js';

describe('DroverStack', () => {
  it('synthesizes the table with every index and the API on the Hono handler', async () => {
    await initProject({ stage: 'test' });
    const app = new App({ mode: 'deploy', stage: 'test' });
    app.stack(DroverStack);
    await app.finish();
    const t = Template.fromStack(getStack(DroverStack));

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
    for (const name of ['api', 'tasks', 'sweeper', 'reconciler']) expect(handlers.some((h) => h.endsWith(`${name}.handler`)), name).toBe(true);
    for (const f of fns.filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME)) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
    }

    // One Standard state machine per workflow; every host call waits for a task token with both timeouts.
    const machines = Object.values(t.findResources('AWS::StepFunctions::StateMachine')) as { Properties: any }[];
    expect(machines.length).toBe(Object.keys(WORKFLOWS).length);
    const body = JSON.stringify(machines.map((m) => m.Properties.DefinitionString));
    expect(body).toContain('lambda:invoke.waitForTaskToken');
    expect(body).toContain('HeartbeatSeconds');
    expect(body).toContain('States.HeartbeatTimeout');
    // The sweeper every minute, the reconciler (a consistent Scan of the table) every 10 minutes by default.
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    const rules = Object.values(t.findResources('AWS::Events::Rule')) as { Properties: any }[];
    const byId = Object.entries(t.findResources('AWS::Lambda::Function')) as [string, { Properties: any }][];
    const targetOf = (schedule: string) => {
      const targets = JSON.stringify(rules.find((r) => r.Properties.ScheduleExpression === schedule)?.Properties.Targets);
      return byId.find(([id]) => targets.includes(`"${id}"`))?.[1].Properties.Handler;
    };
    expect(targetOf('rate(1 minute)')).toMatch(/sweeper\.handler$/);
    expect(targetOf('rate(10 minutes)')).toMatch(/reconciler\.handler$/);
  }, 120_000);
});
