/**
 * How a stage gets its config: its profile by name (or `DROVER_STAGE_PROFILE`), then the shell's checked overrides.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { sstRetentionOf, stageConfig } from './stage-config.js';

describe('stageConfig', () => {
  it('protects production-named stages and destroys every other', () => {
    for (const stage of ['prod', 'production', 'prod-eu', 'Production_2']) {
      expect(stageConfig(stage, {}), stage).toMatchObject({
        profile: 'production',
        protect: true,
        removalPolicy: RemovalPolicy.RETAIN,
        logRetentionDays: 365,
        tracing: true,
        workflowLogLevel: 'ALL',
        workflowLogExecutionData: false,
        apiEndpoint: 'http-api',
      });
    }
    for (const stage of ['dev', 'dev-a', 'alice', 'products', 'preprod']) {
      expect(stageConfig(stage, {}), stage).toMatchObject({
        profile: 'dev',
        protect: false,
        removalPolicy: RemovalPolicy.DESTROY,
        logRetentionDays: 14,
        tracing: false,
        workflowLogLevel: 'ERROR',
        workflowLogExecutionData: true,
      });
    }
    expect(stageConfig('dev', {}).alarmEmail).toBeUndefined();
    expect(stageConfig('dev', {}).domain).toBeUndefined();
  });

  it("takes a tenant stage's profile and every override from the deploying shell", () => {
    const tenant = stageConfig('acme', {
      DROVER_STAGE_PROFILE: 'production',
      DROVER_ALARM_EMAIL: 'ops@example.com',
      DROVER_DOMAIN: 'api.acme.example.com',
      DROVER_CERTIFICATE_ARN: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
      DROVER_LOG_RETENTION_DAYS: '90',
      DROVER_TRACING: 'false',
      DROVER_WORKFLOW_LOG_LEVEL: 'ERROR',
    });
    expect(tenant).toMatchObject({
      stage: 'acme',
      profile: 'production',
      protect: true,
      alarmEmail: 'ops@example.com',
      domain: { name: 'api.acme.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' },
      logRetentionDays: 90,
      tracing: false,
      workflowLogLevel: 'ERROR',
    });
    expect(stageConfig('prod', { DROVER_STAGE_PROFILE: 'dev' }).protect).toBe(false);
    expect(stageConfig('dev', { DROVER_API_ENDPOINT: 'function-url' }).apiEndpoint).toBe('function-url');
  });

  it('refuses a bad override, naming the variable', () => {
    expect(() => stageConfig('dev', { DROVER_STAGE_PROFILE: 'staging' })).toThrow(/DROVER_STAGE_PROFILE="staging".*dev or production/);
    expect(() => stageConfig('dev', { DROVER_LOG_RETENTION_DAYS: '10' })).toThrow(/DROVER_LOG_RETENTION_DAYS="10".*1, 3, 5, 7, 14/);
    expect(() => stageConfig('dev', { DROVER_ALARM_EMAIL: 'ops' })).toThrow(/DROVER_ALARM_EMAIL/);
    expect(() => stageConfig('dev', { DROVER_DOMAIN: 'api.example.com' })).toThrow(/DROVER_CERTIFICATE_ARN/);
    expect(() => stageConfig('dev', { DROVER_WORKFLOW_LOG_LEVEL: 'LOUD' })).toThrow(/DROVER_WORKFLOW_LOG_LEVEL/);
    expect(() => stageConfig('dev', { DROVER_TRACING: 'yes' })).toThrow(/DROVER_TRACING/);
    expect(() =>
      stageConfig('dev', { DROVER_API_ENDPOINT: 'function-url', DROVER_DOMAIN: 'a.example.com', DROVER_CERTIFICATE_ARN: 'arn:aws:acm:x' }),
    ).toThrow(/function URL takes no custom domain/);
  });

  it("names a retention as SST's Function logRetention does", () => {
    expect([sstRetentionOf(14), sstRetentionOf(365), sstRetentionOf(90)]).toEqual(['two_weeks', 'one_year', 'three_months']);
  });
});
