/**
 * `npm run synth -- --stage <name>` run as a deployer runs it, for a dev stage and a production stage at once, with
 * no AWS credentials: the templates land under `.synth/<name>/`, every named resource is the stage's own, and the
 * stages differ where their configs do. Also: the script fails loudly on a bad stage config or a network attempt.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** The environment of a deploying shell with no AWS credentials and no Drover settings, plus `extra`. */
function shell(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DROVER_|AWS_|NODE_ENV$|SST_)/.test(k)));
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

/** Runs the synth script; resolves with its exit code and output whatever the code. */
async function synth(args: string[], extra: Record<string, string> = {}) {
  try {
    const out = await run(process.execPath, ['--import', 'tsx', 'stacks/synth.ts', ...args], { cwd: ROOT, env: shell(extra), timeout: 240_000 });
    return { code: 0, ...out };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

async function templateOf(stage: string): Promise<{ Resources: Record<string, { Type: string; Properties: any; DeletionPolicy?: string }> }> {
  const dir = path.join(ROOT, '.synth', stage);
  expect(await readdir(dir)).toEqual([`${stage}-drover-DroverStack.template.json`]);
  return JSON.parse(await readFile(path.join(dir, `${stage}-drover-DroverStack.template.json`), 'utf8'));
}

/** The property naming each type of resource that may be named (CloudFormation generates the others' names per stack). */
const NAME_OF: Record<string, string> = {
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::Events::EventBus': 'Name',
  'AWS::ApiGatewayV2::Api': 'Name',
  'AWS::SSM::Parameter': 'Name',
  'AWS::CloudWatch::Alarm': 'AlarmName',
};

/** Every name a resource of the template gives itself. */
function namesOf(t: Awaited<ReturnType<typeof templateOf>>): string[] {
  return Object.values(t.Resources).flatMap((r) => {
    const name = r.Properties?.[NAME_OF[r.Type]];
    return name === undefined ? [] : [typeof name === 'string' ? name : JSON.stringify(name)];
  });
}

/** A name is the stage's when it carries the stage, or is built from a resource of the stage's stack (`Ref`). */
const isStages = (t: Awaited<ReturnType<typeof templateOf>>, stage: string, name: string) =>
  name.includes(stage) || [...name.matchAll(/\{"Ref":"([^"]+)"\}/g)].some(([, id]) => id in t.Resources);

const ofType = (t: Awaited<ReturnType<typeof templateOf>>, type: string) => Object.values(t.Resources).filter((r) => r.Type === type);

describe('npm run synth', () => {
  it('writes each stage its own templates offline, with the differences of its config', async () => {
    const [dev, prod] = await Promise.all([
      // A dev stage reached through its function URL.
      synth(['--stage', 'dev-a'], { DROVER_API_ENDPOINT: 'function-url' }),
      synth(['--stage', 'prod'], {
        DROVER_ALARM_EMAIL: 'ops@example.com',
        DROVER_DOMAIN: 'api.example.com',
        DROVER_CERTIFICATE_ARN: 'arn:aws:acm:us-east-1:123456789012:certificate/0000',
      }),
    ]);
    expect([dev.code, dev.stderr], 'dev-a').toEqual([0, expect.any(String)]);
    expect([prod.code, prod.stderr], 'prod').toEqual([0, expect.any(String)]);
    expect(dev.stdout).toMatch(/synth: \.synth\/dev-a\/dev-a-drover-DroverStack\.template\.json \(\d+ resources\)/);
    const d = await templateOf('dev-a');
    const p = await templateOf('prod');

    // Isolated: every name a resource gives itself carries its stage; functions and roles are named by
    // CloudFormation per stack (no FunctionName), and no name is shared between the stages.
    for (const [stage, t] of [['dev-a', d], ['prod', p]] as const) {
      const names = namesOf(t);
      expect(names.length, stage).toBeGreaterThan(15);
      for (const n of names) expect(isStages(t, stage, n), `${stage}: ${n}`).toBe(true);
      for (const f of ofType(t, 'AWS::Lambda::Function')) expect(f.Properties.FunctionName, stage).toBeUndefined();
    }
    expect(namesOf(d).filter((n) => !n.startsWith('{') && namesOf(p).includes(n))).toEqual([]);
    expect(ofType(d, 'AWS::DynamoDB::Table')[0].Properties.TableName).toBe('dev-a-drover-Main');
    expect(ofType(p, 'AWS::DynamoDB::Table')[0].Properties.TableName).toBe('prod-drover-Main');

    // Protection: the production table is retained, protected and backed up; the dev one goes with its stack.
    const [dt] = ofType(d, 'AWS::DynamoDB::Table');
    const [pt] = ofType(p, 'AWS::DynamoDB::Table');
    expect([pt.DeletionPolicy, pt.Properties.DeletionProtectionEnabled, pt.Properties.PointInTimeRecoverySpecification]).toEqual(['Retain', true, { PointInTimeRecoveryEnabled: true }]);
    expect([dt.DeletionPolicy, dt.Properties.DeletionProtectionEnabled, dt.Properties.PointInTimeRecoverySpecification]).toEqual(['Delete', false, { PointInTimeRecoveryEnabled: false }]);
    for (const q of ofType(p, 'AWS::SQS::Queue')) expect(q.DeletionPolicy).toBe('Retain');
    for (const q of ofType(d, 'AWS::SQS::Queue')) expect(q.DeletionPolicy).toBe('Delete');
    for (const g of ofType(p, 'AWS::Logs::LogGroup')) expect(g.DeletionPolicy).toBe('Retain');
    for (const g of ofType(d, 'AWS::Logs::LogGroup')) expect(g.DeletionPolicy).toBe('Delete');

    // Retention and logging levels.
    const retention = (t: typeof d) => new Set([...ofType(t, 'AWS::Logs::LogGroup'), ...ofType(t, 'Custom::LogRetention')].map((g) => g.Properties.RetentionInDays));
    expect(retention(p)).toEqual(new Set([365]));
    expect(retention(d)).toEqual(new Set([14]));
    for (const m of ofType(p, 'AWS::StepFunctions::StateMachine')) {
      expect(m.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
      expect(m.Properties.TracingConfiguration).toEqual({ Enabled: true });
    }
    for (const m of ofType(d, 'AWS::StepFunctions::StateMachine')) {
      expect(m.Properties.LoggingConfiguration).toMatchObject({ Level: 'ERROR', IncludeExecutionData: true });
      expect(m.Properties.TracingConfiguration).toEqual({ Enabled: false });
    }
    const traced = (t: typeof d) => ofType(t, 'AWS::Lambda::Function').filter((f) => f.Properties.Environment?.Variables?.DROVER_TABLE_NAME).map((f) => f.Properties.TracingConfig?.Mode ?? 'none');
    expect(new Set(traced(p))).toEqual(new Set(['Active']));
    expect(new Set(traced(d))).toEqual(new Set(['none']));

    // Alarms are e-mailed where an address is configured.
    expect(ofType(p, 'AWS::SNS::Subscription').map((s) => s.Properties)).toEqual([
      expect.objectContaining({ Protocol: 'email', Endpoint: 'ops@example.com' }),
    ]);
    expect(ofType(d, 'AWS::SNS::Subscription')).toEqual([]);

    // Endpoints: the production API on its custom domain; the dev stage's API function on its own URL, no HTTP API.
    expect(ofType(p, 'AWS::ApiGatewayV2::DomainName').map((r) => r.Properties.DomainName)).toEqual(['api.example.com']);
    expect(ofType(p, 'AWS::Lambda::Url')).toEqual([]);
    expect(ofType(d, 'AWS::Lambda::Url')).toHaveLength(1);
    // (The WebSocket APIs stay: the live stream's and the agents' doorbell.)
    expect(ofType(d, 'AWS::ApiGatewayV2::Api').map((a) => a.Properties.ProtocolType)).toEqual(['WEBSOCKET', 'WEBSOCKET']);
    const consumer = (t: typeof d) => ofType(t, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'functions/events.handler')!;
    expect(JSON.stringify(consumer(d).Properties.Environment.Variables.DROVER_STREAM_CONSUMER_ORIGIN)).toContain('FunctionUrl');
    expect(consumer(p).Properties.Environment.Variables.DROVER_STREAM_CONSUMER_ORIGIN).toBe('https://api.example.com');
  }, 300_000);

  it('fails loudly: no stage, a bad stage config, a network attempt', async () => {
    const none = await synth([]);
    expect([none.code, none.stderr.trim()]).toEqual([1, 'synth: usage: npm run synth -- --stage <name>']);
    const bad = await synth(['--stage', 'dev-b'], { DROVER_WORKFLOW_LOG_LEVEL: 'LOUD' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/synth: stage dev-b failed: Error: DROVER_WORKFLOW_LOG_LEVEL="LOUD" is not valid: expected OFF or FATAL or ERROR or ALL/);
    // What SST would do without a fake STS (asks AWS who is deploying) ends the process at once, naming the host.
    const net = await run(
      process.execPath,
      ['--import', 'tsx', '-e', "import('./stacks/synth.ts').then((m) => { m.forbidNetwork('dev-c'); return fetch('https://sts.amazonaws.com/'); })"],
      { cwd: ROOT, env: shell(), timeout: 60_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect([net.code, net.stderr.trim()]).toEqual([1, 'synth: stage dev-c: tried to reach the network (sts.amazonaws.com:443); an offline synth makes no network call']);
  }, 120_000);
});
