/**
 * @module
 * Host registration (design notes §A.8): an agent presents a project's registration token and its host
 * facts, and gets the host's id and a credential bound to that host. The same `uuid` in the same project
 * always means the same host; registering again rotates the host's agent key (the old one stops working).
 */
import { ConflictError, NotFoundError, statusError } from '../errors.js';
import { formatId } from '../ids.js';
import type { Resource } from '../store/item.js';
import type { HostFacts } from './protocol.js';
import { HostClaims } from '../store/host-claims.js';
import type { Store } from '../store/store.js';
import { AGENT_KEY_TYPE, hashSecret, newKeyPair, type Authenticator } from '../domain/credentials.js';


export interface Registration {
  hostId: string;
  accessKey: string;
  secretKey: string;
  /** True when this registration created the host (false: an existing host re-registered). */
  created: boolean;
}

export interface RegistrationDeps {
  store: Store;
  auth: Authenticator;
  now?: () => number;
}

/**
 * The host's fields an agent's facts set, at registration and when a restarted agent reports them again: what it
 * offers, which driver runs its instances, what that driver serves (`capabilities`) and applies (`sandbox`), and
 * where its access server and instances are reached. A fact the agent does not send is cleared (`null`), so a host
 * whose agent stopped serving access offers none.
 *
 * @example
 * await store.mutate(host.id, (cur) => ({ ...cur, fields: { ...cur.fields, ...factFields(facts) } }));
 */
export function factFields(facts: Omit<HostFacts, 'uuid'>): Record<string, unknown> {
  return {
    hostname: facts.hostname,
    vcpu: facts.vcpu,
    memoryMb: facts.memoryMb,
    labels: facts.labels,
    driver: facts.driver ?? null,
    capabilities: facts.capabilities ?? null,
    accessUrl: facts.accessUrl ?? null,
    agentAddress: facts.address ?? null,
    sandbox: facts.sandbox ?? null,
  };
}

/** A revoked agent key is kept this long (s) before it expires, for inspection. */
const REVOKED_RETENTION_SECONDS = 86_400;


/**
 * Registers (or re-registers) a host with a registration token. Bad, removed or deactivated token: 401.
 *
 * @example
 * const { hostId, accessKey, secretKey } = await registerHost({ store, auth }, token,
 *   { uuid, hostname: 'node-1', vcpu: 4, memoryMb: 8192, labels: {} });
 */
export async function registerHost(deps: RegistrationDeps, token: string, facts: HostFacts): Promise<Registration> {
  const { store, auth } = deps;
  const now = (deps.now ?? Date.now)();
  const reg = await auth.registrationToken(token);
  if (!reg) throw statusError(401, 'Invalid registration token');

  // One claim per (project, uuid) makes concurrent first registrations agree on one host.
  const claims = new HostClaims(store);
  let host: Resource | undefined;
  let created = false;
  for (let attempt = 0; !host; attempt++) {
    if (attempt > 5) throw new ConflictError(`Host ${facts.uuid} is being registered by another request; try again`);
    const claimedId = await claims.holder(reg.projectId, facts.uuid);
    const existing = claimedId ? await store.get(claimedId) : undefined;
    if (existing && !['removed', 'purging', 'purged'].includes(existing.state)) {
      const { after } = await store.mutate(existing.id, (cur) => ({
        ...cur,
        fields: { ...cur.fields, ...factFields(facts), agentSeenAt: now },
      }));
      host = after;
      break;
    }
    const num = await store.nextId('host');
    const id = formatId('host', num);
    // Another registration claimed it first: reuse its host.
    if (!(await claims.claim(reg.projectId, facts.uuid, id, claimedId))) continue;
    host = await store.create({
      id,
      num,
      type: 'host',
      baseType: 'host',
      projectId: reg.projectId,
      state: 'active',
      version: 0,
      created: now,
      updated: now,
      fields: {
        uuid: facts.uuid,
        ...factFields(facts),
        allocatedVcpu: 0,
        allocatedMemoryMb: 0,
        agentSeenAt: now,
        registrationTokenId: reg.tokenId,
      },
    });
    created = true;
  }

  // The new key first, then the host points at it; the key it replaced is revoked.
  const { publicValue, secretValue } = newKeyPair();
  const keyNum = await store.nextId('credential');
  const key = await store.create({
    id: formatId('credential', keyNum),
    num: keyNum,
    type: AGENT_KEY_TYPE,
    baseType: 'credential',
    projectId: host.projectId,
    state: 'active',
    version: 0,
    created: now,
    updated: now,
    fields: { publicValue, secretHash: hashSecret(secretValue), agentHostId: host.id },
  });
  let previous: unknown;
  await store.mutate(host.id, (cur) => {
    previous = cur.fields.agentKeyId;
    return { ...cur, fields: { ...cur.fields, agentKeyId: key.id } };
  });
  if (typeof previous === 'string' && previous !== key.id) await revokeKey(store, previous, now);
  auth.invalidate();
  return { hostId: host.id, accessKey: publicValue, secretKey: secretValue, created };
}

/** Marks an agent key removed (it fails authentication from then on) and lets it expire later. */
async function revokeKey(store: Store, id: string, now: number): Promise<void> {
  try {
    await store.mutate(id, (cur) => ({
      ...cur,
      state: 'removed',
      fields: { ...cur.fields, removed: now },
      expiresAt: Math.floor(now / 1000) + REVOKED_RETENTION_SECONDS,
    }));
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
}
