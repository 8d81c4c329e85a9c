/**
 * SST v2 app: one stage per tenant (`npx sst deploy --stage <tenant>`). Wiring only; see stacks/.
 */
import type { SSTConfig } from 'sst';
import { DroverStack } from './stacks/DroverStack.js';

export default {
  config() {
    return { name: 'drover', region: process.env.AWS_REGION ?? 'us-east-1' };
  },
  stacks(app) {
    app.stack(DroverStack);
  },
} satisfies SSTConfig;
