/** The process driver's health check against real sockets: TCP, HTTP status classes, garbage, and a timeout. */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPort } from './health-check.js';

let http: Server;
let httpPort: number;
const servers: { close(): unknown }[] = [];

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? 200 : req.url === '/moved' ? 302 : 503;
    res.end();
  });
  await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
  httpPort = (http.address() as AddressInfo).port;
  servers.push(http);
});
afterAll(() => servers.forEach((s) => s.close()));

/** A TCP server that answers every connection with `reply` (or holds it silently when undefined). */
async function tcp(reply?: string): Promise<number> {
  const server = createServer((sock) => {
    if (reply !== undefined) sock.end(reply);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  servers.push({ close: () => server.close() });
  return (server.address() as AddressInfo).port;
}

const signal = () => AbortSignal.timeout(2000);

describe('checkPort', () => {
  it('passes a TCP connect, and names a refused one', async () => {
    expect(await checkPort('127.0.0.1', httpPort, undefined, signal())).toEqual({ healthy: true });
    const closed = await tcp('');
    servers.pop()!.close();
    expect(await checkPort('127.0.0.1', closed, undefined, signal())).toEqual({ healthy: false, message: 'connection refused' });
  });

  it('wants a 2xx or 3xx answer to the request line (quoted as Rancher writes it, or not)', async () => {
    expect(await checkPort('127.0.0.1', httpPort, 'GET /healthz HTTP/1.0', signal())).toEqual({ healthy: true });
    expect(await checkPort('127.0.0.1', httpPort, '"GET" "/moved" "HTTP/1.1"', signal())).toEqual({ healthy: true });
    expect(await checkPort('127.0.0.1', httpPort, 'GET /broken HTTP/1.0', signal())).toEqual({ healthy: false, message: 'HTTP 503' });
  });

  it('fails on an answer that is not HTTP, on a closed connection, and on a timeout', async () => {
    expect(await checkPort('127.0.0.1', await tcp('SSH-2.0-OpenSSH\r\n'), 'GET / HTTP/1.0', signal())).toEqual({ healthy: false, message: 'not an HTTP response' });
    expect(await checkPort('127.0.0.1', await tcp(''), 'GET / HTTP/1.0', signal())).toEqual({ healthy: false, message: 'connection closed without a response' });
    const silent = await tcp();
    expect(await checkPort('127.0.0.1', silent, 'GET / HTTP/1.0', AbortSignal.timeout(100))).toEqual({ healthy: false, message: 'health check timed out' });
  });
});
