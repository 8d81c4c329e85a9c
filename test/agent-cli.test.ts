/**
 * `npm run agent` as an operator runs it: a separate process that registers its host with a registration token,
 * runs instances through the real agent protocol, stops cleanly on SIGTERM, and comes back as the same host from
 * its state file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { settle, waitFor } from './helpers/wait.js';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '0' } });
});
afterAll(() => t.close());

function agent(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', r)));

describe('npm run agent', () => {
  it('registers a host that runs instances, stops on SIGTERM and returns as the same host', async () => {
    const token = (await t.admin.post('/v1/registrationtokens', { name: 'cli' })).body.token;
    const stateFile = join(t.dataDir, 'cli-host.json');
    const args = ['--url', t.stack.url, '--token', token, '--state-file', stateFile, '--hostname', 'cli-host', '--vcpu', '4', '--memory-mb', '4096'];

    const first = agent(args);
    const hosts = await waitFor(t.admin, '/v1/hosts', (h) => h.data.some((x: any) => x.hostname === 'cli-host' && x.agentState === 'online'));
    const host = hosts.body.data.find((x: any) => x.hostname === 'cli-host');
    expect([host.vcpu, host.memoryMb]).toEqual([4, 4096]);

    const vm = await t.admin.post('/v1/virtualmachines', { imageUuid: 'sim:cli', vcpu: 2, memoryMb: 1024 });
    const running = await settle(t.admin, `/v1/virtualmachines/${vm.body.id}`);
    expect([running.body.state, running.body.hostId]).toEqual(['running', host.id]);

    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);

    // Same state file, no token: the same host, its key reused.
    const second = agent(['--url', t.stack.url, '--state-file', stateFile]);
    try {
      await waitFor(t.admin, `/v1/hosts/${host.id}`, (h) => h.agentState === 'online');
      const hostsNow = (await t.admin.get('/v1/hosts')).body.data.filter((x: any) => x.hostname === 'cli-host');
      expect(hostsNow.map((x: any) => x.id)).toEqual([host.id]);
      await t.admin.post(`/v1/virtualmachines/${vm.body.id}/?action=stop`);
      expect((await settle(t.admin, `/v1/virtualmachines/${vm.body.id}`)).body.state).toBe('stopped');
    } finally {
      second.child.kill('SIGINT');
      expect(await exited(second.child)).toBe(0);
    }
  });
});
