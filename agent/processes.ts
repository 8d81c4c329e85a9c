/**
 * @module
 * Small helpers the agent's process code shares (the process driver, the access server's commands): signalling a
 * process group, an exit code as shells report it, an error as text, and a JSON file written atomically.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';

/**
 * Signals a whole process group (the leader's pid); false when it is gone.
 *
 * @example
 * killGroup(child.pid, 'SIGTERM')
 */
export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * An exit code as shells give it: the code, or 128 + the signal's number (a name, or a number as node-pty reports
 * it); `unknown` when there is neither.
 *
 * @example
 * exitCodeOf(null, 'SIGKILL', -1) // 137
 */
export function exitCodeOf(code: number | null | undefined, signal: NodeJS.Signals | number | null | undefined, unknown: number): number {
  const n = typeof signal === 'number' ? signal : signal ? (osConstants.signals as Record<string, number>)[signal] : undefined;
  if (typeof code === 'number' && !n) return code;
  if (n) return 128 + n;
  return code ?? unknown;
}

/**
 * An error's message, or whatever was thrown as text.
 *
 * @example
 * warn(`rotating failed: ${errorText(e)}`)
 */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Writes `value` as JSON to `file` atomically (a temporary file renamed over it), readable by its owner only.
 *
 * @example
 * writeJsonAtomic('/var/lib/drover-agent/state.json', { hostId: '1h1' })
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
