/**
 * Every item key reads back as its own kind: the table stream's consumer learns what a record holds from its key
 * alone (`kindOfKey`), and a key it cannot read fails the whole stream batch.
 */
import { describe, expect, it } from 'vitest';
import { keys, kindOfKey } from './keys.js';

describe('kindOfKey', () => {
  it('reads back the kind of every key builder', () => {
    const samples = Object.values({
      resource: keys.resource('1i5'),
      counter: keys.counter('instance'),
      config: keys.config('adminKey'),
      accessKey: keys.accessKey('0123456789ABCDEF0123'),
      command: keys.command('1h1', '1764620000123.0000'),
      commandKey: keys.commandKey('1h1', 'start-1i5'),
      hostClaim: keys.hostClaim('1a1', 'u-1'),
      idempotency: keys.idempotency('1c1', 'k'),
      idempotencyPart: keys.idempotencyPart('1c1', 'k', 'l1', 0),
      wakameAccount: keys.wakameAccount('a-shpoolxx'),
      hostnameClaim: keys.hostnameClaim('1a1', 'web'),
      event: keys.event('1a1', '1764620000123.0000'),
      eventSource: keys.eventSource('1i5', 3),
      auditPointer: keys.auditPointer('1i5'),
      deliverySource: keys.deliverySource('1wh1', '1764620000123.0000'),
    } satisfies Record<keyof typeof keys, unknown>);
    expect(samples).toHaveLength(Object.keys(keys).length);
    for (const k of samples) expect(kindOfKey(k), k.pk).toBe(k.kind);
  });
});
