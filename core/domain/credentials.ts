/**
 * @module
 * API keys and authentication: HTTP Basic with an access key and secret. Secrets are random and long,
 * so they are stored as SHA-256 hashes (like GitHub tokens) and shown only once, by the create call.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { statusError } from '../errors.js';
import { inService, isGone } from '../process/lifecycle.js';
import type { Role } from '../schema/registry.js';
import type { Resource } from '../store/item.js';
import type { Store } from '../store/store.js';

/**
 * Who is calling: the admin (sees every project), a project key (sees only its project) or a host agent
 * (reaches only its host's commands on `/agent`, nothing on `/v1`).
 */
export interface Principal {
  role: Role;
  /** `admin`, or the API key id (`1c7`). */
  callerId: string;
  /** The project a project or agent key is bound to; `null` for the admin. */
  projectId: string | null;
  /** The host an agent key is bound to (role `agent` only). */
  hostId?: string;
}

/** Roles that may use the Rancher API (`/v1`). */
export const API_ROLES: readonly Role[] = ['admin', 'project'];

/** Type of the internal credential an agent authenticates with (no schema: never listed or rendered). */
export const AGENT_KEY_TYPE = 'agentKey';

/** Type of the credential that lets an agent register a host in a project. */
export const REGISTRATION_TOKEN_TYPE = 'registrationToken';

/** The credential type of a receiver, whose key (`<publicValue>:<secret>`) is its URL's `key`. */
export const RECEIVER_TYPE = 'receiver';

/** Where a receiver is called (`POST <path>?key=<publicValue>:<secret>`), as Rancher's webhook receivers were. */
export const RECEIVER_PATH = '/v1-webhooks/endpoint';

/** The admin credential, kept as a config item so every Lambda of the stage shares it. */
export interface AdminKeyRecord {
  accessKey: string;
  secretHash: string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomString(len: number, alphabet: string): string {
  const bytes = randomBytes(len * 2);
  let out = '';
  for (let i = 0; out.length < len; i++) {
    const b = bytes[i % bytes.length];
    if (b < 256 - (256 % alphabet.length)) out += alphabet[b % alphabet.length];
    if (i > len * 8) break;
  }
  return out.padEnd(len, 'A');
}

/**
 * A new key pair in Rancher's shape: a 20-character public value and a 40-character secret.
 *
 * @example
 * const { publicValue, secretValue } = newKeyPair();
 */
export function newKeyPair(): { publicValue: string; secretValue: string } {
  return { publicValue: randomString(20, 'ABCDEF0123456789'), secretValue: randomString(40, ALNUM) };
}

/**
 * The stored form of a secret.
 *
 * @example
 * hashSecret('s3cret').length // 64
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Parses `Authorization: Basic base64(access:secret)`. */
function parseBasic(header: string | undefined): { access: string; secret: string } | undefined {
  const m = header && /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return undefined;
  return { access: decoded.slice(0, i), secret: decoded.slice(i + 1) };
}

export interface AuthenticatorOptions {
  /** How long a verified credential is trusted without reading the store again (default 5 s). */
  cacheMs?: number;
  now?: () => number;
  /**
   * The admin key kept outside the table (AWS: the stage's secret), followed: read again before a request once its
   * read is old, and after a failed authentication (a rotated key's first use), replacing the stored credential
   * when it changed (`core/domain/admin-key.ts`).
   */
  adminKey?: { follow(): Promise<boolean>; recheck(): Promise<boolean> };
}

/**
 * Turns an Authorization header into a principal, or throws 401.
 * Verified credentials are cached briefly, so a deactivated key stops working within `cacheMs`.
 *
 * @example
 * const who = await auth.authenticate(req.header('authorization'));
 */
export class Authenticator {
  private readonly cache = new Map<string, { p: Principal; until: number }>();
  /** Bumped by `invalidate()`: a lookup that started before it must not repopulate the cache. */
  private generation = 0;

  /** Changes whenever a credential or project changed here: other caches of who may act where check it. */
  get changes(): number {
    return this.generation;
  }
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly adminKey: AuthenticatorOptions['adminKey'];

  constructor(
    private readonly store: Store,
    opts: AuthenticatorOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? 5000;
    this.now = opts.now ?? Date.now;
    this.adminKey = opts.adminKey;
  }

  /**
   * The principal of a Basic credential; 401 when it is not valid, 403 when it is valid but its role is not
   * in `accept` (an agent key on `/v1`, an API key on the agent routes).
   */
  async authenticate(header: string | undefined, accept: readonly Role[] = API_ROLES): Promise<Principal> {
    const p = await this.principal(header);
    if (!accept.includes(p.role)) throw statusError(403);
    return p;
  }

  /**
   * The project and id of an active registration token (`<publicValue>:<secret>`), or `undefined`.
   *
   * @example
   * const reg = await auth.registrationToken(body.token); if (!reg) throw statusError(401);
   */
  async registrationToken(token: string): Promise<{ tokenId: string; projectId: string } | undefined> {
    const k = await this.tokenCredential(token, REGISTRATION_TOKEN_TYPE);
    return k && { tokenId: k.id, projectId: k.projectId };
  }

  /**
   * The active credential of a type that a `<publicValue>:<secret>` token names (a registration token, a
   * receiver's key), in a project in service; `undefined` otherwise.
   *
   * @example
   * const receiver = await auth.tokenCredential(key, 'receiver');
   */
  async tokenCredential(token: string, type: string): Promise<Resource | undefined> {
    const i = token.indexOf(':');
    if (i <= 0) return undefined;
    const k = await this.store.findByAccessKey(token.slice(0, i));
    if (!k || k.type !== type || !inService(k)) return undefined;
    if (!sameHash(String(k.fields.secretHash ?? ''), hashSecret(token.slice(i + 1)))) return undefined;
    if (!(await this.projectInService(k.projectId))) return undefined;
    return k;
  }

  private async principal(header: string | undefined): Promise<Principal> {
    // A changed admin key ends the old one's cached sessions here too.
    if (await this.adminKey?.follow()) this.invalidate();
    const cred = parseBasic(header);
    if (!cred) throw statusError(401);
    const hash = hashSecret(cred.secret);
    const key = `${cred.access}:${hash}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.p;
    let generation = this.generation;
    let p = await this.lookup(cred.access, hash);
    // Refused: perhaps a rotated admin key this process has not read yet.
    if (!p && (await this.adminKey?.recheck())) {
      this.invalidate();
      generation = this.generation;
      p = await this.lookup(cred.access, hash);
    }
    if (!p) throw statusError(401);
    // A key deactivated while this lookup read it stays uncached, so the next request sees the change.
    if (generation === this.generation) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, { p, until: this.now() + this.cacheMs });
    }
    return p;
  }

  /** Forgets cached credentials (after a key or project changes state in this process). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private async lookup(access: string, hash: string): Promise<Principal | undefined> {
    const admin = await this.store.getConfig<AdminKeyRecord>('adminKey');
    if (admin && admin.accessKey === access) {
      return sameHash(admin.secretHash, hash) ? { role: 'admin', callerId: 'admin', projectId: null } : undefined;
    }
    const k = await this.store.findByAccessKey(access);
    // Registration tokens are credentials too, but no login: they only register hosts.
    if (!k || (k.type !== 'apiKey' && k.type !== AGENT_KEY_TYPE)) return undefined;
    if (!inService(k) || !sameHash(String(k.fields.secretHash ?? ''), hash)) return undefined;
    if (!(await this.projectInService(k.projectId))) return undefined;
    if (k.type === 'apiKey') return { role: 'project', callerId: k.id, projectId: k.projectId };
    const hostId = k.fields.agentHostId;
    const host = typeof hostId === 'string' ? await this.store.get(hostId) : undefined;
    if (!host || isGone(host)) return undefined;
    return { role: 'agent', callerId: k.id, projectId: k.projectId, hostId: host.id };
  }

  private async projectInService(projectId: string): Promise<boolean> {
    const project = await this.store.get(projectId);
    return !!project && inService(project);
  }
}
