/**
 * Closing the embedded DynamoDB while requests are in flight: every request already being answered finishes, and
 * nothing throws out of dynalite afterwards (a Query caught between its table lookup and its read stream used to
 * throw "Database is not open" from a timer, which ends the process: `npm start` then exited 1 on SIGTERM).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { dynamoClient, ensureTable } from '../store/connect.js';
import { Store } from '../store/store.js';
import { startDynalite } from './dynalite.js';

const uncaught: unknown[] = [];
const record = (e: unknown) => uncaught.push(e);
process.on('uncaughtException', record);
afterAll(() => {
  process.off('uncaughtException', record);
});

describe('startDynalite close', () => {
  it('lets the requests in progress finish, then closes without an error escaping', async () => {
    for (let round = 0; round < 40; round++) {
      const db = await startDynalite();
      const client = dynamoClient({ region: 'us-east-1', endpoint: db.endpoint, local: true });
      await ensureTable(client, 'drover');
      const store = new Store({ client, tableName: 'drover' });
      // Answered, or refused because the server is gone; never left hanging.
      const queries = Array.from({ length: 30 }, async () => {
        for await (const page of store.queryIndex({ index: 'byKind', partition: 'K#instance' })) void page;
      }).map((q) => q.catch(() => 'refused'));
      // Close at a different point of the queries' progress each round.
      for (let i = round % 20; i > 0; i--) await new Promise((r) => setImmediate(r));
      await db.close();
      client.destroy();
      await Promise.all(queries);
      await new Promise((r) => setImmediate(r));
    }
    expect(uncaught.map(String)).toEqual([]);
  }, 60_000);
});
