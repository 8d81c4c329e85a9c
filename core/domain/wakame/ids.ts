/**
 * @module
 * Wakame-VDC ids (`i-4cnb8vd1`, `hn-…`, `vol-…`): the canonical `<prefix>-<body>` form, derived ids for the
 * resources both APIs share (computed from the Rancher number, so nothing is stored twice), and random ids for
 * Wakame-only resources.
 */
import { randomBytes } from 'node:crypto';

/** The prefix of each kind of Wakame id (dcmgr `taggable`). */
export const WAKAME_PREFIX = {
  instance: 'i',
  host: 'hn',
  volume: 'vol',
  vif: 'vif',
  account: 'a',
  image: 'wmi',
  network: 'nw',
  securityGroup: 'sg',
  sshKeyPair: 'ssh',
  instanceSpec: 'is',
} as const;

export type WakameKind = keyof typeof WAKAME_PREFIX;

/** Ids are 8 characters of `[a-z0-9]`: a number below 36^8 written in base 36. */
const BODY_LENGTH = 8;
const SPACE = 36n ** BigInt(BODY_LENGTH);
/** Coprime to 36 (so multiplying by it permutes the id space) and near 0.618 of it (so neighbours look unrelated). */
const MULTIPLIER = 1_743_559_474_903n;
const INVERSE = modInverse(MULTIPLIER, SPACE);
/** Per kind, so an instance, its volume and its host do not share a body. */
const OFFSET: Record<WakameKind, bigint> = {
  instance: 0x1d2c3bn,
  host: 0x5a17e5n,
  volume: 0x70f1e3n,
  vif: 0x3b1f00n,
  account: 0x0acc07n,
  image: 0x1ea9e5n,
  network: 0x4e7000n,
  securityGroup: 0x59a0b0n,
  sshKeyPair: 0x55a4b1n,
  instanceSpec: 0x15e3c0n,
};

/**
 * The Wakame id of a resource known by its Rancher number: a bijection, so `numOfWakameId` undoes it.
 *
 * @example
 * wakameIdOf('instance', 5) // 'i-' followed by 8 characters of [a-z0-9]
 */
export function wakameIdOf(kind: WakameKind, num: number): string {
  const x = (BigInt(num) * MULTIPLIER + OFFSET[kind]) % SPACE;
  return `${WAKAME_PREFIX[kind]}-${x.toString(36).padStart(BODY_LENGTH, '0')}`;
}

/**
 * The Rancher number behind a derived Wakame id; `null` when the id is malformed or of another kind. Every
 * well-formed id maps to some number, which names nothing until that many resources exist.
 *
 * @example
 * numOfWakameId('instance', wakameIdOf('instance', 5)) // 5
 */
export function numOfWakameId(kind: WakameKind, id: string): number | null {
  const body = bodyOf(kind, id);
  if (body === null || !/^[0-9a-z]{8}$/.test(body)) return null;
  let x = 0n;
  for (const ch of body) x = x * 36n + BigInt(parseInt(ch, 36));
  const num = (((x - OFFSET[kind]) % SPACE) + SPACE) % SPACE * INVERSE % SPACE;
  return num > 0n && num <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(num) : null;
}

/**
 * A fresh random id of a kind (`sg-0k3z9q1a`), as dcmgr makes them.
 *
 * @example
 * randomWakameId('securityGroup') // 'sg-…'
 */
export function randomWakameId(kind: WakameKind): string {
  const bytes = randomBytes(BODY_LENGTH);
  let body = '';
  for (const b of bytes) body += (b % 36).toString(36);
  return `${WAKAME_PREFIX[kind]}-${body}`;
}

/**
 * The part of an id after its kind's prefix, if the id has the right prefix and dcmgr's syntax (`^prefix-\w+`).
 *
 * @example
 * bodyOf('instance', 'i-4cnb8vd1') // '4cnb8vd1'
 * bodyOf('instance', 'wmi-x') // null
 */
export function bodyOf(kind: WakameKind, id: string): string | null {
  const prefix = `${WAKAME_PREFIX[kind]}-`;
  if (!id.startsWith(prefix)) return null;
  const body = id.slice(prefix.length);
  return /^\w{1,64}$/.test(body) ? body : null;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('multiplier is not invertible');
  return ((oldS % m) + m) % m;
}
