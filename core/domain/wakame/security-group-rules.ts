/** @module Parses a Wakame-VDC security group's `rule` text (dcmgr's grammar) into the `rules` its API shows. */
import { formatIpv4, hostBitsOf, parseIpv4 } from './networks.js';

/** How many rules one security group may hold; the 257th is rejected. */
export const MAX_RULES = 256;

/** A tcp or udp rule: the port range `ip_fport..ip_tport` from `ip_source`. Keys are in dcmgr's order. */
export interface PortRangeRule extends RuleSource {
  ip_protocol: 'tcp' | 'udp';
  ip_fport: number;
  ip_tport: number;
}

/** An icmp rule: ICMP type and code, each -1 for "any". Keys are in dcmgr's order. */
export interface IcmpRule extends RuleSource {
  ip_protocol: 'icmp';
  icmp_type: number;
  icmp_code: number;
}

/** One parsed rule, as an element of a security group's `rules` in the API (spec §2.4). */
export type SecurityGroupRule = PortRangeRule | IcmpRule;

/** The longest stretch of a rule, or of a part of one, that an error message quotes. */
const QUOTED_TEXT_MAX = 100;

/** `text` in double quotes for an error message, cut to `QUOTED_TEXT_MAX` characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > QUOTED_TEXT_MAX ? `${text.slice(0, QUOTED_TEXT_MAX)}…` : text);
}

/**
 * A rule that does not parse (dcmgr's `InvalidSecurityGroupRule`, 400 code 142). `line` is 1-based in the text
 * given to `parseRules`; `rule` is that line without its surrounding whitespace; `reason` says what is wrong.
 */
export class InvalidSecurityGroupRuleError extends Error {
  constructor(
    readonly line: number,
    readonly rule: string,
    readonly reason: string,
  ) {
    super(`Invalid rule on line ${line}: ${quote(rule)}: ${reason}`);
    this.name = 'InvalidSecurityGroupRuleError';
  }
}

/** Thrown inside the parser of one rule; `parseRules` adds the line and the rule text. */
class RuleSyntaxError extends Error {}

const UNSIGNED_INTEGER = /^[0-9]{1,6}$/;
const SIGNED_INTEGER = /^-?[0-9]{1,4}$/;
const SECURITY_GROUP_ID = /^sg-\w+$/;

/**
 * Parses a security group's rule text: one rule per line, blank lines and lines starting with `#` skipped, and all
 * whitespace inside a rule ignored (as dcmgr does). A rule is `tcp|udp:FROM,TO,SOURCE` with ports 1..65535 and
 * FROM <= TO, or `icmp:TYPE,CODE,SOURCE` with TYPE and CODE in -1..255 (-1 is any; a TYPE of -1 needs a CODE of -1).
 * SOURCE is `ip4:A.B.C.D/P` (no host bits set), or a bare `ip4:A.B.C.D` meaning `/32` (`ip4:0.0.0.0` means
 * `0.0.0.0/0`, as in dcmgr), or a security group id `sg-xxxx`. Throws `InvalidSecurityGroupRuleError` on the first
 * bad rule, or on rule number `MAX_RULES + 1`.
 *
 * @example
 * parseRules('# ssh from anywhere\ntcp:22,22,ip4:0.0.0.0/0\nicmp:-1,-1,sg-abcd1234')
 * // [{ ip_protocol: 'tcp', ip_fport: 22, ip_tport: 22, protocol: 'ip4', ip_source: '0.0.0.0/0' },
 * //  { ip_protocol: 'icmp', icmp_type: -1, icmp_code: -1, protocol: null, ip_source: 'sg-abcd1234' }]
 */
export function parseRules(text: string): SecurityGroupRule[] {
  const rules: SecurityGroupRule[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const trimmedLine = lines[index].trim();
    if (trimmedLine === '' || trimmedLine.startsWith('#')) continue;
    if (rules.length === MAX_RULES) {
      throw new InvalidSecurityGroupRuleError(index + 1, trimmedLine, `too many rules (at most ${MAX_RULES})`);
    }
    try {
      rules.push(parseRule(trimmedLine.replace(/\s+/g, '')));
    } catch (err) {
      if (err instanceof RuleSyntaxError) throw new InvalidSecurityGroupRuleError(index + 1, trimmedLine, err.message);
      throw err;
    }
  }
  return rules;
}

/** Parses one rule with its whitespace removed; throws `RuleSyntaxError`. */
function parseRule(rule: string): SecurityGroupRule {
  const fields = rule.split(',');
  if (fields.length !== 3) {
    throw new RuleSyntaxError(`expected 3 comma-separated fields (proto:from,to,source), got ${fields.length}`);
  }
  const [protocolAndFrom, to, sourceText] = fields;
  const colon = protocolAndFrom.indexOf(':');
  if (colon < 0) throw new RuleSyntaxError('expected proto:from before the first comma');
  const ipProtocol = protocolAndFrom.slice(0, colon);
  const from = protocolAndFrom.slice(colon + 1);
  const source = parseSource(sourceText);
  switch (ipProtocol) {
    case 'tcp':
    case 'udp': {
      const fromPort = parsePort(from);
      const toPort = parsePort(to);
      if (fromPort > toPort) throw new RuleSyntaxError(`from port ${fromPort} is greater than to port ${toPort}`);
      return { ip_protocol: ipProtocol, ip_fport: fromPort, ip_tport: toPort, ...source };
    }
    case 'icmp': {
      const icmpType = parseIcmpNumber(from, 'type');
      const icmpCode = parseIcmpNumber(to, 'code');
      if (icmpType === -1 && icmpCode !== -1) throw new RuleSyntaxError('icmp code must be -1 when the type is -1 (any)');
      return { ip_protocol: 'icmp', icmp_type: icmpType, icmp_code: icmpCode, ...source };
    }
    default:
      throw new RuleSyntaxError(`protocol must be tcp, udp or icmp, not ${quote(ipProtocol)}`);
  }
}

/** A tcp/udp port: a decimal integer in 1..65535. */
function parsePort(text: string): number {
  const port = UNSIGNED_INTEGER.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new RuleSyntaxError(`port must be 1..65535, not ${quote(text)}`);
  return port;
}

/** An ICMP type or code: a decimal integer in -1..255. */
function parseIcmpNumber(text: string, what: 'type' | 'code'): number {
  const value = SIGNED_INTEGER.test(text) ? Number(text) : NaN;
  if (!(value >= -1 && value <= 255)) throw new RuleSyntaxError(`icmp ${what} must be -1..255, not ${quote(text)}`);
  return value;
}

/**
 * Where a rule lets traffic in from: an IPv4 CIDR (`protocol: 'ip4'`), or the members of a security group, for
 * which dcmgr names no protocol (`protocol: null`, `ip_source: 'sg-…'`).
 */
export interface RuleSource {
  protocol: 'ip4' | null;
  ip_source: string;
}

/** `ip4:CIDR`, `ip4:ADDRESS` or `sg-xxxx`. */
function parseSource(text: string): RuleSource {
  if (SECURITY_GROUP_ID.test(text)) return { protocol: null, ip_source: text };
  if (text.startsWith('ip4:')) return { protocol: 'ip4', ip_source: parseIpv4Cidr(text.slice('ip4:'.length)) };
  if (text.startsWith('ip6:')) throw new RuleSyntaxError('ip6 sources are not supported');
  throw new RuleSyntaxError(`source must be ip4:CIDR or a security group id sg-xxxx, not ${quote(text)}`);
}

/** A canonical IPv4 CIDR from `A.B.C.D/P` or a bare `A.B.C.D` (`/32`, but `/0` for `0.0.0.0`). */
function parseIpv4Cidr(text: string): string {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIpv4(addressText);
  if (address === null) throw new RuleSyntaxError(`${quote(addressText)} is not an IPv4 address`);
  let prefixLength: number;
  if (slash < 0) prefixLength = address === 0 ? 0 : 32;
  else {
    const prefixText = text.slice(slash + 1);
    prefixLength = /^(?:[0-9]|[12][0-9]|3[0-2])$/.test(prefixText) ? Number(prefixText) : NaN;
    if (Number.isNaN(prefixLength)) throw new RuleSyntaxError(`prefix length must be 0..32, not ${quote(prefixText)}`);
  }
  const hostBits = hostBitsOf(address, prefixLength);
  if (hostBits !== 0) {
    const network = formatIpv4(address - hostBits);
    throw new RuleSyntaxError(`${addressText}/${prefixLength} has host bits set (did you mean ${network}/${prefixLength}?)`);
  }
  return `${addressText}/${prefixLength}`;
}
