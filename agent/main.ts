/**
 * @module
 * `npm run agent -- --url <api> --token <registration token> [--state-file f] [--hostname h] [--vcpu n]
 * [--memory-mb n] [--label k=v ...] [--poll-wait s] [--driver sim|process] [--data-dir d]`: runs a host agent until
 * SIGINT/SIGTERM.
 */
import { cpus, hostname, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startAgent, type RunningAgent } from './agent.js';
import type { Driver } from './driver.js';
import { ProcessDriver } from './process-driver.js';
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
      address: { type: 'string' },
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
  if (!values.token && !values['state-file']) throw new Error('--token is required (or --state-file with saved credentials)');
  if (values.driver !== 'sim' && values.driver !== 'process') throw new Error(`unknown --driver ${values.driver} (available: sim, process)`);
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const i = l.indexOf('=');
    if (i <= 0) throw new Error(`--label must be key=value, got "${l}"`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  return {
    help: false as const,
    url: values.url,
    token: values.token,
    stateFile: values['state-file'],
    pollWaitSeconds: num('poll-wait', values['poll-wait'], 20),
    simWorkMs: num('sim-work-ms', values['sim-work-ms'], 20),
    driver: values.driver as 'sim' | 'process',
    dataDir: values['data-dir'] ?? '/var/lib/drover-agent',
    address: values.address,
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
  const driver: Driver =
    cli.driver === 'process' ? new ProcessDriver({ dataDir: cli.dataDir, address: cli.address }) : new SimDriver({ workMs: cli.simWorkMs });
  let stopping = false;
  let agent: RunningAgent | undefined;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${sig}: stopping the agent...`);
      if (!agent) process.exit(0); // still registering: nothing to finish
      agent
        .stop()
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
    host: cli.host,
    driver,
  });
  console.log(`Agent running for host ${agent.hostId} (driver ${cli.driver}). Ctrl-C stops it.`);
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
