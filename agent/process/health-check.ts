/**
 * @module
 * The process driver's health check of an instance's port: a TCP connect, or an HTTP request whose status must be
 * 2xx or 3xx. The agent's health loop (`agent/health.ts`) calls it through `ProcessDriver.check`.
 */
import { connect } from 'node:net';
import type { HealthResult } from '../driver.js';

/**
 * One health check of a port on `host`: a TCP connect, or with `requestLine` (`GET /healthz HTTP/1.0`, Rancher's
 * quoting tolerated) an HTTP request whose status must be 2xx or 3xx.
 *
 * @example
 * await checkPort('127.0.0.1', 8080, 'GET /healthz HTTP/1.0', AbortSignal.timeout(2000)) // { healthy: true }
 */
export function checkPort(host: string, port: number, requestLine: string | undefined, signal: AbortSignal): Promise<HealthResult> {
  return new Promise((resolveResult) => {
    const sock = connect({ host, port });
    let buf = '';
    const done = (r: HealthResult) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolveResult(r);
    };
    const onAbort = () => done({ healthy: false, message: 'health check timed out' });
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e: NodeJS.ErrnoException) => done({ healthy: false, message: e.code === 'ECONNREFUSED' ? 'connection refused' : e.message }));
    sock.on('connect', () => {
      if (!requestLine) return done({ healthy: true });
      const [method = 'GET', path = '/', version = 'HTTP/1.0'] = requestLine.trim().split(/\s+/).map((t) => t.replace(/^"|"$/g, ''));
      sock.write(`${method} ${path} ${version}\r\nHost: ${host}:${port}\r\nConnection: close\r\nUser-Agent: drover-agent\r\n\r\n`);
    });
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      const eol = buf.indexOf('\r\n');
      if (eol < 0 && buf.length < 1024) return;
      const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(buf);
      if (!m) return done({ healthy: false, message: 'not an HTTP response' });
      const status = Number(m[1]);
      done(status >= 200 && status < 400 ? { healthy: true } : { healthy: false, message: `HTTP ${status}` });
    });
    sock.on('end', () => done({ healthy: false, message: 'connection closed without a response' }));
  });
}
