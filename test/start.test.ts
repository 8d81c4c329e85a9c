/**
 * `npm start` as a newcomer runs it: a child process that prints the URL and admin key, serves the README's
 * walk-through, shuts down cleanly on SIGTERM/SIGINT, and finds its data again on the next start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from './helpers/client.js';
import { exited, startProcess, type StartedProcess } from './helpers/process.js';
import { settle, waitFor } from './helpers/wait.js';

const dataDir = mkdtempSync(join(tmpdir(), 'drover-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const start = (env: Record<string, string> = {}) => startProcess({ DROVER_DATA_DIR: dataDir, ...env });

describe('npm start', () => {
  let vmId = '';
  let first: StartedProcess;

  it('prints the API URL and a generated admin key, and serves the README walk-through', async () => {
    first = await start();
    expect(first.output()).toContain('generated; saved in');
    const api = new Client(first.url, first.accessKey, first.secretKey);

    // The default start has simulated hosts, and actions run as workflows on them.
    const hosts = await waitFor(api, '/v1/hosts', (h) => h.data?.length === 2 && h.data.every((x: any) => x.agentState === 'online'));
    expect(hosts.body.data.map((h: { hostname: string }) => h.hostname).sort()).toEqual(['sim-1', 'sim-2']);

    const vm = await api.post('/v1/virtualmachines', { name: 'vm1', imageUuid: 'sim:ubuntu', vcpu: 2, memoryMb: 1024 });
    expect(vm.status).toBe(201);
    vmId = vm.body.id;
    const started = await settle(api, `/v1/virtualmachines/${vmId}`);
    expect([started.body.state, started.body.hostId]).toEqual(['running', expect.stringMatching(/^1h\d+$/)]);
    const listed = await api.get('/v1/virtualmachines?name=vm1&state=running');
    expect(listed.body.data.map((v: { id: string }) => v.id)).toEqual([vmId]);
    const stop = await api.post(`/v1/virtualmachines/${vmId}/?action=stop`, { timeout: 10 });
    expect([stop.status, stop.body.state]).toEqual([202, 'stopping']);
    expect((await settle(api, `/v1/virtualmachines/${vmId}`)).body.state).toBe('stopped');
  });

  it('shuts down cleanly on SIGTERM', async () => {
    first.child.kill('SIGTERM');
    expect(await exited(first.child), first.output()).toBe(0);
    expect(first.output()).toContain('Stopped; data saved.');
  });

  it('keeps data and the admin key across a restart, and stops on SIGINT', async () => {
    const second = await start();
    try {
      expect(second.accessKey).toBe(first.accessKey);
      expect(second.output()).not.toContain('generated;');
      const api = new Client(second.url, second.accessKey, second.secretKey);
      const vm = await api.get(`/v1/virtualmachines/${vmId}`);
      expect([vm.status, vm.body.state, vm.body.vcpu]).toEqual([200, 'stopped', 2]);
      const del = await api.del(`/v1/virtualmachines/${vmId}`);
      expect([del.status, del.body.state]).toEqual([200, 'removing']);
      expect((await settle(api, `/v1/virtualmachines/${vmId}`)).body.state).toBe('removed');
    } finally {
      second.child.kill('SIGINT');
      expect(await exited(second.child), second.output()).toBe(0);
    }
  });

  it('uses DROVER_ADMIN_ACCESS_KEY / DROVER_ADMIN_SECRET_KEY when set', async () => {
    const third = await start({ DROVER_ADMIN_ACCESS_KEY: 'MYADMINKEY', DROVER_ADMIN_SECRET_KEY: 'my-admin-secret' });
    try {
      expect(third.accessKey).toBe('MYADMINKEY');
      const ok = await new Client(third.url, 'MYADMINKEY', 'my-admin-secret').get('/v1/virtualmachines');
      expect(ok.status).toBe(200);
      const old = await new Client(third.url, first.accessKey, first.secretKey).get('/v1/virtualmachines');
      expect(old.status).toBe(401);
    } finally {
      third.child.kill('SIGTERM');
      await exited(third.child);
    }
  });
});
