/**
 * The update builder: expressions with placeholders for every name and value, and the in-memory application
 * that gives an update's new image (checked against DynamoDB itself in changes.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { applyUpdate, buildExpression, cond } from './expression.js';

describe('buildExpression', () => {
  it('names every attribute and value by placeholder, once per name', () => {
    const e = buildExpression(
      { set: { 'fields.agentSeenAt': 5, gone: undefined }, setIfAbsent: { ackedAt: 5 }, add: { version: 1 }, remove: ['body'] },
      cond.and(cond.exists('pk'), cond.or(cond.notExists('fields.n'), cond.le('fields.n', 3)), cond.in('state', ['a', 'b'])),
    );
    expect(e.UpdateExpression).toBe(
      'SET #n0.#n1 = :v0, #n3 = if_not_exists(#n3, :v1), #n4 = if_not_exists(#n4, :v2) + :v3 REMOVE #n2, #n5',
    );
    expect(e.ConditionExpression).toBe('(attribute_exists(#n6)) AND ((attribute_not_exists(#n0.#n7)) OR (#n0.#n7 <= :v4)) AND (#n8 IN (:v5, :v6))');
    expect(e.ExpressionAttributeNames).toEqual({
      '#n0': 'fields', '#n1': 'agentSeenAt', '#n2': 'gone', '#n3': 'ackedAt', '#n4': 'version', '#n5': 'body', '#n6': 'pk', '#n7': 'n', '#n8': 'state',
    });
    expect(e.ExpressionAttributeValues).toEqual({ ':v0': 5, ':v1': 5, ':v2': 0, ':v3': 1, ':v4': 3, ':v5': 'a', ':v6': 'b' });
  });

  it('leaves out what is not asked for', () => {
    expect(buildExpression(undefined, cond.notExists('pk'))).toEqual({
      ConditionExpression: 'attribute_not_exists(#n0)',
      ExpressionAttributeNames: { '#n0': 'pk' },
    });
    expect(buildExpression()).toEqual({});
  });
});

describe('applyUpdate', () => {
  it('applies set, setIfAbsent, add and remove without touching the item it was given', () => {
    const item = { pk: 'x', fields: { a: 1, keep: true }, ackedAt: 3, body: 'b' };
    const out = applyUpdate(item, { set: { 'fields.a': 2, gone: undefined }, setIfAbsent: { ackedAt: 9, doneAt: 9 }, add: { version: 1, 'fields.n': 4 }, remove: ['body'] });
    expect(out).toEqual({ pk: 'x', fields: { a: 2, keep: true, n: 4 }, ackedAt: 3, doneAt: 9, version: 1 });
    expect(item).toEqual({ pk: 'x', fields: { a: 1, keep: true }, ackedAt: 3, body: 'b' });
  });
});
