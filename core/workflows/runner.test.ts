/**
 * @module
 * WorkflowRunner: which workflow an action starts, with what input, and how long it may take.
 */
import { describe, expect, it } from 'vitest';
import type { ProcessEngine } from '../domain/engine.js';
import type { Resource } from '../store/resource.js';
import { WorkflowRunner } from './runner.js';
import type { ExecutionInput, ExecutionStatus, WorkflowEngine } from './types.js';

class RecordingEngine implements WorkflowEngine {
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

const engine = {} as ProcessEngine; // the runner only hands off; the workflow's tasks use the engine

describe('WorkflowRunner', () => {
  it('starts the workflow of the process, named by the action id', async () => {
    const wf = new RecordingEngine();
    const runner = new WorkflowRunner(wf, { heartbeatSeconds: 60, timeoutSeconds: 900 });
    await runner.run(engine, { id: '1i5', actionId: 'a1', baseType: 'instance', action: 'restart' });
    await runner.run(engine, { id: '1il2', actionId: 'a2', baseType: 'instanceLink', action: 'activate' });
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
    const runner = new WorkflowRunner(wf, { heartbeatSeconds: 60, timeoutSeconds: 900, log: (m) => logged.push(m) });
    // The one store call the runner makes, applied to an item in memory.
    let item = { id: '1i5', action: { id: 'a1', deadline: Date.now() + 3_600_000 } } as unknown as Resource;
    const withStore = { store: { mutate: async (_id: string, fn: (r: Resource) => Resource) => ({ after: (item = fn(item)) }) } };
    const before = Date.now();
    await runner.run(withStore as unknown as ProcessEngine, { id: '1i5', actionId: 'a1', baseType: 'instance', action: 'stop' });
    expect(item.action!.deadline).toBeLessThanOrEqual(Date.now());
    expect(item.action!.deadline).toBeGreaterThanOrEqual(before);
    expect(logged[0]).toMatch(/sweeper will re-drive/);
  });

  it('gives each action host steps × timeout + local steps × 30 s + 60 s', () => {
    const runner = new WorkflowRunner(new RecordingEngine(), { heartbeatSeconds: 60, timeoutSeconds: 900 });
    expect(runner.deadlineMs('instance', 'start')).toBe((900 + 30 + 60) * 1000); // Allocate + Activate
    expect(runner.deadlineMs('instance', 'stop')).toBe((900 + 60) * 1000);
    expect(runner.deadlineMs('instance', 'migrate')).toBe((2 * 900 + 2 * 30 + 60) * 1000);
    expect(runner.deadlineMs('instance', 'update')).toBe(60 * 1000); // no steps: process
    expect(runner.deadlineMs('instanceLink', 'activate')).toBe(60 * 1000);
  });
});
