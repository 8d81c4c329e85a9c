import { lambdaBuildOptions, sstEsbuild } from '../stacks/bundling.js';
import { statSync, readdirSync, rmSync, readFileSync } from 'node:fs';
const es = sstEsbuild();
for (const variant of [{ splitting: false, keepNames: true }, { splitting: true, keepNames: true }, { splitting: true, keepNames: false }]) {
  rmSync('/tmp/exp-out', { recursive: true, force: true });
  const o = lambdaBuildOptions('functions/api.ts');
  const r = await es.build({ ...o, keepNames: variant.keepNames, splitting: variant.splitting, outdir: '/tmp/exp-out', entryNames: '[name]', chunkNames: 'chunk-[hash]' });
  // static closure from the entry
  const files = readdirSync('/tmp/exp-out').filter((f) => f.endsWith('.mjs') || f.endsWith('.js'));
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return; seen.add(f);
    const src = readFileSync('/tmp/exp-out/' + f, 'utf8');
    for (const m of src.matchAll(/(?:^|[;\n}])\s*import\s*(?:[^'"()]*?from\s*)?["']\.\/([^"']+)["']/g)) visit(m[1]);
  };
  const entry = files.find((f) => f.startsWith('api'))!;
  visit(entry);
  const size = (fs: Iterable<string>) => [...fs].reduce((a, f) => a + statSync('/tmp/exp-out/' + f).size, 0);
  console.log(JSON.stringify(variant), 'total', Math.round(size(files) / 1024), 'KB; loaded at start', Math.round(size(seen) / 1024), 'KB in', seen.size, 'files');
}
