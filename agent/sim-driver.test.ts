/**
 * The `sim` driver: simulated instances and the label-driven fault injection the end-to-end tests rely on.
 */
import { describe, expect, it } from 'vitest';
import type { AgentCommand } from '../core/agent/protocol.js';
import { AbandonCommandError, runWithDriver } from './driver.js';
import { SimDriver } from './sim-driver.js';
import { agentCommand } from './test-command.js';

function cmd(name: AgentCommand['name'], action: string, labels: Record<string, string> = {}, uuid = 'u-1'): AgentCommand {
  return agentCommand({ name, action, data: { id: '1i5', uuid, labels } });
}

const reports: [string, number | null | undefined][] = [];
const report = async (m: string, p?: number | null) => {
  reports.push([m, p]);
};
const ctx = { signal: new AbortController().signal };

describe('SimDriver', () => {
  it('activate → running with a 64-hex externalId and a 10.42.x.y address; deactivate → stopped; remove → gone', async () => {
    const d = new SimDriver({ workMs: 0 });
    const out = await runWithDriver(d, cmd('compute.instance.activate', 'start'), report, ctx);
    expect(out.fields?.externalId).toMatch(/^[0-9a-f]{64}$/);
    expect(out.fields?.primaryIpAddress).toMatch(/^10\.42\.\d{1,3}\.\d{1,3}$/);
    expect(d.instance('1i5')).toMatchObject({ state: 'running', externalId: out.fields?.externalId });
    expect(reports.length).toBeGreaterThan(0);

    await runWithDriver(d, cmd('compute.instance.deactivate', 'stop'), report, ctx);
    expect(d.instance('u-1')?.state).toBe('stopped');
    // Starting again keeps the instance's identity.
    const again = await runWithDriver(d, cmd('compute.instance.activate', 'start'), report, ctx);
    expect(again.fields?.externalId).toBe(out.fields?.externalId);

    await runWithDriver(d, cmd('compute.instance.remove', 'purge'), report, ctx);
    expect(d.instance('1i5')).toBeUndefined();
  });

  it('sim.fail=<process> fails exactly the command serving that process', async () => {
    const d = new SimDriver({ workMs: 0 });
    const labels = { 'sim.fail': 'stop' };
    await expect(runWithDriver(d, cmd('compute.instance.deactivate', 'stop', labels), report, ctx)).rejects.toThrow(
      /^Failing \[stop\]$/,
    );
    // The same command for another process (restart's deactivate) is not named by the label.
    await expect(runWithDriver(d, cmd('compute.instance.deactivate', 'restart', labels), report, ctx)).resolves.toEqual({});
    const started = await runWithDriver(d, cmd('compute.instance.activate', 'start', labels), report, ctx);
    expect(started.fields?.externalId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sim.fail=<command name> fails that command whatever the process', async () => {
    const d = new SimDriver({ workMs: 0 });
    const labels = { 'sim.fail': 'compute.instance.activate' };
    for (const action of ['start', 'restart', 'migrate']) {
      await expect(runWithDriver(d, cmd('compute.instance.activate', action, labels), report, ctx)).rejects.toThrow(
        'Failing [compute.instance.activate]',
      );
    }
    await expect(runWithDriver(d, cmd('compute.instance.remove', 'purge', labels), report, ctx)).resolves.toEqual({});
    expect(d.instances.size).toBe(0);
  });

  it('sim.hang=<action> abandons the command; several actions may be listed', async () => {
    const d = new SimDriver({ workMs: 0 });
    const labels = { 'sim.hang': 'migrate, purge' };
    await expect(runWithDriver(d, cmd('compute.instance.activate', 'migrate', labels), report, ctx)).rejects.toBeInstanceOf(
      AbandonCommandError,
    );
    await expect(runWithDriver(d, cmd('compute.instance.remove', 'purge', labels), report, ctx)).rejects.toBeInstanceOf(
      AbandonCommandError,
    );
    await expect(runWithDriver(d, cmd('compute.instance.activate', 'start', labels), report, ctx)).resolves.toHaveProperty('fields');
  });

  it('work stops when the command is aborted', async () => {
    const d = new SimDriver({ workMs: 10_000 });
    const ac = new AbortController();
    const run = runWithDriver(d, cmd('compute.instance.activate', 'start'), report, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('gone')), 10);
    await expect(run).rejects.toThrow('gone');
    expect(d.instances.size).toBe(0);
  });
});

describe('SimDriver health and exits', () => {
  const start = (d: SimDriver, labels: Record<string, string>) =>
    runWithDriver(d, { ...cmd('compute.instance.activate', 'start', labels), data: { id: '1i5', uuid: 'u-1', labels, healthCheck: { port: 80 } } }, report, ctx);
  const monitored = (d: SimDriver) => d.running()[0];

  it('lists running instances with their run and health check', async () => {
    const d = new SimDriver({ workMs: 0 });
    await start(d, {});
    expect(d.running()).toEqual([{ resourceId: '1i5', run: 1, healthCheck: { port: 80 } }]);
    await start(d, {});
    expect(monitored(d).run).toBe(2);
    expect(await d.check(monitored(d))).toEqual({ healthy: true });
  });

  it('sim.health=unhealthy-after:<n> fails after n checks of the first run; :always on every run; unhealthy always', async () => {
    const d = new SimDriver({ workMs: 0 });
    await start(d, { 'sim.health': 'unhealthy-after:1' });
    expect((await d.check(monitored(d))).healthy).toBe(true);
    expect((await d.check(monitored(d))).healthy).toBe(false);
    await start(d, { 'sim.health': 'unhealthy-after:1' });
    expect([(await d.check(monitored(d))).healthy, (await d.check(monitored(d))).healthy]).toEqual([true, true]);
    await start(d, { 'sim.health': 'unhealthy-after:0:always' });
    expect((await d.check(monitored(d))).healthy).toBe(false);
    await start(d, { 'sim.health': 'unhealthy' });
    expect(await d.check(monitored(d))).toEqual({ healthy: false, message: 'sim.health=unhealthy (port 80)' });
  });

  it('sim.exit=<s>[:<code>] stops a run on its own, reported once', async () => {
    const d = new SimDriver({ workMs: 0 });
    await start(d, { 'sim.exit': '0:3' });
    expect(d.exits()).toEqual([{ resourceId: '1i5', exitCode: 3, message: 'sim.exit=0:3' }]);
    expect(d.exits()).toEqual([]);
    expect(d.running()).toEqual([]);
    await start(d, { 'sim.exit': '60' });
    expect(d.exits()).toEqual([]);
  });
});
