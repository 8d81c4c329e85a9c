/**
 * @module
 * Execute and console for the host access server: a command in the instance's environment, directory and user, in
 * its own process group, under a pty (node-pty, when it loads) or on pipes, carried over a WebSocket as base64 both
 * ways with `{"resize":…}` control messages, and closed with `exit <code>` (the framing `server.ts` documents).
 */
import { spawn as spawnChild } from 'node:child_process';
import { exitCodeOf, killGroup } from '../processes.js';
import { WebSocket, type RawData } from 'ws';
import type { AccessTarget } from '../driver.js';
import type { ExecSpec, Grant } from './authorize.js';
import type { AccessContext, AccessLogger } from './server.js';

/** How much a WebSocket may buffer before what feeds it (command output, log lines) waits. */
export const WS_HIGH_WATER = 1024 * 1024;
const KILL_GRACE_MS = 2000;

/** A command this server started: its process group is `pid`. */
export interface Proc {
  pid: number;
  write(data: Buffer): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** Resolves with the exit code once the command exited and its output was read. */
  exited: Promise<number>;
}

type PtyModule = typeof import('node-pty');

/** What the commands of one server share: node-pty (or why it did not load) and the commands running. */
export interface CommandContext extends AccessContext {
  pty: PtyModule | undefined;
  ptyError: string;
  /** Commands running (and their process groups). */
  procs: Set<Proc>;
}

/**
 * Loads node-pty; without it (a host where it did not build) execute with a tty and console are refused.
 *
 * @example
 * const { pty, ptyError } = await loadPty(log);
 * if (!pty) console.log(`no pty: ${ptyError}`);
 */
export async function loadPty(log: AccessLogger): Promise<{ pty: PtyModule | undefined; ptyError: string }> {
  let pty: PtyModule | undefined;
  let ptyError = '';
  try {
    const mod = (await import('node-pty')) as PtyModule & { default?: PtyModule };
    pty = typeof mod.spawn === 'function' ? mod : mod.default;
  } catch (err) {
    ptyError = (err as Error).message;
    log.warn(`access: no pty (${ptyError}): execute with a tty and console are refused`);
  }
  return { pty, ptyError };
}


/** The command line to run for `cmd`: through the instance's way in (its namespaces and user), where it has one. */
function entered(target: AccessTarget, cmd: string[]): string[] {
  return [...(target.exec.enter ?? []), ...cmd];
}

function spawnPipes(target: AccessTarget, spec: ExecSpec, out: (data: Buffer) => void): Proc {
  const [file, ...args] = entered(target, spec.cmd);
  const child = spawnChild(file, args, {
    cwd: target.exec.cwd,
    env: target.exec.env,
    uid: target.exec.uid,
    gid: target.exec.gid,
    detached: true, // its own process group, killed as one
    stdio: [spec.stdin ? 'pipe' : 'ignore', spec.stdout ? 'pipe' : 'ignore', spec.stdout ? 'pipe' : 'ignore'],
  });
  child.stdin?.on('error', () => {});
  child.stdout?.on('data', out);
  child.stderr?.on('data', out);
  const exited = new Promise<number>((resolve) => {
    let code = 1;
    child.on('exit', (c, s) => {
      code = exitCodeOf(c, s, 1);
      if (child.pid) killGroup(child.pid, 'SIGKILL'); // what it left behind, which may hold its pipes
    });
    child.on('close', () => resolve(code));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return;
      if (spec.stdout) out(Buffer.from(`${spec.cmd[0]}: ${err.message}\r\n`));
      resolve(err.code === 'EACCES' ? 126 : 127);
    });
  });
  return {
    pid: child.pid ?? -1,
    write: (data) => child.stdin?.write(data),
    resize: () => {},
    pause: () => {
      child.stdout?.pause();
      child.stderr?.pause();
    },
    resume: () => {
      child.stdout?.resume();
      child.stderr?.resume();
    },
    exited,
  };
}

function spawnPty(
  { pty, ptyError }: Pick<CommandContext, 'pty' | 'ptyError'>,
  target: AccessTarget,
  file: string,
  args: string[],
  out: (data: Buffer) => void,
): Proc {
  if (!pty) throw new Error(`no pty: ${ptyError}`);
  [file, ...args] = entered(target, [file, ...args]);
  const p = pty.spawn(file, args, {
    name: 'xterm',
    cols: 80,
    rows: 24,
    cwd: target.exec.cwd,
    env: target.exec.env,
    uid: target.exec.uid,
    gid: target.exec.gid,
    encoding: null,
  });
  p.onData((d) => out(Buffer.isBuffer(d) ? d : Buffer.from(d)));
  const exited = new Promise<number>((resolve) => {
    p.onExit(({ exitCode: c, signal }) => {
      killGroup(p.pid, 'SIGKILL');
      resolve(exitCodeOf(c, signal, 1));
    });
  });
  return {
    pid: p.pid,
    write: (data) => p.write(data),
    resize: (cols, rows) => p.resize(cols, rows),
    pause: () => p.pause(),
    resume: () => p.resume(),
    exited,
  };
}

const rawToBuffer = (data: RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);

/**
 * Runs a command for a WebSocket (execute, console) with base64 framing.
 *
 * @example
 * wss.handleUpgrade(req, socket, head, (ws) => serveCommand(commands, ws, grant));
 */
export function serveCommand(ctx: CommandContext, ws: WebSocket, grant: Grant<'execute'> | Grant<'console'>): void {
  const { log, track, procs } = ctx;
  const { target } = grant;
  const spec: ExecSpec =
    grant.kind === 'execute' ? grant.spec : { cmd: [target.exec.shell], tty: true, stdin: true, stdout: true };
  let proc: Proc | undefined;
  let paused = false;
  const out = (data: Buffer) => {
    if (!spec.stdout || ws.readyState !== WebSocket.OPEN) return;
    ws.send(data.toString('base64'), () => {
      if (paused && ws.bufferedAmount < WS_HIGH_WATER / 2) {
        paused = false;
        proc?.resume();
      }
    });
    if (!paused && ws.bufferedAmount > WS_HIGH_WATER) {
      paused = true;
      proc?.pause();
    }
  };
  try {
    proc = spec.tty ? spawnPty(ctx, target, spec.cmd[0], spec.cmd.slice(1), out) : spawnPipes(target, spec, out);
  } catch (err) {
    log.warn(`access: ${grant.kind} ${target.resourceId}: ${(err as Error).message}`);
    if (spec.stdout) ws.send(Buffer.from(`${(err as Error).message}\r\n`).toString('base64'));
    ws.close(1000, 'exit 127');
    return;
  }
  const running = proc;
  let exited = false;
  if (running.pid > 0) procs.add(running);
  const untrack = track(() => ws.terminate());
  log.info(`access: ${grant.kind} ${target.resourceId} pid ${running.pid}${spec.tty ? ' (tty)' : ''}`);

  ws.on('message', (data: RawData, isBinary: boolean) => {
    const buf = rawToBuffer(data);
    if (!isBinary && buf[0] === 0x7b /* { */) {
      try {
        const msg = JSON.parse(buf.toString('utf8')) as { resize?: { cols?: unknown; rows?: unknown } };
        const { cols, rows } = msg.resize ?? {};
        if (spec.tty && Number.isInteger(cols) && Number.isInteger(rows) && (cols as number) > 0 && (rows as number) > 0) {
          running.resize(Math.min(cols as number, 1000), Math.min(rows as number, 1000));
        }
      } catch {
        /* not a control message */
      }
      return;
    }
    if (!spec.stdin || exited) return;
    running.write(isBinary ? buf : Buffer.from(buf.toString('utf8'), 'base64'));
  });
  ws.on('close', () => {
    untrack();
    if (exited || running.pid <= 0) return;
    killGroup(running.pid, spec.tty ? 'SIGHUP' : 'SIGTERM');
    const t = setTimeout(() => killGroup(running.pid, 'SIGKILL'), KILL_GRACE_MS);
    t.unref?.();
    void running.exited.then(() => clearTimeout(t));
  });
  void running.exited.then((code) => {
    exited = true;
    procs.delete(running);
    log.info(`access: ${grant.kind} ${target.resourceId} pid ${running.pid} exit ${code}`);
    if (ws.readyState === WebSocket.OPEN) ws.close(1000, `exit ${code}`);
  });
}
