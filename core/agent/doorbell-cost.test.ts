/**
 * The idle-host cost model of the agent channel: the doorbell's defaults meet the target, plain 5-second polling
 * does not, and the figures are the ones `docs/architecture.md` shows.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DOORBELL, IDLE_HOST_TARGET_USD, idleHostCost, idleHostRequests } from './doorbell-cost.js';

describe('idle host cost', () => {
  it('counts what an idle host sends with the doorbell, and meets the target', () => {
    expect(idleHostRequests(DEFAULT_DOORBELL)).toEqual({
      wsConnectionMinutes: 43_200,
      wsMessages: 8_640,
      doorbellInvocations: 9_360,
      polls: 3_600,
      livenessStamps: 12_600,
      reconnects: 360,
    });
    const cost = idleHostCost(DEFAULT_DOORBELL);
    expect(cost.total).toBeLessThanOrEqual(IDLE_HOST_TARGET_USD);
    expect(cost.total).toBeCloseTo(0.0813, 4);
  });

  it('prices 5-second polling at dollars a month', () => {
    const polling = idleHostCost({ kind: 'polling', pollSeconds: 5 });
    expect(idleHostRequests({ kind: 'polling', pollSeconds: 5 }).polls).toBe(518_400);
    expect(polling.total).toBeGreaterThan(2);
    expect(polling.total).toBeLessThan(4);
  });
});
