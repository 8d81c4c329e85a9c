/**
 * @module
 * `npm start`: runs Drover locally with no AWS account and prints where to reach it.
 */
import { loadConfig } from '../config.js';
import { startStack } from './local-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const config = loadConfig();
const stack = await startStack({ config });

const where = config.tableName ? `DynamoDB table ${config.tableName}` : `embedded DynamoDB in ${config.dataDir}`;
console.log(`Drover is running (${where}).

  API:        ${stack.url}/v1
  Wakame-VDC: ${stack.url}/api/12.03 (and /api/11.12; the default project is account a-shpoolxx)
  Hosts:      ${stack.simHosts.length ? `${stack.simHosts.length} simulated (${stack.simHosts.map((h) => h.hostId).join(', ')}); add real ones with npm run agent` : 'none started (DROVER_SIM_HOSTS=0); add some with npm run agent'}
  Access key: ${stack.admin.accessKey}
  Secret key: ${stack.admin.secretKey}${stack.adminKeyGenerated ? `\n  (generated; saved in ${config.dataDir}/admin-key.json)` : ''}

  Try: curl -u ${stack.admin.accessKey}:${stack.admin.secretKey} ${stack.url}/v1/containers
`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${sig}: shutting down...`);
    stack.close().then(
      () => {
        console.log('Stopped; data saved.');
        process.exit(0);
      },
      (e) => {
        console.error('Shutdown failed:', e);
        process.exit(1);
      },
    );
  });
}
