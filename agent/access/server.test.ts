/**
 * The host access server against real targets: log files on disk, commands and shells in real processes (with and
 * without a pty), and a real HTTP + WebSocket echo server (a child process) behind the proxy. Every pid the tests
 * cause is collected and must be gone at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signAccessToken } from '../../core/agent/protocol.js';
import { ACCESS_PROXY_COOKIE, startAccessServer, type AccessServer } from './server.js';
import type { AccessTarget } from '../driver.js';

const KEY = 'test-host-access-key';
const HOST_ID = '1h1';
const PROXY_PORT = 8080;
const DOWN_PORT = 8081;

let dir: string;
let server: AccessServer;
let echo: ChildProcess;
let echoPort: number;
let downPort: number;
const targets = new Map<string, AccessTarget>();
/** Every pid the tests made run: none may be alive at the end. */
const pids = new Set<number>();

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live processes whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(parent) === ppid && state !== 'Z' && state !== 'X') out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A target with its own log files: `app.log.2`, `app.log.1` (rotated) and `app.log` (live). */
function logTarget(resourceId: string, externalId = `ext-${resourceId}`): AccessTarget & { logDir: string } {
  const logDir = join(dir, resourceId);
  mkdirSync(logDir, { recursive: true });
  writeFileSync(join(logDir, 'app.log.2'), 'old-1\nold-2\nold-3\n');
  writeFileSync(join(logDir, 'app.log.1'), 'mid-1\nmid-2\nmid-3\n');
  writeFileSync(join(logDir, 'app.log'), 'live-1\nlive-2\nlive-3\n');
  const work = join(dir, 'work');
  mkdirSync(work, { recursive: true });
  const target = {
    resourceId,
    externalId,
    running: true,
    logDir,
    logFiles: ['app.log.2', 'app.log.1', 'app.log'].map((f) => join(logDir, f)),
    exec: { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FOO: 'bar-value', HOME: work }, cwd: work, shell: '/bin/sh' },
    address: (port: number) =>
      port === PROXY_PORT ? { host: '127.0.0.1', port: echoPort } : port === DOWN_PORT ? { host: '127.0.0.1', port: downPort } : undefined,
  };
  targets.set(resourceId, target);
  return target;
}

function sign(payload: Record<string, unknown>, o: { key?: string; ttl?: number; now?: number } = {}): string {
  return signAccessToken(o.key ?? KEY, { hostUuid: 'host-uuid', hostId: HOST_ID, resourceId: 'r1', ...payload }, o.ttl ?? 60, o.now);
}
const execToken = (Cmd: string[], more: Record<string, unknown> = {}, resourceId = 'r1') =>
  sign({ resourceId, exec: { AttachStdin: true, AttachStdout: true, Tty: false, Cmd, Container: `ext-${resourceId}`, ...more } });
const logsToken = (resourceId: string, Lines: number, Follow: boolean) =>
  sign({ resourceId, logs: { Container: `ext-${resourceId}`, Lines, Follow } });
const proxyToken = (port = PROXY_PORT) =>
  sign({ proxy: { Container: 'ext-r1', address: `10.42.0.5:${port}`, scheme: 'http' } });

interface Conn {
  ws: WebSocket;
  texts: string[];
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Output of an exec/console socket: the base64 messages decoded. */
  output(): string;
  send(text: string): void;
}

function connect(path: string, token?: string): Conn {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  const texts: string[] = [];
  ws.on('message', (d) => texts.push(d.toString()));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return {
    ws,
    texts,
    opened,
    closed,
    output: () => texts.map((t) => Buffer.from(t, 'base64').toString('utf8')).join(''),
    send: (text) => ws.send(Buffer.from(text).toString('base64')),
  };
}

/** A WebSocket upgrade the server must refuse: its HTTP status and body. */
function refused(path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    ws.on('open', () => reject(new Error(`upgrade to ${path} was accepted`)));
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
  });
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}
function request(method: string, path: string, o: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { method, headers: o.headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Pids printed by commands as `pid=<n>` / `child=<n>`. */
function notePids(text: string): number[] {
  const found = [...text.matchAll(/(?:pid|child)=(\d+)/g)].map((m) => Number(m[1]));
  for (const p of found) pids.add(p);
  return found;
}

async function echoCount(): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${echoPort}/__count`, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve(Number(b)));
    }).on('error', reject);
  });
}

const ECHO_SERVER = `
const http = require('http');
const { WebSocketServer } = require(process.env.WS_MODULE);
let count = 0;
const srv = http.createServer((req, res) => {
  if (req.url === '/__count') return res.end(String(count));
  count++;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-echo': 'yes' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
  });
});
const wss = new WebSocketServer({ server: srv });
wss.on('connection', (ws, req) => {
  count++;
  ws.on('message', (m) => ws.send('echo:' + req.url + ':' + m));
});
srv.listen(0, '127.0.0.1', () => console.log('port=' + srv.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drover-access-server-'));
  echo = spawn(process.execPath, ['-e', ECHO_SERVER], {
    env: { ...process.env, WS_MODULE: createRequire(import.meta.url).resolve('ws') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  pids.add(echo.pid!);
  echoPort = await new Promise<number>((resolve, reject) => {
    let out = '';
    echo.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /port=(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    echo.once('exit', () => reject(new Error('echo server exited')));
  });
  // A port nothing listens on: the proxy's "target down".
  downPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  logTarget('r1');
  logTarget('r2');
  server = await startAccessServer({ listen: { host: '127.0.0.1', port: 0 }, hostId: HOST_ID, key: () => KEY, targets: (id) => targets.get(id) });
});

afterAll(async () => {
  await server?.close();
  echo?.stdin?.end();
  if (echo && echo.exitCode === null) echo.kill();
  await waitFor(() => [...pids].every((p) => !alive(p)), 'every process the tests started to end').catch(() => {});
  const left = [...pids].filter(alive);
  for (const p of left) process.kill(p, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
  // And nothing else this test process started (a pid the tests did not learn of) is left.
  await waitFor(() => childrenOf(process.pid).length === 0, 'no child processes').catch(() => {});
  expect(childrenOf(process.pid)).toEqual([]);
});

describe('logs', () => {
  it('sends the last Lines lines across the rotated and live files, oldest first, then closes', async () => {
    const c = connect('/v1/logs/', logsToken('r1', 4, false));
    const closed = await c.closed;
    expect(c.texts).toEqual(['01 mid-3', '01 live-1', '01 live-2', '01 live-3']);
    expect(closed.code).toBe(1000);

    const all = connect('/v1/logs/', logsToken('r1', 100, false));
    await all.closed;
    expect(all.texts.map((t) => t.slice(3))).toEqual(['old-1', 'old-2', 'old-3', 'mid-1', 'mid-2', 'mid-3', 'live-1', 'live-2', 'live-3']);

    const none = connect('/v1/logs/', logsToken('r1', 0, false));
    expect((await none.closed).code).toBe(1000);
    expect(none.texts).toEqual([]);
  });

  it('follows over WebSocket: lines appended later arrive, a line only once complete', async () => {
    const t = logTarget('f1');
    const c = connect('/v1/logs/', logsToken('f1', 2, true));
    await waitFor(() => c.texts.length === 2, 'history');
    expect(c.texts).toEqual(['01 live-2', '01 live-3']);
    appendFileSync(join(t.logDir, 'app.log'), 'live-4\nlive-');
    await waitFor(() => c.texts.length === 3, 'appended line');
    appendFileSync(join(t.logDir, 'app.log'), '5\n');
    await waitFor(() => c.texts.length === 4, 'completed line');
    expect(c.texts.slice(2)).toEqual(['01 live-4', '01 live-5']);
    c.ws.close();
    await c.closed;
  });

  it('follows what is appended the moment the socket opens (no history asked): it counts from the request', async () => {
    const t = logTarget('f0');
    const c = connect('/v1/logs/', logsToken('f0', 0, true));
    await c.opened;
    appendFileSync(join(t.logDir, 'app.log'), 'right-after-open\n');
    await waitFor(() => c.texts.length === 1, 'the line appended at open');
    expect(c.texts).toEqual(['01 right-after-open']);
    c.ws.close();
    await c.closed;
  });

  it('follows across a rotation (rename, new live file) and a truncation of the live file', async () => {
    const t = logTarget('f2');
    const live = join(t.logDir, 'app.log');
    const c = connect('/v1/logs/', logsToken('f2', 1, true));
    await waitFor(() => c.texts.length === 1, 'history'); // the stream has its starting point
    appendFileSync(live, 'before-rotate\n');
    await waitFor(() => c.texts.includes('01 before-rotate'), 'line before the rotation');
    renameSync(live, join(t.logDir, 'app.log.1'));
    writeFileSync(live, 'after-rotate\n');
    await waitFor(() => c.texts.includes('01 after-rotate'), 'line in the new live file');
    truncateSync(live, 0);
    await new Promise((r) => setTimeout(r, 300)); // let it see the empty file (a writer after copytruncate)
    appendFileSync(live, 'after-truncate\n');
    await waitFor(() => c.texts.includes('01 after-truncate'), 'line after the truncation');
    expect(c.texts).toEqual(['01 live-3', '01 before-rotate', '01 after-rotate', '01 after-truncate']);
    c.ws.close();
    await c.closed;
  });

  it('ends a follow when the instance stops running', async () => {
    const t = logTarget('f3');
    const c = connect('/v1/logs/', logsToken('f3', 1, true));
    await waitFor(() => c.texts.length === 1, 'history');
    appendFileSync(join(t.logDir, 'app.log'), 'last words');
    t.running = false;
    const closed = await c.closed;
    expect(closed).toEqual({ code: 1000, reason: 'end of logs' });
    expect(c.texts).toEqual(['01 live-3', '01 last words']);
  });

  it('serves plain HTTP: history as text/plain, and a held-open stream while following', async () => {
    const once = await request('GET', `/v1/logs/?token=${logsToken('r1', 2, false)}`);
    expect(once.status).toBe(200);
    expect(once.headers['content-type']).toMatch(/^text\/plain/);
    expect(once.body).toBe('live-2\nlive-3\n');

    const t = logTarget('f4');
    let body = '';
    const req = http.get(`${server.url}/v1/logs/?token=${logsToken('f4', 1, true)}`, (res) => {
      expect(res.statusCode).toBe(200);
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('error', () => {});
    });
    req.on('error', () => {});
    await waitFor(() => body === 'live-3\n', 'history over HTTP');
    appendFileSync(join(t.logDir, 'app.log'), 'streamed-1\nstreamed-2\n');
    await waitFor(() => body === 'live-3\nstreamed-1\nstreamed-2\n', 'followed lines over HTTP');
    req.destroy();
  });
});

describe('execute', () => {
  it('runs without a tty: stdout and stderr, the exit code in the close reason, leftovers killed', async () => {
    // The background sleep holds stdout open: it is killed (the command's process group) once the command exits.
    const c = connect('/v1/exec/', execToken(['sh', '-c', 'sleep 30 & echo child=$!; echo pid=$$; echo out-line; echo err-line >&2; exit 3']));
    const closed = await c.closed;
    const [child] = notePids(c.output());
    expect(closed).toEqual({ code: 1000, reason: 'exit 3' });
    await waitFor(() => !alive(child), 'what the command left behind to be killed');
    expect(c.output()).toContain('out-line\n');
    expect(c.output()).toContain('err-line\n');
  });

  it('forwards stdin (base64) to the command', async () => {
    const c = connect('/v1/exec/', execToken(['sh', '-c', 'echo pid=$$; head -n1']));
    await c.opened;
    c.send('hello-stdin\nnot this\n');
    const closed = await c.closed;
    notePids(c.output());
    expect(closed.reason).toBe('exit 0');
    expect(c.output()).toMatch(/pid=\d+\nhello-stdin\n$/);
  });

  it('honours AttachStdout false (no output) and AttachStdin false (input ignored)', async () => {
    const marker = join(dir, 'quiet-ran');
    const quiet = connect('/v1/exec/', execToken(['sh', '-c', `echo noisy; touch ${marker}`], { AttachStdout: false }));
    expect((await quiet.closed).reason).toBe('exit 0');
    expect(quiet.texts).toEqual([]);
    expect(existsSync(marker)).toBe(true);

    const deaf = connect('/v1/exec/', execToken(['sh', '-c', 'read x; echo got=$x'], { AttachStdin: false }));
    await deaf.opened;
    deaf.send('typed\n');
    expect((await deaf.closed).reason).toBe('exit 0');
    expect(deaf.output()).toBe('got=\n');
  });

  it('runs under a tty with the instance environment and working directory', async () => {
    const c = connect('/v1/exec/', execToken(['sh', '-c', 'echo pid=$$; tty; echo foo=$FOO; pwd'], { Tty: true }));
    const closed = await c.closed;
    notePids(c.output());
    expect(closed.reason).toBe('exit 0');
    expect(c.output()).toMatch(/\/dev\/pts\/\d+/);
    expect(c.output()).toContain('foo=bar-value');
    expect(c.output()).toContain(join(dir, 'work'));
  });

  it('takes stdin and a resize under a tty', async () => {
    const c = connect('/v1/exec/', execToken(['/bin/sh'], { Tty: true }));
    await c.opened;
    c.ws.send(JSON.stringify({ resize: { cols: 123, rows: 45 } }));
    c.send('echo pid=$$; stty size; exit 7\n');
    const closed = await c.closed;
    notePids(c.output());
    expect(closed.reason).toBe('exit 7');
    expect(c.output()).toContain('45 123');
  });

  it('kills the command and what it started when the socket closes first (tty and pipes)', async () => {
    const tty = connect('/v1/exec/', execToken(['sh', '-c', 'echo pid=$$; sleep 30'], { Tty: true }));
    await waitFor(() => /pid=\d+/.test(tty.output()), 'tty pid');
    const [ttyPid] = notePids(tty.output());
    const piped = connect('/v1/exec/', execToken(['sh', '-c', 'sleep 30 & echo child=$!; echo pid=$$; wait']));
    await waitFor(() => /pid=\d+/.test(piped.output()), 'pipe pids');
    const pipedPids = notePids(piped.output());
    expect(pipedPids).toHaveLength(2);
    expect([ttyPid, ...pipedPids].every(alive)).toBe(true);
    tty.ws.close();
    piped.ws.close();
    await waitFor(() => ![ttyPid, ...pipedPids].some(alive), 'the commands to be killed');
  });

  it.skipIf(process.getuid?.() !== 0)('runs as the instance user (uid, gid) with and without a tty', async () => {
    const t = logTarget('nobody');
    t.exec = { ...t.exec, uid: 65534, gid: 65534, cwd: '/' };
    for (const Tty of [false, true]) {
      const c = connect('/v1/exec/', execToken(['sh', '-c', 'echo pid=$$; echo ids=$(id -u):$(id -g)'], { Tty }, 'nobody'));
      expect((await c.closed).reason).toBe('exit 0');
      notePids(c.output());
      expect(c.output()).toContain('ids=65534:65534');
    }
  });

  it('reports a command that cannot start as exit 127', async () => {
    const c = connect('/v1/exec/', execToken(['/no/such/command']));
    expect((await c.closed).reason).toBe('exit 127');
    expect(c.output()).toContain('ENOENT');
  });

  it('is WebSocket only', async () => {
    const r = await request('GET', `/v1/exec/?token=${execToken(['true'])}`);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({ error: 'websocket upgrade required' });
  });
});

describe('console', () => {
  it('runs the instance shell under a pty', async () => {
    // The control plane names a console's instance by id (cattle's shape); the externalId passes too.
    for (const container of ['r1', 'ext-r1']) {
      const c = connect('/v1/console/', sign({ console: { container } }));
      await c.opened;
      c.send('echo pid=$$ foo=$FOO\n');
      await waitFor(() => c.output().includes('foo=bar-value'), 'the shell to answer');
      c.send('exit\n');
      const closed = await c.closed;
      notePids(c.output());
      expect(closed).toEqual({ code: 1000, reason: 'exit 0' });
    }
  });
});

describe('proxy', () => {
  it('forwards a GET with its path and query (without the token) and sets the access cookie', async () => {
    const token = proxyToken();
    const r = await request('GET', `/v1/container-proxy/hello/world?a=1&token=${token}&b=two`, { headers: { 'x-custom': 'kept' } });
    expect(r.status).toBe(200);
    expect(r.headers['x-echo']).toBe('yes');
    const seen = JSON.parse(r.body) as { method: string; url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/hello/world?a=1&b=two');
    expect(seen.headers['x-custom']).toBe('kept');
    expect(r.headers['set-cookie']).toEqual([expect.stringContaining(`${ACCESS_PROXY_COOKIE}=${token}; Path=/v1/container-proxy/; HttpOnly`)]);
  });

  it('streams a POST body both ways', async () => {
    const body = 'x'.repeat(200_000);
    const r = await request('POST', `/v1/container-proxy/submit?token=${proxyToken()}`, { headers: { 'content-type': 'text/plain' }, body });
    const seen = JSON.parse(r.body) as { method: string; url: string; body: string };
    expect(seen).toMatchObject({ method: 'POST', url: '/submit', body });
  });

  it('passes a follow-up request on the cookie alone, and a Bearer header, without handing either to the instance', async () => {
    const token = proxyToken();
    const r = await request('GET', '/v1/container-proxy/again', { headers: { cookie: `theirs=1; ${ACCESS_PROXY_COOKIE}=${token}` } });
    expect(r.status).toBe(200);
    expect(r.headers['set-cookie']).toBeUndefined();
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/again');
    expect(seen.headers.cookie).toBe('theirs=1');

    const b = await request('GET', '/v1/container-proxy/', { headers: { authorization: `Bearer ${token}` } });
    expect(b.status).toBe(200);
    expect((JSON.parse(b.body) as { headers: Record<string, string> }).headers.authorization).toBeUndefined();
  });

  it('proxies a WebSocket upgrade to the instance', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/container-proxy/echo?x=1&token=${proxyToken()}`);
    const got = new Promise<string>((resolve, reject) => {
      ws.once('message', (m) => resolve(m.toString()));
      ws.once('error', reject);
    });
    ws.once('open', () => ws.send('ping'));
    expect(await got).toBe('echo:/echo?x=1:ping');
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
  });

  it('answers 502 for a port the instance does not publish and for an instance that does not answer', async () => {
    const unknown = await request('GET', `/v1/container-proxy/?token=${proxyToken(9999)}`);
    expect(unknown.status).toBe(502);
    expect(JSON.parse(unknown.body)).toHaveProperty('error');
    const down = await request('GET', `/v1/container-proxy/?token=${proxyToken(DOWN_PORT)}`);
    expect(down.status).toBe(502);
    expect(JSON.parse(down.body)).toHaveProperty('error');
    expect((await refused('/v1/container-proxy/', proxyToken(DOWN_PORT))).status).toBe(502);
  });
});

describe('refusals', () => {
  const tamper = (token: string, change: (p: Record<string, unknown>) => void) => {
    const [h, b, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(b, 'base64url').toString()) as Record<string, unknown>;
    change(payload);
    return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  };

  it('refuses bad tokens with 401 on every route, and runs nothing', async () => {
    let n = 0;
    const cases: Record<string, (cmd: string[]) => string | undefined> = {
      missing: () => undefined,
      garbage: () => 'not.a.token',
      expired: (Cmd) => sign({ exec: { Tty: false, Cmd, Container: 'ext-r1' } }, { now: Date.now() - 3_600_000 }),
      'another key': (Cmd) => sign({ exec: { Tty: false, Cmd, Container: 'ext-r1' } }, { key: 'someone-else' }),
      tampered: (Cmd) => tamper(execToken(Cmd, {}, 'r2'), (p) => (p.resourceId = 'r1')),
      'another instance': (Cmd) => sign({ exec: { Tty: false, Cmd, Container: 'ext-r2' } }),
      'another host': (Cmd) => sign({ hostId: '1h2', exec: { Tty: false, Cmd, Container: 'ext-r1' } }),
      'unknown instance': (Cmd) => sign({ resourceId: 'r404', exec: { Tty: false, Cmd, Container: 'ext-r404' } }),
      'two kinds': (Cmd) => sign({ exec: { Tty: false, Cmd, Container: 'ext-r1' }, logs: { Container: 'ext-r1', Lines: 1, Follow: false } }),
      'a logs token': () => logsToken('r1', 1, false),
    };
    const markers: string[] = [];
    for (const [name, make] of Object.entries(cases)) {
      const marker = join(dir, `refused-${n++}`);
      markers.push(marker);
      const r = await refused('/v1/exec/', make(['sh', '-c', `touch ${marker}`]));
      expect(r.status, name).toBe(401);
      expect(JSON.parse(r.body), name).toHaveProperty('error');
    }
    // The same over HTTP (logs) and the proxy; the instance behind the proxy sees nothing.
    const before = await echoCount();
    for (const make of [
      () => undefined,
      () => sign({ logs: { Container: 'ext-r1', Lines: 1, Follow: false } }, { key: 'someone-else' }),
      () => sign({ logs: { Container: 'ext-r2', Lines: 1, Follow: false } }),
      () => proxyToken(),
    ]) {
      const token = make();
      const r = await request('GET', `/v1/logs/${token ? `?token=${token}` : ''}`);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toHaveProperty('error');
    }
    for (const token of [
      undefined,
      logsToken('r1', 1, false),
      sign({ proxy: { Container: 'ext-r1', address: '10.0.0.1:8080' } }, { now: Date.now() - 3_600_000 }),
      sign({ proxy: { Container: 'ext-r2', address: '10.0.0.1:8080' } }),
    ]) {
      const r = await request('GET', `/v1/container-proxy/x${token ? `?token=${token}` : ''}`);
      expect(r.status).toBe(401);
      expect((await refused('/v1/container-proxy/x', token)).status).toBe(401);
    }
    expect(await echoCount()).toBe(before);
    // A valid token for the same route runs, so the refusals above were about the tokens.
    const ok = connect('/v1/exec/', execToken(['sh', '-c', `touch ${join(dir, 'accepted')}`]));
    expect((await ok.closed).reason).toBe('exit 0');
    expect(existsSync(join(dir, 'accepted'))).toBe(true);
    expect(markers.filter((m) => existsSync(m))).toEqual([]);
  });

  it('answers 404 for unknown paths and survives garbage', async () => {
    const r = await request('GET', '/v1/nothing');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ error: 'not found' });
    expect((await refused('/v2/exec/', execToken(['true']))).status).toBe(404);
    expect((await request('GET', '/v1/logs/?token=%ZZ&token=a.b.c')).status).toBe(401);
    expect((await request('GET', `/v1/logs/?token=${'.'.repeat(5000)}`)).status).toBe(401);
    const nullPayload = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('null').toString('base64url')}`;
    const { createHmac } = await import('node:crypto');
    const signedNull = `${nullPayload}.${createHmac('sha256', KEY).update(nullPayload).digest('base64url')}`;
    expect((await request('GET', `/v1/logs/?token=${signedNull}`)).status).toBe(401);
    const noCmd = sign({ exec: { Cmd: 'sh', Container: 'ext-r1' } });
    expect((await refused('/v1/exec/', noCmd)).status).toBe(400);
    expect((await request('GET', '/v1/logs/')).status).toBe(401);
  });

  it('refuses execute on an instance that is not running', async () => {
    const t = logTarget('stopped');
    t.running = false;
    const marker = join(dir, 'stopped-ran');
    expect((await refused('/v1/exec/', execToken(['sh', '-c', `touch ${marker}`], {}, 'stopped'))).status).toBe(409);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('close()', () => {
  it('ends open streams and kills running commands', async () => {
    const cmd = connect('/v1/exec/', execToken(['sh', '-c', 'echo pid=$$; sleep 30'], { Tty: true }));
    await waitFor(() => /pid=\d+/.test(cmd.output()), 'pid');
    const [pid] = notePids(cmd.output());
    const logs = connect('/v1/logs/', logsToken('r1', 1, true));
    await waitFor(() => logs.texts.length === 1, 'history');
    await server.close();
    await Promise.all([cmd.closed, logs.closed]);
    await waitFor(() => !alive(pid), 'the command to be killed');
  });
});
