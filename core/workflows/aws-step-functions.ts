/**
 * @module
 * The StepFunctions over AWS Step Functions (`@aws-sdk/client-sfn`): executions named by action id, task tokens via SendTask*.
 */
import type { SFNClient, SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { TaskTokenError, type ExecutionInput, type ExecutionStatus, type StepFunctions } from './types.js';

export interface AwsStepFunctionsOptions {
  /**
   * The client, or how to make it on first use: the SDK module is loaded then, so a Lambda that only serves reads
   * never loads it.
   */
  client: SFNClient | ((sdk: typeof import('@aws-sdk/client-sfn')) => SFNClient);
  /** Unqualified state machine ARN of each workflow (no version or alias suffix). */
  stateMachineArns: Record<string, string>;
}

/** Errors of SendTask* that mean the token no longer names a waiting task. */
const TOKEN_ERRORS = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

/** SendTaskFailure limits: `error` up to 256 characters, `cause` up to 32,768. */
const MAX_ERROR = 256;
const MAX_CAUSE = 32_768;

function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

/**
 * The ARN of the execution `name` of a state machine.
 *
 * @example
 * executionArn('arn:aws:states:eu-west-1:123456789012:stateMachine:drover-prod-instance-start', 'a1')
 * // 'arn:aws:states:eu-west-1:123456789012:execution:drover-prod-instance-start:a1'
 */
export function executionArn(stateMachineArn: string, name: string): string {
  const m = /^arn:([^:]+):states:([^:]*):([^:]*):stateMachine:([^:]+)$/.exec(stateMachineArn);
  if (!m) throw new Error(`not an unqualified state machine ARN: ${stateMachineArn}`);
  const [, partition, region, account, machine] = m;
  return `arn:${partition}:states:${region}:${account}:execution:${machine}:${name}`;
}

/**
 * Step Functions in AWS.
 *
 * @example
 * const wf = new AwsStepFunctions({ client: (sdk) => new sdk.SFNClient({}), stateMachineArns: { 'instance-start': arn } });
 * await wf.start('instance-start', { id: '1i5', actionId, workflow: 'instance-start' });
 */
export class AwsStepFunctions implements StepFunctions {
  private loaded?: Promise<{ sdk: typeof import('@aws-sdk/client-sfn'); client: SFNClient }>;

  constructor(private readonly opts: AwsStepFunctionsOptions) {}

  /** The SDK's commands and the client, loaded on the first call (a failed load is tried again). */
  private sfn() {
    this.loaded ??= import('@aws-sdk/client-sfn').then((sdk) => ({
      sdk,
      client: typeof this.opts.client === 'function' ? this.opts.client(sdk) : this.opts.client,
    }));
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  async start(workflow: string, input: ExecutionInput): Promise<void> {
    const { sdk, client } = await this.sfn();
    try {
      await client.send(
        new sdk.StartExecutionCommand({ stateMachineArn: this.arn(workflow), name: input.actionId, input: JSON.stringify(input) }),
      );
    } catch (e) {
      // Same name started before (running or closed within the retention): the action is already under way.
      if (errorName(e) === 'ExecutionAlreadyExists') return;
      throw e;
    }
  }

  async describe(workflow: string, actionId: string): Promise<ExecutionStatus> {
    const { sdk, client } = await this.sfn();
    try {
      const out = await client.send(new sdk.DescribeExecutionCommand({ executionArn: executionArn(this.arn(workflow), actionId) }));
      switch (out.status) {
        case 'SUCCEEDED':
        case 'FAILED':
        case 'TIMED_OUT':
        case 'ABORTED':
          return out.status;
        // RUNNING, and PENDING_REDRIVE (a redrive is about to run it again).
        default:
          return 'RUNNING';
      }
    } catch (e) {
      if (errorName(e) === 'ExecutionDoesNotExist') return 'NOT_FOUND';
      throw e;
    }
  }

  async stop(workflow: string, actionId: string, cause: string): Promise<void> {
    const { sdk, client } = await this.sfn();
    try {
      await client.send(
        new sdk.StopExecutionCommand({ executionArn: executionArn(this.arn(workflow), actionId), cause: cause.slice(0, MAX_CAUSE) }),
      );
    } catch (e) {
      if (errorName(e) === 'ExecutionDoesNotExist') return;
      throw e;
    }
  }

  async sendTaskSuccess(token: string, output: unknown): Promise<void> {
    const { sdk } = await this.sfn();
    await this.tokenCall(new sdk.SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output ?? {}) }));
  }

  async sendTaskFailure(token: string, error: string, cause: string): Promise<void> {
    const { sdk } = await this.sfn();
    await this.tokenCall(new sdk.SendTaskFailureCommand({ taskToken: token, error: error.slice(0, MAX_ERROR), cause: cause.slice(0, MAX_CAUSE) }));
  }

  async sendTaskHeartbeat(token: string): Promise<void> {
    const { sdk } = await this.sfn();
    await this.tokenCall(new sdk.SendTaskHeartbeatCommand({ taskToken: token }));
  }

  private async tokenCall(cmd: SendTaskSuccessCommand | SendTaskFailureCommand | SendTaskHeartbeatCommand): Promise<void> {
    const { client } = await this.sfn();
    try {
      // The union of commands does not narrow `send`'s overloads; each is a valid SFN command.
      await client.send(cmd as SendTaskHeartbeatCommand);
    } catch (e) {
      const name = errorName(e);
      if (name && TOKEN_ERRORS.has(name)) throw new TaskTokenError(`${name}: ${(e as Error).message}`, { cause: e });
      throw e;
    }
  }

  private arn(workflow: string): string {
    const arn = this.opts.stateMachineArns[workflow];
    if (!arn) throw new Error(`no state machine ARN for workflow ${workflow}`);
    return arn;
  }
}
