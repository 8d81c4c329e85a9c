/**
 * @module
 * The one DynamoDB table of a stage: key attributes and global secondary indexes, chosen from the access
 * patterns below. Both the SST stack and the embedded store create the table from this definition. The keys
 * themselves (item keys of every entity, index partitions) are built in `core/store/keys.ts` alone.
 *
 * | index        | partition key                         | sort key   | serves                                   |
 * |--------------|---------------------------------------|------------|------------------------------------------|
 * | (table)      | `pk` = resource id (`1i5`) or `counter#…` | `sk`   | get by id, counters, config items        |
 * | (table)      | `pk` = `ak#<publicValue>`             | `A`        | a credential by its access key (auth)    |
 * | byProject    | `P#<project>#<baseType>`              | padded num | list a project's instances/links/hosts   |
 * | byKind       | `K#<baseType>`                        | padded num | admin lists across projects              |
 * | byState      | `S#<project>#<baseType>#<state>`      | padded num | `?state=running` without a scan          |
 * | byHost       | `H#<hostId>#<baseType>`               | padded num | instances on a host                      |
 * | byDeadline   | `T#<num mod 8>` (while an action runs, or a removed instance awaits its purge) | deadline (or removeTime) + id | the sweeper: transitions past due, purges due |
 * | byDeadline   | `WD#<num mod 8>` (a webhook delivery awaiting an attempt) | nextAttemptAt + id | the webhook worker |
 * | byDeadline   | `RD#<num mod 8>` (an instance with a pending recovery, no action) | recovery.nextAt + id | `InstanceHealth.runDue` |
 */

export const INDEXES = {
  byProject: { pk: 'gsi1pk', sk: 'gsi1sk' },
  byKind: { pk: 'gsi2pk', sk: 'gsi2sk' },
  byState: { pk: 'gsi3pk', sk: 'gsi3sk' },
  byHost: { pk: 'gsi4pk', sk: 'gsi4sk' },
  byDeadline: { pk: 'gsi6pk', sk: 'gsi6sk' },
} as const;

/** The sweep index is spread over this many partitions so transitions never pile onto one hot key. */
export const DEADLINE_SHARDS = 8;

export type IndexName = keyof typeof INDEXES;

/** Name of the TTL attribute (epoch seconds). Reads filter on it too, since TTL deletion is lazy. */
export const TTL_ATTRIBUTE = 'expiresAt';

/**
 * The CreateTable input for the table (on-demand billing, all GSIs projecting ALL).
 *
 * @example
 * await client.send(new CreateTableCommand(tableDefinition('drover-local')));
 */
export function tableDefinition(tableName: string) {
  const attrs = new Set<string>(['pk', 'sk']);
  for (const i of Object.values(INDEXES)) {
    attrs.add(i.pk);
    attrs.add(i.sk);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...attrs].map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' as const },
      { AttributeName: 'sk', KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: Object.entries(INDEXES).map(([name, i]) => ({
      IndexName: name,
      KeySchema: [
        { AttributeName: i.pk, KeyType: 'HASH' as const },
        { AttributeName: i.sk, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}
