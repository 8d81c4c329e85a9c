/**
 * Synthesizes the stack offline (SST v2 skips its AWS bootstrap lookups under NODE_ENV=test) and checks the
 * CloudFormation it would deploy. No AWS call is made or mocked.
 */
import { describe, expect, it } from 'vitest';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { initProject } from 'sst/project.js';
import { App, getStack } from 'sst/constructs';
import { INDEXES } from '../core/store/table.js';
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
    const apiFn = fns.find((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME);
    expect(apiFn?.Properties.Runtime).toBe('nodejs22.x');
    expect(apiFn?.Properties.Handler).toMatch(/api\.handler$/);
  }, 120_000);
});
