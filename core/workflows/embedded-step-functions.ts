/**
 * @module
 * The embedded Step Functions service: runs the same ASL with aws-local-stepfunctions, emulating task tokens and heartbeats.
 *
 * What the interpreter lacks and this class adds:
 * - `$$.Task.Token`: rewritten to `States.UUID()` in a private copy of each definition; the handler of every
 *   `.waitForTaskToken` Task registers the token and waits for `sendTaskSuccess/Failure`.
 * - `HeartbeatSeconds`: a timer per waiting task, reset by `sendTaskHeartbeat`; on expiry the task fails with an
 *   error named `States.HeartbeatTimeout` (matched by a Catch on that name, as in AWS).
 * - Execution names: `start` is idempotent by name per state machine; finished names stay taken (AWS: 90 days).
 * - Lambda errors: a thrown error becomes Step Functions error `error.name` with AWS's JSON Cause
 *   `{"errorType","errorMessage","trace"}`, so the tasks function sees the same error object in both places.
 *
 * Executions live in memory: a restart loses them (the sweeper restarts or fails stuck actions).
 */
import './polyfill.js';
import { ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { LAMBDA_INVOKE, LAMBDA_INVOKE_WAIT, type AslDefinition, type AslTaskState } from './asl.js';
import { TaskTokenError, type ExecutionInput, type ExecutionStatus, type TaskPayload, type StepFunctions } from './types.js';

/** Definitions this process has validated already (as JSON). */
const validatedDefinitions = new Set<string>();

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface EmbeddedStepFunctionsOptions {
  /** State machines by workflow name, as `allDefinitions()` makes them. */
  definitions: Record<string, AslDefinition>;
  /**
   * Makes the tasks function for this engine (as the tasks Lambda is made for Step Functions: the tasks resolve
   * their own tokens and start executions through it). The function gets each Task's `Payload`; its result is the
   * Task's `Payload` output.
   */
  tasks: (engine: StepFunctions) => (payload: TaskPayload) => Promise<unknown>;
  /** Receives execution outcomes and state failures/retries (diagnostics only). */
  log?: (e: unknown) => void;
  /**
   * Fixed wait before each retry, in ms, instead of the definitions' backoff with full jitter (tests,
   * impatient development). Default: as the definitions say.
   */
  retryIntervalMs?: number;
  /** How long a finished execution's name stays taken; default 90 days, as in AWS. */
  retentionMs?: number;
  now?: () => number;
}

interface Execution {
  key: string;
  workflow: string;
  name: string;
  status: Exclude<ExecutionStatus, 'NOT_FOUND'>;
  abort?: () => void;
  /** Settles when the interpreter's result settles (status set). */
  done?: Promise<void>;
  /** Tokens of this execution's waiting tasks. */
  tokens: Set<string>;
  endedAt?: number;
}

interface Waiting {
  exec: Execution;
  resolve: (output: Json) => void;
  reject: (e: Error) => void;
  heartbeatMs?: number;
  heartbeatTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
}

/** An error with a Step Functions error name (`Error`) and message (`Cause`). */
function sfnError(name: string, cause: string): Error {
  const e = new Error(cause);
  e.name = name;
  return e;
}

/** The error a `lambda:invoke` Task fails with when the function throws, shaped as AWS reports it. */
function lambdaError(thrown: unknown): Error {
  const e = thrown instanceof Error ? thrown : new Error(String(thrown));
  const errorType = e.name || 'Error';
  const trace = (e.stack ?? '').split('\n').slice(0, 10);
  return sfnError(errorType, JSON.stringify({ errorType, errorMessage: e.message, trace }));
}

/** JSON copy of a task result (drops `undefined` and functions, as serialization to Lambda would). */
function toJson(v: unknown): Json {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v)) as Json;
}

/** Step Functions execution name rules: 1–80 chars, no whitespace, brackets, wildcards or special characters. */
const INVALID_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

/**
 * Step Functions in-process.
 *
 * @example
 * const wf = new EmbeddedStepFunctions({ definitions: allDefinitions(opts), tasks: (self) => createTaskHandler({ ...deps, workflows: self }) });
 * await wf.start('instance-stop', { id: '1i5', actionId, workflow: 'instance-stop' });
 * await wf.sendTaskSuccess(token, { ok: true }); // from the agent's completion
 * await wf.idle(); // every execution settled
 */
export class EmbeddedStepFunctions implements StepFunctions {
  private readonly machines = new Map<string, { machine: StateMachine; def: AslDefinition }>();
  private readonly executions = new Map<string, Execution>();
  private readonly waiting = new Map<string, Waiting>();
  /** Handler calls still running (a stopped execution's handler is not cancelled by the interpreter). */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Finished executions in the order they ended, for pruning past the retention. */
  private readonly ended: Execution[] = [];
  private readonly now: () => number;
  private closed = false;

  private readonly invokeTask: (payload: TaskPayload) => Promise<unknown>;

  constructor(private readonly opts: EmbeddedStepFunctionsOptions) {
    this.now = opts.now ?? Date.now;
    this.invokeTask = opts.tasks(this);
    for (const [name, asl] of Object.entries(opts.definitions)) {
      const def = JSON.parse(JSON.stringify(asl).replaceAll('"$$.Task.Token"', '"States.UUID()"')) as AslDefinition;
      for (const [stateName, state] of Object.entries(def.States)) {
        if (state.Type === 'Task' && state.Resource !== LAMBDA_INVOKE && state.Resource !== LAMBDA_INVOKE_WAIT) {
          throw new Error(`workflow ${name}: Task ${stateName} uses ${state.Resource}, which the local engine cannot run`);
        }
      }
      // Validates the definition (throws on an invalid one), once per process: validating the seven machines
      // takes about a second, which every local start and every test stack would pay again.
      const text = JSON.stringify(def);
      const machine = new StateMachine(structuredClone(def) as unknown as StateMachineDefinition, {
        validationOptions: { noValidate: validatedDefinitions.has(text) },
      });
      validatedDefinitions.add(text);
      this.machines.set(name, { machine, def });
    }
  }

  async start(workflow: string, input: ExecutionInput): Promise<void> {
    if (this.closed) throw new Error('EmbeddedStepFunctions is closed');
    const m = this.machines.get(workflow);
    if (!m) throw sfnError('StateMachineDoesNotExist', `no state machine for workflow ${workflow}`);
    const name = input.actionId;
    if (!name || name.length > 80 || INVALID_NAME.test(name)) throw sfnError('InvalidName', `invalid execution name ${JSON.stringify(name)}`);
    this.prune();
    const key = `${workflow}\u0000${name}`;
    if (this.executions.has(key)) return; // same name: already started (or finished), like AWS
    const exec: Execution = { key, workflow, name, status: 'RUNNING', tokens: new Set() };
    this.executions.set(key, exec);

    const handlers: Record<string, (input: unknown) => Promise<Json>> = {};
    for (const [stateName, state] of Object.entries(m.def.States)) {
      if (state.Type !== 'Task') continue;
      handlers[stateName] =
        state.Resource === LAMBDA_INVOKE_WAIT
          ? (params) => this.track(this.waitForToken(exec, state, params))
          : (params) => this.track(this.invoke(params));
    }
    const overrides: { taskResourceLocalHandlers: typeof handlers; retryIntervalOverrides?: Record<string, number> } = {
      taskResourceLocalHandlers: handlers,
    };
    if (this.opts.retryIntervalMs !== undefined) {
      overrides.retryIntervalOverrides = Object.fromEntries(Object.keys(handlers).map((s) => [s, this.opts.retryIntervalMs!]));
    }
    const run = m.machine.run(toJson(input), { overrides, noThrowOnAbort: true });
    exec.abort = run.abort;
    if (this.opts.log) void this.forwardEvents(exec, run.eventLogs);
    exec.done = run.result.then(
      (output) => {
        // An aborted run resolves with null (noThrowOnAbort); stop() already set ABORTED.
        if (exec.status === 'RUNNING') exec.status = 'SUCCEEDED';
        this.finish(exec, { status: exec.status, output });
      },
      (e: unknown) => {
        const timedOut = e instanceof ExecutionTimeoutError;
        if (exec.status === 'RUNNING') exec.status = timedOut ? 'TIMED_OUT' : 'FAILED';
        this.finish(exec, { status: exec.status, error: e instanceof Error ? { name: e.name, message: e.message } : e });
      },
    );
  }

  async describe(workflow: string, actionId: string): Promise<ExecutionStatus> {
    return this.executions.get(`${workflow}\u0000${actionId}`)?.status ?? 'NOT_FOUND';
  }

  async stop(workflow: string, actionId: string, cause: string): Promise<void> {
    const exec = this.executions.get(`${workflow}\u0000${actionId}`);
    if (!exec || exec.status !== 'RUNNING') return;
    exec.status = 'ABORTED';
    this.emit({ workflow, name: actionId, event: 'ExecutionStopRequested', cause });
    exec.abort?.();
    this.releaseTokens(exec, 'execution stopped');
  }

  async sendTaskSuccess(token: string, output: unknown): Promise<void> {
    const w = this.take(token);
    w.resolve(toJson(output ?? {}));
  }

  async sendTaskFailure(token: string, error: string, cause: string): Promise<void> {
    const w = this.take(token);
    w.reject(sfnError(error, cause));
  }

  async sendTaskHeartbeat(token: string): Promise<void> {
    const w = this.waiting.get(token);
    if (!w) throw new TaskTokenError(`task token ${token} does not name a waiting task`);
    if (w.heartbeatMs !== undefined) this.armHeartbeat(token, w);
  }

  /** Executions still running, as `workflow/name`. */
  running(): string[] {
    return [...this.executions.values()].filter((e) => e.status === 'RUNNING').map((e) => `${e.workflow}/${e.name}`);
  }

  /**
   * Resolves once every execution has finished and no task handler is running (including executions started
   * meanwhile). Waits for as long as executions wait on tokens: resolve or stop them first.
   */
  async idle(): Promise<void> {
    for (;;) {
      const pending: Promise<unknown>[] = [...this.inflight];
      for (const e of this.executions.values()) if (e.done && e.endedAt === undefined) pending.push(e.done);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** Stops every running execution, refuses new ones, and waits for running task handlers to return. */
  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.executions.values()) {
      if (e.status === 'RUNNING') await this.stop(e.workflow, e.name, 'engine closed');
    }
    await this.idle();
  }

  // ---- internals -------------------------------------------------------------------------------------

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const drop = () => this.inflight.delete(p);
    p.then(drop, drop);
    return p;
  }

  private async invoke(params: unknown): Promise<Json> {
    const payload = (params as { Payload: TaskPayload }).Payload;
    let result: unknown;
    try {
      result = await this.invokeTask(payload);
    } catch (e) {
      throw lambdaError(e);
    }
    return { Payload: toJson(result) };
  }

  private waitForToken(exec: Execution, state: AslTaskState, params: unknown): Promise<Json> {
    const payload = (params as { Payload: TaskPayload & { token?: unknown } }).Payload;
    const token = payload.token;
    if (typeof token !== 'string' || !token) {
      return Promise.reject(sfnError('States.Runtime', 'waitForTaskToken Task without a token in its Payload'));
    }
    if (exec.status !== 'RUNNING') return Promise.reject(sfnError('States.Runtime', 'execution is not running'));
    return new Promise<Json>((resolve, reject) => {
      const w: Waiting = { exec, resolve, reject };
      this.waiting.set(token, w);
      exec.tokens.add(token);
      if (state.HeartbeatSeconds !== undefined) {
        w.heartbeatMs = state.HeartbeatSeconds * 1000;
        this.armHeartbeat(token, w);
      }
      // The interpreter enforces TimeoutSeconds itself (States.Timeout) but does not tell the handler: this
      // timer drops the token so late callbacks get TaskTokenError.
      // Set before the interpreter's own timer of the same length, so it fires first: no late callback can
      // slip in between the timeout and the token's removal. (Default 60 s: the interpreter's default.)
      const timeoutMs = (state.TimeoutSeconds ?? 60) * 1000;
      w.timeoutTimer = setTimeout(() => this.expire(token, 'States.Timeout', 'Task timed out'), timeoutMs);
      // Registered first: the tasks function may resolve the token before the tasks function returns.
      this.invokeTask(payload).then(
        () => undefined,
        (e: unknown) => {
          const current = this.waiting.get(token);
          if (current !== w) return; // already resolved (agent was fast) or expired
          this.drop(token, w);
          reject(lambdaError(e));
        },
      );
    });
  }

  private armHeartbeat(token: string, w: Waiting): void {
    clearTimeout(w.heartbeatTimer);
    w.heartbeatTimer = setTimeout(
      () => this.expire(token, 'States.HeartbeatTimeout', `No heartbeat within ${w.heartbeatMs! / 1000} seconds`),
      w.heartbeatMs,
    );
  }

  private expire(token: string, error: string, cause: string): void {
    const w = this.waiting.get(token);
    if (!w) return;
    this.drop(token, w);
    w.reject(sfnError(error, cause));
  }

  /** Removes a waiting task and returns it, or throws `TaskTokenError`. */
  private take(token: string): Waiting {
    const w = this.waiting.get(token);
    if (!w) throw new TaskTokenError(`task token ${token} does not name a waiting task`);
    this.drop(token, w);
    return w;
  }

  private drop(token: string, w: Waiting): void {
    clearTimeout(w.heartbeatTimer);
    clearTimeout(w.timeoutTimer);
    this.waiting.delete(token);
    w.exec.tokens.delete(token);
  }

  /** Fails the waiting tasks of an execution that ended, so the interpreter's task promises settle. */
  private releaseTokens(exec: Execution, why: string): void {
    for (const token of [...exec.tokens]) {
      const w = this.waiting.get(token);
      if (!w) continue;
      this.drop(token, w);
      w.reject(sfnError('Drover.ExecutionEnded', why));
    }
  }

  private finish(exec: Execution, outcome: Record<string, unknown>): void {
    exec.endedAt = this.now();
    exec.abort = undefined;
    this.ended.push(exec);
    this.releaseTokens(exec, `execution ${exec.status}`);
    this.emit({ workflow: exec.workflow, name: exec.name, event: 'ExecutionEnded', ...outcome });
  }

  /** Logs without letting a throwing logger turn into an unhandled rejection. */
  private emit(e: unknown): void {
    try {
      this.opts.log?.(e);
    } catch {
      /* diagnostics only */
    }
  }

  private prune(): void {
    const horizon = this.now() - (this.opts.retentionMs ?? 90 * 86_400_000);
    while (this.ended.length && this.ended[0].endedAt! < horizon) {
      const e = this.ended.shift()!;
      this.executions.delete(e.key);
    }
  }

  private async forwardEvents(exec: Execution, events: AsyncGenerator<{ type: string }>): Promise<void> {
    try {
      for await (const ev of events) {
        if (ev.type === 'StateFailed' || ev.type === 'StateRetried' || ev.type === 'StateCaught' || ev.type === 'ExecutionFailed') {
          this.emit({ workflow: exec.workflow, name: exec.name, ...ev });
        }
      }
    } catch {
      /* diagnostics only */
    }
  }
}
