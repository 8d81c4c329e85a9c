/**
 * @module
 * How every Lambda function is bundled: the SST `nodejs` props the stack gives each function, and the esbuild
 * options SST 2.49.8 derives from them (`sst/runtime/handlers/node.js`), so `bench/bundle.ts` and the bundle test
 * build exactly what a deploy ships. The embedded stack (its Step Functions interpreter, dynalite, asl-validator,
 * the node server) is left out: `core/runtime.ts` loads the interpreter with a dynamic import only where no state
 * machines are configured, which never happens in a Lambda.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import type { BuildOptions } from 'esbuild';

/** Packages only the embedded local stack uses: none may be in a Lambda bundle. */
export const EMBEDDED_PACKAGES = ['aws-local-stepfunctions', 'dynalite', 'asl-validator', '@hono/node-server', 'ws'] as const;
/** Drover's own modules only the embedded stack runs (paths relative to the repository). */
export const EMBEDDED_MODULES = ['core/embedded/', 'core/workflows/embedded-step-functions.ts'] as const;

const escaped = (s: string) => s.replace(/[/.]/g, '\\$&');
/** How code imports an embedded-only module: its folder in a path, or the file by its built name. */
const moduleImport = (m: string) => (m.endsWith('/') ? `/${basename(m)}/` : `/${escaped(basename(m, '.ts'))}\\.js$`);
const embeddedImport = new RegExp(`^(?:${EMBEDDED_PACKAGES.map(escaped).join('|')})(?:/|$)|${EMBEDDED_MODULES.map(moduleImport).join('|')}`);

/**
 * An esbuild plugin that leaves embedded-only imports out of the bundle, as imports that would fail if a Lambda ever
 * reached them. Only a dynamic import may name one (a static one would fail the function's start: the bundle test
 * checks there is none).
 *
 * @example
 * await esbuild.build({ entryPoints: ['functions/api.ts'], bundle: true, plugins: [leaveOutEmbedded] });
 */
export const leaveOutEmbedded = {
  name: 'drover-leave-out-embedded',
  // Typed by its shape: SST's esbuild (0.18) and the project's (0.28) each declare their own `Plugin`.
  setup(build: { onResolve(options: { filter: RegExp }, resolve: (args: { path: string }) => { path: string; external: boolean }): void }) {
    build.onResolve({ filter: embeddedImport }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * The module a function's SDK clients take their credentials from (the environment's, as Lambda gives them). From
 * the working directory, as SST resolves the handlers: SST runs this file bundled elsewhere, so `import.meta.url`
 * would not point here.
 */
export const LAMBDA_CREDENTIALS_MODULE = resolve('functions', 'lambda-credentials.ts');

/**
 * An esbuild plugin that gives every SDK client in a function `functions/lambda-credentials.ts` for its default
 * credential chain: in Lambda only the chain's first link (the environment) ever answers, and the other links
 * bring the STS and SSO clients, their XML and query protocols and the shared-config parser (about 15 KB of a cold
 * start, 120 KB of a function's chunks).
 *
 * @example
 * await esbuild.build({ entryPoints: ['functions/api.ts'], bundle: true, plugins: [credentialsFromEnvironment] });
 */
export const credentialsFromEnvironment = {
  name: 'drover-credentials-from-environment',
  setup(build: { onResolve(options: { filter: RegExp }, resolve: (args: { path: string }) => { path: string }): void }) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: LAMBDA_CREDENTIALS_MODULE }));
  },
};

/**
 * An esbuild plugin that keeps only the name and version of an AWS SDK package's `package.json`: every client imports
 * its whole manifest for the version in its user agent (about 2.3 KB a client), and nothing reads another field.
 *
 * @example
 * await esbuild.build({ entryPoints: ['functions/api.ts'], bundle: true, plugins: [sdkManifestsTrimmed] });
 */
export const sdkManifestsTrimmed = {
  name: 'drover-sdk-manifests-trimmed',
  setup(build: { onLoad(options: { filter: RegExp }, load: (args: { path: string }) => { contents: string; loader: 'json' }): void }) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/ }, ({ path }) => {
      const { name, version } = JSON.parse(readFileSync(path, 'utf8')) as { name: string; version: string };
      return { contents: JSON.stringify({ name, version }), loader: 'json' };
    });
  },
};

/**
 * The `nodejs` props of every function (SST's `FunctionProps.nodejs`): minified ESM for Node 22. SST's ESM build
 * already starts each bundle with the `createRequire` banner (`SST_ESM_BANNER`); giving it again as `banner` would
 * declare `require` twice.
 */
export const LAMBDA_NODEJS = {
  format: 'esm' as const,
  minify: true,
  // Chunks: what a function imports only on demand (the Wakame API, the SDK's unused credential providers) is not
  // parsed at its cold start.
  splitting: true,
  // Nothing reads a class's name (every error names itself), so SST's keepNames is dead weight (about 40 KB).
  esbuild: { target: 'node22', plugins: [leaveOutEmbedded, credentialsFromEnvironment, sdkManifestsTrimmed], keepNames: false },
};

/** The banner SST 2.49.8 puts on an ESM bundle: bundled CommonJS code gets `require` and `__dirname`. */
export const SST_ESM_BANNER = [
  `import { createRequire as topLevelCreateRequire } from 'module';`,
  `const require = topLevelCreateRequire(import.meta.url);`,
  `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
  `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
  '',
].join('\n');

/**
 * The esbuild options SST uses to bundle `entry` for a deploy with `LAMBDA_NODEJS` (source maps aside: SST writes
 * them beside the bundle and keeps them out of the function).
 *
 * @example
 * const result = await sstEsbuild().build({ ...lambdaBuildOptions('functions/api.ts'), outdir: '/tmp/api' });
 */
export function lambdaBuildOptions(entry: string): BuildOptions & { metafile: true } {
  return {
    entryPoints: [entry],
    platform: 'node',
    external: ['sharp', 'pg-native'],
    keepNames: true,
    bundle: true,
    logLevel: 'silent',
    format: 'esm',
    mainFields: ['module', 'main'],
    banner: { js: SST_ESM_BANNER },
    minify: LAMBDA_NODEJS.minify,
    splitting: LAMBDA_NODEJS.splitting,
    outExtension: { '.js': '.mjs' },
    ...(LAMBDA_NODEJS.esbuild as BuildOptions),
    metafile: true,
  };
}

/**
 * The esbuild SST bundles functions with (its own pinned copy, not the project's).
 *
 * @example
 * const { build } = sstEsbuild();
 */
export function sstEsbuild(root = process.cwd()): typeof import('esbuild') {
  return createRequire(join(root, 'node_modules', 'sst', 'package.json'))('esbuild');
}
