import { describe, expect, it } from 'vitest';
import { statesOf } from '../../process/lifecycle.js';
import type { Resource } from '../../store/item.js';
import { checkWakameOperations, WAKAME_OPERATIONS, WAKAME_STATES, wakameStateOf, wakameStatusOf } from './instances.js';

const vm = (state: string, fields: Record<string, unknown> = {}, action?: { name: string; input?: Record<string, unknown> }): Resource => ({
  id: '1i5', num: 5, type: 'virtualMachine', baseType: 'instance', projectId: '1a1', state, version: 1, created: 0, updated: 0, fields,
  action: action ? { id: 'a1', name: action.name, input: action.input ?? {}, caller: 'admin', at: 0, from: 'running' } : null,
});
const placed = { hostId: '1h1', allocationState: 'active' };

describe('the Wakame state of an instance', () => {
  it('has one for every state the process table can leave an instance in', () => {
    for (const state of statesOf('instance')) {
      expect(WAKAME_STATES, state).toContain(wakameStateOf(vm(state, placed, { name: 'stop' })));
    }
  });

  it('tells apart what one Rancher state hides: the action under way and whether the host is kept', () => {
    expect(wakameStateOf(vm('starting'))).toBe('scheduling');
    expect(wakameStateOf(vm('starting', placed))).toBe('initializing');
    expect(wakameStateOf(vm('starting', { ...placed, firstRunning: 1 }))).toBe('starting');
    expect(wakameStateOf(vm('stopping', placed, { name: 'stop' }))).toBe('halting');
    expect(wakameStateOf(vm('stopping', placed, { name: 'release' }))).toBe('stopping');
    expect(wakameStateOf(vm('stopping', placed, { name: 'stop', input: { remove: true } }))).toBe('shuttingdown');
    expect(wakameStateOf(vm('stopped', placed))).toBe('halted');
    expect(wakameStateOf(vm('stopped', { hostId: null, allocationState: 'inactive' }))).toBe('stopped');
    expect(wakameStateOf(vm('restarting', placed))).toBe('running');
    expect(wakameStateOf(vm('error'))).toBe('terminated');
  });

  it('reports status init before the first run, online only while up on a live host', () => {
    const now = 1_000_000;
    const host = { ...vm('active'), baseType: 'host' as const, fields: { agentSeenAt: now - 1000 } };
    const silent = { ...host, fields: { agentSeenAt: now - 120_000 } };
    expect(wakameStatusOf(vm('starting', placed), host, now)).toBe('init');
    expect(wakameStatusOf(vm('running', { ...placed, firstRunning: 1 }), host, now)).toBe('online');
    expect(wakameStatusOf(vm('running', { ...placed, firstRunning: 1 }), silent, now)).toBe('offline');
    expect(wakameStatusOf(vm('running', { ...placed, firstRunning: 1, healthState: 'unhealthy' }), host, now)).toBe('offline');
    expect(wakameStatusOf(vm('stopped', { ...placed, firstRunning: 1 }), host, now)).toBe('offline');
  });
});

describe('the Wakame operations table', () => {
  it('fits the process table', () => {
    expect(() => checkWakameOperations(WAKAME_OPERATIONS)).not.toThrow();
  });

  it('is refused on load when an operation names a process that does not exist or cannot start there', () => {
    expect(() => checkWakameOperations({ poweron: { from: ['halted'], process: 'strat' } })).toThrow(/unknown process strat/);
    expect(() => checkWakameOperations({ poweron: { from: ['halted'], process: 'restart' } })).toThrow(/cannot start from stopped/);
    // A state in which the operation is already under way is answered without a process: no start state needed.
    expect(() => checkWakameOperations({ poweroff: { from: ['running', 'halting'], process: 'stop', underWay: 'halting' } })).not.toThrow();
  });
});
