/**
 * @module
 * JSON over HTTP, for every router of the app (`core/api` for `/v1`, `core/agent` for `/agent`): reading a request
 * body as a JSON object and answering with JSON. It sits below both, so neither imports the other for it.
 */
import type { Context } from 'hono';
import { ApiError } from '../errors.js';

/** The Content-Type of every JSON answer. */
export const JSON_TYPE = { 'Content-Type': 'application/json; charset=utf-8' } as const;

/**
 * Answers with `body` as JSON.
 *
 * @example
 * return sendJson(c, { ok: true });
 * return sendJson(c, renderResource(res, urls, role), 201);
 */
export function sendJson(c: Context, body: unknown, status = 200): Response {
  return c.body(JSON.stringify(body), status as 200, JSON_TYPE);
}

/**
 * A request body as a JSON object (empty → `{}`); anything else is `400 InvalidBodyContent`.
 *
 * @example
 * parseJsonObject('{"token": "..."}') // { token: '...' }
 */
export function parseJsonObject(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'InvalidBodyContent', { message: 'Request body is not valid JSON', cause: e });
  }
  if (!isJsonObject(body)) throw new ApiError(400, 'InvalidBodyContent', { message: 'Request body must be a JSON object' });
  return body;
}

/**
 * Whether a parsed JSON value is an object (not `null`, not an array).
 *
 * @example
 * isJsonObject(JSON.parse('[1]')) // false
 */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
