/**
 * @module
 * WorkflowRuns: which workflow a begun action starts, with what input, and what happens when it cannot start.
 */
import { describe, expect, it } from 'vitest';
import type { Ledger, NextRun } from '../domain/ledger.js';
import { WorkflowRuns } from './runs.js';
import type { ExecutionInput, ExecutionStatus, StepFunctions } from './types.js';

class RecordingEngine implements StepFunctions {
  started: [string, ExecutionInput][] = [];
  async start(workflow: string, input: ExecutionInput): Promise<void> {
    this.started.push([workflow, input]);
  }
  async describe(): Promise<ExecutionStatus> {
    return 'NOT_FOUND';
  }
  async stop(): Promise<void> {}
  async sendTaskSuccess(): Promise<void> {}
  async sendTaskFailure(): Promise<void> {}
  async sendTaskHeartbeat(): Promise<void> {}
}

const ledger = {} as Ledger; // the runs only hand off; the workflow's tasks use the ledger

const run = (id: string, actionId: string, baseType: string, action: string, workflow: NextRun['workflow']): NextRun => ({
  id,
  actionId,
  baseType,
  action,
  workflow,
});

describe('WorkflowRuns', () => {
  it('starts the workflow of the process, named by the action id', async () => {
    const wf = new RecordingEngine();
    const runs = new WorkflowRuns(wf, ledger);
    await runs.dispatch([run('1i5', 'a1', 'instance', 'restart', 'instance-restart'), run('1il2', 'a2', 'instanceLink', 'activate', 'process')]);
    expect(wf.started).toEqual([
      ['instance-restart', { id: '1i5', actionId: 'a1', workflow: 'instance-restart' }],
      ['process', { id: '1il2', actionId: 'a2', workflow: 'process' }],
    ]);
  });

  it('does not fail the committed transition when the start fails: it marks the action due for the sweeper', async () => {
    const wf = new RecordingEngine();
    wf.start = async () => {
      throw new Error('ThrottlingException');
    };
    const logged: string[] = [];
    const due: unknown[] = [];
    const marking = { markDue: async (ref: unknown) => void due.push(ref) } as unknown as Ledger;
    const runs = new WorkflowRuns(wf, marking, (m) => logged.push(m));
    await runs.dispatch([run('1i5', 'a1', 'instance', 'stop', 'instance-stop')]);
    expect(due).toEqual([run('1i5', 'a1', 'instance', 'stop', 'instance-stop')]);
    expect(logged[0]).toMatch(/sweeper will re-drive/);
  });
});
