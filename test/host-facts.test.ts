/**
 * What an agent's driver reports about its host drives the API: the host shows its driver, capabilities and sandbox;
 * an instance it starts offers only the host access it serves; the `hostAccess` URL points at the host's access
 * server with a token signed by that host's key (given to the agent at registration, and again with its facts
 * when it restarts with a saved credential). Real stack, real workflows, the agent program with the sim driver.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentLogger, type RunningAgent } from '../agent/agent.js';
import { SimDriver } from '../agent/sim-driver.js';
import { accessKindOf, verifyAccessToken } from '../core/agent/protocol.js';
import { expectError } from './helpers/errors.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { waitFor } from './helpers/wait.js';

const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };
const dir = mkdtempSync(join(tmpdir(), 'drover-host-facts-'));
let t: TestStack;
let token: string;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '0' }, simWorkMs: 10 });
  token = (await t.admin.post('/v1/registrationtokens', {})).body.token;
});
afterAll(async () => {
  for (const a of agents) await a.stop({ graceMs: 0 });
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function agent(host: Record<string, unknown>, stateFile?: string) {
  const a = await startAgent({ url: t.stack.url, token, driver: new SimDriver({ workMs: 10 }), host, stateFile, logger: quiet, pollWaitSeconds: 1 });
  agents.push(a);
  return a;
}

describe('host facts', () => {
  it('show on the host, limit the actions of its instances, and send host access to its access server', async () => {
    const stateFile = join(dir, 'state.json');
    const a = await agent(
      { uuid: 'facts-1', capabilities: ['logs', 'execute'], accessUrl: 'http://127.0.0.1:9345/', address: '127.0.0.1', driver: 'sim', sandbox: { user: 'none' } },
      stateFile,
    );
    const host = (await t.admin.get(`/v1/hosts/${a.hostId}`)).body;
    expect(host).toMatchObject({ driver: 'sim', capabilities: ['logs', 'execute'], accessUrl: 'http://127.0.0.1:9345', sandbox: { user: 'none' } });
    expect(a.hostAccessKey).toMatch(/^[\w-]{43}$/);
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).hostAccessKey).toBe(a.hostAccessKey);

    const c = (await t.admin.post('/v1/containers', { imageUuid: 'sim:web', requestedHostId: a.hostId })).body;
    const running = await waitFor(t.admin, `/v1/containers/${c.id}`, (b) => b.state === 'running', { timeoutMs: 10_000 });
    const actions = Object.keys(running.body.actions);
    expect(actions).toEqual(expect.arrayContaining(['logs', 'execute']));
    expect(actions).not.toContain('proxy');
    expect(actions).not.toContain('console');
    expectError(await t.admin.post(`/v1/containers/${c.id}/?action=proxy`, { port: 80 }), 422, 'ActionNotAvailable');

    const logs = await t.admin.post(`/v1/containers/${c.id}/?action=logs`, { lines: 5, follow: false });
    expect(logs.status).toBe(200);
    expect(logs.body.url).toBe('ws://127.0.0.1:9345/v1/logs/');
    const payload = verifyAccessToken(a.hostAccessKey!, logs.body.token)!;
    expect(payload).toMatchObject({ hostId: a.hostId, resourceId: c.id, logs: { Lines: 5, Follow: false } });
    expect(accessKindOf(payload)).toBe('logs');

    // Restarted with its saved credential and new facts: the host follows them, and the key is the same.
    await a.stop({ graceMs: 0 });
    const again = await agent({ capabilities: ['logs', 'execute', 'proxy', 'console'], accessUrl: 'https://node-1.example.com:9345' }, stateFile);
    expect(again.hostId).toBe(a.hostId);
    expect(again.hostAccessKey).toBe(a.hostAccessKey);
    const after = (await t.admin.get(`/v1/hosts/${a.hostId}`)).body;
    expect(after).toMatchObject({ capabilities: ['logs', 'execute', 'proxy', 'console'], accessUrl: 'https://node-1.example.com:9345', driver: null });
    // A running instance keeps what its host served when it started; a restart takes the new capabilities.
    await t.admin.post(`/v1/containers/${c.id}/?action=restart`, {});
    const restarted = await waitFor(t.admin, `/v1/containers/${c.id}`, (b) => b.state === 'running' && Object.keys(b.actions).includes('console'), { timeoutMs: 10_000 });
    expect(Object.keys(restarted.body.actions)).toEqual(expect.arrayContaining(['console', 'execute', 'logs', 'proxy']));
    const exec = await t.admin.post(`/v1/containers/${c.id}/?action=execute`, { command: ['ls'] });
    expect(exec.body.url).toBe('wss://node-1.example.com:9345/v1/exec/');
  });

  it('without facts of its own (the simulator) a host offers what cattle offered, at the API origin', async () => {
    const a = await agent({ uuid: 'facts-plain' });
    expect((await t.admin.get(`/v1/hosts/${a.hostId}`)).body).toMatchObject({ capabilities: null, accessUrl: null });
    const c = (await t.admin.post('/v1/containers', { imageUuid: 'sim:web', requestedHostId: a.hostId })).body;
    const running = await waitFor(t.admin, `/v1/containers/${c.id}`, (b) => b.state === 'running', { timeoutMs: 10_000 });
    expect(Object.keys(running.body.actions)).toEqual(expect.arrayContaining(['execute', 'logs', 'proxy']));
    const logs = await t.admin.post(`/v1/containers/${c.id}/?action=logs`, {});
    expect(logs.body.url).toBe(`${t.stack.url.replace(/^http/, 'ws')}/v1/logs/`);
  });

  it('refuses bad facts with a clear error', async () => {
    const post = (body: Record<string, unknown>) =>
      fetch(`${t.stack.url}/agent/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, uuid: 'bad', ...body }) });
    for (const [body, field] of [
      [{ capabilities: ['execute', 'root-shell'] }, 'capabilities'],
      [{ capabilities: 'logs' }, 'capabilities'],
      [{ accessUrl: 'ftp://host' }, 'accessUrl'],
      [{ accessUrl: 'http://host/path' }, 'accessUrl'],
      [{ sandbox: { user: 7 } }, 'sandbox'],
    ] as const) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(await r.json()).toMatchObject({ type: 'error', fieldName: field });
    }
  });
});
