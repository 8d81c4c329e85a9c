/**
 * @module
 * The shapes of Drover's resource schemas: one definition per type drives validation, `/v1/schemas` and links.
 */
import type { BaseType } from '../ids.js';

/** One field of a schema, with Rancher's attribute names (`create`, `update`, `nullable`, `options`, ...). */
export interface FieldDef {
  /** Rancher type string: `string`, `int`, `boolean`, `date`, `enum`, `json`, `password`,
   *  `reference[T]`, `array[T]`, `map[T]`, or the id of an embedded schema. */
  type: string;
  description?: string | null;
  create?: boolean;
  update?: boolean;
  nullable?: boolean;
  required?: boolean;
  unique?: boolean;
  default?: unknown;
  options?: readonly string[];
  min?: number;
  max?: number;
  /** Least and most characters of a string, or of each string in a list or map. */
  minLength?: number;
  maxLength?: number;
  /** Most entries of a list or map (Drover's attribute; Rancher clients ignore attributes they do not know). */
  maxItems?: number;
  validChars?: string;
  invalidChars?: string;
  /** Returned only in the response to create (e.g. an API key's secret). */
  readOnCreateOnly?: boolean;
  /** `false` hides the field from resource output (Rancher's includeInList:false). */
  output?: boolean;
  /** Offered as a collection filter (modifiers follow from the type). */
  filter?: boolean;
  /** A PUT that changes this field also schedules the type's `update` process. */
  scheduleUpdate?: boolean;
  /**
   * Mandatory on create (absent, null, `""` or `[]` is 422 `MissingRequired`) although the schema does not
   * declare it `required`: cattle enforces `imageUuid` in a create filter (InstanceImageValidationFilter), and
   * its schema leaves the field optional. Server-only, never rendered.
   */
  requiredOnCreate?: boolean;
  /**
   * Value the server stores on create when the key is absent, without declaring a schema `default` (e.g. an
   * empty `labels` map, `nativeContainer: false`). Applies whether or not the field is creatable. Server-only,
   * never rendered.
   */
  initialValue?: unknown;
}

/** A link of a resource: either the resource a reference field points to, or a child collection. */
export type LinkDef =
  | { kind: 'reference'; field: string; type: string }
  | { kind: 'collection'; type: string; field: string };

export interface ActionDef {
  input: string | null;
  output: string | null;
}

/** A schema as Drover defines it. Rendering to Rancher's schema resource happens in `api/render.ts`. */
export interface ResourceSchema {
  id: string;
  pluralName: string;
  /** Parent schema id (container → instance, virtualMachine → container). */
  parent?: string;
  /** Stored base type (id prefix, process table); absent for embedded and action input/output types. */
  baseType?: BaseType;
  resourceFields: Record<string, FieldDef>;
  resourceActions: Record<string, ActionDef>;
  collectionMethods: string[];
  resourceMethods: string[];
  links: Record<string, LinkDef>;
  /** Only the admin role sees this type. */
  adminOnly?: boolean;
}
