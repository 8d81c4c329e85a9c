/**
 * Automatic recovery survives a restart of the embedded stack: a container whose restartPolicy asks for a restart
 * exits, Drover records the attempt with its backoff and is stopped before the backoff ends; a new Drover over the
 * same on-disk store starts the container when it was due.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecoveryRecord } from '../core/domain/health.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { until, waitFor } from './helpers/wait.js';

const dataDir = mkdtempSync(join(tmpdir(), 'drover-recovery-'));
const open = new Set<TestStack>();
/** Long enough that the first Drover is certainly stopped before it ends. */
const BACKOFF_MS = 5000;

async function start(): Promise<TestStack> {
  const s = await startTestStack({
    dataDir,
    inMemory: false,
    keepData: true,
    simWorkMs: 5,
    env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '1', DROVER_RESTART_BACKOFF_MS: String(BACKOFF_MS), DROVER_RESTART_BACKOFF_CAP_MS: String(BACKOFF_MS) },
  });
  open.add(s);
  await waitFor(s.admin, '/v1/hosts', (h) => h.data?.[0]?.agentState === 'online');
  return s;
}

async function stop(s: TestStack): Promise<void> {
  await s.close();
  open.delete(s);
}

afterAll(async () => {
  for (const s of open) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a restart during a recovery backoff', () => {
  it('still restarts the instance, when it was due', async () => {
    const first = await start();
    const c = await first.admin.post('/v1/containers', {
      imageUuid: 'sim:crash',
      restartPolicy: { name: 'always', maximumRetryCount: 2 },
      labels: { 'sim.exit': '0' },
    });
    expect(c.status).toBe(201);
    const id = c.body.id as string;
    const recorded = await until(async () => {
      const res = await first.stack.store.get(id);
      const rec = res?.fields.recovery as RecoveryRecord | undefined;
      return res?.state === 'stopped' && rec?.nextAt ? rec : undefined;
    }, 15_000);
    expect(recorded).toMatchObject({ attempts: 1, action: 'start' });
    expect((await first.admin.get(`/v1/containers/${id}`)).body.startCount).toBe(1);
    await stop(first);
    // The first Drover is gone and its timer with it, before the backoff ended.
    expect(Date.now()).toBeLessThan(recorded.nextAt!);

    const second = await start();
    const { body } = await waitFor(second.admin, `/v1/containers/${id}`, (b) => b.startCount >= 2, { timeoutMs: 20_000 });
    expect(body.startCount).toBe(2);
    const after = (await second.stack.store.get(id))!;
    // Begun by the new Drover, no earlier than it was due.
    expect(after.updated).toBeGreaterThanOrEqual(recorded.nextAt!);
  }, 60_000);
});
