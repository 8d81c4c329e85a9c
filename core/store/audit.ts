/**
 * @module
 * The audit trail's storage: entries are resources of base type `auditEntry` (so the collection machinery lists,
 * filters and pages them, and `expiresAt` retires them), and one pointer item per audited resource names the entry of
 * its latest action, so the writer finds the entry to close when the action's end arrives. Written through
 * `Store.write`.
 */
import { formatId } from '../ids.js';
import { keys } from './keys.js';
import type { Resource } from './item.js';
import type { Store } from './store.js';

/** Which entry a resource's latest action is recorded in, and what was last recorded of it. */
export interface AuditPointer {
  actionId: string;
  entryId: string;
  /** Written `true` when the action began; whether it has ended, its entry's `outcome` tells. */
  open: boolean;
  /** The action's name and (redacted) input: whether its end chained into the next action depends on them. */
  name: string;
  input: Record<string, unknown>;
  /** The last step recorded, so a write that changed nothing a reader sees adds no step. */
  lastMessage: string | null;
  lastProgress: number | null;
}

/**
 * Reads and writes audit entries and pointers.
 *
 * @example
 * const trail = new AuditStore(store);
 * const id = await trail.newEntryId(); // '1ae7'
 * await trail.create(entry); await trail.setPointer('1i5', pointer);
 */
export class AuditStore {
  constructor(private readonly store: Store) {}

  /**
   * A fresh entry id.
   *
   * @example
   * const { id, num } = await trail.newEntryId(); // { id: '1ae7', num: 7 }
   */
  async newEntryId(): Promise<{ id: string; num: number }> {
    const num = await this.store.nextId('auditEntry');
    return { id: formatId('auditEntry', num), num };
  }

  /**
   * An entry by id (absent once expired).
   *
   * @example
   * await trail.entry('1ae7')
   */
  entry(id: string): Promise<Resource | undefined> {
    return this.store.get(id);
  }

  /**
   * Stores a new entry.
   *
   * @example
   * await trail.create({ id: '1ae7', type: 'auditEntry', ... });
   */
  create(entry: Resource): Promise<Resource> {
    return this.store.create(entry);
  }

  /**
   * Changes an entry (`current`: the copy last written, saving a read; a stale one costs a retry).
   *
   * @example
   * await trail.update('1ae7', (e) => ({ ...e, fields: { ...e.fields, outcome: 'succeeded' } }), cached);
   */
  async update(id: string, fn: (cur: Resource) => Resource, current?: Resource): Promise<Resource> {
    return (await this.store.mutate(id, fn, { current })).after;
  }

  /**
   * The pointer of a resource, if its actions were ever audited.
   *
   * @example
   * (await trail.pointer('1i5'))?.open // true while its action runs
   */
  async pointer(resourceId: string): Promise<AuditPointer | undefined> {
    const item = await this.store.readItem(keys.auditPointer(resourceId));
    if (!item || typeof item.entryId !== 'string') return undefined;
    const { pk: _pk, sk: _sk, version: _v, expiresAt: _e, ...p } = item;
    return p as unknown as AuditPointer;
  }

  /**
   * Replaces a resource's pointer; it expires with the entry it names.
   *
   * @example
   * await trail.setPointer('1i5', { actionId, entryId: '1ae7', open: true, ... }, expiresAt);
   */
  async setPointer(resourceId: string, p: AuditPointer, expiresAt: number): Promise<void> {
    const key = keys.auditPointer(resourceId);
    await this.store.write({ key, put: { pk: key.pk, sk: key.sk, ...p, expiresAt } });
  }
}
