/**
 * What recovery decides from a resource alone, and its backoff.
 */
import { describe, expect, it } from 'vitest';
import type { Resource } from '../store/item.js';
import { backoffMs, needOf } from './health.js';

const inst = (state: string, fields: Record<string, unknown>): Resource =>
  ({ id: '1i5', baseType: 'instance', type: 'container', state, projectId: '1a1', version: 3, fields, action: null }) as unknown as Resource;
const o = { maxRetries: 5 };

describe('needOf', () => {
  it('recreates an unhealthy running instance by its strategy, once per unhealthy report', () => {
    const hc = { port: 80 };
    expect(needOf(inst('running', { healthCheck: hc, healthState: 'unhealthy', healthUpdated: 10 }), o)).toMatchObject({ kind: 'recreate', cap: 5 });
    expect(needOf(inst('running', { healthCheck: { ...hc, strategy: 'none' }, healthState: 'unhealthy', healthUpdated: 10 }), o)).toBeUndefined();
    const quorum = (q: number) => ({ ...hc, strategy: 'recreateOnQuorum', recreateOnQuorumStrategyConfig: { quorum: q } });
    expect(needOf(inst('running', { healthCheck: quorum(1), healthState: 'unhealthy', healthUpdated: 10 }), o)?.kind).toBe('recreate');
    expect(needOf(inst('running', { healthCheck: quorum(2), healthState: 'unhealthy', healthUpdated: 10 }), o)).toBeUndefined();
    // Already dealt with: the attempt was recorded after the report.
    expect(needOf(inst('running', { healthCheck: hc, healthState: 'unhealthy', healthUpdated: 10, recovery: { attempts: 1, firstAt: 11, lastAt: 11 } }), o)).toBeUndefined();
    expect(needOf(inst('running', { healthCheck: hc, healthState: 'healthy', healthUpdated: 10 }), o)).toBeUndefined();
  });

  it('restarts an exited instance by its restartPolicy', () => {
    const exited = (restartPolicy: unknown, code = 1) => inst('stopped', { restartPolicy, exit: { code, at: 10 } });
    expect(needOf(exited({ name: 'always', maximumRetryCount: 3 }), o)).toMatchObject({ kind: 'restart', cap: 3 });
    expect(needOf(exited({ name: 'always' }, 0), o)).toMatchObject({ kind: 'restart', cap: 5 });
    expect(needOf(exited({ name: 'on-failure' }, 2), o)?.kind).toBe('restart');
    expect(needOf(exited({ name: 'on-failure' }, 0), o)).toBeUndefined();
    expect(needOf(exited({ name: 'no' }), o)).toBeUndefined();
    expect(needOf(exited(null), o)).toBeUndefined();
  });

  it('takes a stopped instance that gave up to error, and leaves one under an action alone', () => {
    expect(needOf(inst('stopped', { recovery: { attempts: 6, firstAt: 1, lastAt: 2, gaveUp: 'why' } }), o)).toEqual({ kind: 'giveUp', why: 'why' });
    const busy = { ...inst('stopped', { restartPolicy: { name: 'always' }, exit: { code: 1, at: 10 } }), action: { id: 'a' } } as unknown as Resource;
    expect(needOf(busy, o)).toBeUndefined();
  });
});

describe('backoffMs', () => {
  it('doubles from the base up to the cap', () => {
    const b = { backoffMs: 1000, backoffCapMs: 5000 };
    expect([1, 2, 3, 4, 50].map((n) => backoffMs(n, b))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
});
