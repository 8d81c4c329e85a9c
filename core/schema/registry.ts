/**
 * @module
 * Looks schemas up the way Rancher's schema factory does: by id or plural name, case-insensitively,
 * limited to what the caller's role may see.
 */
import { SCHEMAS } from './schemas.js';
import type { ResourceSchema } from './types.js';

/** Who a credential speaks for: the admin, a project key, or a host agent (agent routes only, no `/v1`). */
export type Role = 'admin' | 'project' | 'agent';

const byName = new Map<string, ResourceSchema>();
for (const s of Object.values(SCHEMAS)) {
  byName.set(s.id.toLowerCase(), s);
  byName.set(s.pluralName.toLowerCase(), s);
}

/**
 * The schema named by a URL segment (id or plural, any case) visible to `role`, or undefined.
 *
 * @example
 * schemaFor('virtualmachines', 'project')?.id // 'virtualMachine'
 */
export function schemaFor(name: string, role: Role): ResourceSchema | undefined {
  const s = byName.get(name.toLowerCase());
  if (!s || (s.adminOnly && role !== 'admin')) return undefined;
  return s;
}

/**
 * Every schema the role may see, in definition order.
 *
 * @example
 * visibleSchemas('project').some((s) => s.id === 'apiKey') // false
 */
export function visibleSchemas(role: Role): ResourceSchema[] {
  return Object.values(SCHEMAS).filter((s) => !s.adminOnly || role === 'admin');
}

/**
 * A schema by exact id (internal use; no role check).
 *
 * @example
 * schema('container').parent // 'instance'
 */
export function schema(id: string): ResourceSchema {
  const s = SCHEMAS[id];
  if (!s) throw new Error(`unknown schema ${id}`);
  return s;
}

/**
 * The schema and its descendants, for `createTypes` and for listing a base collection.
 *
 * @example
 * familyOf('container').map((s) => s.id) // ['container', 'virtualMachine']
 */
export function familyOf(id: string): readonly ResourceSchema[] {
  let out = families.get(id);
  if (!out) {
    const members: ResourceSchema[] = [];
    const walk = (sid: string) => {
      members.push(schema(sid));
      for (const s of Object.values(SCHEMAS)) if (s.parent === sid) walk(s.id);
    };
    walk(id);
    families.set(id, (out = members));
  }
  return out;
}

/** Schemas are static; loads and lists ask for families on every request. */
const families = new Map<string, readonly ResourceSchema[]>();
