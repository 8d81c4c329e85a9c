/**
 * @module
 * Lambda entry point of the workflow tasks: every Task state of every state machine invokes this function
 * with a `TaskPayload` (`core/workflows/types.ts`). The embedded stack runs the same `runTask`.
 */
import { doorbellPosterOf } from '../core/events/api-gateway-poster.js';
import type { TaskPayload } from '../core/workflows/types.js';
import { stageDrover, type StageWiring } from './stage.js';

/** The tasks enqueue host commands, and ring the host's doorbell through its management API. */
export const wiring: StageWiring = { doorbellPoster: doorbellPosterOf };

/** Step Functions `lambda:invoke` handler; a thrown error becomes the state's error (Error = its name). */
export const handler = async (event: TaskPayload) => (await stageDrover(wiring)).runTask(event);
