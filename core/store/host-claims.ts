/**
 * @module
 * Which host a machine is, per project: one claim item per (project, agent uuid) (`pk = hostuuid#<project>#<uuid>`)
 * naming the host, so concurrent first registrations of one machine agree on one host.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoKey, keys } from './keys.js';
import { isConditionFailure, type Store } from './store.js';

const claimKey = (projectId: string, uuid: string) => dynamoKey(keys.hostClaim(projectId, uuid));

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
    const out = await this.store.doc.send(
      new GetCommand({ TableName: this.store.tableName, Key: claimKey(projectId, uuid), ConsistentRead: true }),
    );
    return typeof out.Item?.hostId === 'string' ? out.Item.hostId : undefined;
  }

  /**
   * Points the uuid at `hostId`, if it is unclaimed (or, with `replacing`, still names that host). `false` when
   * another registration got there first.
   *
   * @example
   * await claims.claim('1a1', uuid, '1h9', '1h2') // the old host is gone: the machine becomes 1h9
   */
  async claim(projectId: string, uuid: string, hostId: string, replacing?: string): Promise<boolean> {
    try {
      await this.store.doc.send(
        new PutCommand({
          TableName: this.store.tableName,
          Item: { ...claimKey(projectId, uuid), hostId },
          ConditionExpression: replacing ? 'hostId = :old' : 'attribute_not_exists(pk)',
          ExpressionAttributeValues: replacing ? { ':old': replacing } : undefined,
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }
}
