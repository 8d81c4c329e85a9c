/**
 * The pure parts of webhooks out: full-jitter backoff bounds, the signature format, event filters, URL checks.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../store/events.js';
import type { Resource } from '../store/item.js';
import { backoffMs, matches, newWebhook, signature, webhookValues } from './webhooks.js';

const settings = { retryBaseMs: 2000, retryCapMs: 600_000 };

const resource = (o: Partial<Resource> & { fields?: Record<string, unknown> }): Resource =>
  ({ id: '1i1', num: 1, type: 'container', baseType: 'instance', projectId: '1a1', state: 'running', version: 1, created: 0, updated: 0, fields: {}, ...o }) as Resource;

const event = (res: Resource): StoredEvent => ({
  id: '1767225600000.0000',
  name: 'resource.change',
  resourceType: res.type,
  resourceId: res.id,
  projectId: res.projectId,
  previousState: null,
  actionId: null,
  version: 1,
  time: 0,
  resource: res,
});

const webhook = (eventFilter?: unknown, o: Partial<Resource> = {}) =>
  resource({ id: '1wh1', type: 'webhook', baseType: 'webhook', state: 'active', fields: { enabled: true, eventFilter }, ...o });

describe('backoffMs', () => {
  it('draws below base·2^(n-1), capped', () => {
    expect(backoffMs(1, settings, () => 0.999)).toBe(1998);
    expect(backoffMs(3, settings, () => 0.5)).toBe(4000);
    expect(backoffMs(30, settings, () => 0.999)).toBe(599_400);
    expect(backoffMs(1000, settings, () => 0.5)).toBe(300_000);
    expect(backoffMs(5, settings, () => 0)).toBe(0);
  });
});

describe('signature', () => {
  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const hex = createHmac('sha256', 'k').update('17.{}').digest('hex');
    expect(signature('k', 17, '{}')).toBe(`t=17,v1=${hex}`);
  });
});

describe('matches', () => {
  const web = resource({ fields: { labels: { tier: 'web', x: '1' } } });
  it('takes every event of its project without a filter, and none of another project', () => {
    expect(matches(webhook(), event(web))).toBe(true);
    expect(matches(webhook(undefined, { projectId: '1a2' }), event(web))).toBe(false);
  });
  it('needs every given part of the filter to match', () => {
    expect(matches(webhook({ resourceTypes: ['container'], states: ['running'], labels: { tier: 'web' } }), event(web))).toBe(true);
    expect(matches(webhook({ resourceTypes: ['virtualMachine'] }), event(web))).toBe(false);
    expect(matches(webhook({ states: ['stopped'] }), event(web))).toBe(false);
    expect(matches(webhook({ labels: { tier: 'db' } }), event(web))).toBe(false);
    expect(matches(webhook({ labels: { constructor: 'x' } }), event(web))).toBe(false);
  });
  it('takes nothing while disabled or removed', () => {
    expect(matches(webhook(undefined, { fields: { enabled: false } }), event(web))).toBe(false);
    expect(matches(webhook(undefined, { state: 'removed' }), event(web))).toBe(false);
  });
});

describe('webhook values', () => {
  it('takes http(s) URLs only, and clears the reason when enabled again', () => {
    expect(() => webhookValues({ url: 'file:///etc/passwd' })).toThrow();
    expect(() => webhookValues({ url: 'not a url' })).toThrow();
    expect(webhookValues({ url: 'https://example.com/h', enabled: true })).toEqual({ url: 'https://example.com/h', enabled: true, disabledReason: null });
  });
  it('keeps the secret to sign with, generating one when none is given', () => {
    const given = newWebhook({ url: 'http://h/x', secret: 'given-secret-1234' });
    expect(given).toEqual({ secret: 'given-secret-1234', fields: { url: 'http://h/x', enabled: true, signingSecret: 'given-secret-1234' } });
    expect(newWebhook({ url: 'http://h/x' }).secret).toMatch(/^[0-9a-f]{64}$/);
  });
});
