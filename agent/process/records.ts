/**
 * @module
 * The process driver's records: what it keeps of an instance (`<dataDir>/instances/<key>/record.json`, written
 * atomically after each change), the `/proc` look-ups that tell whether a recorded process still runs (the same pid
 * with the same start time), and the recovery of the records by a new driver on the same data dir: it adopts the
 * processes that still run and reports, once, those that ended while no agent watched.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { HealthCheckSpec } from '../driver.js';
import { errorText, writeJsonAtomic } from '../processes.js';
import type { PortSpec } from './port-forward.js';
import type { Cgroup2, RunUser } from './sandbox.js';

/** What an instance runs, as read from its command's snapshot. */
export interface ProcessSpec {
  /** The command line, its executable resolved to a path. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** The user switched to (absent: the agent's own). */
  user?: RunUser;
  hostname?: string;
  memoryBytes?: number;
  cpuShares?: number;
  ports: PortSpec[];
  healthCheck: HealthCheckSpec | null;
}

/** An instance's record (`record.json`), written atomically after each change. */
export interface ProcessRecord {
  version: 1;
  key: string;
  resourceId: string;
  externalId: string;
  /** Starts on this host (1 on the first). */
  run: number;
  /** `exited`: ended on its own (not by a stop). */
  state: 'running' | 'stopped' | 'exited';
  pid: number | null;
  /** Field 22 of `/proc/<pid>/stat` (clock ticks after boot): tells our process from a later one with its pid. */
  startTime: string | null;
  startedAt: number;
  endedAt?: number;
  exitCode?: number;
  exitMessage?: string;
  /** An exit `exits()` has not returned yet. */
  exitPending?: boolean;
  /** Whether the process is in a cgroup of the driver's. */
  cgroup?: boolean;
  spec: ProcessSpec;
}

/** A record a new driver found, with the instance directory it lives in. */
export interface RecoveredRecord {
  key: string;
  dir: string;
  rec: ProcessRecord;
}

/** What recovering the records needs from the driver. */
export interface RecoverOptions {
  /** The clock (ms) for the end of a process that ended meanwhile. */
  now: () => number;
  /** Where a record that cannot be read is told of (it is then ignored). */
  warn: (msg: string) => void;
  /** The driver's cgroups, where the group of a process that ended meanwhile is removed. */
  cgroup?: Cgroup2;
}

const RECORD_FILE = 'record.json';


/**
 * What `/proc/<pid>/stat` says of a process: its state letter and start time, or `undefined` when there is none.
 *
 * @example
 * procStat(process.pid) // { state: 'R', startTime: '123456' }
 */
export function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold anything: count fields after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], startTime: rest[19] };
}

/**
 * Whether the process `pid` still runs and is the one started at `startTime` (a zombie counts as ended).
 *
 * @example
 * isAlive(rec.pid, rec.startTime)
 */
export function isAlive(pid: number, startTime: string | null): boolean {
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === null || st.startTime === startTime;
}

/**
 * Writes an instance's record into its directory atomically (a temporary file renamed over it).
 *
 * @example
 * writeRecord('/var/lib/drover-agent/instances/u-1', rec) // '<dir>/record.json', mode 0600
 */
export function writeRecord(dir: string, rec: ProcessRecord): void {
  writeJsonAtomic(join(dir, RECORD_FILE), rec);
}

/**
 * Deletes an instance's record (the instance is forgotten; the rest of its directory stays).
 *
 * @example
 * removeRecord('/var/lib/drover-agent/instances/u-1')
 */
export function removeRecord(dir: string): void {
  rmSync(join(dir, RECORD_FILE), { force: true });
}

/**
 * Reads the records under `<dataDir>/instances` for a new driver: a record whose process still runs (the same pid
 * with the same start time) is returned as it is, for the driver to adopt; one whose process ended while no agent
 * watched becomes `exited` with an exit pending (code -1: unknown), its cgroup removed and the record rewritten. A
 * record that cannot be read is warned of and left out.
 *
 * @example
 * for (const { key, dir, rec } of recoverRecords('/var/lib/drover-agent', { now: Date.now, warn: console.warn })) ...
 */
export function recoverRecords(dataDir: string, opts: RecoverOptions): RecoveredRecord[] {
  const root = join(dataDir, 'instances');
  const found: RecoveredRecord[] = [];
  for (const key of readdirSync(root)) {
    const dir = join(root, key);
    const file = join(dir, RECORD_FILE);
    if (!existsSync(file)) continue;
    let rec: ProcessRecord;
    try {
      rec = JSON.parse(readFileSync(file, 'utf8')) as ProcessRecord;
      if (rec.version !== 1 || rec.key !== key) throw new Error('not a record of this driver');
    } catch (e) {
      opts.warn(`ignoring ${file}: ${errorText(e)}`);
      continue;
    }
    found.push({ key, dir, rec });
    if (rec.state === 'running' && rec.pid && !isAlive(rec.pid, rec.startTime)) {
      // Ended while no agent watched: reported once, without a code.
      Object.assign(rec, { state: 'exited', endedAt: opts.now(), exitCode: -1, exitMessage: 'stopped while the agent was down (exit code unknown)', exitPending: true });
      if (rec.cgroup) opts.cgroup?.remove(key);
      writeRecord(dir, rec);
    }
  }
  return found;
}
