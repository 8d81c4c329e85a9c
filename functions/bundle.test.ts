/**
 * The API function's bundle, built as a deploy builds it (`stacks/bundling.ts`): nothing of the embedded stack in
 * it, no static import of anything a Lambda lacks, no credential source a Lambda never uses, and within the
 * issue's 400 KB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { API_BUNDLE_LIMIT_BYTES, bundleFunction } from '../bench/bundle.js';
import { EMBEDDED_MODULES, EMBEDDED_PACKAGES } from '../stacks/bundling.js';
import { stageTable, stageEnv } from '../test/helpers/lambda.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-bundle-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the API bundle', () => {
  it('has no embedded-only module, imports only Node built-ins statically, and stays within its budget', async () => {
    const api = await bundleFunction('functions/api.ts', dir);
    const inputs = Object.keys(api.metafile.inputs);
    for (const pkg of EMBEDDED_PACKAGES) expect(inputs.filter((i) => i.includes(`node_modules/${pkg}/`)), pkg).toEqual([]);
    for (const mod of EMBEDDED_MODULES) expect(inputs.filter((i) => i.includes(mod)), mod).toEqual([]);
    const outputs = api.loaded.map((o) => api.metafile.outputs[o]);
    // What a cold start loads imports nothing but Node built-ins and its own chunks.
    const statics = outputs.flatMap((o) => o.imports).filter((i) => i.kind === 'import-statement' && !i.path.startsWith('node:') && !['module', 'url'].includes(i.path));
    expect(statics.filter((i) => !api.loaded.includes(i.path))).toEqual([]);
    // The embedded interpreter is left as a dynamic import that only a process without state machines reaches.
    const external = Object.values(api.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.external && i.kind === 'dynamic-import' && !i.path.startsWith('node:'));
    expect(external.map((i) => i.path)).toEqual(['./workflows/embedded-step-functions.js']);
    // The Wakame API and its parsers are not loaded at a cold start (their chunks load on the first /api request).
    const loadedInputs = outputs.flatMap((o) => Object.keys(o.inputs));
    for (const lazy of ['core/dcmgr/app.ts', 'node_modules/yaml/', 'node_modules/qs/']) expect(loadedInputs.filter((i) => i.includes(lazy)), lazy).toEqual([]);
    expect(inputs.some((i) => i.includes('core/dcmgr/app.ts'))).toBe(true);
    // The SDK's credentials come from the environment (functions/lambda-credentials.ts): no other link of the
    // default chain, nor the STS and SSO clients they bring, is in any chunk.
    for (const unused of ['@aws-sdk/credential-provider-node/', '@aws-sdk/credential-provider-sso/', '@aws-sdk/credential-provider-ini/', '@aws-sdk/nested-clients/'])
      expect(inputs.filter((i) => i.includes(unused)), unused).toEqual([]);
    expect(api.bytes).toBeLessThanOrEqual(API_BUNDLE_LIMIT_BYTES);
  });

  it('serves the Rancher API and, from its own chunk, the Wakame API, minified and split as deployed', async () => {
    const db = await stageTable('drover-bundle-test');
    try {
      stageEnv('drover-bundle-test', db, {
        DROVER_ADMIN_ACCESS_KEY: 'BUNDLEADMIN',
        DROVER_ADMIN_SECRET_KEY: 'bundle-secret',
        // As deployed: state machines named (no request here reaches them), so the embedded interpreter stays out.
        DROVER_STATE_MACHINES: JSON.stringify({ 'instance-start': 'arn:aws:states:us-east-1:000000000000:stateMachine:t' }),
      });
      const api = await bundleFunction('functions/api.ts', dir);
      const { handler } = (await import(pathToFileURL(api.file).href)) as { handler: (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string }> };
      const call = (path: string) =>
        handler(
          {
            version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: '',
            headers: { host: 'api.example.com', authorization: `Basic ${Buffer.from('BUNDLEADMIN:bundle-secret').toString('base64')}`, 'x-forwarded-proto': 'https' },
            requestContext: { http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'r', routeKey: '$default', stage: '$default', timeEpoch: Date.now() },
            isBase64Encoded: false,
          },
          {},
        );
      const v1 = await call('/v1/containers');
      expect(v1.statusCode).toBe(200);
      expect(JSON.parse(v1.body)).toMatchObject({ type: 'collection', resourceType: 'container' });
      const wakame = await call('/api/12.03/instances');
      expect(wakame.statusCode).toBe(200);
      expect(JSON.parse(wakame.body)).toEqual([expect.objectContaining({ total: 0, results: [] })]);
      // An unknown Wakame route answers dcmgr's error from the lazily loaded chunk.
      const missing = await call('/api/12.03/nothing');
      expect(JSON.parse(missing.body)).toMatchObject({ error: expect.stringContaining('::') });
    } finally {
      await db.close();
    }
  });
});
