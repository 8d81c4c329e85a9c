/**
 * The agent's health loop: thresholds counted over consecutive results, transitions only, a new run checked afresh,
 * reports the server asks for again resent, exits passed on.
 */
import { describe, expect, it } from 'vitest';
import type { ExitReport, HealthReport } from '../core/agent/protocol.js';
import type { Driver, HealthResult, MonitoredInstance } from './driver.js';
import { HealthMonitor } from './health.js';

function fixture(opts: { retry?: string[] } = {}) {
  let clock = 0;
  const results: boolean[] = [];
  const inst: MonitoredInstance = { resourceId: '1i5', run: 1, healthCheck: { port: 80, interval: 100, healthyThreshold: 2, unhealthyThreshold: 3 } };
  const exits: ExitReport[] = [];
  const driver: Driver = {
    activate: async () => ({}),
    deactivate: async () => ({}),
    remove: async () => ({}),
    running: () => [inst],
    check: async (): Promise<HealthResult> => ({ healthy: results.shift() ?? true }),
    exits: () => exits.splice(0),
  };
  const sent: HealthReport[][] = [];
  const sentExits: ExitReport[][] = [];
  let retry = opts.retry ?? [];
  const monitor = new HealthMonitor({
    driver,
    now: () => clock,
    sink: {
      health: async (r) => {
        sent.push(r);
        const out = { retry };
        retry = [];
        return out;
      },
      exits: async (r) => {
        sentExits.push(r);
        return { retry: [] };
      },
    },
  });
  /** Runs `n` checks, one per interval, with these results. */
  const checks = async (...r: boolean[]) => {
    for (const ok of r) {
      results.push(ok);
      await monitor.tick();
      clock += 100;
    }
  };
  return { monitor, inst, exits, sent, sentExits, checks };
}

describe('HealthMonitor', () => {
  it('reports healthy after healthyThreshold passes and unhealthy after unhealthyThreshold failures, transitions only', async () => {
    const f = fixture();
    await f.checks(true);
    expect(f.sent).toEqual([]);
    await f.checks(true, true, true);
    expect(f.sent).toEqual([[{ resourceId: '1i5', healthy: true }]]);
    await f.checks(false, false, true, false, false); // broken streaks: nothing
    expect(f.sent).toHaveLength(1);
    await f.checks(false);
    expect(f.sent[1]).toEqual([{ resourceId: '1i5', healthy: false }]);
    await f.checks(false, false);
    expect(f.sent).toHaveLength(2);
  });

  it('checks no more often than the interval', async () => {
    const f = fixture();
    let calls = 0;
    const check = f.monitor['opts'].driver.check!;
    f.monitor['opts'].driver.check = async (i, s) => (calls++, check(i, s));
    await f.monitor.tick();
    await f.monitor.tick();
    expect(calls).toBe(1);
  });

  it('checks a new run afresh', async () => {
    const f = fixture();
    await f.checks(true, true);
    expect(f.sent).toHaveLength(1);
    f.inst.run = 2;
    await f.checks(true, true);
    expect(f.sent).toHaveLength(2);
  });

  it('sends again what the server answers retry for, and passes exits on', async () => {
    const f = fixture({ retry: ['1i5'] });
    await f.checks(true, true);
    expect(f.sent).toHaveLength(1);
    await f.checks(true);
    expect(f.sent).toHaveLength(2);
    expect(f.sent[1]).toEqual(f.sent[0]);
    await f.checks(true);
    expect(f.sent).toHaveLength(2);
    f.exits.push({ resourceId: '1i5', exitCode: 3 });
    await f.monitor.tick();
    expect(f.sentExits).toEqual([[{ resourceId: '1i5', exitCode: 3 }]]);
  });

  it('keeps transitions in order while the server asks to wait: healthy is not lost behind unhealthy', async () => {
    const f = fixture();
    let wait = true;
    f.monitor['opts'].sink.health = async (r) => {
      f.sent.push(r);
      return { retry: wait ? ['1i5'] : [] };
    };
    await f.checks(true, true, false, false, false);
    wait = false;
    await f.checks(false);
    expect(f.sent.at(-1)).toEqual([
      { resourceId: '1i5', healthy: true },
      { resourceId: '1i5', healthy: false },
    ]);
    await f.checks(false);
    expect(f.sent.at(-1)).toEqual([
      { resourceId: '1i5', healthy: true },
      { resourceId: '1i5', healthy: false },
    ]);
  });
});
