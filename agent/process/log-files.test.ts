/**
 * Capped rotating log files: copy-then-truncate, the cap on files, oldest first, and an `O_APPEND` writer that goes
 * on at the new end.
 */
import { closeSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogFiles } from './log-files.js';

const dir = mkdtempSync(join(tmpdir(), 'logfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LogFiles', () => {
  it('rotates at maxBytes, keeps `files` files in all, lists them oldest first; the writer goes on at the new end', () => {
    const logs = new LogFiles(join(dir, 'a'), { maxBytes: 10, files: 3 });
    freshDir(logs.dir);
    expect(logs.files()).toEqual([]);
    const fd = logs.openForAppend();
    try {
      writeSync(fd, 'one\n');
      expect(logs.rotateIfNeeded()).toBe(false);
      expect(logs.files()).toEqual([logs.live]);
      for (const word of ['first-----\n', 'second----\n', 'third-----\n', 'fourth----\n']) {
        writeSync(fd, word);
        expect(logs.rotateIfNeeded()).toBe(true);
        expect(statSync(logs.live).size).toBe(0);
      }
      writeSync(fd, 'live\n');
    } finally {
      closeSync(fd);
    }
    expect(logs.files()).toEqual([`${logs.live}.2`, `${logs.live}.1`, logs.live]);
    expect(logs.files().map((f) => readFileSync(f, 'utf8'))).toEqual(['third-----\n', 'fourth----\n', 'live\n']);
  });

  it('with one file, only cuts the live one', () => {
    const logs = new LogFiles(join(dir, 'b'), { maxBytes: 4, files: 1 });
    freshDir(logs.dir);
    const fd = logs.openForAppend();
    writeSync(fd, 'abcdef');
    expect(logs.rotateIfNeeded()).toBe(true);
    writeSync(fd, 'g');
    closeSync(fd);
    expect(logs.files()).toEqual([logs.live]);
    expect(readFileSync(logs.live, 'utf8')).toBe('g');
  });
});

function freshDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
}
