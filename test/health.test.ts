/**
 * Health checks and restart policies on sim hosts, end to end over HTTP: the agent's health loop reports through
 * `/agent/health` and `/agent/exits`, `healthState` moves through its processes, and recovery acts by starting
 * ordinary actions, with backoff and a cap that ends a crash loop in `error` with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { until, waitFor } from './helpers/wait.js';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({
    env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '1', DROVER_RESTART_BACKOFF_MS: '20', DROVER_RESTART_BACKOFF_CAP_MS: '200', DROVER_RESTART_MAX_RETRIES: '2' },
    simWorkMs: 5,
  });
  await waitFor(t.admin, '/v1/hosts', (h) => h.data?.[0]?.agentState === 'online');
});
afterAll(() => t?.close());

const check = (strategy: string) => ({ port: 80, interval: 200, healthyThreshold: 1, unhealthyThreshold: 2, strategy });

/** Polls the container, collecting every healthState seen, until `done`. */
async function watch(id: string, done: (c: any) => boolean, seen: string[] = [], ms = 30_000): Promise<any> {
  return until(async () => {
    const c = (await t.admin.get(`/v1/containers/${id}`)).body;
    if (seen[seen.length - 1] !== c.healthState) seen.push(c.healthState);
    return done(c) && c;
  }, ms);
}

describe('health checks', () => {
  it('healthy → unhealthy → recreated (a restart) → healthy again', async () => {
    const c = await t.admin.post('/v1/containers', {
      imageUuid: 'sim:web',
      healthCheck: check('recreate'),
      labels: { 'sim.health': 'unhealthy-after:3' },
    });
    expect(c.status).toBe(201);
    const seen: string[] = [];
    await watch(c.body.id, (b) => b.healthState === 'healthy', seen);
    await watch(c.body.id, (b) => b.healthState === 'unhealthy', seen);
    const after = await watch(c.body.id, (b) => b.startCount === 2 && b.state === 'running' && b.healthState === 'healthy', seen);
    expect(after.transitioning).toBe('no');
    expect(seen).toEqual(expect.arrayContaining(['initializing', 'healthy', 'unhealthy']));
    // The first run went unhealthy, the recreated one is checked afresh and stays healthy: no further restarts.
    expect(seen.indexOf('unhealthy')).toBeGreaterThan(seen.indexOf('healthy'));
    expect(seen.lastIndexOf('healthy')).toBeGreaterThan(seen.indexOf('unhealthy'));
  });

  it('a container unhealthy on every run is recreated DROVER_RESTART_MAX_RETRIES times, then stopped and put in error', async () => {
    const c = await t.admin.post('/v1/containers', {
      imageUuid: 'sim:web',
      healthCheck: check('recreate'),
      labels: { 'sim.health': 'unhealthy-after:1:always' },
    });
    const errored = await watch(c.body.id, (b) => b.state === 'error');
    expect(errored.startCount).toBe(3);
    expect(errored.transitioningMessage).toMatch(/^Recreated 2 times in [\d.]+s; giving up \(healthCheck strategy recreate\)$/);
  });

  it('strategy none only shows unhealthy', async () => {
    const c = await t.admin.post('/v1/containers', {
      imageUuid: 'sim:web',
      healthCheck: check('none'),
      labels: { 'sim.health': 'unhealthy-after:1' },
    });
    await watch(c.body.id, (b) => b.healthState === 'unhealthy');
    // Several check intervals later it is still the first run, running and unhealthy.
    const before = Date.now();
    const later = await watch(c.body.id, (b) => Date.now() - before > 1000);
    expect([later.state, later.healthState, later.startCount]).toEqual(['running', 'unhealthy', 1]);
  });

  it('an unhealthy report while initializing is ignored (cattle), so a never-healthy container stays initializing', async () => {
    const c = await t.admin.post('/v1/containers', { imageUuid: 'sim:web', healthCheck: check('recreate'), labels: { 'sim.health': 'unhealthy' } });
    await watch(c.body.id, (b) => b.state === 'running');
    const before = Date.now();
    const later = await watch(c.body.id, (b) => Date.now() - before > 800);
    expect([later.state, later.healthState, later.startCount]).toEqual(['running', 'initializing', 1]);
  });
});

describe('the agent channel', () => {
  it('acts only on instances on the reporting agent\'s own host, and validates reports', async () => {
    const c = await t.admin.post('/v1/containers', { imageUuid: 'sim:web', labels: {} });
    await watch(c.body.id, (b) => b.state === 'running');
    const token = (await t.admin.post('/v1/registrationtokens', { name: 'other' })).body.token;
    const other = await fetch(`${t.stack.url}/agent/register`, {
      method: 'POST',
      body: JSON.stringify({ token, uuid: 'other-host', hostname: 'other' }),
    }).then((r) => r.json() as Promise<{ accessKey: string; secretKey: string }>);
    const post = (path: string, body: unknown) =>
      fetch(`${t.stack.url}/agent/${path}`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${other.accessKey}:${other.secretKey}`).toString('base64')}` },
        body: JSON.stringify(body),
      });
    const r = await post('exits', { data: [{ resourceId: c.body.id, exitCode: 1 }] });
    expect([r.status, await r.json()]).toEqual([200, { retry: [] }]);
    expect((await t.admin.get(`/v1/containers/${c.body.id}`)).body.state).toBe('running');
    expect((await post('health', { data: [{ resourceId: c.body.id }] })).status).toBe(422);
    expect((await post('health', { data: [{ resourceId: 'nope', healthy: true }] })).status).toBe(422);
    expect((await fetch(`${t.stack.url}/agent/health`, { method: 'POST', body: '{"data":[]}' })).status).toBe(401);
  });
});

describe('restart policies', () => {
  it('a crash loop ends in error with the reason, after at most maximumRetryCount + 1 starts', async () => {
    const c = await t.admin.post('/v1/containers', {
      imageUuid: 'sim:crash',
      restartPolicy: { name: 'always', maximumRetryCount: 3 },
      labels: { 'sim.exit': '0' },
    });
    const errored = await watch(c.body.id, (b) => b.state === 'error');
    expect(errored.startCount).toBe(4);
    expect(errored.transitioning).toBe('error');
    expect(errored.transitioningMessage).toMatch(/^Restarted 3 times in [\d.]+s; giving up \(restartPolicy always, maximumRetryCount 3\)$/);
    // And it stays there: no more starts.
    const before = Date.now();
    const later = await watch(c.body.id, (b) => Date.now() - before > 500);
    expect([later.state, later.startCount]).toEqual(['error', 4]);
  });

  it('on-failure restarts a non-zero exit and leaves a clean exit stopped; no policy leaves it stopped', async () => {
    const failing = await t.admin.post('/v1/containers', {
      imageUuid: 'sim:job',
      restartPolicy: { name: 'on-failure', maximumRetryCount: 1 },
      labels: { 'sim.exit': '0:2' },
    });
    const clean = await t.admin.post('/v1/containers', {
      imageUuid: 'sim:job',
      restartPolicy: { name: 'on-failure' },
      labels: { 'sim.exit': '0:0' },
    });
    const none = await t.admin.post('/v1/containers', { imageUuid: 'sim:job', labels: { 'sim.exit': '0' } });
    const f = await watch(failing.body.id, (b) => b.state === 'error');
    expect([f.startCount, f.transitioningMessage]).toEqual([2, expect.stringMatching(/^Restarted 1 time in .*on-failure, maximumRetryCount 1\)$/)]);
    for (const id of [clean.body.id, none.body.id]) {
      const s = await watch(id, (b) => b.state === 'stopped' && b.transitioning === 'no');
      expect(s.startCount).toBe(1);
    }
    // A stopped one starts again by hand, and exits again: still no automatic restart.
    await t.admin.post(`/v1/containers/${none.body.id}/?action=start`);
    const again = await watch(none.body.id, (b) => b.state === 'stopped' && b.startCount === 2);
    expect(again.transitioning).toBe('no');
  });
});
