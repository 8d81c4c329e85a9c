/**
 * The `actions` map of a resource in each state must be exactly the set of spec §3.3 (instances) and §3.6
 * (instance links): this drives what every Rancher client believes it can do.
 */
import { describe, expect, it } from 'vitest';
import { schema } from '../schema/registry.js';
import type { Resource } from '../store/item.js';
import { availableActions, isAvailable } from './actions.js';
import { PROCESSES, statesOf } from './lifecycle.js';

function resource(type: string, state: string, fields: Record<string, unknown> = {}): Resource {
  const baseType = type === 'instanceLink' ? 'instanceLink' : type === 'project' ? 'account' : type === 'apiKey' ? 'credential' : 'instance';
  return {
    id: baseType === 'instanceLink' ? '1il1' : '1i1',
    num: 1,
    type,
    baseType,
    projectId: '1a1',
    state,
    version: 0,
    created: 0,
    updated: 0,
    fields: { allocationState: 'inactive', healthState: null, ...fields },
  };
}

const sorted = (a: Iterable<string>) => [...a].sort();

/** Spec §3.3, verbatim. */
const INSTANCE_TABLE: Record<string, string[]> = {
  requested: ['create', 'remove', 'setlabels'],
  creating: ['start', 'stop', 'remove', 'error', 'setlabels'],
  starting: ['stop', 'setlabels'],
  running: ['stop', 'restart', 'migrate', 'update', 'execute', 'logs', 'proxy', 'setlabels'],
  stopping: ['logs', 'setlabels'],
  stopped: ['start', 'remove', 'update', 'error', 'logs', 'setlabels'],
  restarting: ['setlabels'],
  migrating: ['setlabels'],
  'updating-running': ['stop', 'remove', 'setlabels'],
  'updating-stopped': ['stop', 'remove', 'setlabels'],
  removing: ['setlabels'],
  removed: ['purge', 'restore', 'setlabels'],
  purging: ['setlabels'],
  purged: ['setlabels'],
  restoring: ['setlabels'],
  erroring: ['remove', 'setlabels'],
  error: ['remove', 'setlabels'],
};

/** Spec §3.6: for each link state, the actions whose from-states contain it. */
const LINK_TABLE: Record<string, string[]> = {
  requested: ['create', 'remove'],
  registering: ['activate', 'deactivate', 'remove'],
  inactive: ['activate', 'remove', 'update'],
  activating: ['deactivate'],
  active: ['deactivate', 'update'],
  'updating-active': ['deactivate', 'remove'],
  'updating-inactive': ['deactivate', 'remove'],
  deactivating: [],
  removing: [],
  removed: ['purge', 'restore'],
  purging: [],
  purged: [],
  restoring: [],
};

describe('instance actions per state (spec §3.3)', () => {
  it('the table covers every state of the instance state enum', () => {
    expect(sorted(Object.keys(INSTANCE_TABLE))).toEqual(statesOf('instance'));
    expect(schema('container').resourceFields.state.options).toEqual(statesOf('instance'));
  });

  for (const [state, want] of Object.entries(INSTANCE_TABLE)) {
    it(`container in ${state}: ${want.join(', ')}`, () => {
      expect(sorted(availableActions(resource('container', state), schema('container')))).toEqual(sorted(want));
    });

    it(`virtualMachine in ${state}: ${want.join(', ')}${state === 'running' ? ', console' : ''}`, () => {
      const vm = resource('virtualMachine', state, { capabilities: ['execute', 'logs', 'proxy', 'console'] });
      const expected = state === 'running' ? [...want, 'console'] : want;
      expect(sorted(availableActions(vm, schema('virtualMachine')))).toEqual(sorted(expected));
    });
  }

  it('returns the actions in the schema (alphabetical) order', () => {
    const got = availableActions(resource('container', 'running'), schema('container'));
    expect(got).toEqual(['execute', 'logs', 'migrate', 'proxy', 'restart', 'setlabels', 'stop', 'update']);
  });

  it("offers only the host access the instance's host serves (its capabilities); without any recorded, cattle's", () => {
    const running = (capabilities?: string[]) => availableActions(resource('container', 'running', capabilities ? { capabilities } : {}), schema('container'));
    expect(running()).toEqual(expect.arrayContaining(['execute', 'logs', 'proxy']));
    expect(running()).not.toContain('console');
    expect(running(['logs'])).toEqual(['logs', 'migrate', 'restart', 'setlabels', 'stop', 'update']);
    expect(running([])).toEqual(['migrate', 'restart', 'setlabels', 'stop', 'update']);
    expect(running(['execute', 'logs', 'proxy', 'console'])).toEqual(['console', 'execute', 'logs', 'migrate', 'proxy', 'restart', 'setlabels', 'stop', 'update']);
  });

  it('console needs the console capability, not just a running VM', () => {
    expect(availableActions(resource('virtualMachine', 'running'), schema('virtualMachine'))).not.toContain('console');
    expect(availableActions(resource('virtualMachine', 'running', { capabilities: [] }), schema('virtualMachine'))).not.toContain('console');
    expect(availableActions(resource('container', 'running', { capabilities: ['console'] }), schema('container'))).toContain('console');
  });

  it('allocationState / healthState processes never show, whatever those fields hold', () => {
    for (const state of Object.keys(INSTANCE_TABLE)) {
      const res = resource('container', state, { allocationState: 'inactive', healthState: 'healthy' });
      const got = availableActions(res, schema('container'));
      for (const hidden of ['allocate', 'deallocate', 'updatehealthy', 'updateunhealthy', 'updatereinitializing']) {
        expect(got).not.toContain(hidden);
        expect(isAvailable(res, hidden)).toBe(false);
      }
    }
  });

  it('the base instance schema offers the same process actions as a container', () => {
    for (const [state, want] of Object.entries(INSTANCE_TABLE)) {
      const got = availableActions(resource('container', state), schema('instance'));
      const processes = want.filter((a) => a in PROCESSES.instance);
      expect(sorted(got.filter((a) => a in PROCESSES.instance))).toEqual(sorted(processes));
    }
  });

  it('unknown action names are never available', () => {
    expect(isAvailable(resource('container', 'running'), 'bogus')).toBe(false);
    expect(isAvailable(resource('container', 'running'), 'activate')).toBe(false);
  });
});

describe('instanceLink actions per state (spec §3.6)', () => {
  it('the table covers every state of the link state enum', () => {
    expect(sorted(Object.keys(LINK_TABLE))).toEqual(statesOf('instanceLink'));
  });

  for (const [state, want] of Object.entries(LINK_TABLE)) {
    it(`instanceLink in ${state}: ${want.join(', ') || '(none)'}`, () => {
      expect(sorted(availableActions(resource('instanceLink', state), schema('instanceLink')))).toEqual(sorted(want));
    });
  }

  it('handler actions of instances never appear on links', () => {
    for (const a of ['execute', 'logs', 'proxy', 'console', 'setlabels']) {
      expect(isAvailable(resource('instanceLink', 'active'), a)).toBe(false);
    }
  });
});

describe('projects and API keys (activated on create, removable when active)', () => {
  it('active: deactivate, remove, update', () => {
    expect(sorted(availableActions(resource('project', 'active'), schema('project')))).toEqual(['deactivate', 'remove', 'update']);
    expect(sorted(availableActions(resource('apiKey', 'active'), schema('apiKey')))).toEqual(['deactivate', 'remove', 'update']);
  });
  it('inactive: activate, remove, update', () => {
    expect(sorted(availableActions(resource('apiKey', 'inactive'), schema('apiKey')))).toEqual(['activate', 'remove', 'update']);
  });
});
