/**
 * @module
 * Every route of the dcmgr API, from the resource modules, in the order they are matched.
 */
import type { DcmgrRoute } from './app.js';
import { HOST_NODE_ROUTES } from './host-nodes.js';
import { IMAGE_ROUTES } from './images.js';

export const DCMGR_ROUTES: readonly DcmgrRoute[] = [
  ...IMAGE_ROUTES,
  ...HOST_NODE_ROUTES,
];
