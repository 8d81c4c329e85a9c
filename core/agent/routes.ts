/**
 * @module
 * The host agent's HTTP protocol, mounted at `/agent` (design D7, notes §A.6–A.8): register with a token, then,
 * with the host's own Basic credential, long-poll the host's outbox, ack, report progress (relayed as task
 * heartbeats) and complete (relayed as SendTaskSuccess / SendTaskFailure, exactly once per command).
 *
 *   POST /agent/register                      { token, uuid, ...HostFacts } → { hostId, accessKey, secretKey, hostAccessKey }
 *   POST /agent/facts                         HostFacts without uuid → { hostId, hostAccessKey }
 *   GET  /agent/commands?wait=<s>&limit=<n>   → { data: AgentCommand[], doorbell?: Doorbell }
 *   POST /agent/commands/:id/ack              → { data: AgentCommand }
 *   POST /agent/commands/:id/progress         { message?, progress? } → { ok: true } | 410 Gone
 *   POST /agent/commands/:id/complete         { result?: { fields? } } | { error } → { duplicate: boolean }
 *   POST /agent/health                        { data: HealthReport[] } → { retry: resourceId[] }
 *   POST /agent/exits                         { data: ExitReport[] } → { retry: resourceId[] }
 */
import { Hono, type Context } from 'hono';
import { ApiError, statusError, ValidationError } from '../errors.js';
import { isJsonObject, parseJsonObject, sendJson as send } from '../http/json.js';
import type { Authenticator, Principal } from '../domain/credentials.js';
import type { Ledger } from '../domain/ledger.js';
import type { Store } from '../store/store.js';
import { validateLabels } from '../schema/validate.js';
import { TaskTokenError, type StepFunctions } from '../workflows/types.js';
import type { Command } from '../store/commands.js';
import { agentView, isCommandId, type Outbox } from './outbox.js';
import {
  ACCESS_KINDS,
  COMMAND_ERROR_MAX,
  PROGRESS_MESSAGE_MAX,
  REPORTS_MAX,
  type AccessKind,
  type CommandOutcome,
  type Doorbell,
  type ExitReport,
  type HealthReport,
  type HostFacts,
} from './protocol.js';
import type { InstanceReports } from '../domain/health.js';
import { parseId } from '../ids.js';
import { factFields, registerHost } from './registration.js';
import { Liveness } from './liveness.js';

/** The workflow engine, or a getter for one wired after the app (absent: outcomes are only recorded). */
export type WorkflowSource = StepFunctions | (() => StepFunctions | undefined);

export interface AgentRoutesOptions {
  store: Store;
  /** Where an agent's progress is recorded on the action. */
  ledger: Ledger;
  auth: Authenticator;
  outbox: Outbox;
  workflows?: WorkflowSource;
  /** The host's access key, given to its agent at registration and with its facts (absent: none given). */
  hostAccessKey?: (hostId: string) => string;
  /** Where health and exit reports go (absent: those routes answer 404). */
  instances?: InstanceReports;
  /** Longest long-poll in seconds (default 20; 0 on Lambda, which bills the wait). */
  maxWaitSeconds?: number;
  /**
   * In AWS, the stage's agent doorbell (a WebSocket API): told to agents with every poll answer, so they hold it
   * open and poll when it rings, and otherwise only every `fallbackPollSeconds`. Liveness then allows for
   * `keepaliveSeconds` between check-ins.
   */
  doorbell?: Doorbell;
  /** Least time between two `agentSeenAt` writes for one host from this process (default 5000 ms). */
  seenIntervalMs?: number;
  /** A completion repeated this long after the first one, whose outcome never reached the workflow (the
   *  first request died in between), is passed on again (default 15000 ms). */
  relayRetryMs?: number;
  logError?: (err: unknown) => void;
  now?: () => number;
}


/** Largest command result an agent may report (JSON characters). */
const MAX_RESULT_CHARS = 65_536;

type Env = { Variables: { agent: Principal } };

const gone = (message: string) => new ApiError(410, 'Gone', { message });

async function readJson(c: Context): Promise<Record<string, unknown>> {
  return parseJsonObject(await c.req.text());
}

function str(body: Record<string, unknown>, name: string, o: { required?: boolean; max?: number } = {}): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (o.required) throw new ValidationError('MissingRequired', name);
    return undefined;
  }
  if (typeof v !== 'string') throw new ValidationError('InvalidFormat', name);
  if (o.required && !v) throw new ValidationError('MissingRequired', name);
  if (o.max !== undefined && v.length > o.max) throw new ValidationError('MaxLengthExceeded', name);
  return v;
}

function int(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ValidationError('InvalidFormat', name);
  if (v < min) throw new ValidationError('MinLimitExceeded', name);
  if (v > max) throw new ValidationError('MaxLimitExceeded', name);
  return v;
}

/** What an agent says about its host besides its uuid (`HostFacts`), checked field by field. */
async function hostFacts(body: Record<string, unknown>): Promise<Omit<HostFacts, 'uuid'>> {
  const capabilities = body.capabilities;
  if (capabilities !== undefined && capabilities !== null) {
    if (!Array.isArray(capabilities) || capabilities.some((k) => typeof k !== 'string' || !Object.hasOwn(ACCESS_KINDS, k))) {
      throw new ValidationError('InvalidOption', 'capabilities');
    }
  }
  const accessUrl = str(body, 'accessUrl', { max: 512 });
  if (accessUrl !== undefined && !/^https?:\/\/[^\s/?#]+\/?$/.test(accessUrl)) throw new ValidationError('InvalidFormat', 'accessUrl');
  const sandbox = body.sandbox;
  if (sandbox !== undefined && sandbox !== null) {
    const entries = typeof sandbox === 'object' && !Array.isArray(sandbox) ? Object.entries(sandbox) : undefined;
    if (!entries || entries.length > 20 || entries.some(([k, v]) => k.length > 64 || typeof v !== 'string' || v.length > 512)) {
      throw new ValidationError('InvalidFormat', 'sandbox');
    }
  }
  return {
    hostname: str(body, 'hostname', { max: 255 }) ?? '',
    vcpu: int(body, 'vcpu', 0, 1_000_000) ?? 0,
    memoryMb: int(body, 'memoryMb', 0, 1_000_000_000) ?? 0,
    labels: await labels(body),
    driver: str(body, 'driver', { max: 64 }),
    capabilities: (capabilities ?? undefined) as AccessKind[] | undefined,
    accessUrl: accessUrl?.replace(/\/$/, ''),
    address: str(body, 'address', { max: 255 }),
    sandbox: (sandbox ?? undefined) as Record<string, string> | undefined,
  };
}

/** A host's labels: none, or a map with the limits of an instance's. */
function labels(body: Record<string, unknown>): Promise<Record<string, string>> {
  return body.labels === undefined || body.labels === null ? Promise.resolve({}) : validateLabels(body.labels);
}

/**
 * The `/agent` sub-app.
 *
 * @example
 * app.route('/agent', createAgentRoutes({ store, ledger, auth, outbox, workflows: () => wf }));
 */
export function createAgentRoutes(opts: AgentRoutesOptions): Hono<Env> {
  const { store, ledger, auth, outbox } = opts;
  const now = opts.now ?? Date.now;
  const maxWait = Math.max(0, opts.maxWaitSeconds ?? 20);
  const relayRetryMs = opts.relayRetryMs ?? 15_000;
  const logError = opts.logError ?? ((e) => console.error(e));
  const liveness = new Liveness(store, { intervalMs: opts.seenIntervalMs, now });
  const lastHeartbeat = new Map<string, number>();
  const workflows = (): StepFunctions | undefined =>
    typeof opts.workflows === 'function' ? opts.workflows() : opts.workflows;

  async function command(hostId: string, id: string): Promise<Command> {
    // A host key reaches only its own partition: another host's command id is simply not found.
    const cmd = await outbox.get(hostId, id);
    if (!cmd) throw statusError(404, `Command ${id} not found`);
    return cmd;
  }

  /**
   * Passes a recorded outcome to the workflow. A result rides along as the task's output, and the workflow's
   * completion records its fields with the done state in one write.
   */
  async function relay(cmd: Command): Promise<void> {
    const outcome = cmd.result;
    const wf = workflows();
    try {
      if (outcome && 'error' in outcome) await wf?.sendTaskFailure(cmd.token, 'AgentError', outcome.error.slice(0, COMMAND_ERROR_MAX));
      else await wf?.sendTaskSuccess(cmd.token, outcome?.result ?? {});
    } catch (e) {
      // The task timed out or was superseded before the agent finished: the workflow has moved on.
      if (!(e instanceof TaskTokenError)) throw e;
    }
    await outbox.markRelayed(cmd.hostId, cmd.id);
  }

  const app = new Hono<Env>();

  app.post('/register', async (c) => {
    const body = await readJson(c);
    const token = str(body, 'token', { required: true })!;
    const facts = { uuid: str(body, 'uuid', { required: true, max: 128 })!, ...(await hostFacts(body)) };
    const reg = await registerHost({ store, auth, now }, token, facts);
    liveness.noteSeen(reg.hostId);
    return send(
      c,
      { hostId: reg.hostId, accessKey: reg.accessKey, secretKey: reg.secretKey, hostAccessKey: opts.hostAccessKey?.(reg.hostId) },
      reg.created ? 201 : 200,
    );
  });

  // A restarted agent with a saved credential reports its facts again (its driver, access server and sandbox may
  // have changed) and gets its host's access key.
  app.post('/facts', agentAuth, async (c) => {
    const hostId = c.get('agent').hostId!;
    const facts = await hostFacts(await readJson(c));
    await store.mutate(hostId, (cur) => ({ ...cur, fields: { ...cur.fields, ...factFields(facts) } }));
    return send(c, { hostId, hostAccessKey: opts.hostAccessKey?.(hostId) });
  });

  // Every other route: the host's own credential, and a liveness stamp.
  app.use('/commands', agentAuth);
  app.use('/commands/*', agentAuth);
  app.use('/health', agentAuth);
  app.use('/exits', agentAuth);
  async function agentAuth(c: Context<Env>, next: () => Promise<void>) {
    const agent = await auth.authenticate(c.req.header('authorization'), ['agent']);
    c.set('agent', agent);
    await liveness.stamp(agent.hostId!);
    await next();
  }

  // A command id comes from the URL: anything not shaped like one names no command (and never reaches a key).
  app.use('/commands/:id/*', async (c, next) => {
    if (!isCommandId(c.req.param('id'))) throw statusError(404, 'Command not found');
    await next();
  });

  app.get('/commands', async (c) => {
    const hostId = c.get('agent').hostId!;
    const q = new URL(c.req.url).searchParams;
    const wait = Math.min(maxWait, Math.max(0, Number(q.get('wait')) || 0));
    const limit = Math.min(100, Math.max(1, Math.floor(Number(q.get('limit')) || 20)));
    const until = now() + wait * 1000;
    const signal = c.req.raw.signal;
    for (;;) {
      const since = outbox.rung(hostId);
      const cmds = await outbox.pending(hostId, limit);
      const left = until - now();
      if (cmds.length || left <= 0 || outbox.closed || signal?.aborted) {
        const t = now();
        return send(c, { data: cmds.map((cmd) => agentView(cmd, t)), ...(opts.doorbell ? { doorbell: opts.doorbell } : {}) });
      }
      // The doorbell only wakes us early; the table is read again either way.
      await outbox.waitForWork(hostId, left, { since, signal });
    }
  });

  app.post('/commands/:id/ack', async (c) => {
    const hostId = c.get('agent').hostId!;
    const cmd = await outbox.ack(hostId, c.req.param('id'));
    if (!cmd) throw statusError(404, `Command ${c.req.param('id')} not found`);
    return send(c, { data: agentView(cmd, now()) });
  });

  app.post('/commands/:id/progress', async (c) => {
    const hostId = c.get('agent').hostId!;
    const body = await readJson(c);
    const message = str(body, 'message', { max: PROGRESS_MESSAGE_MAX });
    const progress = int(body, 'progress', 0, 100);
    let cmd = await command(hostId, c.req.param('id'));
    if (cmd.status === 'done') throw gone(`Command ${cmd.id} is already complete`);
    if (cmd.status === 'pending') cmd = (await outbox.ack(hostId, cmd.id)) ?? cmd;
    const ref = { id: cmd.resourceId, actionId: cmd.actionId };
    const current =
      message !== undefined || progress !== undefined ? await ledger.report(ref, { message, progress }) : await ledger.current(ref);
    if (!current) throw gone(`The action of command ${cmd.id} is no longer running`);
    // Relay about one heartbeat per heartbeatSeconds/3 per command (notes §A.4: SendTaskHeartbeat quota); the
    // half-second slack keeps network jitter from dropping the keep-alive of an agent that reports on time.
    const t = now();
    const minGap = Math.max(0, (cmd.heartbeatSeconds * 1000) / 3 - 500);
    const last = lastHeartbeat.get(cmd.id);
    if (last === undefined || t - last >= minGap) {
      lastHeartbeat.set(cmd.id, t);
      if (lastHeartbeat.size > 10_000) lastHeartbeat.clear();
      try {
        await workflows()?.sendTaskHeartbeat(cmd.token);
      } catch (e) {
        if (e instanceof TaskTokenError) throw gone(`The task of command ${cmd.id} is closed: ${e.message}`);
        throw e;
      }
    }
    return send(c, { ok: true });
  });

  app.post('/commands/:id/complete', async (c) => {
    const hostId = c.get('agent').hostId!;
    const body = await readJson(c);
    const id = c.req.param('id');
    let outcome: CommandOutcome;
    if (body.error !== undefined && body.error !== null) {
      if (typeof body.error !== 'string') throw new ValidationError('InvalidFormat', 'error');
      if (body.error.length > COMMAND_ERROR_MAX) throw new ValidationError('MaxLengthExceeded', 'error');
      outcome = { error: body.error || 'Agent error' };
    } else {
      const result = body.result ?? {};
      if (!isJsonObject(result)) throw new ValidationError('InvalidFormat', 'result');
      if (result.fields != null && !isJsonObject(result.fields)) throw new ValidationError('InvalidFormat', 'result');
      // Kept on the command item until it expires: it must fit there with room to spare.
      if (JSON.stringify(result).length > MAX_RESULT_CHARS) throw new ValidationError('MaxLengthExceeded', 'result');
      outcome = { result };
    }
    const done = await outbox.finish(hostId, id, outcome);
    if (!done) throw statusError(404, `Command ${id} not found`);
    lastHeartbeat.delete(id);
    const cmd = done.command;
    // A repeat passes the outcome on only if the first completion never managed to (it failed, or its request
    // died between recording and relaying); otherwise a duplicate has no effect.
    const retry =
      !done.firstTime &&
      cmd.relayedAt == null &&
      (cmd.relayFailedAt != null || now() - (cmd.doneAt ?? 0) >= relayRetryMs);
    if (done.firstTime || retry) {
      try {
        await relay(cmd);
      } catch (e) {
        await outbox.markRelayed(hostId, id, false);
        logError(e);
        throw new ApiError(503, 'Service Unavailable', { message: 'Recorded, but not yet passed on; send the completion again' });
      }
    }
    return send(c, { duplicate: !done.firstTime });
  });

  /** The `data` list of a report: at most REPORTS_MAX entries, each naming an instance by id. */
  async function reports(c: Context<Env>): Promise<Record<string, unknown>[]> {
    if (!opts.instances) throw statusError(404);
    const data = (await readJson(c)).data;
    if (!Array.isArray(data)) throw new ValidationError('InvalidFormat', 'data');
    if (data.length > REPORTS_MAX) throw new ValidationError('MaxLimitExceeded', 'data');
    for (const r of data) {
      if (!isJsonObject(r)) throw new ValidationError('InvalidFormat', 'data');
      const id = str(r, 'resourceId', { required: true, max: 32 })!;
      if (parseId('instance', id) === null) throw new ValidationError('InvalidFormat', 'resourceId');
      str(r, 'message', { max: PROGRESS_MESSAGE_MAX });
    }
    return data as Record<string, unknown>[];
  }

  // Health results and exits of the host's running instances: only instances on the agent's own host are acted on.
  app.post('/health', async (c) => {
    const list: HealthReport[] = (await reports(c)).map((r) => {
      if (typeof r.healthy !== 'boolean') throw new ValidationError('InvalidFormat', 'healthy');
      return { resourceId: r.resourceId as string, healthy: r.healthy, message: r.message as string | undefined };
    });
    return send(c, await opts.instances!.reportHealth(c.get('agent').hostId!, list));
  });

  app.post('/exits', async (c) => {
    const list: ExitReport[] = (await reports(c)).map((r) => ({
      resourceId: r.resourceId as string,
      exitCode: int(r, 'exitCode', -2_147_483_648, 2_147_483_647) ?? 0,
      message: r.message as string | undefined,
    }));
    return send(c, await opts.instances!.reportExits(c.get('agent').hostId!, list));
  });

  return app;
}
