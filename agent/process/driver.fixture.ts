/**
 * @module
 * A stand-in agent for `driver.test.ts`: starts the instances named on its command line with a
 * `ProcessDriver` on a data dir, prints their pids as one JSON line, then idles until it is killed (the test
 * SIGKILLs it to play an agent that dies without a word). Usage:
 * `node --import tsx agent/process/driver.fixture.ts <dataDir> <json list of { id, command }>`.
 */
import { agentCommand } from '../test-command.js';
import { ProcessDriver } from './driver.js';

const [dataDir, list] = process.argv.slice(2);
const driver = new ProcessDriver({ dataDir, warn: () => undefined });
const pids: Record<string, number | null> = {};
for (const { id, command } of JSON.parse(list) as { id: string; command: string[] }[]) {
  const cmd = agentCommand({ name: 'compute.instance.activate', action: 'start', data: { id, uuid: `u-${id}`, command } });
  await driver.activate(cmd, async () => undefined);
  pids[id] = driver.record(id)?.pid ?? null;
}
console.log(JSON.stringify(pids));
setInterval(() => undefined, 60_000);
