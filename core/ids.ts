/**
 * @module
 * Rancher-style resource ids: `"1"` + the base type's letters + a number (`1i5`, `1il3`, `1h1`, `1a5`, `1c2`).
 *
 * Numbers come from a per-base-type counter in the store, handed out in blocks (see `store/counter.ts`),
 * so ids are unique and roughly increasing but not dense: a restart may skip the rest of a block.
 */

/** Id prefix of each base type: first letter plus its capitals, lower-cased (cattle `TypeIdFormatter`). */
export const ID_PREFIX = {
  instance: 'i',
  instanceLink: 'il',
  host: 'h',
  account: 'a',
  credential: 'c',
  // Wakame-only resources are stored under their Wakame ids (`wmi-…`); these prefixes only name their counters.
  image: 'im',
  network: 'n',
  securityGroup: 'sg',
  sshKeyPair: 'skp',
  instanceSpec: 'is',
  // Webhooks out: the subscriptions, and one record per delivery of an event to one of them.
  webhook: 'wh',
  webhookDelivery: 'whd',
  // The audit trail: one entry per action request (`core/domain/audit.ts`).
  auditEntry: 'ae',
} as const;

export type BaseType = keyof typeof ID_PREFIX;

/**
 * Formats a numeric id for a base type.
 *
 * @example
 * formatId('instanceLink', 3) // '1il3'
 */
export function formatId(baseType: BaseType, num: number): string {
  return `1${ID_PREFIX[baseType]}${num}`;
}

/**
 * Parses a formatted id of the given base type; `null` when it is malformed or of another type.
 *
 * @example
 * parseId('instance', '1i42') // 42
 * parseId('instance', '1h42') // null
 */
export function parseId(baseType: BaseType, id: string): number | null {
  const m = /^1([a-z]+)(\d{1,15})$/.exec(id);
  if (!m || m[1] !== ID_PREFIX[baseType]) return null;
  const n = Number(m[2]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * The base type an id belongs to, from its prefix; `null` for an unknown prefix.
 *
 * @example
 * baseTypeOfId('1il3') // 'instanceLink'
 */
export function baseTypeOfId(id: string): BaseType | null {
  const m = /^1([a-z]+)\d+$/.exec(id);
  if (!m) return null;
  for (const [t, p] of Object.entries(ID_PREFIX)) if (p === m[1]) return t as BaseType;
  return null;
}
