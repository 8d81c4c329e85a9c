/**
 * @module
 * Lambda entry point of the sweeper, run on a schedule (EventBridge): resolves transitions past their deadline.
 * Its log line carries the age of the oldest overdue action as a CloudWatch metric (Embedded Metric Format).
 */
import { loadConfig } from '../core/config.js';
import { sweepLogLine } from '../core/workflows/sweeper.js';
import { stageDrover } from './stage.js';

/** The stage the metric names (read from the environment once per container). */
let stage: string | undefined;

/** Scheduled handler; returns what it did, which also shows in the Lambda's logs (and the metric, in CloudWatch). */
export const handler = async () => {
  const report = await (await stageDrover()).sweeper.sweep();
  stage ??= loadConfig().stage;
  console.log(JSON.stringify(sweepLogLine(report, { stage, now: Date.now() })));
  return report;
};
