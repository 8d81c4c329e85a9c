/**
 * @module
 * `npm start` as a child process, the way a newcomer runs it: waits for the banner and reads the URL and admin key
 * from what it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface StartedProcess {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  output: () => string;
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  accessKey: string;
  secretKey: string;
}

/**
 * Starts `core/embedded/main.ts` (what `npm start` runs) with `PORT=0` and the given environment.
 *
 * @example
 * const drover = await startProcess({ DROVER_DATA_DIR: dir });
 * drover.child.kill('SIGTERM');
 * await exited(drover.child);
 */
export async function startProcess(env: Record<string, string>): Promise<StartedProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/embedded/main.ts'], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!/Secret key: \S+/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => out,
    url: /API:\s+(\S+)\/v1/.exec(out)![1],
    accessKey: /Access key: (\S+)/.exec(out)![1],
    secretKey: /Secret key: (\S+)/.exec(out)![1],
  };
}

/**
 * Resolves with the child's exit code once it has exited.
 *
 * @example
 * drover.child.kill('SIGINT'); expect(await exited(drover.child)).toBe(0);
 */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
}
