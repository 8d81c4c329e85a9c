import { describe, expect, it } from 'vitest';
import type { Resource } from '../store/item.js';
import { outcomeOf, REDACTED, redact } from './audit.js';

const res = (o: Partial<Resource>): Resource =>
  ({ id: '1i1', num: 1, type: 'container', baseType: 'instance', projectId: '1a1', state: 'running', version: 1, created: 0, updated: 0, fields: {}, ...o }) as Resource;

describe('redact', () => {
  it('replaces secret-looking keys at any depth and keeps the rest', () => {
    expect(redact({ secretValue: 's', a: [{ api_key: 'k', n: 1 }], env: { DB_PASSWORD: 'p', HOME: '/h' }, privateKey: 'x' })).toEqual({
      secretValue: REDACTED,
      a: [{ api_key: REDACTED, n: 1 }],
      env: { DB_PASSWORD: REDACTED, HOME: '/h' },
      privateKey: REDACTED,
    });
  });
});

describe('outcomeOf', () => {
  const stop = { name: 'stop', input: {} };
  it('a cleared action is a success, an error a failure, a silent host or a deadline a timeout', () => {
    expect(outcomeOf(res({ state: 'stopped' }), stop)).toBe('succeeded');
    expect(outcomeOf(res({ transitioningError: 'error', transitioningMessage: 'boom' }), stop)).toBe('failed');
    const silent = 'Host 1h1 stopped responding during compute.instance.deactivate (no heartbeat in time)';
    expect(outcomeOf(res({ transitioningError: 'error', transitioningMessage: silent }), stop)).toBe('timedOut');
    expect(outcomeOf(res({ transitioningError: 'error', transitioningMessage: "'stop' did not finish in time and was stopped" }), stop)).toBe('timedOut');
  });
  it('a new action is a success when the ended one chains into it, else it supersedes it', () => {
    const next = { id: 'b', name: 'remove', input: {}, caller: 'admin', at: 0, from: 'stopped' };
    expect(outcomeOf(res({ state: 'removing' }), { name: 'stop', input: { remove: true } }, next)).toBe('succeeded');
    expect(outcomeOf(res({ state: 'removing' }), stop, next)).toBe('superseded');
  });
});
