/**
 * @module
 * The Wakame-only resources (images, networks, security groups, SSH key pairs, 11.12 instance specs): stored as
 * resources under their Wakame ids (`wmi-centos1d64`), owned by a project, with dcmgr's columns as fields. What
 * another account may see is decided here: its own, plus public images and the shared pool's networks and specs.
 */
import { randomUUID } from 'node:crypto';
import { WriteConflictError } from '../../errors.js';
import type { BaseType } from '../../ids.js';
import type { Resource } from '../../store/item.js';
import { partitions } from '../../store/keys.js';
import type { Store } from '../../store/store.js';
import { bodyOf, randomWakameId, type WakameKind } from './ids.js';

/** The kinds of Wakame-only resource, each its own base type in the store. */
export type RecordKind = 'image' | 'network' | 'securityGroup' | 'sshKeyPair' | 'instanceSpec';

/** Which records of the shared pool (the default project) every account sees: its networks and specs, and public images. */
const SHARED: Record<RecordKind, (r: Resource) => boolean> = {
  image: (r) => r.fields.is_public === true,
  network: () => true,
  instanceSpec: () => true,
  securityGroup: () => false,
  sshKeyPair: () => false,
};

/** Images any account sees wherever they live. */
const PUBLIC_ANYWHERE: Partial<Record<RecordKind, (r: Resource) => boolean>> = {
  image: (r) => r.fields.is_public === true,
};

export interface NewRecord {
  /** Owning project. */
  projectId: string;
  /** dcmgr columns (and Drover's own, camelCase). */
  fields: Record<string, unknown>;
  /** A chosen id (seeded records: `wmi-centos1d64`); a random one when absent. */
  id?: string;
  state?: string;
}

/**
 * Reads and writes Wakame-only records.
 *
 * @example
 * const records = new WakameRecords(store, '1a1');
 * const sg = await records.create('securityGroup', { projectId: '1a5', fields: { rule: 'tcp:22,22,ip4:0.0.0.0/0' } });
 * await records.get('image', 'wmi-centos1d64', '1a5'); // a public image of the shared pool
 */
export class WakameRecords {
  constructor(
    private readonly store: Store,
    /** The default project: the shared pool `a-shpoolxx`. */
    private readonly sharedProjectId: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stores a new record; a chosen id that exists is a `WriteConflictError`, a random one is drawn again.
   *
   * @example
   * await records.create('network', { projectId: '1a1', id: 'nw-demo1', fields: { ipv4_network: '10.0.2.0', prefix: 24 } });
   */
  async create(kind: RecordKind, rec: NewRecord): Promise<Resource> {
    for (let attempt = 0; ; attempt++) {
      const now = this.now();
      const res: Resource = {
        id: rec.id ?? randomWakameId(kind),
        num: await this.store.nextId(kind as BaseType),
        type: kind,
        baseType: kind as BaseType,
        projectId: rec.projectId,
        state: rec.state ?? 'available',
        version: 0,
        created: now,
        updated: now,
        fields: { uuid: randomUUID(), ...rec.fields },
      };
      try {
        return await this.store.create(res);
      } catch (e) {
        if (!(e instanceof WriteConflictError) || rec.id !== undefined || attempt >= 4) throw e;
      }
    }
  }

  /**
   * A record of the kind visible to a project (`null`: the admin, who sees every account's), or `undefined`.
   *
   * @example
   * await records.get('sshKeyPair', 'ssh-cxkqxlwx', '1a5')
   */
  async get(kind: RecordKind, id: string, projectId: string | null): Promise<Resource | undefined> {
    if (bodyOf(kind as WakameKind, id) === null) return undefined;
    const res = await this.store.get(id);
    if (!res || res.baseType !== kind || res.state === 'deleted') return undefined;
    return this.visible(kind, res, projectId) ? res : undefined;
  }

  /**
   * Every live record of the kind a project sees (`null`: all of them), in id order of creation; with
   * `withDeleted`, the deleted ones too (image lists filter on `state=deleted`).
   *
   * @example
   * await records.list('image', '1a5') // the account's images and every public one
   */
  async list(kind: RecordKind, projectId: string | null, opts: { withDeleted?: boolean } = {}): Promise<Resource[]> {
    // An account sees its own records and the shared pool's; only public images may live anywhere else.
    const queries =
      projectId === null || PUBLIC_ANYWHERE[kind]
        ? [{ index: 'byKind' as const, partition: partitions.byKind(kind) }]
        : [...new Set([projectId, this.sharedProjectId])].map((p) => ({ index: 'byProject' as const, partition: partitions.byProject(p, kind) }));
    const out: Resource[] = [];
    for (const q of queries) {
      for await (const page of this.store.queryIndex(q)) {
        for (const res of page) {
          if ((opts.withDeleted || res.state !== 'deleted') && this.visible(kind, res, projectId)) out.push(res);
        }
      }
    }
    return out.sort((a, b) => a.num - b.num);
  }

  /**
   * Changes a record's fields (read-modify-write with the store's retries; no lost update).
   *
   * @example
   * await records.update(sg, { display_name: 'web' });
   */
  async update(res: Resource, fields: Record<string, unknown>): Promise<Resource> {
    const { after } = await this.store.mutate(res.id, (cur) => ({ ...cur, fields: { ...cur.fields, ...fields } }), { current: res });
    return after;
  }

  /**
   * Deletes a record as dcmgr does: it is marked `deleted` with `deleted_at`, and no longer found.
   *
   * @example
   * await records.remove(sshKey);
   */
  async remove(res: Resource): Promise<Resource> {
    const at = this.now();
    const { after } = await this.store.mutate(
      res.id,
      (cur) => ({ ...cur, state: 'deleted', fields: { ...cur.fields, deleted_at: at } }),
      { current: res },
    );
    return after;
  }

  /** Whether a project may see a record: its own, the shared pool's shared ones, and public images anywhere. */
  private visible(kind: RecordKind, res: Resource, projectId: string | null): boolean {
    if (projectId === null || res.projectId === projectId) return true;
    if (res.projectId === this.sharedProjectId && SHARED[kind](res)) return true;
    return PUBLIC_ANYWHERE[kind]?.(res) ?? false;
  }
}
