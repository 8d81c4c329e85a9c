/**
 * @module
 * `npm run bench`: runs every benchmark and prints a Markdown table of results, each as a ratio to a floor
 * measured in the same run (copy it into docs/benchmarks.md).
 */
import os from 'node:os';
import { createBench } from './create.bench.js';
import { listBench } from './list.bench.js';
import { readBench } from './read.bench.js';
import { recoveryBench } from './recovery.bench.js';
import { workflowBench } from './workflow.bench.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const only = process.argv[2];
const rows = [
  ...(!only || only === 'create' ? await createBench() : []),
  ...(!only || only === 'list' ? await listBench() : []),
  ...(!only || only === 'read' ? await readBench() : []),
  ...(!only || only === 'workflow' ? await workflowBench() : []),
  ...(!only || only === 'recovery' ? await recoveryBench() : []),
];
console.log(`Measured ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`);
console.log('| benchmark | result | ratio to floor | notes |');
console.log('| --- | --- | --- | --- |');
for (const r of rows) console.log(r);
