/**
 * @module
 * Logs for the host access server: the last lines of an instance's log files (rotated ones included, oldest first),
 * then what is appended to the live file, followed through truncation and replacement (`streamLogs`); and the
 * `/v1/logs/` route over WebSocket or plain HTTP (`serveLogsWs`, `serveLogsHttp`), framed as `server.ts` documents.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type http from 'node:http';
import { basename, dirname } from 'node:path';
import { WebSocket } from 'ws';
import { jsonResponse, type Grant, type LogsSpec } from './authorize.js';
import { WS_HIGH_WATER } from './exec.js';
import type { AccessContext } from './server.js';

const LOG_POLL_MS = 250;
const HISTORY_MAX_BYTES = 32 * 1024 * 1024;

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

/**
 * The live log file's size and inode now, if there is one.
 *
 * @example
 * liveFileNow(['/logs/out.log.1', '/logs/out.log']) // { size: 5120, ino: 393226 }; undefined without out.log
 */
export function liveFileNow(files: string[]): { size: number; ino: number } | undefined {
  const live = files[files.length - 1];
  const st = live ? statSync(live, { throwIfNoEntry: false }) : undefined;
  return st ? { size: st.size, ino: st.ino } : undefined;
}

/**
 * Streams an instance's logs into `sink`: the history, then (when following) new lines, until `stop()` or the
 * instance stops running.
 *
 * @example
 * const stream = streamLogs(target.logFiles, { lines: 100, follow: true }, sink, () => target.running, log.warn);
 * // ... when the client goes
 * stream.stop();
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
      let partialOfLive: Buffer | undefined;
      if (fh && want > 0) {
        const t = await tailFile(fh, size, want);
        partialOfLive = t.partial;
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
        pos = size - (partialOfLive ?? (await tailFile(fh, size, 0)).partial).length;
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

/**
 * Streams a logs grant into `sink` until it ends, the client goes (`onClose`), or the server closes (`drop`).
 */
function serveLogs(
  ctx: AccessContext,
  grant: Grant<'logs'>,
  sink: LineSink,
  drop: () => void,
  onClose: (fn: () => void) => void,
): void {
  const { log, track } = ctx;
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
    () => target.running,
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

/**
 * Serves a logs grant over a WebSocket: one text message `01 <line>` per line, closed with 1000 at the end.
 *
 * @example
 * wss.handleUpgrade(req, socket, head, (ws) => serveLogsWs(ctx, ws, grant));
 */
export function serveLogsWs(ctx: AccessContext, ws: WebSocket, grant: Grant<'logs'>): void {
  serveLogs(
    ctx,
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

/**
 * Serves a logs grant over plain HTTP: `200 text/plain`, chunked, one `<line>\n` per line, ended at the end.
 *
 * @example
 * http.createServer((req, res) => serveLogsHttp(ctx, req, res, grant));
 */
export function serveLogsHttp(
  ctx: AccessContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  grant: Grant<'logs'>,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return jsonResponse(res, 405, 'method not allowed');
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  if (req.method === 'HEAD') return void res.end();
  res.flushHeaders();
  serveLogs(
    ctx,
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
