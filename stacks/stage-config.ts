/**
 * @module
 * Every stage-dependent choice of the stack, typed and in one place. How a stage gets its config:
 *
 * 1. The profile. `production` for the stages named `prod` or `production` (alone or with a suffix: `prod-eu`,
 *    `production_2`), `dev` for every other stage. One stage per tenant (D9) means a tenant's stage may have any
 *    name: `DROVER_STAGE_PROFILE=production` (or `dev`) in the deploying shell picks the profile explicitly.
 * 2. Overrides from the deploying shell, each checked (a bad value fails the synth with the variable's name):
 *    `DROVER_ALARM_EMAIL`, `DROVER_DOMAIN` with `DROVER_CERTIFICATE_ARN`, `DROVER_LOG_RETENTION_DAYS`,
 *    `DROVER_API_ENDPOINT` (`http-api` or `function-url`), `DROVER_TRACING` (`true`/`false`),
 *    `DROVER_WORKFLOW_LOG_LEVEL` (`OFF`, `FATAL`, `ERROR`, `ALL`).
 *
 * The stack reads nothing stage-dependent anywhere else. Wiring only (no AWS call).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/** Step Functions execution-history logging levels (`AWS::StepFunctions::StateMachine` `LoggingConfiguration.Level`). */
export const WORKFLOW_LOG_LEVELS = ['OFF', 'FATAL', 'ERROR', 'ALL'] as const;
export type WorkflowLogLevel = (typeof WORKFLOW_LOG_LEVELS)[number];

export type StageProfile = 'dev' | 'production';

export interface StageConfig {
  stage: string;
  profile: StageProfile;
  /**
   * Production-like: the table is retained when the stack is deleted, has deletion protection and point-in-time
   * recovery, and queues and log groups are retained too. Dev stages are destroyed with their stack.
   */
  protect: boolean;
  /** What CloudFormation does with stateful resources when the stack (or the resource) goes. */
  removalPolicy: RemovalPolicy;
  /** Days CloudWatch keeps every function's and state machine's logs (a value CloudWatch accepts). */
  logRetentionDays: number;
  /** Where alarms are e-mailed (an SNS subscription); without it alarms still go to the stage's topic. */
  alarmEmail?: string;
  /** A custom domain for the HTTP API; DNS is managed outside (a CNAME to the API's regional domain). */
  domain?: { name: string; certificateArn: string };
  /** How the API function is reached: API Gateway's HTTP API, or the function's own URL (no API Gateway). */
  apiEndpoint: 'http-api' | 'function-url';
  /** Active X-Ray tracing of functions and state machines. */
  tracing: boolean;
  /** What each state machine logs to its log group. */
  workflowLogLevel: WorkflowLogLevel;
  /** Whether those logs carry execution input and output (instance data; off on production stages). */
  workflowLogExecutionData: boolean;
}

/** The profiles' defaults; a stage's config is its profile's plus the shell's overrides. */
const PROFILES: Record<StageProfile, Omit<StageConfig, 'stage' | 'profile' | 'removalPolicy'>> = {
  dev: {
    protect: false,
    logRetentionDays: 14,
    apiEndpoint: 'http-api',
    tracing: false,
    workflowLogLevel: 'ERROR',
    workflowLogExecutionData: true,
  },
  production: {
    protect: true,
    logRetentionDays: 365,
    apiEndpoint: 'http-api',
    tracing: true,
    workflowLogLevel: 'ALL',
    workflowLogExecutionData: false,
  },
};

const PRODUCTION_STAGE = /^(prod|production)([-_].*)?$/i;

function fail(name: string, value: string, expected: string): never {
  throw new Error(`${name}=${JSON.stringify(value)} is not valid: expected ${expected}`);
}

function oneOf<T extends string>(name: string, value: string | undefined, options: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(options as readonly string[]).includes(value)) fail(name, value, options.join(' or '));
  return value as T;
}

/**
 * The `RetentionDays` member for a number of days, or an error naming the values CloudWatch accepts.
 *
 * @example
 * new logs.LogGroup(stack, 'Logs', { retention: retentionOf(config.logRetentionDays) });
 */
export function retentionOf(days: number): RetentionDays {
  const accepted = Object.values(RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0);
  if (!accepted.includes(days)) fail('DROVER_LOG_RETENTION_DAYS', String(days), `one of ${accepted.sort((a, b) => a - b).join(', ')}`);
  return days as RetentionDays;
}

/**
 * SST's name of a retention (its Function `logRetention` prop), e.g. `two_weeks` for 14.
 *
 * @example
 * sstRetentionOf(14) // 'two_weeks'
 */
export function sstRetentionOf(days: number): Lowercase<keyof typeof RetentionDays> {
  const key = Object.keys(RetentionDays).find((k) => RetentionDays[k as keyof typeof RetentionDays] === retentionOf(days))!;
  return key.toLowerCase() as Lowercase<keyof typeof RetentionDays>;
}

/**
 * The config of `stage`, from its profile and the deploying shell's overrides.
 *
 * @example
 * stageConfig('prod', {}).protect // true
 * stageConfig('dev-alice', { DROVER_ALARM_EMAIL: 'ops@example.com' }).alarmEmail // 'ops@example.com'
 */
export function stageConfig(stage: string, env: Record<string, string | undefined> = process.env): StageConfig {
  const profile =
    oneOf('DROVER_STAGE_PROFILE', env.DROVER_STAGE_PROFILE, ['dev', 'production'] as const) ??
    (PRODUCTION_STAGE.test(stage) ? 'production' : 'dev');
  const base = PROFILES[profile];

  const email = env.DROVER_ALARM_EMAIL || undefined;
  if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fail('DROVER_ALARM_EMAIL', email, 'an e-mail address');
  const domainName = env.DROVER_DOMAIN || undefined;
  const certificateArn = env.DROVER_CERTIFICATE_ARN || undefined;
  if (domainName && !certificateArn?.startsWith('arn:')) fail('DROVER_CERTIFICATE_ARN', certificateArn ?? '', `an ACM certificate ARN for ${domainName}`);
  const retention = env.DROVER_LOG_RETENTION_DAYS ? Number(env.DROVER_LOG_RETENTION_DAYS) : base.logRetentionDays;
  retentionOf(retention);
  const tracing = oneOf('DROVER_TRACING', env.DROVER_TRACING, ['true', 'false'] as const);
  const apiEndpoint = oneOf('DROVER_API_ENDPOINT', env.DROVER_API_ENDPOINT, ['http-api', 'function-url'] as const) ?? base.apiEndpoint;
  if (domainName && apiEndpoint !== 'http-api') fail('DROVER_API_ENDPOINT', apiEndpoint, 'http-api with DROVER_DOMAIN (a function URL takes no custom domain)');

  return {
    ...base,
    stage,
    profile,
    removalPolicy: base.protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    logRetentionDays: retention,
    alarmEmail: email,
    domain: domainName ? { name: domainName, certificateArn: certificateArn! } : undefined,
    apiEndpoint,
    tracing: tracing === undefined ? base.tracing : tracing === 'true',
    workflowLogLevel: oneOf('DROVER_WORKFLOW_LOG_LEVEL', env.DROVER_WORKFLOW_LOG_LEVEL, WORKFLOW_LOG_LEVELS) ?? base.workflowLogLevel,
  };
}
