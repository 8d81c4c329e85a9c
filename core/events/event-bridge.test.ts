/**
 * The EventBridge publisher. EventBridge has no local engine, so its client is a stub here that records what it is
 * sent (the only mocked AWS client of this suite); the real request objects are built.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../store/events.js';
import { EventBridgePublisher } from './event-bridge.js';

const event = (n: number, extra: Record<string, unknown> = {}): StoredEvent => ({
  id: `1764620000${String(n).padStart(3, '0')}.0000`, name: 'resource.change', resourceType: 'container', resourceId: `1i${n}`,
  projectId: '1a1', previousState: null, actionId: null, version: n, time: 1764620000000 + n,
  resource: { id: `1i${n}`, num: n, type: 'container', baseType: 'instance', projectId: '1a1', state: 'running', version: n, created: 0, updated: 0, fields: extra },
});

describe('EventBridgePublisher', () => {
  it('puts events on the bus in feed order, ten per request, with the rendered event as detail', async () => {
    const sent: PutEventsCommand[] = [];
    const bus = new EventBridgePublisher({
      client: { send: async (c: unknown) => (sent.push(c as PutEventsCommand), { FailedEntryCount: 0 }) } as never,
      busName: 'drover-test',
      render: (e) => ({ id: e.id, resourceId: e.resourceId, data: { resource: e.resource.fields } }),
    });
    for (let i = 1; i <= 23; i++) bus.add(event(i));
    await bus.settled();
    const entries = sent.flatMap((c) => c.input.Entries ?? []);
    expect(entries.map((e) => JSON.parse(e.Detail!).resourceId)).toEqual(Array.from({ length: 23 }, (_, i) => `1i${i + 1}`));
    expect(sent.every((c) => (c.input.Entries ?? []).length <= 10)).toBe(true);
    expect(entries[0]).toMatchObject({ EventBusName: 'drover-test', Source: 'drover', DetailType: 'resource.change' });
  });

  it('leaves out a resource too big for an entry, and fails settled() when the bus refuses events', async () => {
    const sent: PutEventsCommand[] = [];
    let refuse = false;
    const bus = new EventBridgePublisher({
      client: { send: async (c: unknown) => (sent.push(c as PutEventsCommand), { FailedEntryCount: refuse ? 1 : 0 }) } as never,
      busName: 'b',
      render: (e) => ({ id: e.id, data: { resource: e.resource.fields } }),
    });
    bus.add(event(1, { big: 'x'.repeat(300 * 1024) }));
    await bus.settled();
    expect(JSON.parse(sent[0].input.Entries![0].Detail!)).toEqual({ id: event(1).id, data: null, truncated: true });
    refuse = true;
    bus.add(event(2));
    await expect(bus.settled()).rejects.toThrow(/refused 1 of 1/);
    await expect(bus.settled()).resolves.toBeUndefined();
  });
});
