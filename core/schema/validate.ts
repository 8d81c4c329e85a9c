/**
 * @module
 * Input validation driven by the schemas, with Rancher's error codes and order (spec §1.9): keys the
 * operation may not set are dropped, defaults are filled on create, then each field is checked in name order.
 */
import { ValidationError } from '../errors.js';
import { SCHEMAS } from './schemas.js';
import type { FieldDef, ResourceSchema } from './types.js';

/** Answers whether a reference target exists and is visible to the caller. */
export type RefResolver = (targetType: string, id: string) => Promise<boolean>;

export type Mode = 'create' | 'update';

/** Most characters of a map key (a label or environment variable name). */
export const MAX_KEY_LENGTH = 255;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;
const inner = (type: string, wrapper: string) =>
  type.startsWith(`${wrapper}[`) && type.endsWith(']') ? type.slice(wrapper.length + 1, -1) : undefined;

/**
 * Validates a create or update body against a schema and returns the normalized values to store.
 *
 * @example
 * const values = await validateFields(schema('container'), { imageUuid: 'sim:x' }, 'create', refs);
 * values.startOnCreate // true (the default)
 */
export async function validateFields(
  s: ResourceSchema,
  input: Record<string, unknown>,
  mode: Mode,
  refs: RefResolver,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // Required checks come after every value is converted (cattle: field conversion in ValidationHandler, then
  // required fields, then the create filters), so a bad value is reported before a missing one.
  let missing: string | undefined;
  for (const [name, def] of Object.entries(s.resourceFields)) {
    const allowed = mode === 'create' ? def.create : def.update;
    if (!allowed) {
      if (mode === 'create' && def.initialValue !== undefined) out[name] = structuredClone(def.initialValue);
      continue;
    }
    const required = def.required || (mode === 'create' && def.requiredOnCreate);
    const present = Object.prototype.hasOwnProperty.call(input, name) && input[name] !== undefined;
    if (!present) {
      if (mode === 'create' && def.default !== undefined) out[name] = structuredClone(def.default);
      else if (mode === 'create' && def.initialValue !== undefined) out[name] = structuredClone(def.initialValue);
      else if (mode === 'create' && required) missing ??= name;
      continue;
    }
    // A required field given as null is missing rather than "not nullable".
    if (required && input[name] === null) {
      missing ??= name;
      continue;
    }
    const v = await convert(name, def, def.type, input[name], refs);
    if (required && (v === '' || (Array.isArray(v) && v.length === 0))) missing ??= name;
    out[name] = v;
  }
  if (missing !== undefined) throw new ValidationError('MissingRequired', missing);
  return out;
}

/**
 * Validates an action's input against its input schema (defaults filled, unknown keys dropped).
 *
 * @example
 * await validateActionInput('instanceStop', { remove: true }, refs) // { remove: true }
 */
export async function validateActionInput(
  inputType: string | null,
  input: Record<string, unknown>,
  refs: RefResolver,
): Promise<Record<string, unknown>> {
  if (!inputType) return {};
  return validateFields(SCHEMAS[inputType], input, 'create', refs);
}

/**
 * Validates one value against a schema field's type and limits, as create would, and returns it normalized.
 *
 * @example
 * await validateField(schema('container'), 'labels', { tier: 'web' }, refs) // { tier: 'web' }
 */
export function validateField(s: ResourceSchema, name: string, value: unknown, refs: RefResolver): Promise<unknown> {
  const def = s.resourceFields[name];
  return convert(name, def, def.type, value, refs);
}

/**
 * A labels map as every API takes it (container `setlabels`, host registration): an object of strings, with the
 * limits of a container's `labels` on create. Anything else is 422 on `labels`.
 *
 * @example
 * await validateLabels({ tier: 'web' }) // { tier: 'web' }
 */
export async function validateLabels(value: unknown): Promise<Record<string, string>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('InvalidFormat', 'labels');
  // Strings only: a number would otherwise be converted to one, as a create's string fields are.
  for (const v of Object.values(value)) if (typeof v !== 'string') throw new ValidationError('InvalidFormat', 'labels');
  return (await validateField(SCHEMAS.container, 'labels', value, async () => false)) as Record<string, string>;
}

async function convert(name: string, def: FieldDef, type: string, v: unknown, refs: RefResolver): Promise<unknown> {
  if (v === null) {
    if (def.nullable === false) throw new ValidationError('NotNullable', name);
    return null;
  }
  const arrayOf = inner(type, 'array');
  if (arrayOf !== undefined) {
    const list = Array.isArray(v) ? v : [v];
    if (def.maxItems !== undefined && list.length > def.maxItems) throw new ValidationError('MaxLengthExceeded', name);
    const out: unknown[] = [];
    for (const el of list) {
      if (el === null || el === undefined) throw new ValidationError('NotNullable', name);
      out.push(await convert(name, { ...def, nullable: false }, arrayOf, el, refs));
    }
    return out;
  }
  const mapOf = inner(type, 'map');
  if (mapOf !== undefined) {
    if (typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('InvalidFormat', name);
    const entries = Object.entries(v as Record<string, unknown>);
    if (def.maxItems !== undefined && entries.length > def.maxItems) throw new ValidationError('MaxLengthExceeded', name);
    const out: Record<string, unknown> = {};
    for (const [k, el] of entries) {
      if (k.length > MAX_KEY_LENGTH) throw new ValidationError('MaxLengthExceeded', name);
      // A key that is a prototype accessor would not survive storage as data.
      if (k === '__proto__') throw new ValidationError('InvalidFormat', name);
      // A null map value is allowed only for references: an instance link without a target (cattle test_null_links).
      if (el === null && mapOf.startsWith('reference[')) out[k] = null;
      else if (el === null || el === undefined) throw new ValidationError('NotNullable', name);
      else out[k] = await convert(name, { ...def, nullable: false }, mapOf, el, refs);
    }
    return out;
  }
  const refTo = inner(type, 'reference');
  if (refTo !== undefined) {
    const id = typeof v === 'number' ? String(v) : v;
    if (typeof id !== 'string' || !(await refs(refTo, id))) {
      throw new ValidationError('InvalidReference', name);
    }
    return id;
  }
  switch (type) {
    case 'string':
    case 'password': {
      if (typeof v === 'object') throw new ValidationError('InvalidFormat', name);
      const s = String(v);
      checkLength(name, def, s);
      if (def.validChars && !new RegExp(`^[${def.validChars}]*$`).test(s)) {
        throw new ValidationError('InvalidCharacters', name);
      }
      if (def.invalidChars && new RegExp(`[${def.invalidChars}]`).test(s)) {
        throw new ValidationError('InvalidCharacters', name);
      }
      return s;
    }
    case 'enum': {
      if (typeof v !== 'string' || !def.options?.includes(v)) throw new ValidationError('InvalidOption', name);
      return v;
    }
    case 'int': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n)) throw new ValidationError('InvalidFormat', name);
      if (def.min !== undefined && n < def.min) throw new ValidationError('MinLimitExceeded', name);
      if (def.max !== undefined && n > def.max) throw new ValidationError('MaxLimitExceeded', name);
      return n;
    }
    case 'boolean': {
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw new ValidationError('InvalidFormat', name);
    }
    case 'date': {
      const m = typeof v === 'string' ? DATE_RE.exec(v) : null;
      const t = m ? Date.parse(v as string) : NaN;
      // Date.parse rolls impossible dates over (2016-02-30 → March 1); a real date formats back to itself.
      if (Number.isNaN(t) || new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z') !== v) {
        throw new ValidationError('InvalidDateFormat', name);
      }
      return t;
    }
    case 'json':
      return v;
    default: {
      const sub = SCHEMAS[type];
      if (!sub) throw new Error(`schema type ${type} of field ${name} is not defined`);
      if (typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('InvalidFormat', name);
      return validateFields(sub, v as Record<string, unknown>, 'create', refs);
    }
  }
}

function checkLength(name: string, def: FieldDef, s: string) {
  if (def.minLength !== undefined && s.length < def.minLength) throw new ValidationError('MinLengthExceeded', name);
  if (def.maxLength !== undefined && s.length > def.maxLength) throw new ValidationError('MaxLengthExceeded', name);
}
