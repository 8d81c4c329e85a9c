/**
 * @module
 * Starts a real Drover stack for a test suite: the Hono app on a loopback port, dynalite behind the AWS SDK.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../core/config.js';
import { startStack, type RunningStack, type StackOptions } from '../../core/embedded/local-server.js';
import { Client } from './client.js';

export interface TestStack {
  stack: RunningStack;
  /** Client with the admin key. */
  admin: Client;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts a stack with its own data directory (removed on close unless `keepData`).
 *
 * @example
 * let t: TestStack;
 * beforeAll(async () => { t = await startTestStack(); });
 * afterAll(() => t.close());
 */
export async function startTestStack(
  opts: { dataDir?: string; inMemory?: boolean; keepData?: boolean; env?: Record<string, string> } & Partial<StackOptions> = {},
): Promise<TestStack> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'drover-test-'));
  // API-layer suites run processes inline (no hosts) unless they ask for workflows with DROVER_RUNNER.
  const config = loadConfig({ PORT: '0', DROVER_DATA_DIR: dataDir, DROVER_RUNNER: 'inline', ...(opts.env ?? {}) });
  const stack = await startStack({
    config,
    inMemory: opts.inMemory ?? true,
    runs: opts.runs,
    logError: opts.logError,
    workflows: opts.workflows,
    agentPollWaitSeconds: opts.agentPollWaitSeconds,
    simWorkMs: opts.simWorkMs,
  });
  return {
    stack,
    dataDir,
    admin: new Client(stack.url, stack.admin.accessKey, stack.admin.secretKey),
    async close() {
      await stack.close();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates a project and an API key bound to it; returns a client using that key.
 *
 * @example
 * const { client, projectId } = await projectClient(t.admin, 'team-a');
 */
export async function projectClient(admin: Client, name: string): Promise<{ client: Client; projectId: string; keyId: string }> {
  const p = await admin.post('/v1/projects', { name });
  if (p.status !== 201) throw new Error(`project create failed: ${JSON.stringify(p.body)}`);
  const k = await admin.post('/v1/apikeys', { accountId: p.body.id, name: `${name}-key` });
  if (k.status !== 201) throw new Error(`apiKey create failed: ${JSON.stringify(k.body)}`);
  return { client: new Client(admin.baseUrl, k.body.publicValue, k.body.secretValue), projectId: p.body.id, keyId: k.body.id };
}
