/**
 * @module
 * The embedded store on disk, with recovery from an unclean stop: dynalite writes an item's index entries and the
 * item itself as separate LevelDB writes, so a process killed between them leaves indexes out of step with items.
 *
 *   start ── `<dir>.open` exists? ─no──────────────────────────────────────▶ serve
 *     │          └yes: the last run did not close cleanly
 *     └─ mark open     ├─ no journal: consistent Scan of the items ─▶ `<dir>.journal` (synced, renamed)
 *                      └─ journal ─▶ remove `<dir>` ─▶ new table, items written back (indexes derived afresh)
 *                                    ─▶ journal removed ─▶ serve
 *   close ── dynalite closed ─▶ `<dir>.open` removed
 *
 * Once the journal exists it holds every item, so a kill at any later point just replays it on the next start.
 * Starting from an empty directory (rather than DeleteTable/CreateTable) leaves no table that a kill could strand
 * half-deleted or half-created, a state dynalite cannot be talked out of.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureTable, type StoreClient } from '../store/connect.js';
import { journalTable, readJournal, replayJournal, syncDir } from '../store/recovery.js';
import { connectEmbedded } from './dynalite.js';

export interface DiskStoreOptions {
  /** dynalite's LevelDB directory, e.g. `.drover/dynamodb`; the marker and journal sit beside it. */
  dir: string;
  tableName: string;
  region: string;
  /** Where the recovery line goes (default console.log). */
  log?: (line: string) => void;
}

export interface DiskStore {
  client: StoreClient;
  endpoint: string;
  /** What recovery did at this start, when the last run had not stopped cleanly. */
  recovered?: { items: number; ms: number; resumed: boolean };
  /** Closes the client and dynalite (flushing LevelDB), then marks the directory cleanly closed. */
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) the table in `dir`, first rebuilding its indexes if the last run stopped uncleanly.
 *
 * @example
 * const store = await openDiskStore({ dir: '.drover/dynamodb', tableName: 'drover', region: 'us-east-1' });
 * await store.close();
 */
export async function openDiskStore(opts: DiskStoreOptions): Promise<DiskStore> {
  const marker = `${opts.dir}.open`;
  const journal = `${opts.dir}.journal`;
  const unclean = existsSync(marker);
  mkdirSync(dirname(opts.dir), { recursive: true });
  writeDurably(marker);

  let db = await connectEmbedded({ path: opts.dir, region: opts.region });
  let recovered: DiskStore['recovered'];
  try {
    if (unclean || existsSync(journal)) {
      const began = Date.now();
      const resumed = existsSync(journal);
      if (!resumed) await journalTable({ client: db.client, tableName: opts.tableName, file: journal });
      // Read (and check) the journal before anything is dropped.
      const items = readJournal(journal);
      await db.close();
      rmSync(opts.dir, { recursive: true, force: true });
      db = await connectEmbedded({ path: opts.dir, region: opts.region });
      await replayJournal({ client: db.client, tableName: opts.tableName, file: journal, journal: items });
      recovered = { items: items.count, ms: Date.now() - began, resumed };
      (opts.log ?? console.log)(
        `Recovered from an unclean stop: rebuilt the indexes of ${items.count} items in ${recovered.ms} ms` +
          (resumed ? ' (finished an interrupted rebuild from its journal)' : ''),
      );
    } else {
      await ensureTable(db.client, opts.tableName);
    }
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }

  const { client, endpoint } = db;
  return {
    client,
    endpoint,
    recovered,
    async close() {
      await db.close();
      rmSync(marker, { force: true });
    },
  };
}

/** Creates `file` (empty) and syncs it and its directory, so the mark survives whatever happens next. */
function writeDurably(file: string): void {
  const fd = openSync(file, 'w');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDir(dirname(file));
}
