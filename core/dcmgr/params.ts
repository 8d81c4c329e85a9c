/**
 * @module
 * Reading one dcmgr parameter as a string, integer or boolean, whether it came as a form field (always text) or
 * in a JSON/YAML body (typed). A value of the wrong shape is `InvalidParameter` (400/143) naming the parameter.
 */
import { DcmgrError } from './errors.js';

/** The service types dcmgr's configuration offers (`dcmgr.conf` `service_type`); anything else is refused. */
export const SERVICE_TYPES = ['std', 'lb'] as const;

type Params = Record<string, unknown>;

function invalid(name: string, why: string): DcmgrError {
  return new DcmgrError('InvalidParameter', `${name}: ${why}`);
}

/**
 * A text parameter as given (`''` included: dcmgr sets an empty display name), or `undefined` when absent.
 *
 * @example
 * stringParam({ display_name: 'web' }, 'display_name') // 'web'
 * stringParam({ display_name: ['a', 'b'] }, 'display_name') // throws InvalidParameter "display_name: ..."
 */
export function stringParam(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw invalid(name, 'must be a single text value');
}

/**
 * The text parameters among `names` that the request gives, by name: the fields a `PUT` changes.
 *
 * @example
 * stringParams({ display_name: 'web', other: 'x' }, ['display_name', 'description']) // { display_name: 'web' }
 */
export function stringParams(params: Params, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = stringParam(params, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * A list filter: as `stringParam`, but empty counts as absent (mussel sends `?&service_type=...` and the like).
 *
 * @example
 * filterParam({ state: '' }, 'state') // undefined
 */
export function filterParam(params: Params, name: string): string | undefined {
  const v = stringParam(params, name);
  return v === '' ? undefined : v;
}

/**
 * A required text parameter: absent or empty is `InvalidParameter`.
 *
 * @example
 * requiredString({ network: '10.0.0.0' }, 'network') // '10.0.0.0'
 */
export function requiredString(params: Params, name: string): string {
  const v = stringParam(params, name);
  if (v === undefined || v === '') throw invalid(name, 'is required');
  return v;
}

/**
 * An integer parameter within bounds, from digits or a JSON number; `undefined` when absent or empty.
 *
 * @example
 * intParam({ prefix: '24' }, 'prefix', 1, 31) // 24
 */
export function intParam(params: Params, name: string, min: number, max: number): number | undefined {
  const text = filterParam(params, name);
  if (text === undefined) return undefined;
  const n = /^-?\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw invalid(name, `must be an integer in ${min}..${max}, not ${JSON.stringify(text.slice(0, 64))}`);
  return n;
}

const BOOLEANS: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

/**
 * A boolean parameter (`true`/`false`/`1`/`0`, as dcmgr reads `is_public`); `undefined` when absent or empty.
 *
 * @example
 * boolParam({ is_public: '1' }, 'is_public') // true
 */
export function boolParam(params: Params, name: string): boolean | undefined {
  const text = filterParam(params, name);
  if (text === undefined) return undefined;
  if (!Object.hasOwn(BOOLEANS, text)) throw invalid(name, `must be true, false, 1 or 0, not ${JSON.stringify(text.slice(0, 64))}`);
  return BOOLEANS[text];
}

/**
 * A `service_type` parameter, which must be one of `SERVICE_TYPES` (dcmgr `validate_service_type`).
 *
 * @example
 * serviceTypeParam({ service_type: 'std' }) // 'std'
 */
export function serviceTypeParam(params: Params): string | undefined {
  const v = filterParam(params, 'service_type');
  if (v !== undefined && !(SERVICE_TYPES as readonly string[]).includes(v)) throw invalid('service_type', `must be one of ${SERVICE_TYPES.join(', ')}`);
  return v;
}
