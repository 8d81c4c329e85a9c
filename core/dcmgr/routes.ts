/**
 * @module
 * Every route of the dcmgr API, from the resource modules, in the order they are matched.
 */
import type { DcmgrRoute } from './app.js';
import { INSTANCE_ROUTES } from './instances.js';

export const DCMGR_ROUTES: readonly DcmgrRoute[] = [...INSTANCE_ROUTES];
