/**
 * @module
 * `npm run access -- [-u key:secret] [--api url] <logs|exec|console|proxy> <instance id> ...`: the client side of
 * host access, for a terminal. It asks the Rancher API for the instance's `hostAccess` (the action of the same
 * name), then connects to the host's access server with its token and speaks the framing `agent/access/server.ts`
 * documents: logs print line by line; exec and console carry base64 both ways, with the terminal in raw mode when
 * it is a tty; the process exits with the command's exit code. `proxy` prints the proxied answer of one GET.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const USAGE = `Usage: npm run access -- [-u <access key>:<secret key>] [--api <url>/v1] <what> <instance id> [...]

  logs <id> [--lines n] [--follow]     the instance's output (default: the last 100 lines, then follow)
  exec <id> [--tty] -- <command...>    run a command in the instance's environment (a terminal's keys go to it)
  console <id>                          a shell in the instance's environment
  proxy <id> <port> [path]              GET <path> (default /) from the instance's port, through its host

Credentials and the API default to $AK:$SK and $API, as in the README.
`;

/** What the API answers for a host-access action. */
interface HostAccess {
  url: string;
  token: string;
}

/**
 * Asks the API for an instance's host access (`POST <instance>?action=<action>`), through the instance's own URL.
 *
 * @example
 * const grant = await hostAccessOf('http://127.0.0.1:8080/v1', 'AK:SK', '1i5', 'logs', { lines: 10, follow: false });
 */
export async function hostAccessOf(api: string, credentials: string, id: string, action: string, input: Record<string, unknown>): Promise<HostAccess> {
  const headers = { authorization: `Basic ${Buffer.from(credentials).toString('base64')}`, 'content-type': 'application/json' };
  const instance = await fetch(`${api.replace(/\/+$/, '')}/instances/${encodeURIComponent(id)}`, { headers });
  const body = (await instance.json()) as { links?: { self?: string }; message?: string; code?: string };
  if (!instance.ok || !body.links?.self) throw new Error(`${id}: ${instance.status} ${body.code ?? ''} ${body.message ?? ''}`.trim());
  const answer = await fetch(`${body.links.self}?action=${action}`, { method: 'POST', headers, body: JSON.stringify(input) });
  const grant = (await answer.json()) as HostAccess & { message?: string; code?: string };
  if (!answer.ok) throw new Error(`${action} on ${id}: ${answer.status} ${grant.code ?? ''} ${grant.message ?? ''}`.trim());
  return grant;
}

/**
 * Connects to a host-access stream; resolves with the exit code the server closes it with (`exit <code>`), 0 for
 * a stream that just ends.
 *
 * @example
 * process.exitCode = await stream(grant, { onText: (t) => process.stdout.write(t) });
 */
export function stream(grant: HostAccess, io: { onText(text: string): void; stdin?: NodeJS.ReadableStream; base64?: boolean }): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${grant.url}?token=${encodeURIComponent(grant.token)}`);
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => reject(new Error(`refused: HTTP ${res.statusCode} ${text}`)));
    });
    ws.on('error', reject);
    ws.on('open', () => {
      io.stdin?.on('data', (d: Buffer) => ws.send(d.toString('base64')));
    });
    ws.on('message', (m) => io.onText(io.base64 ? Buffer.from(m.toString(), 'base64').toString('utf8') : `${m.toString().replace(/^0[12] /, '')}\n`));
    ws.on('close', (_code, reason) => resolve(Number(/^exit (\d+)$/.exec(reason.toString())?.[1] ?? 0)));
  });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      user: { type: 'string', short: 'u' },
      api: { type: 'string' },
      lines: { type: 'string' },
      follow: { type: 'boolean' },
      tty: { type: 'boolean', short: 't' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [what, id, ...rest] = positionals;
  if (values.help || !what || !id) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const api = values.api ?? process.env.API;
  const credentials = values.user ?? (process.env.AK && process.env.SK ? `${process.env.AK}:${process.env.SK}` : undefined);
  if (!api || !credentials) throw new Error('no API or credentials: pass --api and -u, or export API, AK and SK');
  const print = (text: string) => process.stdout.write(text);
  switch (what) {
    case 'logs': {
      const lines = values.lines === undefined ? 100 : Number(values.lines);
      const grant = await hostAccessOf(api, credentials, id, 'logs', { lines, follow: values.follow ?? values.lines === undefined });
      return stream(grant, { onText: print });
    }
    case 'exec':
    case 'console': {
      const tty = what === 'console' || !!values.tty;
      const grant = await hostAccessOf(api, credentials, id, what === 'exec' ? 'execute' : 'console', what === 'exec' ? { command: rest, tty } : {});
      const raw = tty && process.stdin.isTTY;
      if (raw) process.stdin.setRawMode(true);
      try {
        // A terminal's keys are forwarded; a script's stdin is left alone (the command gets none).
        return await stream(grant, { onText: print, stdin: process.stdin.isTTY ? process.stdin : undefined, base64: true });
      } finally {
        if (raw) process.stdin.setRawMode(false);
      }
    }
    case 'proxy': {
      const [port, path = '/'] = rest;
      const grant = await hostAccessOf(api, credentials, id, 'proxy', { port: Number(port) });
      const answer = await fetch(`${grant.url}${path.replace(/^\//, '')}?token=${encodeURIComponent(grant.token)}`);
      print(await answer.text());
      return answer.ok ? 0 : 1;
    }
    default:
      console.error(`unknown "${what}"\n\n${USAGE}`);
      return 2;
  }
}

if (process.argv[1] && /agent[\\/]access-client\.ts$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
