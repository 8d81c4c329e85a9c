/**
 * @module
 * Agent commands as a server hands them out, for the drivers' tests and fixtures: defaults for every field but the
 * command's name and action.
 */
import type { AgentCommand } from '../core/agent/protocol.js';

let seq = 0;

/**
 * A command for `name`/`action`; the rest defaults (resource `data.id` or `1i5`, acked, 300 s to run).
 *
 * @example
 * await driver.activate(agentCommand({ name: 'compute.instance.activate', action: 'start', data: { id: '1i5', command: ['true'] } }), report);
 */
export function agentCommand(fields: Partial<AgentCommand> & Pick<AgentCommand, 'name' | 'action'>): AgentCommand {
  const n = ++seq;
  const data = fields.data ?? {};
  return {
    id: `c-${n}`,
    hostId: '1h1',
    resourceId: typeof data.id === 'string' ? data.id : '1i5',
    actionId: `a-${n}`,
    data,
    processData: {},
    heartbeatSeconds: 30,
    timeoutSeconds: 300,
    secondsRemaining: 300,
    status: 'acked',
    createdAt: Date.now(),
    ...fields,
  };
}
