/**
 * @module
 * Which host a machine is, per project: one claim item per (project, agent uuid) (`pk = hostuuid#<project>#<uuid>`)
 * naming the host, so concurrent first registrations of one machine agree on one host. Written through `Store.write`.
 */
import { cond } from './expression.js';
import { keys } from './keys.js';
import type { Store } from './store.js';

/**
 * Reads and claims the host a machine's uuid names in a project.
 *
 * @example
 * const claims = new HostClaims(store);
 * const hostId = await claims.holder('1a1', uuid);
 * if (!hostId && !(await claims.claim('1a1', uuid, '1h7'))) retry();
 */
export class HostClaims {
  constructor(private readonly store: Store) {}

  /**
   * The host the uuid names in the project, if any (strongly consistent).
   *
   * @example
   * await claims.holder('1a1', 'b0c4…') // '1h2'
   */
  async holder(projectId: string, uuid: string): Promise<string | undefined> {
    const item = await this.store.readItem(keys.hostClaim(projectId, uuid));
    return typeof item?.hostId === 'string' ? item.hostId : undefined;
  }

  /**
   * Points the uuid at `hostId`, if it is unclaimed (or, with `replacing`, still names that host). `false` when
   * another registration got there first.
   *
   * @example
   * await claims.claim('1a1', uuid, '1h9', '1h2') // the old host is gone: the machine becomes 1h9
   */
  async claim(projectId: string, uuid: string, hostId: string, replacing?: string): Promise<boolean> {
    const claimed = await this.store.write({
      key: keys.hostClaim(projectId, uuid),
      update: { set: { hostId } },
      condition: replacing ? cond.eq('hostId', replacing) : cond.notExists('pk'),
    });
    return !!claimed;
  }
}
