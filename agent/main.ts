/**
 * @module
 * `npm run agent -- --url <api> --token <registration token> [--state-file f] [--hostname h] [--vcpu n]
 * [--memory-mb n] [--label k=v ...] [--poll-wait s] [--driver sim|process] [--data-dir d] [--address ip]
 * [--access-listen h:p] [--access-url u]`: runs a host agent (and, with the process driver, its host access server)
 * until SIGINT/SIGTERM.
 */
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAgent, type RunningAgent } from './agent.js';
import type { Driver } from './driver.js';
import { startAccessServer, type AccessServer } from './access/server.js';
import { ProcessDriver } from './process/driver.js';
import { SimDriver } from './sim-driver.js';

const USAGE = `Usage: npm run agent -- --url <api url> --token <registration token> [options]

  --url <url>           Drover server (e.g. http://127.0.0.1:8080)
  --token <token>       registration token (POST /v1/registrationtokens shows it once)
  --state-file <file>   keep the host's identity and key here and reuse them on the next start
  --hostname <name>     default: this machine's hostname
  --vcpu <n>            capacity to offer (default: this machine's CPUs)
  --memory-mb <n>       capacity to offer (default: this machine's memory)
  --label <k=v>         host label (repeatable)
  --poll-wait <s>       long-poll wait asked of the server (default 20)
  --sim-work-ms <ms>    simulated work per command (sim driver, default 20)
  --driver sim|process  how commands run: simulated (default), or as processes on this host
  --data-dir <dir>      process driver: where instances' records, logs and directories live
                        (default /var/lib/drover-agent)
  --address <ip>        process driver: the address instances are reached at (default 127.0.0.1)
  --allow-root          process driver: let an instance name root as its user (refused otherwise)
  --access-listen <h:p> process driver: where the host access server listens (default <address>:9345;
                        port 0 takes any free port)
  --access-url <url>    process driver: the access server's URL as clients reach it, when that is not
                        http://<address>:<port> (behind NAT, or a TLS proxy: https://node-1.example.com)

With --driver process the agent keeps its identity in <data-dir>/state.json unless --state-file says otherwise.
`;

/**
 * Parses the command line into agent options (throws with a message on bad input).
 *
 * @example
 * parseCli(['--url', 'http://127.0.0.1:8080', '--token', 'AB:cd']).url // 'http://127.0.0.1:8080'
 */
export function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      'state-file': { type: 'string' },
      hostname: { type: 'string' },
      vcpu: { type: 'string' },
      'memory-mb': { type: 'string' },
      label: { type: 'string', multiple: true },
      'poll-wait': { type: 'string' },
      'sim-work-ms': { type: 'string' },
      driver: { type: 'string', default: 'sim' },
      'data-dir': { type: 'string' },
      'allow-root': { type: 'boolean' },
      address: { type: 'string' },
      'access-listen': { type: 'string' },
      'access-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return { help: true as const };
  const num = (name: string, v: string | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
  if (!values.url) throw new Error('--url is required');
  if (!values.token && !values['state-file'] && values.driver !== 'process') {
    throw new Error('--token is required (or --state-file with saved credentials)');
  }
  if (values.driver !== 'sim' && values.driver !== 'process') throw new Error(`unknown --driver ${values.driver} (available: sim, process)`);
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const i = l.indexOf('=');
    if (i <= 0) throw new Error(`--label must be key=value, got "${l}"`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  const driver = values.driver as 'sim' | 'process';
  const dataDir = values['data-dir'] ?? '/var/lib/drover-agent';
  const address = values.address ?? '127.0.0.1';
  const accessListen = values['access-listen'] ?? `${address}:9345`;
  const listen = /^(.+):(\d+)$/.exec(accessListen);
  if (!listen || Number(listen[2]) > 65535) throw new Error(`--access-listen must be host:port, got "${accessListen}"`);
  const accessUrl = values['access-url'];
  if (accessUrl !== undefined && !/^https?:\/\/[^\s/?#]+\/?$/.test(accessUrl)) {
    throw new Error(`--access-url must be http(s)://host[:port], got "${accessUrl}"`);
  }
  return {
    help: false as const,
    url: values.url,
    token: values.token,
    stateFile: values['state-file'] ?? (driver === 'process' ? join(dataDir, 'state.json') : undefined),
    pollWaitSeconds: num('poll-wait', values['poll-wait'], 20),
    simWorkMs: num('sim-work-ms', values['sim-work-ms'], 20),
    driver,
    dataDir,
    allowRoot: values['allow-root'] ?? false,
    address,
    accessListen: { host: listen[1].replace(/^\[(.*)\]$/, '$1'), port: Number(listen[2]) },
    accessUrl,
    host: {
      hostname: values.hostname ?? hostname(),
      vcpu: num('vcpu', values.vcpu, cpus().length),
      memoryMb: num('memory-mb', values['memory-mb'], Math.floor(totalmem() / 1048576)),
      labels,
    },
  };
}

async function main(): Promise<void> {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (cli.help) {
    console.log(USAGE);
    return;
  }
  let agent: RunningAgent | undefined;
  let driver: Driver = new SimDriver({ workMs: cli.simWorkMs });
  let access: AccessServer | undefined;
  if (cli.driver === 'process') {
    const processes = new ProcessDriver({ dataDir: cli.dataDir, address: cli.address, allowRoot: cli.allowRoot });
    await processes.ready;
    driver = processes;
    // Serves the hostAccess URLs of this host's instances, with tokens signed by the host's key.
    access = await startAccessServer({
      listen: cli.accessListen,
      hostId: () => agent?.hostId,
      key: () => agent?.hostAccessKey,
      targets: (id) => processes.accessTarget(id),
    });
  }
  const advertised = access && (cli.accessUrl ?? `http://${cli.address}:${new URL(access.url).port}`);
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${sig}: stopping the agent...`);
      if (!agent) process.exit(0); // still registering: nothing to finish
      agent
        .stop()
        .then(() => access?.close())
        .then(() => driver.close?.())
        .then(
          () => process.exit(0),
          (e) => {
            console.error('Stop failed:', e);
            process.exit(1);
          },
        );
    });
  }
  agent = await startAgent({
    url: cli.url,
    token: cli.token,
    stateFile: cli.stateFile,
    pollWaitSeconds: cli.pollWaitSeconds,
    host: { ...cli.host, ...(advertised ? { accessUrl: advertised, address: cli.address } : {}) },
    driver,
  });
  console.log(`Agent running for host ${agent.hostId} (driver ${cli.driver}). Ctrl-C stops it.`);
  if (advertised) console.log(`Host access server listening on ${access!.url}, reached at ${advertised}`);
  const how = await agent.done;
  if (how === 'fatal') {
    await agent.stop({ graceMs: 0 });
    process.exit(1);
  }
}

if (process.argv[1] && /agent[\\/]main\.ts$/.test(process.argv[1])) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
