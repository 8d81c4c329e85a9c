/**
 * @module
 * The table's stream as the change feed: a DynamoDB Streams record (AWS) becomes the same `Change` the embedded
 * store's feed hands out, so the same consumers (the event feed) run on both.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Change } from './changes.js';
import { kindOfKey } from './keys.js';

/** The part of a DynamoDB Streams record a change is read from (the `dynamodb` member of a Lambda stream event record). */
export interface StreamRecord {
  Keys?: Record<string, AttributeValue>;
  NewImage?: Record<string, AttributeValue>;
  OldImage?: Record<string, AttributeValue>;
}

/**
 * The change a stream record reports (`new_and_old_images` view).
 *
 * @example
 * for (const r of event.Records) feed.consume(changeOfStreamRecord(r.dynamodb));
 */
export function changeOfStreamRecord(record: StreamRecord): Change {
  const key = unmarshall(record.Keys ?? {}) as { pk: string; sk: string };
  return {
    key: { pk: key.pk, sk: key.sk },
    kind: kindOfKey(key),
    oldImage: record.OldImage ? unmarshall(record.OldImage) : undefined,
    newImage: record.NewImage ? unmarshall(record.NewImage) : undefined,
  };
}
