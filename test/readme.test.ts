/**
 * The README is the front door: every `curl` line of its code blocks is run as written, in order, by bash with
 * the real curl, against a fresh `npm start` (only `$AK`, `$SK`, `$API`, `$WAKAME` and `$WAKAME_1112` come from that
 * start, as the README's `export` lines ask the reader to set them). Each must answer 2xx with JSON; a JSON body given
 * with `-d` must come back in the resource it created; a `# -> "key": value` comment on the line is checked against
 * the answer. A GET whose promise is a state that work on a host brings ("Repeat until running") is run again until
 * it holds, for up to 15 s, as the reader would. A block that starts `# Runs as one script.` (its lines share
 * variables, and it starts a real agent with the process driver) is run whole by `bash -e` instead, and must print
 * what its `# prints:` comments promise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, startProcess, type StartedProcess } from './helpers/process.js';

/** The first line of a block that the README says runs as one script (its lines share variables). */
const SCRIPT_MARK = '# Runs as one script.';

/** The README's shell code blocks, in document order. */
function readmeBlocks(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  // Fence by fence, so that a block in another language (console, js) never pairs with the next one's fence.
  const blocks: string[] = [];
  let open: { shell: boolean; lines: string[] } | undefined;
  for (const line of readme.split('\n')) {
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence && !open) open = { shell: ['', 'bash', 'sh', 'shell'].includes(fence[1]), lines: [] };
    else if (fence && open) {
      if (open.shell) blocks.push(`${open.lines.join('\n')}\n`);
      open = undefined;
    } else open?.lines.push(line);
  }
  return blocks;
}

/** The `curl` commands of the README's code blocks, continuation lines joined, in document order. */
function readmeCurlLines(): string[] {
  const out: string[] = [];
  for (const block of readmeBlocks().filter((b) => !b.startsWith(SCRIPT_MARK))) {
    const joined = block.replace(/\\\n\s*/g, '');
    for (const line of joined.split('\n')) if (/^\s*curl\s/.test(line)) out.push(line.trim());
  }
  return out;
}

/** The JSON object a line sends with `-d '...'`, if any. */
function sentJson(line: string): Record<string, unknown> | undefined {
  const m = /\s-d\s+'([^']*)'/.exec(line);
  if (!m) return undefined;
  try {
    return JSON.parse(m[1]) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The expectation written in a `# -> "key": value` comment. */
function commentedExpectation(line: string): Record<string, unknown> | undefined {
  const m = /#\s*->\s*(.+)$/.exec(line);
  return m ? (JSON.parse(`{${m[1]}}`) as Record<string, unknown>) : undefined;
}

let drover: StartedProcess;
let env: Record<string, string>;
const dataDir = mkdtempSync(join(tmpdir(), 'drover-readme-'));

beforeAll(async () => {
  drover = await startProcess({ DROVER_DATA_DIR: dataDir });
  env = {
    ...(process.env as Record<string, string>),
    API: `${drover.url}/v1`,
    WAKAME: `${drover.url}/api/12.03`,
    WAKAME_1112: `${drover.url}/api/11.12`,
    AK: drover.accessKey,
    SK: drover.secretKey,
  };
}, 30_000);

afterAll(async () => {
  drover?.child.kill('SIGTERM');
  if (drover) await exited(drover.child);
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the README's curl lines, run as written", () => {
  const lines = readmeCurlLines();

  it('finds the walk-through', () => {
    expect(lines.length).toBeGreaterThanOrEqual(10);
  });

  it('every line answers 2xx with the JSON it promises', () => {
    for (const line of lines) {
      expect(line, 'a curl line must run as written, without <placeholders>').not.toMatch(/<[a-z ]+>/i);
      const promised = commentedExpectation(line);
      const polls = !/\s-X\s/.test(line) && promised && 'state' in promised ? 150 : 1;
      for (let i = 1; ; i++) {
        const { status, body } = runLine(line);
        const holds = promised ? isMatch(body, promised) : true;
        if (holds || i >= polls) {
          checkAnswer(line, status, body, promised);
          break;
        }
        spawnSync('sleep', ['0.1']);
      }
    }
  }, 120_000);
});

describe("the README's scripts, run as written", () => {
  const scripts = readmeBlocks().filter((b) => b.startsWith(SCRIPT_MARK));

  it('finds the real-workloads walk-through', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(1);
  });

  it('each runs to the end with bash -e and prints what its `# prints:` comments promise', () => {
    for (const script of scripts) {
      // The walk-through keeps its agent's data in /tmp/drover-node-1: start from none, and leave none.
      rmSync('/tmp/drover-node-1', { recursive: true, force: true });
      try {
        const run = spawnSync('bash', ['-e', '-c', script], { env, encoding: 'utf8', timeout: 120_000, cwd: new URL('..', import.meta.url).pathname });
        expect(run.status, `${script}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`).toBe(0);
        for (const [, promised] of script.matchAll(/#\s*prints:\s*(.+)$/gm)) expect(run.stdout, promised).toContain(promised.trim());
      } finally {
        rmSync('/tmp/drover-node-1', { recursive: true, force: true });
      }
    }
  }, 150_000);
});

/** Runs one line as written; the status is appended by a wrapper, so the line itself runs unchanged. */
function runLine(line: string): { status: number; body: any } {
  const run = spawnSync('bash', ['-c', `curl() { command curl -w '\\n%{http_code}' "$@"; }\n${line}`], {
    env,
    encoding: 'utf8',
    timeout: 15_000,
  });
  expect(run.status, `${line}\n${run.stderr}`).toBe(0);
  const i = run.stdout.lastIndexOf('\n');
  const status = Number(run.stdout.slice(i + 1));
  // With -i the headers come first.
  const answer = run.stdout.slice(0, i);
  let body: any;
  try {
    body = JSON.parse(/\s-i\s/.test(line) ? answer.slice(answer.indexOf('\r\n\r\n') + 4) : answer);
  } catch {
    throw new Error(`${line}\nanswered ${status} with something other than JSON: ${answer.slice(0, 300)}`);
  }
  return { status, body };
}

/** Whether every promised key has the promised value. */
function isMatch(body: any, promised: Record<string, unknown>): boolean {
  return Object.entries(promised).every(([k, v]) => JSON.stringify(body?.[k]) === JSON.stringify(v));
}

function checkAnswer(line: string, status: number, body: any, promised: Record<string, unknown> | undefined): void {
  expect(status, `${line}\n${JSON.stringify(body).slice(0, 600)}`).toBeGreaterThanOrEqual(200);
  expect(status, `${line}\n${JSON.stringify(body).slice(0, 600)}`).toBeLessThan(300);
  const sent = sentJson(line);
  if (sent && body.type !== 'collection') {
    // What was sent is what was stored: a body read as form fields would come back null or missing.
    for (const [k, v] of Object.entries(sent)) if (k in body) expect(body[k], `${line}: ${k}`).toEqual(v);
  }
  if (promised) expect(body, line).toMatchObject(promised);
}
