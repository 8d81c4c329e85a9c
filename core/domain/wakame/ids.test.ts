import { describe, expect, it } from 'vitest';
import { bodyOf, numOfWakameId, randomWakameId, wakameIdOf, WAKAME_PREFIX, type WakameKind } from './ids.js';

describe('Wakame ids', () => {
  it('derives ids of dcmgr form that map back to the Rancher number, for every kind', () => {
    for (const kind of Object.keys(WAKAME_PREFIX) as WakameKind[]) {
      for (const num of [1, 2, 3, 49, 50, 51, 1000, 123_456_789, 2_821_109_907_455]) {
        const id = wakameIdOf(kind, num);
        expect(id).toMatch(new RegExp(`^${WAKAME_PREFIX[kind]}-[0-9a-z]{8}$`));
        expect(numOfWakameId(kind, id)).toBe(num);
      }
    }
  });

  it('gives neighbours unrelated ids, and each kind its own', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => wakameIdOf('instance', i + 1));
    expect(new Set(ids).size).toBe(1000);
    expect(ids[0].slice(2, 4)).not.toBe(ids[1].slice(2, 4));
    expect(wakameIdOf('volume', 5).slice(4)).not.toBe(wakameIdOf('instance', 5).slice(2));
  });

  it('finds nothing behind a malformed id or one of another kind', () => {
    expect(numOfWakameId('instance', wakameIdOf('host', 5))).toBeNull();
    expect(numOfWakameId('host', `hn-${wakameIdOf('instance', 5).slice(2)}`)).not.toBe(5);
    for (const bad of ['i-', 'i-ABCDEFGH', 'i-abc', 'i-abcdefghi', 'x-abcdefgh']) {
      expect(numOfWakameId('instance', bad), bad).toBeNull();
    }
  });

  it('checks dcmgr syntax (prefix, then word characters) and draws random ids of that form', () => {
    expect(bodyOf('image', 'wmi-centos1d64')).toBe('centos1d64');
    expect(bodyOf('image', 'wmi-')).toBeNull();
    expect(bodyOf('image', 'wmi-a/b')).toBeNull();
    expect(bodyOf('instance', 'wmi-x')).toBeNull();
    expect(randomWakameId('securityGroup')).toMatch(/^sg-[0-9a-z]{8}$/);
  });
});
