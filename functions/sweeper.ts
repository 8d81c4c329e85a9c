/**
 * @module
 * Lambda entry point of the sweeper, run on a schedule (EventBridge): resolves transitions past their deadline.
 * Its log line carries the age of the oldest overdue action as a CloudWatch metric (Embedded Metric Format).
 */
import { loadConfig } from '../core/config.js';
import { sweepLogLine } from '../core/workflows/sweeper.js';
import { stageDrover } from './stage.js';

/** Scheduled handler; returns what it did, which also shows in the Lambda's logs (and the metric, in CloudWatch). */
export const handler = async () => {
  const report = await (await stageDrover()).sweeper.sweep();
  console.log(JSON.stringify(sweepLogLine(report, { stage: loadConfig().stage, now: Date.now() })));
  return report;
};
