/**
 * @module
 * The stage's alarms, every one acting on one SNS topic (e-mailed when the stage's config has an alarm e-mail):
 * actions overdue past the sweeper (its Embedded Metric Format metric), each function's errors and throttles, each
 * state machine's failed and timed-out executions, and messages waiting in the dead-letter queues. Wiring only.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { SWEEP_METRIC } from '../core/workflows/sweeper.js';
import type { StageConfig } from './stage-config.js';

export interface AlarmTargets {
  /** Every function of the stage, by a readable name (it names the alarms). */
  functions: Record<string, IFunction>;
  /** The state machines, by workflow. */
  machines: Record<string, StateMachine>;
  /** Dead-letter queues, by name: a visible message there is work that failed every retry. */
  deadLetterQueues: Record<string, IQueue>;
  /** The sweep interval: an action overdue by more than a few of them is stuck. */
  sweepSeconds: number;
}

const PERIOD = Duration.minutes(5);

/**
 * The alarms and their topic.
 *
 * @example
 * const { topic } = stageAlarms(stack, config, { functions: { tasks }, machines, deadLetterQueues: { events: dlq }, sweepSeconds: 60 });
 */
export function stageAlarms(scope: Construct, config: StageConfig, targets: AlarmTargets) {
  const topic = new sns.Topic(scope, 'Alarms', { displayName: `Drover ${config.stage} alarms` });
  if (config.alarmEmail) topic.addSubscription(new EmailSubscription(config.alarmEmail));
  const action = new SnsAction(topic);

  const alarms: cloudwatch.Alarm[] = [];
  /** Alarms when the metric's statistic over five minutes is above `threshold` (any, by default). */
  const alarm = (id: string, metric: cloudwatch.IMetric, description: string, threshold = 0) => {
    const a = new cloudwatch.Alarm(scope, `Alarm-${id}`, {
      alarmName: `${config.stage}-drover-${id}`,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No data is no trouble: a function not invoked, a queue empty. A sweeper that stops reporting alarms on its errors.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${config.stage}: ${description}`,
    });
    a.addAlarmAction(action);
    alarms.push(a);
    return a;
  };

  // The sweeper resolves what is overdue each pass: an action still overdue after five passes (at least 5 minutes) is stuck.
  const stuckAfter = Math.max(300, 5 * targets.sweepSeconds);
  alarm(
    'OverdueActions',
    new cloudwatch.Metric({
      namespace: SWEEP_METRIC.namespace,
      metricName: SWEEP_METRIC.name,
      dimensionsMap: { [SWEEP_METRIC.dimension]: config.stage },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: PERIOD,
    }),
    `an open action has been past its deadline for more than ${stuckAfter} s`,
    stuckAfter,
  );
  for (const [name, fn] of Object.entries(targets.functions)) {
    alarm(`${name}-Errors`, fn.metricErrors({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `function ${name} failed`);
    alarm(`${name}-Throttles`, fn.metricThrottles({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `function ${name} was throttled`);
  }
  for (const [workflow, machine] of Object.entries(targets.machines)) {
    alarm(`${workflow}-Failed`, machine.metricFailed({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `an execution of ${workflow} failed`);
    alarm(`${workflow}-TimedOut`, machine.metricTimedOut({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `an execution of ${workflow} timed out`);
  }
  for (const [name, queue] of Object.entries(targets.deadLetterQueues)) {
    alarm(
      `${name}-DeadLetters`,
      queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: cloudwatch.Stats.MAXIMUM }),
      `${name} has messages that failed every retry`,
    );
  }
  return { topic, alarms };
}
