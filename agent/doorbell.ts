/**
 * @module
 * The agent's end of the doorbell (AWS): a WebSocket held open to the URL the server names in its poll answers,
 * authenticated with the host's credential. It calls `onWake` when a ring arrives, when it (re)connects (a ring
 * may have been missed while it was closed) and when an open connection closes (rings stop coming), sends a keepalive every `keepaliveMs` (API Gateway drops a connection
 * idle for 10 minutes; the keepalive also stamps the host's liveness), and reconnects with full-jitter backoff
 * whenever the connection closes (API Gateway closes every connection after 2 hours).
 *
 *   connect ─▶ open ─▶ onWake ─▶ {"action":"keepalive"} every keepaliveMs ─┐
 *      ▲                 └ {"ring":…} ─▶ onWake                             │
 *      └──────── backoff ◀── close / error ◀────────────────────────────────┘
 */
import WebSocket from 'ws';
import { Backoff, type RetryPolicy } from './retry.js';

export interface DoorbellSocketOptions {
  url: string;
  /** The `Authorization` header for each (re)connect (the host's credential may be replaced meanwhile). */
  authorization: () => string;
  keepaliveMs: number;
  /** A ring arrived, the socket (re)opened, or an open socket closed. */
  onWake: () => void;
  /** Backoff between reconnects (default base 1 s, cap 60 s). */
  retry?: RetryPolicy;
  warn?: (msg: string) => void;
}

/**
 * One doorbell connection, kept open until `stop()`.
 *
 * @example
 * const bell = new DoorbellSocket({ url, authorization: () => basic, keepaliveMs: 300_000, onWake: () => pollNow() });
 * bell.start();
 * await bell.stop();
 */
export class DoorbellSocket {
  private readonly stopping = new AbortController();
  private socket?: WebSocket;
  private loop?: Promise<void>;
  private openFlag = false;
  /** Times the socket has opened (tests and logs). */
  opens = 0;

  constructor(private readonly opts: DoorbellSocketOptions) {}

  /** Whether the socket is open now (rings can arrive). */
  get open(): boolean {
    return this.openFlag;
  }

  /**
   * Starts connecting (and reconnecting) in the background.
   *
   * @example
   * bell.start();
   */
  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Closes the socket and stops reconnecting.
   *
   * @example
   * await bell.stop();
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.socket?.terminate();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    const backoff = new Backoff(this.opts.retry ?? { baseMs: 1000, capMs: 60_000 });
    while (!signal.aborted) {
      const opened = await this.connectOnce();
      if (signal.aborted) break;
      if (opened) backoff.reset();
      await backoff.sleep(signal);
    }
  }

  /** One connection, from handshake to close; `true` if it opened. */
  private connectOnce(): Promise<boolean> {
    return new Promise((resolve) => {
      let opened = false;
      let keepalive: NodeJS.Timeout | undefined;
      const ws = new WebSocket(this.opts.url, { headers: { authorization: this.opts.authorization() }, handshakeTimeout: 15_000 });
      this.socket = ws;
      ws.on('open', () => {
        opened = this.openFlag = true;
        this.opens++;
        keepalive = setInterval(() => ws.send(JSON.stringify({ action: 'keepalive' })), this.opts.keepaliveMs);
        this.opts.onWake();
      });
      ws.on('message', (data) => {
        let msg: unknown;
        try {
          msg = JSON.parse(data.toString());
        } catch {
          return;
        }
        if (msg && typeof msg === 'object' && 'ring' in msg) this.opts.onWake();
      });
      ws.on('error', (e) => {
        if (!this.stopping.signal.aborted) this.opts.warn?.(`doorbell ${opened ? 'failed' : 'not reached'}: ${e.message}`);
      });
      ws.on('close', () => {
        clearInterval(keepalive);
        this.openFlag = false;
        // Rings cannot arrive now: the agent stops waiting the fallback interval and polls as without a doorbell.
        if (opened && !this.stopping.signal.aborted) this.opts.onWake();
        resolve(opened);
      });
    });
  }
}

