/**
 * @module
 * The host access server: serves the streams behind Rancher's `hostAccess` answers (instance actions `execute`,
 * `logs`, `proxy`, `console`) on this host. A client connects to `<path>?token=<jwt>`; the token, signed by the
 * control plane with this host's access key, says which instance and what to open. Every route checks the token
 * with one function (`authorize`), then:
 *
 * - `GET /v1/logs/` (WebSocket or plain HTTP): the last `Lines` lines of the instance's log files (oldest first),
 *   then, when `Follow`, lines as they are appended to the live file (a truncated or replaced live file is read
 *   again from its start) until the instance stops or the client goes. WebSocket: one text message per line,
 *   `01 <line>` (Rancher's host API prefix for stdout; there is no stderr in a log file), closed with 1000 at the
 *   end. HTTP: `200 text/plain`, chunked, one `<line>\n` per line, ended at the end.
 * - `/v1/exec/` (WebSocket only): runs `Cmd` in the instance's environment, directory and user; under a pty when
 *   `Tty`. Every text message either way is base64 of raw bytes: client→server stdin (ignored unless
 *   `AttachStdin`), server→client output (stdout, and stderr when there is no tty; none unless `AttachStdout`). A
 *   binary message from the client is stdin as raw bytes; a text message starting with `{` is a control message,
 *   `{"resize":{"cols":N,"rows":N}}` (base64 never starts with `{`). When the command exits the socket is closed
 *   with 1000 and the reason `exit <code>` (`128+n` for a signal, 127/126 when it could not be started).
 * - `/v1/console/` (WebSocket only): the instance's shell under a pty, framed as execute with a tty.
 * - `/v1/container-proxy/<path>` (HTTP and WebSocket upgrade): a reverse proxy to the instance's port named in the
 *   token's `address` (`ip:port`; the driver says where that port is reached on this host). The first request
 *   with `?token=` gets a cookie (`drover_access`, `Path=/v1/container-proxy/; HttpOnly`) so a browser's
 *   follow-up requests pass without it.
 *
 * Refusals are short JSON bodies `{ "error": "…" }`: 404 for an unknown path, 401 for any token problem (also
 * before a WebSocket handshake), 400 for a token whose payload is malformed, 409 for an instance that is not
 * running (execute, console), 502 when the proxied instance cannot be reached. Commands run in their own process
 * group; the group is killed when the command's socket closes, when the command exits (what it left behind), and
 * by `close()`.
 */
import { spawn as spawnChild } from 'node:child_process';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { basename, dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import {
  ACCESS_KINDS,
  ACCESS_PATHS,
  accessKindOf,
  verifyAccessToken,
  type AccessKind,
  type AccessTokenPayload,
} from '../core/agent/protocol.js';
import type { AccessTarget } from './driver.js';

/** Where the access server writes what it does (never tokens). */
export interface AccessLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface AccessServerOptions {
  /** Where to listen; port 0 takes any free port. */
  listen: { host: string; port: number };
  /**
   * This host's id (tokens for another host are refused), or a getter for it: the server starts before the agent
   * registers, so that the agent can report the URL it is reached at. Until there is an id, every token is refused.
   */
  hostId: string | (() => string | undefined);
  /** The host's access key, read per request (it changes when the agent registers again); none refuses all. */
  key: () => string | undefined;
  /** The instance a token names, from the driver (`Driver.accessTarget`). */
  targets: (resourceId: string) => AccessTarget | undefined;
  /** Clock (ms since the epoch) for token expiry; default `Date.now`. */
  now?: () => number;
  logger?: AccessLogger;
}

export interface AccessServer {
  /** `http://host:port` as bound. */
  url: string;
  /** Stops listening and ends every open stream, socket, pty and command. */
  close(): Promise<void>;
}

/** The cookie the proxy sets on a request that carried `?token=`. */
export const ACCESS_PROXY_COOKIE = 'drover_access';

const LOG_POLL_MS = 250;
const KILL_GRACE_MS = 2000;
const HISTORY_MAX_BYTES = 32 * 1024 * 1024;
const WS_HIGH_WATER = 1024 * 1024;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

interface ExecSpec {
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
}
interface LogsSpec {
  lines: number;
  follow: boolean;
  /**
   * The live file when the request came (before the WebSocket handshake answers): what was in it then is history,
   * whatever is appended after is followed, however long the stream takes to start.
   */
  at?: { size: number; ino: number };
}
interface ProxySpec {
  port: number;
  scheme: 'http' | 'https';
}
interface Specs {
  execute: ExecSpec;
  logs: LogsSpec;
  proxy: ProxySpec;
  console: Record<string, never>;
}

/** A token that passed every check, for the route's kind. */
interface Grant<K extends AccessKind> {
  kind: K;
  token: string;
  tokenFrom: 'query' | 'header' | 'cookie';
  payload: AccessTokenPayload;
  target: AccessTarget;
  spec: Specs[K];
}
interface Refusal {
  status: number;
  error: string;
}

/** A request's route: its kind, and for the proxy the path to forward and the query without `token`. */
interface Route {
  kind: AccessKind;
  rest: string;
  query: string;
  params: URLSearchParams;
}

/** A command this server started: its process group is `pid`. */
interface Proc {
  pid: number;
  write(data: Buffer): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** Resolves with the exit code once the command exited and its output was read. */
  exited: Promise<number>;
}

type PtyModule = typeof import('node-pty');

const refusal = (status: number, error: string): Refusal => ({ status, error });
const isRefusal = (v: unknown): v is Refusal => typeof (v as Refusal).status === 'number';

/** Signals a process group (the command and what it started); quiet when it is gone. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
}

function exitCode(code: number | null, signal: NodeJS.Signals | number | null | undefined): number {
  if (typeof code === 'number' && !signal) return code;
  if (typeof signal === 'number' && signal > 0) return 128 + signal;
  if (typeof signal === 'string') return 128 + (osConstants.signals[signal] ?? 0);
  return code ?? 1;
}

function routeOf(rawUrl: string | undefined): Route | undefined {
  const url = rawUrl ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const params = new URLSearchParams(query);
  const withoutToken = query
    .split('&')
    .filter((part) => {
      if (!part) return false;
      const name = part.split('=')[0];
      try {
        return decodeURIComponent(name.replace(/\+/g, ' ')) !== 'token';
      } catch {
        return true;
      }
    })
    .join('&');
  const proxy = ACCESS_PATHS.proxy;
  if (path === proxy.slice(0, -1) || path.startsWith(proxy)) {
    return { kind: 'proxy', rest: `/${path.slice(proxy.length)}`, query: withoutToken, params };
  }
  for (const kind of ['execute', 'logs', 'console'] as const) {
    const p = ACCESS_PATHS[kind];
    if (path === p || path === p.slice(0, -1)) return { kind, rest: '/', query: withoutToken, params };
  }
  return undefined;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The cookie header without ours (the instance never sees the token). */
function cookieWithout(header: string | undefined, name: string): string | undefined {
  const kept = (header ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && p.split('=')[0].trim() !== name);
  return kept.length ? kept.join('; ') : undefined;
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

function parseSpec<K extends AccessKind>(kind: K, payload: AccessTokenPayload): Specs[K] | Refusal {
  const raw = payload[ACCESS_KINDS[kind]] as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object') return refusal(400, `token has no ${kind} request`);
  const bool = (v: unknown, dflt: boolean) => (typeof v === 'boolean' ? v : dflt);
  switch (kind) {
    case 'execute': {
      const cmd = raw.Cmd;
      if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((c) => typeof c === 'string') || !cmd[0]) {
        return refusal(400, 'token has no command');
      }
      const spec: ExecSpec = { cmd, tty: bool(raw.Tty, true), stdin: bool(raw.AttachStdin, true), stdout: bool(raw.AttachStdout, true) };
      return spec as Specs[K];
    }
    case 'logs': {
      const lines = raw.Lines === undefined ? 100 : Number(raw.Lines);
      if (!Number.isFinite(lines) || lines < 0) return refusal(400, 'token has a bad line count');
      const spec: LogsSpec = { lines: Math.floor(lines), follow: bool(raw.Follow, true) };
      return spec as Specs[K];
    }
    case 'proxy': {
      const address = typeof raw.address === 'string' ? raw.address : '';
      const port = Number(address.slice(address.lastIndexOf(':') + 1));
      if (!address.includes(':') || !Number.isInteger(port) || port < 1 || port > 65535) {
        return refusal(400, 'token has no port');
      }
      const scheme = raw.scheme === undefined || raw.scheme === '' ? 'http' : raw.scheme;
      if (scheme !== 'http' && scheme !== 'https') return refusal(400, 'token has a bad scheme');
      const spec: ProxySpec = { port, scheme };
      return spec as Specs[K];
    }
    default:
      return {} as Specs[K];
  }
}

/** Splits a buffer on `\n` (the separators dropped). */
function splitLines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, from)) {
    out.push(buf.subarray(from, i));
    from = i + 1;
  }
  out.push(buf.subarray(from));
  return out;
}

async function readAt(fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * The last `want` complete lines of `fh` before `end`, and the unterminated bytes after the last newline
 * (`partial`, starting at `end - partial.length`). Reads backwards, at most `HISTORY_MAX_BYTES`.
 */
async function tailFile(fh: FileHandle, end: number, want: number): Promise<{ lines: Buffer[]; partial: Buffer }> {
  const chunks: Buffer[] = [];
  let start = end;
  let newlines = 0;
  let bytes = 0;
  while (start > 0 && newlines < want + 1 && bytes < HISTORY_MAX_BYTES) {
    const len = Math.min(64 * 1024, start);
    start -= len;
    const buf = Buffer.alloc(len);
    const got = await readAt(fh, buf, start);
    const chunk = buf.subarray(0, got);
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) newlines++;
    chunks.unshift(chunk);
    bytes += got;
    if (got < len) break;
  }
  const acc = Buffer.concat(chunks);
  const lastNl = acc.lastIndexOf(0x0a);
  if (lastNl < 0) return { lines: [], partial: start > 0 ? Buffer.alloc(0) : acc };
  const lines = splitLines(acc.subarray(0, lastNl));
  if (start > 0) lines.shift();
  return { lines: want > 0 ? lines.slice(-want) : [], partial: acc.subarray(lastNl + 1) };
}

/** Where lines of a log stream go; `line` resolves when the sink can take more. */
interface LineSink {
  line(text: string): Promise<void> | void;
  end(): void;
  closed(): boolean;
}

/** The live log file's size and inode now, if there is one. */
function liveFileNow(files: string[]): { size: number; ino: number } | undefined {
  const live = files[files.length - 1];
  const st = live ? statSync(live, { throwIfNoEntry: false }) : undefined;
  return st ? { size: st.size, ino: st.ino } : undefined;
}

/**
 * Streams an instance's logs into `sink`: the history, then (when following) new lines, until `stop()` or the
 * instance stops running.
 */
function streamLogs(files: string[], spec: LogsSpec, sink: LineSink, running: () => boolean, warn: (m: string) => void) {
  let stopped = false;
  let finished = false;
  let fh: FileHandle | undefined;
  let ino: number | undefined;
  let pos = 0;
  let partial = Buffer.alloc(0);
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let reading = false;
  let again = false;
  const live = files[files.length - 1];

  const emit = async (buf: Buffer) => {
    if (!stopped && !sink.closed()) await sink.line(buf.toString('utf8'));
  };
  const finish = () => {
    if (finished) return;
    finished = stopped = true;
    watcher?.close();
    if (timer) clearInterval(timer);
    void fh?.close().catch(() => {});
    fh = undefined;
    sink.end();
  };

  /** Reads the open live file to its end, emitting complete lines. */
  const drainHandle = async () => {
    if (!fh) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      if (stopped) return;
      const got = await readAt(fh, buf, pos);
      if (got === 0) return;
      pos += got;
      const parts = splitLines(Buffer.concat([partial, buf.subarray(0, got)]));
      partial = Buffer.from(parts.pop() ?? Buffer.alloc(0));
      for (const p of parts) await emit(p);
    }
  };

  /** One look: new bytes, then whether the live file was truncated or replaced. */
  const look = async () => {
    await drainHandle();
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(live);
    } catch {
      return; // not there (between a rotation's rename and the new file): look again later
    }
    if (st.ino !== ino || st.size < pos) {
      if (partial.length) await emit(partial);
      partial = Buffer.alloc(0);
      if (st.ino !== ino) {
        await fh?.close().catch(() => {});
        fh = await open(live, 'r').catch(() => undefined);
        ino = fh ? st.ino : undefined;
      }
      pos = 0;
      again = true;
    }
  };

  const pump = async () => {
    if (stopped) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        await look();
      } while (again && !stopped);
      if (!stopped && !running()) {
        if (partial.length) await emit(partial);
        finish();
      }
    } catch (err) {
      warn(`logs: ${(err as Error).message}`);
      finish();
    } finally {
      reading = false;
    }
  };

  const start = async () => {
    try {
      if (!live) return finish();
      let size = 0;
      fh = await open(live, 'r').catch(() => undefined);
      if (fh) {
        const st = await fh.stat();
        // Up to where the live file was when the request came, if it is still that file.
        size = spec.at && spec.at.ino === st.ino && spec.at.size <= st.size ? spec.at.size : st.size;
        ino = st.ino;
      }
      // History, newest file first, then printed oldest first.
      const history: Buffer[] = [];
      let want = spec.lines;
      if (fh && want > 0) {
        const t = await tailFile(fh, size, want);
        const lines = !spec.follow && t.partial.length ? [...t.lines, t.partial].slice(-want) : t.lines;
        history.unshift(...lines);
        want -= lines.length;
      }
      for (let i = files.length - 2; i >= 0 && want > 0; i--) {
        const old = await open(files[i], 'r').catch(() => undefined);
        if (!old) continue;
        try {
          const t = await tailFile(old, (await old.stat()).size, want);
          const lines = (t.partial.length ? [...t.lines, t.partial] : t.lines).slice(-want);
          history.unshift(...lines);
          want -= lines.length;
        } finally {
          await old.close().catch(() => {});
        }
      }
      if (spec.follow && fh) {
        // Follow from the start of the live file's unterminated line: it is printed once complete.
        const t = await tailFile(fh, size, 0);
        pos = size - t.partial.length;
      }
      for (const line of history) await emit(line);
      if (!spec.follow || stopped) return finish();
      try {
        watcher = watch(dirname(live), (_event, name) => {
          if (!name || name.toString() === basename(live)) void pump();
        });
        watcher.on('error', () => {});
      } catch {
        /* the poll below does it */
      }
      timer = setInterval(() => void pump(), LOG_POLL_MS);
      timer.unref?.();
      void pump();
    } catch (err) {
      warn(`logs: ${(err as Error).message}`);
      finish();
    }
  };

  void start();
  return {
    stop() {
      stopped = true;
      finish();
    },
  };
}

function jsonResponse(res: http.ServerResponse, status: number, error: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function refuseUpgrade(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const rawToBuffer = (data: RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);

/**
 * Starts the host access server.
 *
 * @example
 * const access = await startAccessServer({
 *   listen: { host: '0.0.0.0', port: 9345 },
 *   hostId: () => agent?.hostId,
 *   key: () => agent?.hostAccessKey,
 *   targets: (id) => driver.accessTarget?.(id),
 * });
 * // ... later
 * await access.close();
 */
export async function startAccessServer(opts: AccessServerOptions): Promise<AccessServer> {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? { info: () => {}, warn: () => {} };
  /** What `close()` ends: streams, sockets, proxied requests. */
  const sessions = new Set<() => void>();
  /** Commands running (and their process groups). */
  const procs = new Set<Proc>();
  let closing = false;

  let pty: PtyModule | undefined;
  let ptyError = '';
  try {
    const mod = (await import('node-pty')) as PtyModule & { default?: PtyModule };
    pty = typeof mod.spawn === 'function' ? mod : mod.default;
  } catch (err) {
    ptyError = (err as Error).message;
    log.warn(`access: no pty (${ptyError}): execute with a tty and console are refused`);
  }

  const track = (stop: () => void) => {
    sessions.add(stop);
    return () => sessions.delete(stop);
  };

  /** The one token check every route uses. */
  function authorize<K extends AccessKind>(req: http.IncomingMessage, route: Route & { kind: K }): Grant<K> | Refusal {
    try {
      let token = route.params.get('token') || undefined;
      let tokenFrom: Grant<K>['tokenFrom'] = 'query';
      if (!token) {
        token = bearer(req.headers.authorization);
        tokenFrom = 'header';
      }
      if (!token && route.kind === 'proxy') {
        token = cookieValue(req.headers.cookie, ACCESS_PROXY_COOKIE);
        tokenFrom = 'cookie';
      }
      if (!token) return refusal(401, 'no token');
      const key = opts.key();
      if (!key) return refusal(401, 'this host has no access key');
      const payload = verifyAccessToken(key, token, now());
      if (!payload || typeof payload !== 'object') return refusal(401, 'invalid or expired token');
      const hostId = typeof opts.hostId === 'function' ? opts.hostId() : opts.hostId;
      if (!hostId || payload.hostId !== hostId) return refusal(401, 'token is for another host');
      const kind = accessKindOf(payload);
      if (!kind) return refusal(401, 'token grants no single kind of access');
      if (kind !== route.kind) return refusal(401, `token is not for ${route.kind}`);
      if (typeof payload.resourceId !== 'string') return refusal(401, 'token names no instance');
      const target = opts.targets(payload.resourceId);
      if (!target) return refusal(401, 'unknown instance');
      const named =
        kind === 'console' ? payload.console?.container : (payload[ACCESS_KINDS[kind]] as { Container?: unknown } | undefined)?.Container;
      // Console tokens name the instance by id (cattle's shape), the others by externalId.
      const same = named === target.externalId || (kind === 'console' && named === target.resourceId);
      if (!same) return refusal(401, 'token is for another instance');
      const spec = parseSpec(route.kind, payload);
      if (isRefusal(spec)) return spec;
      if (route.kind === 'logs') (spec as LogsSpec).at = liveFileNow(target.logFiles);
      return { kind: route.kind, token, tokenFrom, payload, target, spec };
    } catch (err) {
      log.warn(`access: token check failed: ${(err as Error).message}`);
      return refusal(401, 'token refused');
    }
  }

  // ---- commands ----

  function spawnPipes(target: AccessTarget, spec: ExecSpec, out: (data: Buffer) => void): Proc {
    const child = spawnChild(spec.cmd[0], spec.cmd.slice(1), {
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
        code = exitCode(c, s);
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

  function spawnPty(target: AccessTarget, file: string, args: string[], out: (data: Buffer) => void): Proc {
    if (!pty) throw new Error(`no pty: ${ptyError}`);
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
        resolve(exitCode(c, signal));
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

  /** Runs a command for a WebSocket (execute, console) with base64 framing. */
  function serveCommand(ws: WebSocket, grant: Grant<'execute'> | Grant<'console'>): void {
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
      proc = spec.tty ? spawnPty(target, spec.cmd[0], spec.cmd.slice(1), out) : spawnPipes(target, spec, out);
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

  // ---- logs ----

  /**
   * Streams a logs grant into `sink` until it ends, the client goes (`onClose`), or the server closes (`drop`).
   */
  function serveLogs(grant: Grant<'logs'>, sink: LineSink, drop: () => void, onClose: (fn: () => void) => void): void {
    const { target } = grant;
    let untrack = () => {};
    const stream = streamLogs(
      target.logFiles,
      grant.spec,
      {
        ...sink,
        end: () => {
          untrack();
          sink.end();
        },
      },
      () => opts.targets(target.resourceId)?.running === true,
      log.warn,
    );
    untrack = track(() => {
      stream.stop();
      drop();
    });
    onClose(() => {
      untrack();
      stream.stop();
    });
  }

  function serveLogsWs(ws: WebSocket, grant: Grant<'logs'>): void {
    serveLogs(
      grant,
      {
        line: (text) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (ws.bufferedAmount < WS_HIGH_WATER) return void ws.send(`01 ${text}`);
          return new Promise<void>((resolve) => ws.send(`01 ${text}`, () => resolve()));
        },
        end: () => {
          if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'end of logs');
        },
        closed: () => ws.readyState !== WebSocket.OPEN,
      },
      () => ws.terminate(),
      (fn) => ws.on('close', fn),
    );
  }

  function serveLogsHttp(req: http.IncomingMessage, res: http.ServerResponse, grant: Grant<'logs'>): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return jsonResponse(res, 405, 'method not allowed');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    if (req.method === 'HEAD') return void res.end();
    res.flushHeaders();
    serveLogs(
      grant,
      {
        line: (text) => {
          if (res.destroyed) return;
          if (res.write(`${text}\n`)) return;
          return new Promise<void>((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        },
        end: () => res.end(),
        closed: () => res.destroyed || res.writableEnded,
      },
      () => res.destroy(),
      (fn) => res.on('close', fn),
    );
  }

  // ---- proxy ----

  function proxyHeaders(headers: http.IncomingHttpHeaders, grant: Grant<'proxy'>, addr: { host: string; port: number }, req: http.IncomingMessage) {
    const listed = new Set(
      String(headers.connection ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    );
    const out: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || name === 'host') continue;
      if (name === 'cookie') {
        const kept = cookieWithout(value as string, ACCESS_PROXY_COOKIE);
        if (kept) out.cookie = kept;
        continue;
      }
      if (name === 'authorization' && bearer(value as string) === grant.token) continue;
      out[name] = value;
    }
    out.host = `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
    const from = req.socket.remoteAddress ?? '';
    out['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${from}` : from;
    if (headers.host) out['x-forwarded-host'] = headers.host;
    out['x-forwarded-proto'] = 'http';
    out['x-forwarded-prefix'] = ACCESS_PATHS.proxy.slice(0, -1);
    return out;
  }

  function cookieFor(grant: Grant<'proxy'>): string {
    const maxAge = Math.max(0, Math.floor(grant.payload.exp - now() / 1000));
    return `${ACCESS_PROXY_COOKIE}=${grant.token}; Path=${ACCESS_PATHS.proxy}; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
  }

  function proxyHttp(req: http.IncomingMessage, res: http.ServerResponse, grant: Grant<'proxy'>, route: Route): void {
    const addr = grant.target.running ? grant.target.address(grant.spec.port) : undefined;
    if (!addr) return jsonResponse(res, 502, `instance does not answer on port ${grant.spec.port}`);
    const path = route.rest + (route.query ? `?${route.query}` : '');
    const headers = proxyHeaders(req.headers, grant, addr, req);
    const options = { host: addr.host, port: addr.port, method: req.method, path, headers, agent: false as const };
    const preq =
      grant.spec.scheme === 'https' ? https.request({ ...options, rejectUnauthorized: false }) : http.request(options);
    const untrack = track(() => {
      preq.destroy();
      res.destroy();
    });
    preq.on('response', (pres) => {
      const out: http.OutgoingHttpHeaders = {};
      const listed = new Set(String(pres.headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
      for (const [name, value] of Object.entries(pres.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name) && !listed.has(name)) out[name] = value;
      }
      if (grant.tokenFrom === 'query') {
        const prior = pres.headers['set-cookie'] ?? [];
        out['set-cookie'] = [...prior, cookieFor(grant)];
      }
      res.writeHead(pres.statusCode ?? 502, pres.statusMessage, out);
      pres.pipe(res);
      pres.on('error', () => res.destroy());
    });
    preq.on('error', (err) => {
      log.warn(`access: proxy ${grant.target.resourceId}:${grant.spec.port}: ${err.message}`);
      jsonResponse(res, 502, `instance does not answer on port ${grant.spec.port}`);
    });
    res.on('close', () => {
      untrack();
      if (!res.writableFinished) preq.destroy();
    });
    req.pipe(preq);
  }

  function proxyUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, grant: Grant<'proxy'>, route: Route): void {
    const addr = grant.target.running ? grant.target.address(grant.spec.port) : undefined;
    if (!addr) return refuseUpgrade(socket, 502, `instance does not answer on port ${grant.spec.port}`);
    const headers = proxyHeaders(req.headers, grant, addr, req);
    // An upgrade keeps its Connection and Upgrade headers.
    headers.connection = 'Upgrade';
    if (req.headers.upgrade) headers.upgrade = req.headers.upgrade;
    const lines = [`${req.method} ${route.rest}${route.query ? `?${route.query}` : ''} HTTP/1.1`];
    for (const [name, value] of Object.entries(headers)) {
      for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`);
    }
    let connected = false;
    const upstream: net.Socket =
      grant.spec.scheme === 'https'
        ? tls.connect({ host: addr.host, port: addr.port, rejectUnauthorized: false })
        : net.connect(addr.port, addr.host);
    const untrack = track(() => {
      upstream.destroy();
      socket.destroy();
    });
    upstream.once(grant.spec.scheme === 'https' ? 'secureConnect' : 'connect', () => {
      connected = true;
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', (err) => {
      log.warn(`access: proxy upgrade ${grant.target.resourceId}:${grant.spec.port}: ${err.message}`);
      if (!connected) refuseUpgrade(socket, 502, `instance does not answer on port ${grant.spec.port}`);
      else socket.destroy();
    });
    socket.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      untrack();
      socket.destroy();
    });
    socket.on('close', () => {
      untrack();
      upstream.destroy();
    });
  }

  // ---- server ----

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  const server = http.createServer((req, res) => {
    if (closing) return jsonResponse(res, 503, 'closing');
    const route = routeOf(req.url);
    if (!route) return jsonResponse(res, 404, 'not found');
    const grant = authorize(req, route);
    if (isRefusal(grant)) {
      log.info(`access: ${route.kind} refused: ${grant.error}`);
      return jsonResponse(res, grant.status, grant.error);
    }
    switch (grant.kind) {
      case 'logs':
        return serveLogsHttp(req, res, grant as Grant<'logs'>);
      case 'proxy':
        return proxyHttp(req, res, grant as Grant<'proxy'>, route);
      default:
        return jsonResponse(res, 400, 'websocket upgrade required');
    }
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (closing) return refuseUpgrade(socket, 503, 'closing');
    const route = routeOf(req.url);
    if (!route) return refuseUpgrade(socket, 404, 'not found');
    const grant = authorize(req, route);
    if (isRefusal(grant)) {
      log.info(`access: ${route.kind} refused: ${grant.error}`);
      return refuseUpgrade(socket, grant.status, grant.error);
    }
    if (grant.kind === 'proxy') return proxyUpgrade(req, socket, head, grant as Grant<'proxy'>, route);
    if ((grant.kind === 'execute' || grant.kind === 'console') && !grant.target.running) {
      return refuseUpgrade(socket, 409, 'instance is not running');
    }
    if (((grant.kind === 'execute' && (grant as Grant<'execute'>).spec.tty) || grant.kind === 'console') && !pty) {
      return refuseUpgrade(socket, 501, 'no pty on this host');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      if (closing) return ws.terminate();
      if (grant.kind === 'logs') serveLogsWs(ws, grant as Grant<'logs'>);
      else serveCommand(ws, grant as Grant<'execute'> | Grant<'console'>);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  const host = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  const url = `http://${host}:${bound.port}`;
  log.info(`access: listening on ${url}`);

  return {
    url,
    async close() {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const stop of [...sessions]) stop();
      sessions.clear();
      for (const ws of wss.clients) ws.terminate();
      const waits = [...procs].map((p) => {
        killGroup(p.pid, 'SIGKILL');
        return p.exited;
      });
      server.closeAllConnections();
      await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 3000).unref?.())]);
      wss.close();
      await stopped;
    },
  };
}
