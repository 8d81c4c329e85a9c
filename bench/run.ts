/**
 * @module
 * `npm run bench`: runs every benchmark and prints a Markdown table of results, each as a ratio to a floor
 * measured in the same run (copy it into docs/benchmarks.md). `npx tsx bench/run.ts <group>` runs one group.
 * A group that fails is reported as a row (and the exit code is 1); the other groups' rows are still printed.
 */
import os from 'node:os';
import { bundleBench } from './bundle.js';
import { createBench } from './create.bench.js';
import { listBench } from './list.bench.js';
import { processBench } from './process.bench.js';
import { readBench } from './read.bench.js';
import { recoveryBench } from './recovery.bench.js';
import { wakameBench } from './wakame.bench.js';
import { workflowBench } from './workflow.bench.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const groups: Record<string, () => Promise<string[]>> = {
  create: createBench,
  list: listBench,
  read: readBench,
  workflow: workflowBench,
  recovery: recoveryBench,
  wakame: wakameBench,
  bundle: bundleBench,
  process: processBench,
};
const only = process.argv[2];
if (only && !groups[only]) {
  console.error(`unknown benchmark group ${only}; one of: ${Object.keys(groups).join(', ')}`);
  process.exit(2);
}
const rows: string[] = [];
const load: number[] = [];
for (const [name, bench] of Object.entries(groups)) {
  if (only && only !== name) continue;
  load.push(os.loadavg()[0]);
  try {
    rows.push(...(await bench()));
  } catch (e) {
    console.error(e);
    rows.push(`| ${name}: failed | — | — | ${String((e as Error)?.message ?? e).replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
    process.exitCode = 1;
  }
}
load.push(os.loadavg()[0]);
console.log(
  `Measured ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version} ` +
    `(1-minute load average ${load.map((l) => l.toFixed(1)).join(', ')} at the start of each group and at the end)\n`,
);
console.log('| benchmark | result | ratio to floor | notes |');
console.log('| --- | --- | --- | --- |');
for (const r of rows) console.log(r);
