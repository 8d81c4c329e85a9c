/**
 * @module
 * Request mapping of AwsStepFunctions, checked against a stand-in Step Functions endpoint.
 *
 * The endpoint below is a stand-in: no local Step Functions engine speaks the service's wire protocol (the embedded
 * interpreter is a library), so this tiny HTTP server answers the six operations the engine uses in the AWS JSON 1.0
 * protocol (`X-Amz-Target: AWSStepFunctions.<Op>`, JSON bodies, errors as `{"__type", "message"}` with status 400).
 * It checks our request mapping and error translation only, not Step Functions' behaviour.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { executionArn, AwsStepFunctions } from './aws-step-functions.js';
import { TaskTokenError } from './types.js';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:drover-test-instance-start';

interface Call {
  op: string;
  body: Record<string, unknown>;
}

/** What the stand-in knows: executions by ARN and live task tokens. */
const executions = new Map<string, string>();
const tokens = new Set<string>();
const calls: Call[] = [];

function answer(op: string, body: Record<string, unknown>): [number, unknown] {
  const fail = (type: string, message: string): [number, unknown] => [400, { __type: type, message }];
  switch (op) {
    case 'StartExecution': {
      const arn = executionArn(String(body.stateMachineArn), String(body.name));
      if (executions.has(arn)) return fail('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
      executions.set(arn, 'RUNNING');
      return [200, { executionArn: arn, startDate: 1_700_000_000 }];
    }
    case 'DescribeExecution': {
      const arn = String(body.executionArn);
      const status = executions.get(arn);
      if (!status) return fail('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
      return [200, { executionArn: arn, stateMachineArn: MACHINE, status, startDate: 1_700_000_000 }];
    }
    case 'StopExecution': {
      const arn = String(body.executionArn);
      if (!executions.has(arn)) return fail('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
      executions.set(arn, 'ABORTED');
      return [200, { stopDate: 1_700_000_001 }];
    }
    case 'SendTaskSuccess':
    case 'SendTaskFailure':
    case 'SendTaskHeartbeat': {
      const token = String(body.taskToken);
      if (token === 'expired') return fail('TaskTimedOut', 'Task Timed Out');
      if (token === 'gone') return fail('TaskDoesNotExist', 'Task does not exist');
      if (token === 'throttled') return fail('ThrottlingException', 'Rate exceeded');
      if (!tokens.has(token)) return fail('InvalidToken', 'Invalid Token');
      if (op !== 'SendTaskHeartbeat') tokens.delete(token);
      return [200, {}];
    }
    default:
      return fail('UnknownOperationException', op);
  }
}

let server: Server;
let wf: AwsStepFunctions;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : `?${target}`;
      const body = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
      calls.push({ op, body });
      const [status, out] = answer(op, body);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const client = new SFNClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  wf = new AwsStepFunctions({ client, stateMachineArns: { 'instance-start': MACHINE } });
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  calls.length = 0;
});

describe('executionArn', () => {
  it('derives the execution ARN from the state machine ARN', () => {
    expect(executionArn(MACHINE, 'act-1')).toBe('arn:aws:states:eu-west-1:123456789012:execution:drover-test-instance-start:act-1');
    expect(executionArn('arn:aws-cn:states:cn-north-1:1:stateMachine:m', 'n')).toBe('arn:aws-cn:states:cn-north-1:1:execution:m:n');
    expect(() => executionArn('arn:aws:states:eu-west-1:1:stateMachine:m:prod', 'n')).toThrow(/unqualified/);
  });
});

describe('AwsStepFunctions', () => {
  const input = { id: '1i5', actionId: 'act-1', workflow: 'instance-start' };

  it('starts an execution named by the action id, and treats ExecutionAlreadyExists as started', async () => {
    await wf.start('instance-start', input);
    await wf.start('instance-start', input);
    expect(calls).toEqual([
      { op: 'StartExecution', body: { stateMachineArn: MACHINE, name: 'act-1', input: JSON.stringify(input) } },
      { op: 'StartExecution', body: { stateMachineArn: MACHINE, name: 'act-1', input: JSON.stringify(input) } },
    ]);
    await expect(wf.start('no-such-workflow', input)).rejects.toThrow(/no state machine ARN/);
  });

  it('describes by execution ARN, with NOT_FOUND for unknown executions', async () => {
    expect(await wf.describe('instance-start', 'act-1')).toBe('RUNNING');
    expect(await wf.describe('instance-start', 'never-started')).toBe('NOT_FOUND');
    expect(calls[0]).toEqual({ op: 'DescribeExecution', body: { executionArn: executionArn(MACHINE, 'act-1') } });
  });

  it('stops by execution ARN with the cause; stopping an unknown execution is a no-op', async () => {
    await wf.stop('instance-start', 'act-1', 'superseded by stop');
    expect(calls[0]).toEqual({ op: 'StopExecution', body: { executionArn: executionArn(MACHINE, 'act-1'), cause: 'superseded by stop' } });
    expect(await wf.describe('instance-start', 'act-1')).toBe('ABORTED');
    await wf.stop('instance-start', 'never-started', 'x');
  });

  it('sends task success (JSON output), failure and heartbeat with the token', async () => {
    tokens.add('t1').add('t2');
    await wf.sendTaskHeartbeat('t1');
    await wf.sendTaskSuccess('t1', { externalId: 'abc' });
    await wf.sendTaskFailure('t2', 'AgentError', 'disk full');
    expect(calls).toEqual([
      { op: 'SendTaskHeartbeat', body: { taskToken: 't1' } },
      { op: 'SendTaskSuccess', body: { taskToken: 't1', output: '{"externalId":"abc"}' } },
      { op: 'SendTaskFailure', body: { taskToken: 't2', error: 'AgentError', cause: 'disk full' } },
    ]);
  });

  it('turns TaskTimedOut, InvalidToken and TaskDoesNotExist into TaskTokenError, and passes other errors through', async () => {
    await expect(wf.sendTaskSuccess('t1', {})).rejects.toBeInstanceOf(TaskTokenError); // used up: InvalidToken
    await expect(wf.sendTaskHeartbeat('expired')).rejects.toBeInstanceOf(TaskTokenError);
    await expect(wf.sendTaskFailure('gone', 'E', 'c')).rejects.toBeInstanceOf(TaskTokenError);
    const other = await wf.sendTaskHeartbeat('throttled').catch((e: unknown) => e);
    expect(other).not.toBeInstanceOf(TaskTokenError);
    expect(other).toMatchObject({ name: 'ThrottlingException' });
  });
});
