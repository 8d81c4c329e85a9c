/**
 * @module
 * Lambda entry point of the stage's agent WebSocket API, where host agents hold their doorbell open in AWS:
 * `$connect` authenticates the host's credential and records the connection, `$default` takes keepalives (which
 * stamp the host's liveness), `$disconnect` forgets it (`core/agent/doorbell.ts`). Rings are posted by whoever
 * enqueues commands (the tasks function), not here.
 */
import type { DoorbellEvent } from '../core/agent/doorbell.js';
import { stageDrover } from './stage.js';

/**
 * WebSocket API handler (routes `$connect`, `$disconnect`, `$default`).
 *
 * @example
 * await handler({ requestContext: { routeKey: '$connect', connectionId: 'Ab1=' }, headers: { Authorization: 'Basic …' } });
 */
export const handler = async (event: DoorbellEvent) => (await stageDrover()).doorbell.handle(event);
