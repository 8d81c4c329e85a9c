/**
 * @module
 * Lambda entry point of the sweeper, run on a schedule (EventBridge): resolves transitions past their deadline.
 */
import { stageDrover } from './stage.js';

/** Scheduled handler; returns what it did, which also shows in the Lambda's logs. */
export const handler = async () => {
  const report = await (await stageDrover()).sweeper.sweep();
  console.log(JSON.stringify({ message: 'sweep', ...report }));
  return report;
};
