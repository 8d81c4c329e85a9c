/**
 * @module
 * Lambda entry point of the workflow tasks: every Task state of every state machine invokes this function
 * with a `TaskPayload` (`core/workflows/types.ts`). The embedded stack runs the same `runTask`.
 */
import type { TaskPayload } from '../core/workflows/types.js';
import { stageDrover } from './stage.js';

/** Step Functions `lambda:invoke` handler; a thrown error becomes the state's error (Error = its name). */
export const handler = async (event: TaskPayload) => (await stageDrover()).runTask(event);
