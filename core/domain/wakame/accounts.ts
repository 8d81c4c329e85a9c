/**
 * @module
 * Wakame accounts are Drover projects. An account uuid (`a-shpoolxx`) names a project: the default project is
 * the shared pool `a-shpoolxx` (mussel's default account), a project created through `/v1` has an id derived
 * from its number, and an account the admin names first through `/api` becomes a new project holding that uuid.
 */
import { inService } from '../../process/lifecycle.js';
import { schema } from '../../schema/registry.js';
import { accountClaims, type Claims } from '../../store/claims.js';
import type { Resource } from '../../store/item.js';
import type { Store } from '../../store/store.js';
import { formatId } from '../../ids.js';
import type { DroverService, Scope } from '../service.js';
import { bodyOf, numOfWakameId, wakameIdOf } from './ids.js';

/** The account of the default project: Wakame's shared pool, which mussel and the demo data use. */
export const SHARED_POOL_ACCOUNT = 'a-shpoolxx';

/** A Wakame account and the project it is. */
export interface Account {
  uuid: string;
  projectId: string;
  /** The project is deactivated or removed: dcmgr's disabled account. */
  disabled: boolean;
}

/**
 * Whether a string is an account uuid as dcmgr accepts it (`a-` and word characters).
 *
 * @example
 * isAccountUuid('a-shpoolxx') // true
 */
export function isAccountUuid(uuid: string): boolean {
  return bodyOf('account', uuid) !== null;
}

/**
 * Finds accounts, and makes a project of an account named for the first time.
 *
 * @example
 * const accounts = new WakameAccounts(service);
 * const acct = await accounts.ensure('a-shpoolxx', adminScope); // { uuid, projectId: '1a1', disabled: false }
 */
export class WakameAccounts {
  private readonly claims: Claims<[string]>;
  /** Accounts found recently, so a busy client costs no read per request. A project changed in this process
   *  (`auth.changes`) empties it; one changed elsewhere shows within `CACHE_MS`, as credentials do. */
  private readonly found = new Map<string, { account: Account; until: number; changes: number }>();
  /** Each project's account uuid, once read (it never changes). */
  private readonly uuids = new Map<string, string>();

  constructor(private readonly service: DroverService) {
    this.claims = accountClaims(service.store);
  }

  private get store(): Store {
    return this.service.store;
  }

  /**
   * The account uuid of a project.
   *
   * @example
   * accounts.uuidOf(defaultProject) // 'a-shpoolxx'
   */
  uuidOf(project: Resource): string {
    const named = project.fields.wakameAccountId;
    if (typeof named === 'string') return named;
    return project.id === this.service.deps.defaultProjectId ? SHARED_POOL_ACCOUNT : wakameIdOf('account', project.num);
  }

  /**
   * The account uuid of the project a resource belongs to. A project's uuid never changes, so it is read once per
   * process (a project key's every request asks).
   *
   * @example
   * await accounts.uuidOfProject('1a1') // 'a-shpoolxx'
   */
  async uuidOfProject(projectId: string): Promise<string> {
    if (projectId === this.service.deps.defaultProjectId) return SHARED_POOL_ACCOUNT;
    const known = this.uuids.get(projectId);
    if (known) return known;
    const project = await this.store.get(projectId);
    if (!project) return projectId;
    if (this.uuids.size > 10_000) this.uuids.clear();
    this.uuids.set(projectId, this.uuidOf(project));
    return this.uuidOf(project);
  }

  /**
   * The account a uuid names, if it exists.
   *
   * @example
   * await accounts.find('a-nobody') // undefined
   */
  async find(uuid: string): Promise<Account | undefined> {
    const now = Date.now();
    const changes = this.service.deps.auth.changes;
    const hit = this.found.get(uuid);
    if (hit && hit.until > now && hit.changes === changes) return hit.account;
    const project = await this.projectOf(uuid);
    if (!project) return undefined;
    const account = { uuid, projectId: project.id, disabled: !inService(project) };
    if (this.found.size > 10_000) this.found.clear();
    this.found.set(uuid, { account, until: now + CACHE_MS, changes });
    return account;
  }

  /**
   * The account a uuid names, created as a new project when it does not exist yet (dcmgr creates accounts on
   * first use). Concurrent first uses agree on one project through the uuid's claim.
   *
   * @example
   * await accounts.ensure('a-newteam', adminScope)
   */
  async ensure(uuid: string, scope: Scope): Promise<Account> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const found = await this.find(uuid);
      if (found) return found;
      const stale = await this.claims.holder(uuid);
      let lost = false;
      try {
        await this.service.create(scope, schema('project'), { name: uuid, description: `Wakame-VDC account ${uuid}` }, {
          internal: { wakameAccountId: uuid },
          prepare: async (draft) => {
            lost = !(await this.claims.claim([uuid], draft.id, stale));
            if (lost) throw new AccountRaceLost();
          },
        });
      } catch (e) {
        if (!(e instanceof AccountRaceLost)) throw e;
      }
    }
    const found = await this.find(uuid);
    if (!found) throw new Error(`account ${uuid} could not be created`);
    return found;
  }

  /** The project behind a uuid: the shared pool, a claimed uuid, or a derived one. */
  private async projectOf(uuid: string): Promise<Resource | undefined> {
    if (uuid === SHARED_POOL_ACCOUNT) return this.store.get(this.service.deps.defaultProjectId);
    const claimed = await this.claims.holder(uuid);
    // A claim whose project is missing (a create that died after claiming) is taken over by the next `ensure`.
    if (claimed) return this.store.get(claimed);
    const num = numOfWakameId('account', uuid);
    if (num === null) return undefined;
    const project = await this.store.get(formatId('account', num));
    // A project named on first use answers only to that name.
    return project && project.type === 'project' && project.fields.wakameAccountId === undefined ? project : undefined;
  }
}

/** How long a found account is trusted without reading its project again (as long as credentials are cached). */
const CACHE_MS = 5000;

/** Another request claimed the uuid first: use its project. */
class AccountRaceLost extends Error {}
