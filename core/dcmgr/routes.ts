/**
 * @module
 * Every route of the dcmgr API, from the resource modules, in the order they are matched.
 */
import type { DcmgrRoute } from './app.js';

export const DCMGR_ROUTES: readonly DcmgrRoute[] = [];
