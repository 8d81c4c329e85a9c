/**
 * @module
 * Least-privilege grants of the stage's functions: the data actions the store sends, and per function the exact
 * Step Functions actions its code sends, on the stage's state machines (or their executions). ARNs are built from
 * the machines' names, so a function can hold them without a dependency cycle (the definitions reference the tasks
 * function, whose role and environment name the machines). Wiring only.
 */
import { ArnFormat, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * Who sends which workflow action (`core/workflows/aws-step-functions.ts` is the only caller of the SDK):
 *
 * - `api`: begins actions (`WorkflowRuns.dispatch`: StartExecution) and relays the agent channel's outcomes and
 *   heartbeats (`core/agent/routes.ts`: SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).
 * - `tasks`: chains the next run when an action completes (StartExecution), and answers a host call that has nothing
 *   to do at once (`core/workflows/tasks.ts`, `hostCall`: SendTaskSuccess only).
 * - `sweeper`: asks what an overdue action's execution did and stops one past its deadline (DescribeExecution,
 *   StopExecution), re-drives a lost one and starts due purges (StartExecution).
 * - `reconciler`: hands every open action its scan finds to the sweeper's resolution (`Sweeper.resolve`), so it
 *   needs the sweeper's Describe and Stop as well, and starts interrupted creates (StartExecution).
 * - `events` (the stream consumer) and `recovery`: begin recoveries (`InstanceHealth`: StartExecution).
 * - Every other function (webhooks, the subscriber, the pinger) sends no workflow action and gets no `states:` grant.
 */
export const WORKFLOW_SENDS = {
  api: ['states:StartExecution', 'states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
  tasks: ['states:StartExecution', 'states:SendTaskSuccess'],
  sweeper: ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution'],
  reconciler: ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution'],
  events: ['states:StartExecution'],
  recovery: ['states:StartExecution'],
} as const;
export type WorkflowSender = keyof typeof WORKFLOW_SENDS;

/** Actions on an execution (its ARN); the others act on the state machine (a task token belongs to one). */
const ON_EXECUTIONS = new Set<string>(['states:DescribeExecution', 'states:StopExecution']);

/**
 * The stage's state machines by name, and the grants on them.
 *
 * @example
 * const wf = stageWorkflows(stack, Object.keys(WORKFLOWS));
 * new Function(stack, 'Sweeper', { handler: 'functions/sweeper.handler', permissions: wf.grantsOf('sweeper') });
 */
export function stageWorkflows(stack: Stack & { stage: string }, workflows: string[]) {
  const machineName = (workflow: string) => `${stack.stage}-drover-${workflow}`;
  const machineArn = (workflow: string) =>
    stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: machineName(workflow), arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const executionArns = (workflow: string) =>
    stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${machineName(workflow)}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return {
    workflows,
    machineName,
    machineArn,
    /** The statements granting `sender` exactly its workflow actions: one on the machines, one on their executions. */
    grantsOf(sender: WorkflowSender): iam.PolicyStatement[] {
      const actions: readonly string[] = WORKFLOW_SENDS[sender];
      const onMachines = actions.filter((a) => !ON_EXECUTIONS.has(a));
      const onExecutions = actions.filter((a) => ON_EXECUTIONS.has(a));
      return [
        ...(onMachines.length ? [new iam.PolicyStatement({ actions: onMachines, resources: workflows.map(machineArn) })] : []),
        ...(onExecutions.length ? [new iam.PolicyStatement({ actions: onExecutions, resources: workflows.map(executionArns) })] : []),
      ];
    },
  };
}

/**
 * What the store sends (`core/store/store.ts`): item reads and writes, and queries of the table and its indexes.
 * The whole-table Scan is the reconciler's alone. (SST's grant on a table would be `dynamodb:*`.)
 *
 * @example
 * new Function(stack, 'Reconciler', { handler: 'functions/reconciler.handler', permissions: [dataAccess(table.tableArn, { scan: true })] });
 */
export function dataAccess(tableArn: string, opts: { scan?: boolean } = {}): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', ...(opts.scan ? ['dynamodb:Scan'] : [])],
    resources: [tableArn, `${tableArn}/index/*`],
  });
}
