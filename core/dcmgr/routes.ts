/**
 * @module
 * Every route of the dcmgr API, from the resource modules, in the order they are matched.
 */
import type { DcmgrRoute } from './app.js';
import { HOST_NODE_ROUTES } from './host-nodes.js';
import { IMAGE_ROUTES } from './images.js';
import { INSTANCE_SPEC_ROUTES } from './instance-specs.js';
import { INSTANCE_ROUTES } from './instances.js';
import { NETWORK_ROUTES } from './networks.js';
import { SECURITY_GROUP_ROUTES } from './security-groups.js';
import { SSH_KEY_PAIR_ROUTES } from './ssh-key-pairs.js';
import { VOLUME_ROUTES } from './volumes.js';

export const DCMGR_ROUTES: readonly DcmgrRoute[] = [
  ...INSTANCE_ROUTES,
  ...IMAGE_ROUTES,
  ...HOST_NODE_ROUTES,
  ...NETWORK_ROUTES,
  ...SECURITY_GROUP_ROUTES,
  ...SSH_KEY_PAIR_ROUTES,
  ...VOLUME_ROUTES,
  ...INSTANCE_SPEC_ROUTES,
];
