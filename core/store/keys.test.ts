/**
 * Item keys and their inverse: the stream consumer learns what an item holds from its key alone, so every entity's
 * key must be recognised (an unrecognised one fails the whole stream batch, over and over).
 */
import { describe, expect, it } from 'vitest';
import { keys, kindOfKey, type ItemKey } from './keys.js';

/** One key of each entity, built by its builder with sample arguments. */
const samples: ItemKey[] = [
  keys.resource('1i5'),
  keys.counter('instance'),
  keys.config('adminKey'),
  keys.accessKey('AK1'),
  keys.command('1h1', '1764620000123.0000'),
  keys.commandKey('1h1', 'start:1i5'),
  keys.hostClaim('1a1', 'uuid-1'),
  keys.idempotency('admin', 'k1'),
  keys.idempotencyPart('admin', 'k1', 'l1', 0),
  keys.wakameAccount('a-shpoolxx'),
  keys.hostnameClaim('1a1', 'web1'),
  keys.event('1a1', '1764620000123.0000'),
  keys.eventSource('1i5', 3),
  keys.auditPointer('1i5'),
  keys.streamConnection('Ab12Cd='),
  keys.agentBell('1h1', 'Ab12Cd='),
  keys.agentBellConnection('Ab12Cd='),
  keys.deliverySource('1wh1', '1764620000123.0000'),
];

describe('kindOfKey', () => {
  it('tells every entity from its key, as the key builders made it', () => {
    expect(new Set(samples.map((k) => k.kind)).size).toBe(Object.keys(keys).length);
    for (const k of samples) expect(kindOfKey(k), `${k.pk} / ${k.sk}`).toBe(k.kind);
  });

  it('refuses a key no entity has', () => {
    expect(() => kindOfKey({ pk: 'nothing#1', sk: 'Z' })).toThrow(/no entity has the key/);
  });
});
