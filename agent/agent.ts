/**
 * @module
 * The host agent: registers its host (or reuses saved credentials), long-polls the host's outbox, acks each new
 * command, runs it with the driver (commands of one instance in order, different instances in parallel),
 * heartbeats every heartbeatSeconds/3 while it runs, and completes or fails it.
 *
 *   startAgent ─ register? ─▶ poll ─▶ ack ─▶ driver ─(report/heartbeat)─▶ complete {result} | {error}
 *                               ▲  └ 401: register again with the token (key rotated elsewhere)
 *                               └ network/5xx: full-jitter backoff
 */
import { setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname } from 'node:path';
import type { AgentCommand } from '../core/agent/protocol.js';
import { AgentClient, AgentHttpError, isTransient, type Credentials, type HostFacts, type Outcome } from './client.js';
import { AbandonCommandError, runWithDriver, type Driver } from './driver.js';

export interface AgentLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** What the state file keeps between runs. */
export interface AgentState extends Credentials {
  uuid: string;
}

export interface StartAgentOptions {
  /** Base URL of the Drover server. */
  url: string;
  /** Registration token (`<publicValue>:<secret>`), needed unless credentials are given or saved. */
  token?: string;
  /** A host credential to use instead of registering. */
  credentials?: Credentials;
  driver: Driver;
  /** JSON file keeping `{ uuid, hostId, accessKey, secretKey }`: reused on the next start (mode 0600). */
  stateFile?: string;
  /** Long-poll wait asked of the server, seconds (default 20; the server may cap it). */
  pollWaitSeconds?: number;
  /** Pause between polls when the server answers at once with nothing (no long-poll, e.g. Lambda), ms (default 5000). */
  idlePollMs?: number;
  /** Commands fetched per poll (default 20). */
  pollLimit?: number;
  /** Host facts sent at registration; defaults from this machine. */
  host?: Partial<HostFacts>;
  logger?: AgentLogger;
  backoff?: { baseMs?: number; capMs?: number };
  fetch?: typeof fetch;
}

export interface RunningAgent {
  hostId: string;
  client: AgentClient;
  /** Commands running now. */
  readonly running: number;
  /** Settles when the poll loop ends: `stopped` after `stop()`, `fatal` when the credential is refused for good. */
  done: Promise<'stopped' | 'fatal'>;
  /** Stops polling, lets running commands finish for up to `graceMs` (default 10 s), then abandons them. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

const consoleLogger: AgentLogger = {
  info: (m) => console.log(`${new Date().toISOString()} ${m}`),
  warn: (m) => console.warn(`${new Date().toISOString()} WARN ${m}`),
  error: (m) => console.error(`${new Date().toISOString()} ERROR ${m}`),
};

function readState(file: string): Partial<AgentState> {
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as Partial<AgentState>;
}

function writeState(file: string, state: AgentState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Starts an agent; resolves once the host is registered and polling has begun.
 *
 * @example
 * const agent = await startAgent({ url: 'http://127.0.0.1:8080', token, driver: new SimDriver(),
 *   stateFile: '/var/lib/drover-agent/state.json' });
 * console.log(agent.hostId);
 * await agent.stop();
 */
export async function startAgent(opts: StartAgentOptions): Promise<RunningAgent> {
  const log = opts.logger ?? consoleLogger;
  const client = new AgentClient({ url: opts.url, backoff: opts.backoff, fetch: opts.fetch });
  const saved = opts.stateFile ? readState(opts.stateFile) : {};
  const uuid = saved.uuid ?? opts.host?.uuid ?? randomUUID();
  const facts: HostFacts = {
    uuid,
    hostname: opts.host?.hostname ?? osHostname(),
    vcpu: opts.host?.vcpu ?? 1,
    memoryMb: opts.host?.memoryMb ?? 1024,
    labels: opts.host?.labels ?? {},
  };
  const stopping = new AbortController();
  const killed = new AbortController();
  // Every command in flight listens on these; hundreds at once are normal, not a leak.
  setMaxListeners(0, stopping.signal, killed.signal);

  async function register(): Promise<Credentials> {
    if (!opts.token) throw new Error('no registration token: pass token, or credentials / a state file with them');
    const creds = await client.retry(() => client.register(opts.token!, facts, stopping.signal), {
      signal: stopping.signal,
      onError: (e) => log.warn(`registration failed, retrying: ${message(e)}`),
    });
    if (opts.stateFile) writeState(opts.stateFile, { uuid, ...creds });
    log.info(`registered host ${creds.hostId} (uuid ${uuid})`);
    return creds;
  }

  if (opts.credentials) client.credentials = opts.credentials;
  else if (saved.hostId && saved.accessKey && saved.secretKey) {
    client.credentials = { hostId: saved.hostId, accessKey: saved.accessKey, secretKey: saved.secretKey };
  } else client.credentials = await register();

  /** One re-registration at a time; callers holding stale credentials wait for it and try again. */
  let reauthing: Promise<void> | undefined;
  async function reauth(stale: Credentials | undefined): Promise<void> {
    if (client.credentials !== stale) return; // someone already replaced them
    reauthing ??= register()
      .then((creds) => {
        client.credentials = creds;
      })
      .finally(() => (reauthing = undefined));
    await reauthing;
  }

  /** Runs a request; when the key was rotated elsewhere (401) and a token is at hand, registers again and retries. */
  async function authed<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      const creds = client.credentials;
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof AgentHttpError && e.status === 401 && opts.token) || i >= 2) throw e;
        log.warn('credential refused; registering again');
        await reauth(creds);
      }
    }
  }

  const inflight = new Set<Promise<void>>();
  const chains = new Map<string, Promise<void>>();
  const wait = opts.pollWaitSeconds ?? 20;
  const idlePollMs = opts.idlePollMs ?? 5000;

  /**
   * Acks a new command at once (so the server stops handing it out), then runs it after the earlier commands
   * of the same instance (cattle serialized compute handlers per instance); other instances run in parallel.
   */
  function schedule(cmd: AgentCommand): void {
    const acked = ack(cmd);
    const prev = chains.get(cmd.resourceId) ?? Promise.resolve();
    const p: Promise<void> = prev
      .then(async () => {
        if (await acked) await execute(cmd);
      })
      .catch((e) => log.error(`command ${cmd.id}: ${message(e)}`))
      .finally(() => {
        inflight.delete(p);
        if (chains.get(cmd.resourceId) === p) chains.delete(cmd.resourceId);
      });
    chains.set(cmd.resourceId, p);
    inflight.add(p);
  }

  const describe = (cmd: AgentCommand) => `${cmd.name} ${cmd.resourceId} (${cmd.action}, command ${cmd.id})`;

  /** `false` when the command is gone; a transient failure still runs it (progress acks it too). */
  async function ack(cmd: AgentCommand): Promise<boolean> {
    try {
      await client.retry(() => authed(() => client.ack(cmd.id, killed.signal)), { signal: killed.signal, attempts: 5 });
    } catch (e) {
      if (e instanceof AgentHttpError && e.status === 404) {
        log.warn(`${describe(cmd)}: gone before the ack`);
        return false;
      }
      log.warn(`${describe(cmd)}: ack failed (${message(e)}); running it anyway`);
    }
    return true;
  }

  async function execute(cmd: AgentCommand): Promise<void> {
    if (killed.signal.aborted) return;
    const what = describe(cmd);
    log.info(`running ${what}`);
    const work = new AbortController();
    const abortWork = () => work.abort(new Error('agent stopped'));
    killed.signal.addEventListener('abort', abortWork, { once: true });
    let gone = false;
    let lastReport = Date.now();
    const send = async (msg?: string | null, progress?: number | null) => {
      if (gone) return;
      lastReport = Date.now();
      try {
        if ((await authed(() => client.progress(cmd.id, msg, progress, killed.signal))) === 'gone') {
          gone = true;
          work.abort(new Error(`command ${cmd.id} is no longer wanted by the server`));
        }
      } catch (e) {
        log.warn(`${what}: progress not sent (${message(e)})`);
      }
    };
    // A keep-alive every heartbeatSeconds/3 (checked four times as often). The floor only guards against
    // nonsense values: it must stay well below the shortest heartbeat (1 s), or every command outliving one
    // heartbeat would be timed out however healthy the agent.
    const everyMs = Math.max(200, (cmd.heartbeatSeconds * 1000) / 3);
    const beat = setInterval(() => {
      if (Date.now() - lastReport >= everyMs) void send();
    }, Math.max(50, everyMs / 4));
    let outcome: Outcome;
    try {
      const result = await runWithDriver(opts.driver, cmd, (m, p) => send(m, p), { signal: work.signal });
      outcome = { result: result as Record<string, unknown> };
    } catch (e) {
      if (e instanceof AbandonCommandError) {
        log.warn(`${what}: abandoned (${e.message})`);
        return;
      }
      outcome = { error: killed.signal.aborted ? 'Agent stopped before the command finished' : message(e) || 'Agent error' };
    } finally {
      clearInterval(beat);
      killed.signal.removeEventListener('abort', abortWork);
    }
    if (gone) return log.warn(`${what}: dropped, the server no longer wants it`);
    // A completion must arrive: retried until delivered, until the agent is killed (then briefly, once more).
    const finalSignal = killed.signal.aborted ? AbortSignal.timeout(5000) : killed.signal;
    try {
      const r = await client.retry(() => authed(() => client.complete(cmd.id, outcome, finalSignal)), {
        signal: finalSignal,
        onError: (e) => log.warn(`${what}: completion not delivered yet (${message(e)})`),
      });
      const how = 'error' in outcome ? `failed: ${outcome.error}` : 'done';
      log.info(`${what} ${how}${r.duplicate ? ' (server had it already)' : ''}`);
    } catch (e) {
      log.error(`${what}: completion lost (${message(e)})`);
    }
  }

  async function pollLoop(): Promise<'stopped' | 'fatal'> {
    const backoff = client.backoff();
    while (!stopping.signal.aborted) {
      const started = Date.now();
      try {
        const { commands, delivered } = await authed(() => client.pollBatch(wait, opts.pollLimit ?? 20, stopping.signal));
        backoff.reset();
        for (const cmd of commands) schedule(cmd);
        if (!commands.length) {
          // Only repeats: their acks are on the way. Nothing at once: the server does not hold polls (Lambda).
          if (delivered) await pause(100);
          else if (wait <= 0 || Date.now() - started < Math.min(1000, wait * 1000)) await pause(idlePollMs);
        }
      } catch (e) {
        if (stopping.signal.aborted) break;
        if (!isTransient(e)) {
          log.error(`polling refused for good: ${message(e)}`);
          return 'fatal';
        }
        log.warn(`poll failed, backing off: ${message(e)}`);
        await backoff.sleep(stopping.signal);
      }
    }
    return 'stopped';
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      stopping.signal.addEventListener('abort', done, { once: true });
    });
  }

  const done = pollLoop();
  log.info(`agent for host ${client.credentials.hostId} polling ${opts.url}`);
  let stopped: Promise<void> | undefined;
  return {
    hostId: client.credentials.hostId,
    client,
    get running() {
      return inflight.size;
    },
    done,
    stop(o = {}) {
      stopped ??= (async () => {
        stopping.abort();
        await done;
        const all = Promise.allSettled([...inflight]);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([all, new Promise((r) => (timer = setTimeout(r, o.graceMs ?? 10_000)))]);
        clearTimeout(timer);
        killed.abort();
        await Promise.allSettled([...inflight]);
        log.info('agent stopped');
      })();
      return stopped;
    },
  };
}
