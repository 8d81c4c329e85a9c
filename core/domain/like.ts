/**
 * @module
 * SQL `LIKE` matching (`%` any run of characters, `_` one character, case-insensitive, no escape character, as
 * the `_like` filters have it) in time linear in the value: the pattern's automaton is simulated on a bitset,
 * so no pattern can make a match backtrack. A regular expression built from `%a%a%a%b` takes seconds per row.
 */

/**
 * A compiled `LIKE` pattern.
 *
 * @example
 * const p = LikePattern.compile('web-%');
 * p.test('Web-1') // true
 * LikePattern.compile('%a%a%a%a%a%a%a%b').test('a'.repeat(60)) // false, after 60 steps
 */
export class LikePattern {
  /*
   * State j (bit j of a word array) means "the value read so far matches the first j literal tokens" (a token is
   * a character or `_`). Reading a character moves state j to j + 1 when token j accepts it, and keeps state j
   * when a `%` follows token j - 1 (a self-loop on any character). The value matches when state `tokens` is set.
   */
  private constructor(
    /** Number of tokens (pattern characters other than `%`). */
    private readonly tokens: number,
    /** Words of 32 states. */
    private readonly words: number,
    /** Per character: the states it lets advance (bit j + 1 when token j accepts it), `_` tokens included. */
    private readonly advanceOn: Map<string, Uint32Array>,
    /** States reached by `_` tokens alone: what any other character lets advance. */
    private readonly advanceOnAny: Uint32Array,
    /** States with a `%` self-loop. */
    private readonly loops: Uint32Array,
  ) {}

  /**
   * Compiles a pattern.
   *
   * @example
   * LikePattern.compile('%db%')
   */
  static compile(pattern: string): LikePattern {
    const chars = [...pattern.toLowerCase()];
    const tokens = chars.filter((ch) => ch !== '%').length;
    const words = (tokens >> 5) + 1;
    const set = (bits: Uint32Array, state: number) => (bits[state >> 5] |= 1 << (state & 31));
    const loops = new Uint32Array(words);
    const advanceOnAny = new Uint32Array(words);
    const literal = new Map<string, Uint32Array>();
    let token = 0;
    for (const ch of chars) {
      if (ch === '%') {
        set(loops, token);
        continue;
      }
      if (ch === '_') set(advanceOnAny, token + 1);
      else {
        let bits = literal.get(ch);
        if (!bits) literal.set(ch, (bits = new Uint32Array(words)));
        set(bits, token + 1);
      }
      token++;
    }
    // `_` accepts every character, those named in the pattern too.
    for (const bits of literal.values()) for (let w = 0; w < words; w++) bits[w] |= advanceOnAny[w];
    return new LikePattern(tokens, words, literal, advanceOnAny, loops);
  }

  /**
   * Whether the whole value matches (case-insensitively).
   *
   * @example
   * LikePattern.compile('w_b').test('WEB') // true
   */
  test(value: string): boolean {
    const { words, loops } = this;
    let states = new Uint32Array(words);
    let next = new Uint32Array(words);
    states[0] = 1;
    for (const ch of value.toLowerCase()) {
      const advance = this.advanceOn.get(ch) ?? this.advanceOnAny;
      let carry = 0;
      let alive = 0;
      for (let w = 0; w < words; w++) {
        const cur = states[w];
        const shifted = ((cur << 1) | carry) >>> 0;
        carry = cur >>> 31;
        next[w] = ((shifted & advance[w]) | (cur & loops[w])) >>> 0;
        alive |= next[w];
      }
      if (!alive) return false;
      [states, next] = [next, states];
    }
    return (states[this.tokens >> 5] & (1 << (this.tokens & 31))) !== 0;
  }
}
