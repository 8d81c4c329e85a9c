/**
 * @module
 * The Lambda bundles (`npx tsx bench/run.ts bundle`): each `functions/*.ts` entry bundled as the stack bundles it
 * (`stacks/bundling.ts`, SST's own esbuild), its minified and gzip size, the packages that dominate the API bundle,
 * and the API bundle's cold import in a fresh `node` process against the floor of importing an empty module.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Metafile } from 'esbuild';
import { lambdaBuildOptions, sstEsbuild } from '../stacks/bundling.js';
import { fmt, percentile } from './lib.js';

/** The API bundle's target (issue 10): what its cold start loads, minified. */
export const API_BUNDLE_LIMIT_BYTES = 400 * 1024;
/** Modules in `functions/` that are not entry points of their own. */
const FUNCTION_HELPERS = ['stage.ts', 'lambda-credentials.ts'];
/** The API bundle's cold import limit (issue 10), on the bench machine. */
const COLD_IMPORT_LIMIT_MS = 100;

export interface FunctionBundle {
  name: string;
  /** The entry chunk (in a directory of its own, so nothing resolves from node_modules). */
  file: string;
  /** What a cold start loads: the entry chunk and the chunks it imports statically, transitively. */
  bytes: number;
  gzipBytes: number;
  /** Every chunk, the ones loaded on demand too (what the function's zip holds). */
  totalBytes: number;
  /** The chunks a cold start loads (metafile output paths). */
  loaded: string[];
  metafile: Metafile;
}

/**
 * Bundles one entry point as a deploy does (split into chunks), into a directory of its own under `dir`.
 *
 * @example
 * const api = await bundleFunction('functions/api.ts', mkdtempSync(join(tmpdir(), 'bundle-')));
 */
export async function bundleFunction(entry: string, dir: string): Promise<FunctionBundle> {
  const name = entry.replace(/^.*\//, '').replace(/\.ts$/, '');
  const outdir = join(dir, name);
  const { metafile } = await sstEsbuild().build({ ...lambdaBuildOptions(entry), outdir });
  const outputs = metafile.outputs;
  // Modules imported dynamically are entry points of their own chunks too: the function's is the one named.
  const entryOut = Object.keys(outputs).find((o) => outputs[o].entryPoint === entry)!;
  const loaded = new Set<string>();
  const visit = (o: string) => {
    if (loaded.has(o) || !outputs[o]) return;
    loaded.add(o);
    for (const i of outputs[o].imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entryOut);
  const code = Buffer.concat([...loaded].map((o) => readFileSync(o)));
  const totalBytes = Object.keys(outputs).filter((o) => o.endsWith('.mjs')).reduce((n, o) => n + outputs[o].bytes, 0);
  return { name, file: join(process.cwd(), entryOut), bytes: code.length, gzipBytes: gzipSync(code).length, totalBytes, loaded: [...loaded], metafile };
}

/**
 * The bundle's bytes by package (`node_modules` packages by name, Drover's own code by top folder), largest first.
 *
 * @example
 * const [[top, bytes]] = bytesByPackage(api.metafile, api.loaded);
 */
export function bytesByPackage(metafile: Metafile, outputs: string[] = Object.keys(metafile.outputs)): [string, number][] {
  const by = new Map<string, number>();
  for (const output of outputs.map((o) => metafile.outputs[o])) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');
      by.set(pkg, (by.get(pkg) ?? 0) + bytesInOutput);
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

/** Milliseconds a fresh `node` takes to import `file`, measured inside it, and the process's wall time. */
function coldImport(file: string, env: NodeJS.ProcessEnv): { importMs: number; processMs: number } {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t); process.exit(0);`;
  const t0 = performance.now();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  return { importMs: Number(out.trim().split('\n').pop()), processMs: performance.now() - t0 };
}

const median = (xs: number[]) => percentile(xs, 50);
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;

/** Bundles every function, times the API bundle's cold import, and returns the table rows. */
export async function bundleBench(runs = 9): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-bundles-'));
  try {
    const entries = readdirSync('functions')
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !FUNCTION_HELPERS.includes(f))
      .map((f) => `functions/${f}`);
    const bundles: FunctionBundle[] = [];
    for (const entry of entries) bundles.push(await bundleFunction(entry, dir));
    const api = bundles.find((b) => b.name === 'api')!;
    const rows = bundles.map(
      (b) =>
        `| bundle ${b.name} (minified ESM chunks, node22), loaded at a cold start | ${kb(b.bytes)} | ${fmt(b.bytes / API_BUNDLE_LIMIT_BYTES, 2)} of 400 KB | gzip ${kb(b.gzipBytes)}; every chunk ${kb(b.totalBytes)} |`,
    );
    const top = bytesByPackage(api.metafile, api.loaded).slice(0, 5);
    rows.push(`| API bundle at a cold start, top 5 by bytes | ${top.map(([p, b]) => `${p} ${kb(b)}`).join(', ')} | — | ${fmt((top.reduce((s, [, b]) => s + b, 0) / api.bytes) * 100)}% of the bundle |`);

    // The import starts the stage's wiring, which needs a table name; its store requests go nowhere and the process
    // exits when the import is done, before any answer could come.
    const env = { ...process.env, DROVER_TABLE_NAME: 'bench', DROVER_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' };
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, '');
    const floor: { importMs: number; processMs: number }[] = [];
    const subject: { importMs: number; processMs: number }[] = [];
    for (let i = 0; i < runs; i++) {
      floor.push(coldImport(empty, env));
      subject.push(coldImport(api.file, env));
    }
    const f = median(floor.map((m) => m.importMs));
    const s = median(subject.map((m) => m.importMs));
    const fp = median(floor.map((m) => m.processMs));
    const sp = median(subject.map((m) => m.processMs));
    rows.push(`| cold import floor (fresh node, empty module) | ${fmt(f, 1)} ms | 1.00 | median of ${runs}; process ${fmt(fp)} ms |`);
    rows.push(
      `| cold import of the API bundle (fresh node) | ${fmt(s, 1)} ms | ${fmt(s / Math.max(f, 0.1), 1)} | median of ${runs}; process ${fmt(sp)} ms (${fmt(sp / fp, 2)}× the floor's); limit ${COLD_IMPORT_LIMIT_MS} ms |`,
    );
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
