/**
 * @module
 * An instance's output as capped, rotating files. The process appends to the live file itself (the driver opens it
 * with `O_APPEND` and hands the descriptor over as stdout and stderr, so output outlives the agent and never waits on
 * it); the driver checks the size now and then and rotates by copy-then-truncate: `out.log.(n-1)` → `out.log.n`, ...,
 * `out.log` → `out.log.1`, then `out.log` is cut to nothing. The writer's `O_APPEND` makes it carry on at the new end
 * (no hole). What is written between the copy and the cut is lost, as with logrotate's `copytruncate`.
 */
import { copyFileSync, existsSync, openSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

/** Caps of an instance's logs. */
export interface LogCaps {
  /** Size at which the live file is rotated (bytes). */
  maxBytes: number;
  /** Files kept in all, the live one included (at least 1: with 1 the live file is only cut). */
  files: number;
}

/**
 * One instance's log files in a directory.
 *
 * @example
 * const logs = new LogFiles('/var/lib/drover/instances/u-1', { maxBytes: 10 << 20, files: 3 });
 * const fd = logs.openForAppend(); // give it to spawn as stdout and stderr, then close it
 * logs.rotateIfNeeded();
 * logs.files() // ['.../out.log.2', '.../out.log.1', '.../out.log']
 */
export class LogFiles {
  constructor(
    readonly dir: string,
    readonly caps: LogCaps,
    readonly name = 'out.log',
  ) {}

  /** The live file. */
  get live(): string {
    return join(this.dir, this.name);
  }

  /**
   * Opens the live file for appending (`O_APPEND`, created 0640), for the process to write to.
   *
   * @example
   * const fd = logs.openForAppend();
   * spawn(file, args, { stdio: ['ignore', fd, fd] });
   * closeSync(fd);
   */
  openForAppend(): number {
    return openSync(this.live, 'a', 0o640);
  }

  /**
   * The existing files, oldest first: the rotated ones, then the live one.
   *
   * @example
   * logs.files() // ['/d/out.log.1', '/d/out.log']
   */
  files(): string[] {
    const out: string[] = [];
    for (let i = Math.max(0, this.caps.files - 1); i >= 1; i--) {
      const f = `${this.live}.${i}`;
      if (existsSync(f)) out.push(f);
    }
    if (existsSync(this.live)) out.push(this.live);
    return out;
  }

  /**
   * Rotates when the live file has reached `maxBytes`; returns whether it did.
   *
   * @example
   * if (logs.rotateIfNeeded()) console.log('rotated');
   */
  rotateIfNeeded(): boolean {
    let size: number;
    try {
      size = statSync(this.live).size;
    } catch {
      return false;
    }
    if (size < this.caps.maxBytes) return false;
    this.rotate();
    return true;
  }

  /**
   * Rotates now: shifts the rotated files up by one (dropping what falls off the cap), copies the live file to
   * `.1` and cuts it to nothing.
   *
   * @example
   * logs.rotate();
   */
  rotate(): void {
    const keep = Math.max(0, this.caps.files - 1);
    if (keep === 0) {
      truncateSync(this.live, 0);
      return;
    }
    rmSync(`${this.live}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      const f = `${this.live}.${i}`;
      if (existsSync(f)) renameSync(f, `${this.live}.${i + 1}`);
    }
    copyFileSync(this.live, `${this.live}.1`);
    truncateSync(this.live, 0);
  }
}
