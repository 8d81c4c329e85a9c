/**
 * @module
 * Names that must be unique, held by one item each: a Wakame account uuid names one project, and a Wakame
 * hostname one instance per project. A claim is a conditional write, so concurrent claimants agree on one holder.
 */
import { cond } from './expression.js';
import { keys, type ItemKey } from './keys.js';
import type { Store } from './store.js';

/**
 * Claims of one kind of name.
 *
 * @example
 * const hostnames = new Claims(store, keys.hostnameClaim);
 * if (!(await hostnames.claim(['1a1', 'web1'], '1i5'))) throw duplicate();
 */
export class Claims<A extends unknown[]> {
  constructor(
    private readonly store: Store,
    private readonly keyOf: (...args: A) => ItemKey,
  ) {}

  /**
   * Who holds the name, if anyone (strongly consistent).
   *
   * @example
   * await hostnames.holder('1a1', 'web1') // '1i5'
   */
  async holder(...args: A): Promise<string | undefined> {
    const item = await this.store.readItem(this.keyOf(...args));
    return typeof item?.holder === 'string' ? item.holder : undefined;
  }

  /**
   * Gives the name to `holder` if it is free (or, with `replacing`, still held by that one). `false` when someone
   * else holds it.
   *
   * @example
   * await hostnames.claim(['1a1', 'web1'], '1i9', '1i5') // 1i5 is gone: 1i9 takes its hostname
   */
  async claim(args: A, holder: string, replacing?: string): Promise<boolean> {
    const claimed = await this.store.write({
      key: this.keyOf(...args),
      update: { set: { holder } },
      condition: replacing ? cond.eq('holder', replacing) : cond.notExists('pk'),
    });
    return !!claimed;
  }

  /**
   * Frees the name if `holder` still holds it.
   *
   * @example
   * await hostnames.release(['1a1', 'web1'], '1i5')
   */
  async release(args: A, holder: string): Promise<void> {
    await this.store.write({ key: this.keyOf(...args), delete: true, condition: cond.eq('holder', holder) });
  }
}

/** Wakame account uuids (`a-shpoolxx`) named on first use, each held by the project it became. */
export const accountClaims = (store: Store) => new Claims(store, keys.wakameAccount);

/** Wakame hostnames, unique per project, each held by an instance. */
export const hostnameClaims = (store: Store) => new Claims(store, keys.hostnameClaim);
