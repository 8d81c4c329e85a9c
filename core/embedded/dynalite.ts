/**
 * @module
 * Runs dynalite, a DynamoDB-wire-compatible server on LevelDB, in this process on a loopback port. With a
 * path it persists there; without one it keeps everything in memory (tests).
 */
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import dynalite from 'dynalite';

export interface EmbeddedDynamo {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1 (a free port unless one is given).
 *
 * @example
 * const db = await startDynalite({ path: '.drover/dynamodb' });
 * const client = dynamoClient({ region: 'us-east-1', endpoint: db.endpoint, local: true });
 */
export async function startDynalite(opts: { path?: string; port?: number } = {}): Promise<EmbeddedDynamo> {
  if (opts.path) mkdirSync(opts.path, { recursive: true });
  const server = dynalite({ path: opts.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((err?: Error) => (err ? reject(err) : resolve()));
      }),
  };
}
