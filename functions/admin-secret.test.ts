/**
 * The admin key in AWS: the API function configured as the stack configures it (`DROVER_ADMIN_SECRET_ARN`, no
 * `DROVER_ADMIN_*` keys), against a DynamoDB-compatible endpoint, with Secrets Manager played by a local HTTP server
 * that speaks its JSON protocol (`POST`, `X-Amz-Target: secretsmanager.GetSecretValue`; Secrets Manager has no local
 * engine), reached by the real SDK client through the SDK's own endpoint override (`AWS_ENDPOINT_URL_SECRETS_MANAGER`).
 * A Lambda container is a fresh load of the function's modules. Checks the key is read once per container start,
 * and a rotation: a new container installs the new key, and warm ones follow it on its first use or once their
 * read is old, the old key refused from then on.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EmbeddedDynamo } from '../core/embedded/dynalite.js';
import { lambdaApi, stageTable, type ApiHandler, stageEnv } from '../test/helpers/lambda.js';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AdminKey-abc-Qx1a2b';
let db: EmbeddedDynamo;
let secretsManager: Server;
/** What the secret holds now (rotations change it); `undefined` answers that reading it is denied. */
let secretString: string | undefined;
let reads = 0;

const keyOf = (secretKey: string) => JSON.stringify({ accessKey: 'admin', secretKey });
const basic = (access: string, secret: string) => `Basic ${Buffer.from(`${access}:${secret}`).toString('base64')}`;

/** A new Lambda container of the API function, started with the environment now plus `env`. */
async function container(env: Record<string, string> = {}): Promise<ApiHandler> {
  vi.resetModules();
  Object.assign(process.env, env);
  try {
    const { handler } = await import('./api.js');
    // The start (the secret's read, the bootstrap) begins at load: wait for it (the same fresh module as the handler's).
    await (await import('./stage.js')).stageDrover();
    return handler;
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
  }
}

/** Refusals re-read the secret no sooner than an hour after a read (however slow this machine is). */
const noRecheck = { DROVER_ADMIN_SECRET_RECHECK_SECONDS: '3600' };

/** The status of `GET /v1/projects` on a container with the admin's key `secretKey`. */
const status = async (handler: ApiHandler, secretKey: string) => (await lambdaApi(basic('admin', secretKey), handler)('GET', '/v1/projects')).status;

beforeAll(async () => {
  db = await stageTable('drover-secret-test');
  secretsManager = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const json = (code: number, value: unknown, type?: string) =>
        res.writeHead(code, { 'content-type': 'application/x-amz-json-1.1', ...(type ? { 'x-amzn-errortype': type } : {}) }).end(JSON.stringify(value));
      if (req.method !== 'POST' || req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        return json(400, { __type: 'UnknownOperationException', message: String(req.headers['x-amz-target']) }, 'UnknownOperationException');
      }
      reads++;
      if (JSON.parse(body).SecretId !== ARN) {
        return json(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }, 'ResourceNotFoundException');
      }
      if (secretString === undefined) return json(400, { __type: 'AccessDeniedException', message: 'denied' }, 'AccessDeniedException');
      json(200, { ARN, Name: 'AdminKey-abc', SecretString: secretString, VersionId: `v${reads}`, VersionStages: ['AWSCURRENT'], CreatedDate: 1_780_000_000 });
    });
  });
  await new Promise<void>((ok) => secretsManager.listen(0, '127.0.0.1', ok));
  delete process.env.DROVER_ADMIN_ACCESS_KEY;
  delete process.env.DROVER_ADMIN_SECRET_KEY;
  stageEnv('drover-secret-test', db, {
    DROVER_ADMIN_SECRET_ARN: ARN,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(secretsManager.address() as { port: number }).port}`,
  });
  secretString = keyOf('first-secret-key');
});
afterAll(async () => {
  await new Promise((ok) => secretsManager.close(ok));
  await db.close();
});
beforeEach(() => {
  reads = 0;
});

describe('functions/api with the admin key in a Secrets Manager secret', () => {
  let first: ApiHandler;
  let second: ApiHandler;

  it('authenticates the admin with the key the secret holds, read once at the container start', async () => {
    first = await container(noRecheck);
    expect(reads).toBe(1);
    expect(await status(first, 'first-secret-key')).toBe(200);
    expect(await status(first, 'not-the-key')).toBe(401);
    expect((await lambdaApi(basic('someone', 'first-secret-key'), first)('GET', '/v1/projects')).status).toBe(401);
    // Requests use the stored credential: no read per request, and a refusal re-reads at most once per recheck interval.
    expect(reads).toBe(1);
  });

  it('installs a rotated key from the next container start: the new key works in every container, the old one no longer', async () => {
    secretString = keyOf('second-secret-key');
    second = await container(noRecheck);
    expect(reads).toBe(1);
    expect(await status(second, 'second-secret-key')).toBe(200);
    expect(await status(second, 'first-secret-key')).toBe(401);
    // The warm container authenticates against the stored credential, so it takes the new key without a read.
    expect(await status(first, 'second-secret-key')).toBe(200);
    expect(reads).toBe(1);
  });

  it('lets a warm container follow a rotation at the first use of the new key', async () => {
    const warm = await container({ DROVER_ADMIN_SECRET_RECHECK_SECONDS: '0' });
    secretString = keyOf('third-secret-key');
    reads = 0;
    // The stored key is still the second: refused, the container reads the secret again, installs the third, accepts.
    expect(await status(warm, 'third-secret-key')).toBe(200);
    expect(reads).toBe(1);
    expect(await status(warm, 'second-secret-key')).toBe(401);
    // Every other container too, with no read of its own.
    expect(await status(first, 'third-secret-key')).toBe(200);
  });

  it('lets a warm container follow a rotation once its read is older than DROVER_ADMIN_SECRET_MAX_AGE_SECONDS', async () => {
    const warm = await container({ ...noRecheck, DROVER_ADMIN_SECRET_MAX_AGE_SECONDS: '0' });
    secretString = keyOf('fourth-secret-key');
    reads = 0;
    // Nobody has used the new key yet: the old one is refused all the same, the next request having read the secret.
    expect(await status(warm, 'third-secret-key')).toBe(401);
    expect(reads).toBe(1);
    expect(await status(warm, 'fourth-secret-key')).toBe(200);
    expect(await status(second, 'fourth-secret-key')).toBe(200);
  });

  it('keeps the stored key in force while the secret cannot be read, and starts a container only once it can', async () => {
    const warm = await container({ DROVER_ADMIN_SECRET_MAX_AGE_SECONDS: '0' });
    secretString = undefined;
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await status(warm, 'fourth-secret-key')).toBe(200);
      expect(reads).toBeGreaterThan(1);
      expect(String(logged.mock.calls[0]?.[0])).toContain('reading the admin key failed');
      // A start with no admin key to install does not come up; the container's next request starts it again.
      vi.resetModules();
      const { handler } = await import('./api.js');
      await expect(lambdaApi(basic('admin', 'fourth-secret-key'), handler)('GET', '/v1/projects')).rejects.toThrow(/AccessDenied|denied/);
      secretString = keyOf('fourth-secret-key');
      expect(await status(handler, 'fourth-secret-key')).toBe(200);
    } finally {
      logged.mockRestore();
      secretString = keyOf('fourth-secret-key');
    }
  });
});
