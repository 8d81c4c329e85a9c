/**
 * @module
 * The one builder of DynamoDB update and condition expressions: changes and conditions as data, turned into
 * `UpdateExpression` / `ConditionExpression` with their placeholder maps, and the same change applied to an
 * item in memory (so a write that returns only the old image still reports the new one exactly).
 */

/** An attribute path: a top-level name, or names joined by `.` into nested maps (`fields.allocatedVcpu`). */
export type Path = string;

/**
 * A change to one item. `set` writes values (`undefined` removes the attribute), `setIfAbsent` writes only where
 * the attribute is missing, `add` adds to a number (a missing one counts as 0), `remove` drops attributes.
 */
export interface Update {
  set?: Record<Path, unknown>;
  setIfAbsent?: Record<Path, unknown>;
  add?: Record<Path, number>;
  remove?: readonly Path[];
}

/** A condition on the stored item, as data. */
export type Condition =
  | { exists: Path }
  | { notExists: Path }
  | { eq: Path; value: unknown }
  | { ne: Path; value: unknown }
  | { le: Path; value: unknown }
  | { in: Path; values: readonly unknown[] }
  | { and: Condition[] }
  | { or: Condition[] };

/**
 * Condition constructors.
 *
 * @example
 * cond.and(cond.exists('pk'), cond.eq('status', 'pending'))
 * cond.or(cond.notExists('pk'), cond.le('expiresAt', nowSec))
 */
export const cond = {
  exists: (path: Path): Condition => ({ exists: path }),
  notExists: (path: Path): Condition => ({ notExists: path }),
  eq: (path: Path, value: unknown): Condition => ({ eq: path, value }),
  ne: (path: Path, value: unknown): Condition => ({ ne: path, value }),
  le: (path: Path, value: unknown): Condition => ({ le: path, value }),
  in: (path: Path, values: readonly unknown[]): Condition => ({ in: path, values }),
  and: (...all: Condition[]): Condition => ({ and: all }),
  or: (...any: Condition[]): Condition => ({ or: any }),
};

/** The expression parts of an UpdateItem / PutItem / DeleteItem request. */
export interface Expression {
  UpdateExpression?: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * Builds the expressions of a change and a condition, with placeholders for every name and value (so no
 * attribute name can collide with a DynamoDB reserved word).
 *
 * @example
 * buildExpression({ set: { 'fields.agentSeenAt': now }, add: { version: 1 } }, cond.exists('pk'))
 * // { UpdateExpression: 'SET #n0.#n1 = :v0, #n2 = if_not_exists(#n2, :v1) + :v2', ConditionExpression: 'attribute_exists(#n3)', ... }
 */
export function buildExpression(update?: Update, condition?: Condition): Expression {
  const names = new Map<string, string>();
  const values: Record<string, unknown> = {};
  const name = (path: Path) =>
    path
      .split('.')
      .map((part) => {
        let p = names.get(part);
        if (!p) names.set(part, (p = `#n${names.size}`));
        return p;
      })
      .join('.');
  const value = (v: unknown) => {
    const p = `:v${Object.keys(values).length}`;
    values[p] = v;
    return p;
  };
  const out: Expression = {};
  if (update) {
    const sets: string[] = [];
    const removes: string[] = [];
    for (const [path, v] of Object.entries(update.set ?? {})) {
      if (v === undefined) removes.push(name(path));
      else sets.push(`${name(path)} = ${value(v)}`);
    }
    for (const [path, v] of Object.entries(update.setIfAbsent ?? {})) {
      const n = name(path);
      sets.push(`${n} = if_not_exists(${n}, ${value(v)})`);
    }
    for (const [path, v] of Object.entries(update.add ?? {})) {
      const n = name(path);
      sets.push(`${n} = if_not_exists(${n}, ${value(0)}) + ${value(v)}`);
    }
    for (const path of update.remove ?? []) removes.push(name(path));
    const clauses = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''];
    out.UpdateExpression = clauses.filter(Boolean).join(' ');
  }
  if (condition) {
    const render = (c: Condition): string => {
      if ('exists' in c) return `attribute_exists(${name(c.exists)})`;
      if ('notExists' in c) return `attribute_not_exists(${name(c.notExists)})`;
      if ('eq' in c) return `${name(c.eq)} = ${value(c.value)}`;
      if ('ne' in c) return `${name(c.ne)} <> ${value(c.value)}`;
      if ('le' in c) return `${name(c.le)} <= ${value(c.value)}`;
      if ('in' in c) return `${name(c.in)} IN (${c.values.map(value).join(', ')})`;
      if ('and' in c) return c.and.map((x) => `(${render(x)})`).join(' AND ');
      return c.or.map((x) => `(${render(x)})`).join(' OR ');
    };
    out.ConditionExpression = render(condition);
  }
  if (names.size) out.ExpressionAttributeNames = Object.fromEntries([...names].map(([n, p]) => [p, n]));
  if (Object.keys(values).length) out.ExpressionAttributeValues = values;
  return out;
}

/**
 * The item as `update` leaves it: what DynamoDB computes from the same expression, done in memory. Nested maps
 * on a changed path are copied, so `item` itself is not modified.
 *
 * @example
 * applyUpdate({ pk: 'counter#host', n: 50 }, { add: { n: 50 } }) // { pk: 'counter#host', n: 100 }
 */
export function applyUpdate(item: Record<string, unknown>, update: Update): Record<string, unknown> {
  const out = { ...item };
  const edit = (path: Path, fn: (cur: unknown) => unknown) => {
    const parts = path.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      node = node[part] = next && typeof next === 'object' ? { ...(next as Record<string, unknown>) } : {};
    }
    const last = parts[parts.length - 1];
    const v = fn(node[last]);
    if (v === undefined) delete node[last];
    else node[last] = v;
  };
  for (const [path, v] of Object.entries(update.set ?? {})) edit(path, () => v);
  for (const [path, v] of Object.entries(update.setIfAbsent ?? {})) edit(path, (cur) => (cur === undefined ? v : cur));
  for (const [path, v] of Object.entries(update.add ?? {})) edit(path, (cur) => (typeof cur === 'number' ? cur : 0) + v);
  for (const path of update.remove ?? []) edit(path, () => undefined);
  return out;
}
