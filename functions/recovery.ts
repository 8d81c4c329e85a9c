/**
 * @module
 * Lambda entry point of automatic recovery, run every minute (EventBridge's finest rate): begins every restart or
 * start whose backoff has passed. The stream consumer (`functions/events.ts`) records each attempt with its due
 * time on the instance; a Lambda holds no timer, so in AWS a backoff ends at the first run after it is due
 * (rounded up to the minute).
 */
import { stageDrover } from './stage.js';

/** Scheduled handler; returns the instances whose recovery it began, which also show in the Lambda's logs. */
export const handler = async () => {
  const begun = await (await stageDrover()).health.runDue();
  if (begun.length) console.log(JSON.stringify({ message: 'recovery', begun }));
  return { begun };
};
