/**
 * @module
 * The work behind every Task state: the same function serves the tasks Lambda in AWS and the embedded
 * interpreter locally. Every write is fenced by the action id through the process engine, so a retried or
 * late task for a superseded action does nothing.
 */
import { instanceSnapshot, type Outbox } from '../agent/outbox.js';
import type { ProcessEngine } from '../domain/engine.js';
import { holdsAllocation } from '../domain/hosts.js';
import { SchedulingError, type Scheduler } from '../domain/scheduler.js';
import type { Resource } from '../store/resource.js';
import { failStateOf, stepOf } from './definitions.js';
import type { HostCommandName, TaskPayload, WorkflowEngine } from './types.js';

export interface TaskDeps {
  engine: ProcessEngine;
  scheduler: Scheduler;
  outbox: Outbox;
  /** The workflow engine (callback tasks with nothing to wait for resolve their own token). */
  workflows: () => WorkflowEngine;
}

/** A task error Step Functions must not retry; its message becomes the resource's transitioningMessage. */
export class TaskFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Drover.TaskFailed';
  }
}

/** Commands that have nothing to do once the host is gone (cattle `shortCircuitIfAgentRemoved`). */
const SHORT_CIRCUIT_WITHOUT_HOST = new Set<HostCommandName>(['compute.instance.deactivate', 'compute.instance.remove']);

/** The message of a Step Functions error object: Lambda errors carry a JSON Cause with `errorMessage`. */
export function errorMessage(err: { Error?: string; Cause?: string }): string {
  const cause = err.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    /* plain text cause */
  }
  return cause || err.Error || 'Failed';
}

/**
 * The task function.
 *
 * @example
 * const runTask = createTaskHandler({ engine, scheduler, outbox, workflows: () => wf });
 * await runTask({ task: 'complete', id: '1i5', actionId, workflow: 'process' });
 */
export function createTaskHandler(deps: TaskDeps): (payload: TaskPayload) => Promise<unknown> {
  const { engine, scheduler, outbox } = deps;

  return async function runTask(p: TaskPayload): Promise<unknown> {
    const ref = { id: p.id, actionId: p.actionId };
    switch (p.task) {
      case 'complete':
        await engine.complete(ref);
        return { completed: true };

      case 'fail': {
        const cur = await engine.current(ref);
        if (!cur?.action) return { superseded: true };
        const hostId = typeof cur.fields.hostId === 'string' ? cur.fields.hostId : 'unknown';
        const step = stepOf(p.workflow, p.stepName);
        const what = step?.kind === 'host' ? step.command : p.stepName;
        let message = errorMessage(p.error);
        if (p.error.Error === 'States.HeartbeatTimeout') {
          message = `Host ${hostId} stopped responding during ${what} (no heartbeat in time)`;
        } else if (p.error.Error === 'States.Timeout') {
          message = `Timed out waiting for host ${hostId} to finish ${what}`;
        }
        // A migrate failing before it moved holds a charge on its target host: give it back (clear, then
        // release, so a retried fail task cannot release twice).
        let latest: Resource | undefined = cur;
        const target = cur.fields.migrationTargetHostId;
        if (typeof target === 'string' && target) {
          latest = await engine.progress(ref, { fields: { migrationTargetHostId: null } }, cur);
          if (latest) await scheduler.release(target, cur);
        }
        await engine.fail(ref, message, failStateOf(p.workflow, p.stepName, cur.action.from), latest);
        return { failed: true, message };
      }

      case 'step': {
        const cur = await engine.current(ref);
        if (!cur) return { superseded: true };
        const step = stepOf(p.workflow, p.stepName);
        try {
          await runLocalStep(p.step, cur, step?.message ?? null);
        } catch (e) {
          if (e instanceof SchedulingError) throw new TaskFailedError(e.message);
          throw e;
        }
        return { done: true };
      }

      case 'hostCall': {
        const cur = await engine.current(ref);
        const done = (output: unknown) => deps.workflows().sendTaskSuccess(p.token, output);
        if (!cur?.action) return done({ superseded: true });
        const hostId = typeof cur.fields.hostId === 'string' ? cur.fields.hostId : null;
        const host = hostId ? await engine.store.get(hostId) : undefined;
        if (!host || host.state !== 'active') {
          if (SHORT_CIRCUIT_WITHOUT_HOST.has(p.command)) return done({ skipped: `no active host for ${cur.id}` });
          throw new TaskFailedError(`${cur.type} ${cur.id} has no active host to run ${p.command} on`);
        }
        const step = stepOf(p.workflow, p.stepName);
        await engine.progress(ref, { message: `${step?.message ?? p.command} on host ${host.id}`, progress: null }, cur);
        const input = cur.action.input ?? {};
        await outbox.enqueue({
          hostId: host.id,
          name: p.command,
          action: cur.action.name,
          resourceId: cur.id,
          actionId: cur.action.id,
          data: instanceSnapshot(cur),
          processData: typeof input.timeout === 'number' ? { timeout: input.timeout } : {},
          token: p.token,
          heartbeatSeconds: p.heartbeatSeconds,
          timeoutSeconds: p.timeoutSeconds,
          // A retried invoke brings a new token: it replaces the token of the same step's command. A re-driven
          // action is a new run and gets a new command: the last run's command may sit acked by an agent that
          // dropped it when its token died (410 Gone), and an acked command is never handed out again.
          dedupeKey: `${cur.action.id}/${cur.action.redrives ?? 0}/${p.stepName}`,
        });
        return { enqueued: true };
      }
    }
  };

  async function runLocalStep(step: string, cur: Resource, message: string | null): Promise<void> {
    const ref = { id: cur.id, actionId: cur.action!.id };
    const hostId = typeof cur.fields.hostId === 'string' ? cur.fields.hostId : null;
    switch (step) {
      case 'allocate': {
        // A start after a stop keeps its host (cattle keeps the allocation until purge).
        if (hostId && cur.fields.allocationState === 'active') {
          await engine.progress(ref, { message }, cur);
          return;
        }
        const chosen = await scheduler.allocate(cur);
        const written = await engine.progress(ref, { message, fields: { hostId: chosen, allocationState: 'active' } }, cur);
        if (!written) await scheduler.release(chosen, cur); // superseded meanwhile: give the capacity back
        return;
      }
      case 'allocateTarget': {
        // A re-driven migrate already holds its target's charge: keep that target instead of charging again.
        const held = cur.fields.migrationTargetHostId;
        if (typeof held === 'string' && held && held !== hostId) {
          await engine.progress(ref, { message }, cur);
          return;
        }
        const target = await scheduler.allocate(cur, { exclude: hostId ? [hostId] : [] });
        const written = await engine.progress(ref, { message, fields: { migrationTargetHostId: target } }, cur);
        if (!written) await scheduler.release(target, cur);
        return;
      }
      case 'moveToTarget': {
        const target = cur.fields.migrationTargetHostId;
        if (typeof target !== 'string') throw new TaskFailedError(`${cur.id} has no migration target`);
        const written = await engine.progress(ref, { message, fields: { hostId: target, migrationTargetHostId: null } }, cur);
        if (written && hostId && hostId !== target) await scheduler.release(hostId, cur);
        return;
      }
      case 'deallocate': {
        const written = await engine.progress(ref, { message, fields: { hostId: null, allocationState: 'inactive' } }, cur);
        if (written && hostId && holdsAllocation(cur)) await scheduler.release(hostId, cur);
        return;
      }
      default:
        throw new Error(`unknown local step ${step}`);
    }
  }
}
