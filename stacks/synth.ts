/**
 * @module
 * `npm run synth -- --stage <name>`: synthesizes the SST app of `sst.config.ts` for a stage offline (no AWS
 * credentials, no network) and writes each stack's CloudFormation template as JSON under `.synth/<name>/`. The
 * stage's config comes from `stacks/stage-config.ts` and the shell's `DROVER_*` overrides, as on a deploy.
 *
 * `npx sst build` cannot do this: it asks STS who is deploying first (no credentials: it exits 0 having written
 * nothing; fake ones: it waits for the internet forever). This runs SST's synthesis the way the stack tests do
 * (NODE_ENV=test skips SST's bootstrap lookups), with fake credentials so the SDK never probes for real ones, and
 * turns any attempt to open a network connection into an immediate failure naming the host. Any error exits 1 with
 * the stage's name and the cause. The templates are for inspection and diffs; a deploy still runs `sst deploy`.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** A synth that has not finished by then is stuck, not slow (it takes well under a minute). */
const WATCHDOG_MS = 180_000;

/**
 * The stage to synthesize, and where its templates go, from the command line.
 *
 * @example
 * synthArgs(['--stage', 'prod']) // { stage: 'prod', outDir: '<repo>/.synth/prod' }
 */
export function synthArgs(argv: string[]): { stage: string; outDir: string } {
  const at = argv.findIndex((a) => a === '--stage' || a.startsWith('--stage='));
  const stage = at < 0 ? undefined : argv[at].includes('=') ? argv[at].slice('--stage='.length) : argv[at + 1];
  if (!stage) throw new Error('usage: npm run synth -- --stage <name>');
  // SST's rule for stage names (they prefix every resource name).
  if (!/^[a-zA-Z][a-zA-Z0-9-]*$/.test(stage)) throw new Error(`stage "${stage}" is not valid: letters, digits and hyphens, starting with a letter`);
  return { stage, outDir: path.join(ROOT, '.synth', stage) };
}

function die(message: string): never {
  console.error(`synth: ${message}`);
  process.exit(1);
}

/**
 * Makes every outgoing TCP connection (HTTP, TLS, fetch) end the process with exit code 1, naming the host; local
 * pipes (esbuild's) still work. A refused connection would not do: SST retries it, waiting for the internet forever.
 *
 * @example
 * forbidNetwork('prod'); await fetch('https://sts.amazonaws.com'); // exits 1: "tried to reach the network (sts.amazonaws.com:443)"
 */
export function forbidNetwork(stage: string): void {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const opts = (typeof first === 'object' && first !== null ? first : { port: first, host: args[1] }) as { path?: string; host?: string; port?: unknown };
    if (opts.path === undefined) die(`stage ${stage}: tried to reach the network (${opts.host ?? 'localhost'}:${String(opts.port)}); an offline synth makes no network call`);
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
}

async function main(): Promise<void> {
  const { stage, outDir } = synthArgs(process.argv.slice(2));
  const started = Date.now();
  const watchdog = setTimeout(() => die(`stage ${stage}: not done after ${WATCHDOG_MS / 1000} s`), WATCHDOG_MS);
  watchdog.unref();
  process.on('unhandledRejection', (e) => die(`stage ${stage}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  // SST skips its AWS bootstrap lookups under test; fake credentials keep the SDK from probing for real ones.
  Object.assign(process.env, {
    NODE_ENV: 'test',
    AWS_REGION: process.env.AWS_REGION || 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAOFFLINESYNTH',
    AWS_SECRET_ACCESS_KEY: 'offline-synth',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  forbidNetwork(stage);
  process.chdir(ROOT);

  try {
    const { initProject, useProject } = await import('sst/project.js');
    const { App } = await import('sst/constructs');
    const { Stack } = await import('aws-cdk-lib');
    const { Template } = await import('aws-cdk-lib/assertions');
    await initProject({ stage });
    const project = useProject();
    // SST's working files (generated types, function bundles) per stage, so synths of two stages can run at once.
    const work = path.join(project.paths.out, `synth-${stage}`);
    await mkdir(work, { recursive: true });
    Object.assign(project.paths, { out: work, artifacts: path.join(work, 'artifacts') });
    const app = new App({ mode: 'deploy', stage, name: project.config.name, region: project.config.region });
    // The app's stacks as `sst.config.ts` adds them (initProject reads only its config()).
    const sstConfig = (await import('../sst.config.js')).default;
    await Promise.resolve(sstConfig.stacks(app));
    // Runs the deferred work: bundling every function.
    await app.finish();
    const stacks = app.node.children.filter((c): c is InstanceType<typeof Stack> => Stack.isStack(c));
    if (!stacks.length) throw new Error('the app defines no stack');
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    for (const s of stacks) {
      const template = Template.fromStack(s).toJSON();
      const file = path.join(outDir, `${s.stackName}.template.json`);
      await writeFile(file, `${JSON.stringify(template, null, 2)}\n`);
      console.log(`synth: ${path.relative(ROOT, file)} (${Object.keys(template.Resources ?? {}).length} resources)`);
    }
    console.log(`synth: stage ${stage} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    die(`stage ${stage} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  clearTimeout(watchdog);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (e) => die(e instanceof Error ? e.message : String(e)),
  );
}
