/**
 * @module
 * Copies every item of the table to a journal file and loads a journal back into a new table, so index entries
 * can be rebuilt from the items alone (the embedded store's recovery after an unclean stop). Its writes are a
 * restore of items already reported when they were first written, not changes: they bypass `Store.write` and
 * report nothing on the change feed (`store.changes`), as a DynamoDB table restore adds nothing to a stream.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  BatchWriteItemCommand,
  ResourceNotFoundException,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { inParallel } from '../parallel.js';
import { ensureTable } from './connect.js';

export interface JournalOptions {
  client: DynamoDBClient;
  tableName: string;
  /** The journal file. It exists only once it is complete (written aside, synced, then renamed into place). */
  file: string;
}

/** Items as DynamoDB sends them (attribute-value form), so a journal round trip is exact. */
type Item = Record<string, AttributeValue>;

/** The content of a journal file. */
export interface Journal {
  tableName: string;
  count: number;
  items: Item[];
}

/** Requests in flight while loading; dynalite and DynamoDB both take this comfortably. */
const PARALLEL_BATCHES = 4;
const BATCH_SIZE = 25;

/**
 * Writes every item of the table (a consistent Scan of the base table, no index) to `file`, durably: the data goes
 * to `<file>.tmp`, is synced, and is renamed into place, so `file` either does not exist or holds every item.
 * A missing table journals as empty. Returns how many items it wrote.
 *
 * @example
 * const n = await journalTable({ client, tableName: 'drover', file: '.drover/dynamodb.journal' });
 */
export async function journalTable(opts: JournalOptions): Promise<number> {
  const items: Item[] = [];
  let start: Item | undefined;
  try {
    do {
      const out = await opts.client.send(
        new ScanCommand({ TableName: opts.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException) && (e as { name?: string }).name !== 'ResourceNotFoundException') throw e;
  }
  const journal: Journal = { tableName: opts.tableName, count: items.length, items };
  const tmp = `${opts.file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(journal));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, opts.file);
  syncDir(dirname(opts.file));
  return items.length;
}

/**
 * Reads a complete journal; throws when it is not one (so nothing is dropped on the strength of a bad file).
 *
 * @example
 * if (existsSync(file)) readJournal(file).count // items it holds
 */
export function readJournal(file: string): Journal {
  const journal = JSON.parse(readFileSync(file, 'utf8')) as Journal;
  if (!Array.isArray(journal.items) || journal.items.length !== journal.count) {
    throw new Error(`${file} is not a complete journal (${journal.items?.length ?? 0} of ${journal.count} items)`);
  }
  return journal;
}

/**
 * Creates the table (from `tableDefinition`) if it is missing, writes every journaled item into it with
 * BatchWriteItem (each write derives the item's index entries afresh), then deletes the journal. Safe to repeat:
 * the writes are whole-item puts, so replaying a journal again yields the same table. `journal` is the file's
 * content when the caller has read it already. Returns the item count.
 *
 * @example
 * await replayJournal({ client, tableName: 'drover', file: '.drover/dynamodb.journal' });
 */
export async function replayJournal(opts: JournalOptions & { journal?: Journal }): Promise<number> {
  const { items } = opts.journal ?? readJournal(opts.file);
  await ensureTable(opts.client, opts.tableName);
  const batches: Item[][] = [];
  for (let i = 0; i < items.length; i += BATCH_SIZE) batches.push(items.slice(i, i + BATCH_SIZE));
  await inParallel(batches, PARALLEL_BATCHES, (batch) => writeBatch(opts, batch));
  rmSync(opts.file, { force: true });
  syncDir(dirname(opts.file));
  return items.length;
}

/**
 * One BatchWriteItem, resending what the server left unprocessed (with a short backoff) until all is written.
 * Not reported on the change feed: see the module note.
 */
async function writeBatch(opts: JournalOptions, items: Item[]): Promise<void> {
  let requests = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; requests.length; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt)));
    const out = await opts.client.send(new BatchWriteItemCommand({ RequestItems: { [opts.tableName]: requests } }));
    requests = (out.UnprocessedItems?.[opts.tableName] ?? []) as typeof requests;
  }
}

/**
 * Makes a create, rename or unlink in `dir` durable (a no-op where directories cannot be synced).
 *
 * @example
 * renameSync(tmp, file); syncDir(dirname(file));
 */
export function syncDir(dir: string): void {
  if (!existsSync(dir)) return;
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* not supported on this platform */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
