/**
 * @module
 * The work behind every Task state: the same function serves the tasks Lambda in AWS and the embedded
 * interpreter locally. Every write goes through the lifecycle ledger, fenced by the action id, so a retried or
 * late task for a superseded action does nothing; the runs a completion calls for are started from here.
 */
import { instanceSnapshot, type Outbox } from '../agent/outbox.js';
import { holdsAllocation, hostIdOf } from '../domain/hosts.js';
import type { Failure, Ledger } from '../domain/ledger.js';
import { SchedulingError, type Scheduler } from '../domain/scheduler.js';
import { stepAfter, stepMessage, stepOf, WORKFLOWS, type WorkflowSpec } from '../process/workflows.js';
import type { Resource } from '../store/item.js';
import type { Store } from '../store/store.js';
import { hostResultPath } from './asl.js';
import { WorkflowRuns } from './runs.js';
import type { HostCommandName, TaskPayload, StepFunctions } from './types.js';

export interface TaskDeps {
  ledger: Ledger;
  store: Store;
  scheduler: Scheduler;
  outbox: Outbox;
  /** The workflow engine the tasks run under: callback tasks with nothing to wait for resolve their own token,
   *  and a completion starts the runs it calls for. */
  workflows: StepFunctions;
  log?: (msg: string, err: unknown) => void;
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
 * The failure a Catch reports, in the ledger's terms: a heartbeat or task timeout means the host went silent.
 *
 * @example
 * failureOf('Activate', { Error: 'States.HeartbeatTimeout' }) // { step: 'Activate', hostSilent: 'heartbeat', ... }
 */
export function failureOf(stepName: string, error: { Error?: string; Cause?: string }): Failure {
  const failure: Failure = { message: errorMessage(error), step: stepName };
  if (error.Error === 'States.HeartbeatTimeout') failure.hostSilent = 'heartbeat';
  else if (error.Error === 'States.Timeout') failure.hostSilent = 'timeout';
  return failure;
}

/**
 * The host calls' results kept in an execution's state (`hostResultPath`), merged in step order: the fields the
 * agents reported, for the completion to record.
 *
 * @example
 * resultsOf('instance-start', { ActivateResult: { fields: { externalId: 'c0ffee' } } }) // { externalId: 'c0ffee' }
 */
export function resultsOf(workflow: string, state: Record<string, unknown> | undefined): Record<string, unknown> {
  const spec = (WORKFLOWS as Record<string, WorkflowSpec>)[workflow];
  const out: Record<string, unknown> = {};
  for (const step of spec?.steps ?? []) {
    if (step.kind !== 'host') continue;
    const result = state?.[hostResultPath(step.name).slice(2)] as { fields?: unknown } | undefined;
    if (result?.fields && typeof result.fields === 'object') Object.assign(out, result.fields);
  }
  return out;
}

/**
 * The task function.
 *
 * @example
 * const runTask = createTaskHandler({ ledger, store, scheduler, outbox, workflows: wf });
 * await runTask({ task: 'complete', id: '1i5', actionId, workflow: 'process' });
 */
export function createTaskHandler(deps: TaskDeps): (payload: TaskPayload) => Promise<unknown> {
  const { ledger, scheduler, outbox } = deps;
  const runs = new WorkflowRuns(deps.workflows, ledger, deps.log);

  return async function runTask(p: TaskPayload): Promise<unknown> {
    const ref = { id: p.id, actionId: p.actionId };
    switch (p.task) {
      case 'complete': {
        const done = await ledger.complete(ref, resultsOf(p.workflow, p.state));
        if (done) await runs.dispatch(done.runs);
        return { completed: true };
      }

      case 'fail': {
        const failure = failureOf(p.stepName, p.error);
        const failed = await ledger.fail(ref, failure);
        if (!failed) return { superseded: true };
        return { failed: true, message: failed.transitioningMessage };
      }

      case 'step': {
        const cur = await ledger.current(ref);
        if (!cur) return { superseded: true };
        const step = stepOf(p.workflow, p.stepName);
        try {
          await runLocalStep(p.step, cur, step?.message ?? null, p.workflow, p.stepName);
        } catch (e) {
          if (e instanceof SchedulingError) throw new TaskFailedError(e.message);
          throw e;
        }
        return { done: true };
      }

      case 'hostCall': {
        const cur = await ledger.current(ref);
        const done = (output: unknown) => deps.workflows.sendTaskSuccess(p.token, output);
        if (!cur?.action) return done({ superseded: true });
        const hostId = hostIdOf(cur);
        const host = hostId ? await deps.store.get(hostId) : undefined;
        if (!host || host.state !== 'active') {
          if (SHORT_CIRCUIT_WITHOUT_HOST.has(p.command)) return done({ skipped: `no active host for ${cur.id}` });
          throw new TaskFailedError(`${cur.type} ${cur.id} has no active host to run ${p.command} on`);
        }
        const step = stepOf(p.workflow, p.stepName);
        // The step's message is written unless the step before already showed it (an allocation names the host it
        // chose). An instance offers the access its host's driver serves (execute, logs, proxy, console): recorded as
        // the host starts it, in the same write.
        const hostCaps = host.fields.capabilities;
        const capabilities =
          p.command === 'compute.instance.activate' && Array.isArray(hostCaps) && !sameMembers(hostCaps, cur.fields.capabilities) ? { capabilities: hostCaps } : undefined;
        await ledger.report(ref, { message: step ? stepMessage(step, host.id) : p.command, progress: null, ...(capabilities ? { fields: capabilities } : {}) }, cur);
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

  async function runLocalStep(step: string, cur: Resource, message: string | null, workflow: string, stepName: string): Promise<void> {
    const ref = { id: cur.id, actionId: cur.action!.id };
    const hostId = hostIdOf(cur);
    switch (step) {
      case 'allocate': {
        // A start after a stop keeps its host (cattle keeps the allocation until purge).
        // Nothing is scheduled then, so nothing is written: the host call's message is the next thing to show.
        if (hostId && cur.fields.allocationState === 'active') return;
        const chosen = await scheduler.allocate(cur);
        // The host call that follows would show its message next: show it now, in the same write.
        const next = stepAfter(workflow, stepName);
        const shown = next?.kind === 'host' ? stepMessage(next, chosen) : message;
        const written = await ledger.report(ref, { message: shown, progress: null, fields: { hostId: chosen, allocationState: 'active' } }, cur);
        if (!written) await scheduler.release(chosen, cur); // superseded meanwhile: give the capacity back
        return;
      }
      case 'allocateTarget': {
        // A re-driven migrate already holds its target's charge: keep that target instead of charging again.
        const held = cur.fields.migrationTargetHostId;
        if (typeof held === 'string' && held && held !== hostId) {
          await ledger.report(ref, { message }, cur);
          return;
        }
        // Wakame's move names the target; a Rancher migrate lets the scheduler choose.
        const named = cur.action?.input.hostId;
        const requestedHostId = typeof named === 'string' && named ? named : undefined;
        const target = await scheduler.allocate(cur, { exclude: hostId ? [hostId] : [], requestedHostId });
        const written = await ledger.report(ref, { message, fields: { migrationTargetHostId: target } }, cur);
        if (!written) await scheduler.release(target, cur);
        return;
      }
      case 'moveToTarget': {
        const target = cur.fields.migrationTargetHostId;
        if (typeof target !== 'string') throw new TaskFailedError(`${cur.id} has no migration target`);
        const written = await ledger.report(ref, { message, fields: { hostId: target, migrationTargetHostId: null } }, cur);
        if (written && hostId && hostId !== target) await scheduler.release(hostId, cur);
        return;
      }
      case 'deallocate': {
        const written = await ledger.report(ref, { message, fields: { hostId: null, allocationState: 'inactive' } }, cur);
        if (written && hostId && holdsAllocation(cur)) await scheduler.release(hostId, cur);
        return;
      }
      default:
        throw new Error(`unknown local step ${step}`);
    }
  }
}

/** Whether `b` is an array holding exactly the members of `a`. */
function sameMembers(a: unknown[], b: unknown): boolean {
  return Array.isArray(b) && a.length === b.length && a.every((x) => b.includes(x));
}
