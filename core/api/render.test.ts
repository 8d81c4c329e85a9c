/**
 * Rendering a resource as Rancher does: keys after `id`, `type`, `links` and `actions` in sorted order, a date's
 * `TS` twin only when the date is set, and only the links the caller's role may follow. The render plan is worked
 * out once per type and role; these check that what it produces is what the schema says, resource by resource.
 */
import { describe, expect, it } from 'vitest';
import { schema } from '../schema/registry.js';
import type { Resource } from '../store/item.js';
import { renderResource } from './render.js';
import { UrlBuilder } from './urls.js';

const urls = new UrlBuilder('http://drover.test', '/v1');

const container = (fields: Record<string, unknown>, state = 'stopped'): Resource => ({
  id: '1i5', num: 5, type: 'container', baseType: 'instance', projectId: '1a1', state, version: 3,
  created: 1_767_225_600_000, updated: 1_767_225_600_000, fields: { uuid: 'u-1', imageUuid: 'sim:web', ...fields },
});

describe('renderResource', () => {
  it('renders every output field of the schema once, in sorted order after id, type, links and actions', () => {
    const out = renderResource(container({ firstRunning: 1_767_225_660_000, hostId: '1h1' }), urls);
    const keys = Object.keys(out);
    expect(keys.slice(0, 4)).toEqual(['id', 'type', 'links', 'actions']);
    expect(keys.slice(4)).toEqual([...keys.slice(4)].sort());
    const s = schema('container');
    for (const [name, def] of Object.entries(s.resourceFields)) {
      if (def.output === false) expect(out).not.toHaveProperty(name);
      else expect(out).toHaveProperty(name);
    }
    expect(out).toMatchObject({ baseType: 'instance', state: 'stopped', transitioning: 'no', hostId: '1h1', accountId: '1a1' });
  });

  it('gives a date its TS twin only when it is set', () => {
    const out = renderResource(container({ firstRunning: 1_767_225_660_000, removed: null }), urls);
    expect(out).toMatchObject({ firstRunning: '2026-01-01T00:01:00Z', firstRunningTS: 1_767_225_660_000, created: '2026-01-01T00:00:00Z' });
    expect(out.removed).toBeNull();
    expect(out).not.toHaveProperty('removedTS');
  });

  it('shows a reference link only when the field is set, and no link the role may not follow', () => {
    const placed = renderResource(container({ hostId: '1h1' }), urls) as { links: Record<string, string> };
    const unplaced = renderResource(container({}), urls) as { links: Record<string, string> };
    expect(placed.links.host).toBe('http://drover.test/v1/containers/1i5/host');
    expect(unplaced.links).not.toHaveProperty('host');
    const asProject = renderResource(container({ hostId: '1h1' }), urls, 'project') as { links: Record<string, string> };
    expect(Object.keys(asProject.links).length).toBeLessThanOrEqual(Object.keys(placed.links).length);
    expect(asProject.links.self).toBe(placed.links.self);
  });

  it('shows the actions the state offers', () => {
    expect(Object.keys(renderResource(container({}, 'stopped'), urls).actions as object)).toContain('start');
    expect(Object.keys(renderResource(container({}, 'running'), urls).actions as object)).not.toContain('start');
  });
});
