import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.close());

describe('container lifecycle without hosts', () => {
  it('creates, starts, stops and removes a container', async () => {
    const created = await t.admin.post('/v1/containers', { imageUuid: 'sim:web', name: 'web' });
    expect(created.status).toBe(201);
    expect(created.body.state).toBe('creating');
    const running = await t.admin.get(`/v1/containers/${created.body.id}`);
    expect(running.body.state).toBe('running');
    expect(running.body.startCount).toBe(1);
    const del = await t.admin.del(`/v1/containers/${created.body.id}`);
    expect(del.status).toBe(200);
    expect(del.body.state).toBe('stopping');
    const gone = await t.admin.get(`/v1/containers/${created.body.id}`);
    expect(gone.body.state).toBe('removed');
  });
});
