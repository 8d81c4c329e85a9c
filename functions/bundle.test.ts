/**
 * The API function's bundle, built as a deploy builds it (`stacks/bundling.ts`): nothing of the embedded stack in
 * it, no static import of anything a Lambda lacks, and within its size budget.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { API_BUNDLE_BUDGET_BYTES, bundleFunction } from '../bench/bundle.js';
import { EMBEDDED_MODULES, EMBEDDED_PACKAGES } from '../stacks/bundling.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-bundle-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the API bundle', () => {
  it('has no embedded-only module, imports only Node built-ins statically, and stays within its budget', async () => {
    const api = await bundleFunction('functions/api.ts', dir);
    const inputs = Object.keys(api.metafile.inputs);
    for (const pkg of EMBEDDED_PACKAGES) expect(inputs.filter((i) => i.includes(`node_modules/${pkg}/`)), pkg).toEqual([]);
    for (const mod of EMBEDDED_MODULES) expect(inputs.filter((i) => i.includes(mod)), mod).toEqual([]);
    const [output] = Object.values(api.metafile.outputs);
    const statics = output.imports.filter((i) => i.kind === 'import-statement' && !i.path.startsWith('node:') && !['module', 'url'].includes(i.path));
    expect(statics).toEqual([]);
    // The embedded interpreter is left as a dynamic import that only a process without state machines reaches.
    expect(output.imports.filter((i) => i.kind === 'dynamic-import' && !i.path.startsWith('node:')).map((i) => i.path)).toEqual(['./workflows/embedded-step-functions.js']);
    expect(api.bytes).toBeLessThan(API_BUNDLE_BUDGET_BYTES);
  });
});
