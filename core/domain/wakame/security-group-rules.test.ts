/**
 * Security group rule parsing: the spec's example (spec §2.4) byte for byte, the grammar's edges, and the error
 * each bad rule gets.
 */
import { describe, expect, it } from 'vitest';
import { InvalidSecurityGroupRuleError, MAX_RULES, parseRules } from './security-group-rules.js';

/** The error `parseRules(text)` throws (fails the test if it throws none, or another kind). */
function ruleErrorOf(text: string): InvalidSecurityGroupRuleError {
  try {
    parseRules(text);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSecurityGroupRuleError);
    return err as InvalidSecurityGroupRuleError;
  }
  throw new Error(`parseRules accepted ${JSON.stringify(text)}`);
}

describe('parseRules', () => {
  it("gives the spec's `rules` for the spec's `rule`, keys in the same order", () => {
    const rule = 'tcp:22,22,ip4:0.0.0.0/0\nicmp:-1,-1,ip4:0.0.0.0/0';
    expect(JSON.stringify(parseRules(rule))).toBe(
      '[{"ip_protocol":"tcp","ip_fport":22,"ip_tport":22,"protocol":"ip4","ip_source":"0.0.0.0/0"},' +
        '{"ip_protocol":"icmp","icmp_type":-1,"icmp_code":-1,"protocol":"ip4","ip_source":"0.0.0.0/0"}]',
    );
  });

  it('parses udp port ranges, security group sources and icmp type/code', () => {
    expect(parseRules('udp:1000,2000,sg-abcd1234\nicmp:8,0,ip4:10.0.0.0/8\ntcp:1,65535,ip4:192.168.1.7/32')).toEqual([
      { ip_protocol: 'udp', ip_fport: 1000, ip_tport: 2000, protocol: null, ip_source: 'sg-abcd1234' },
      { ip_protocol: 'icmp', icmp_type: 8, icmp_code: 0, protocol: 'ip4', ip_source: '10.0.0.0/8' },
      { ip_protocol: 'tcp', ip_fport: 1, ip_tport: 65535, protocol: 'ip4', ip_source: '192.168.1.7/32' },
    ]);
  });

  it('skips blank and comment lines, ignores whitespace and CRLF, and counts lines from 1', () => {
    const text = '# web\r\n\r\n   \n  # indented comment\n  tcp : 80 , 443 , ip4: 0.0.0.0/0 \r\n\ttcp:80,80,sg-web\n';
    expect(parseRules(text)).toEqual([
      { ip_protocol: 'tcp', ip_fport: 80, ip_tport: 443, protocol: 'ip4', ip_source: '0.0.0.0/0' },
      { ip_protocol: 'tcp', ip_fport: 80, ip_tport: 80, protocol: null, ip_source: 'sg-web' },
    ]);
    expect(parseRules('')).toEqual([]);
    expect(parseRules('# nothing but a comment')).toEqual([]);
    expect(ruleErrorOf('# one\n\ntcp:80,80,ip4:0.0.0.0/0\n  udp:0,1,sg-x  ').line).toBe(4);
  });

  it('reads a bare IPv4 address as /32, and 0.0.0.0 as /0 (as dcmgr did)', () => {
    expect(parseRules('tcp:22,22,ip4:203.0.113.9')[0]).toMatchObject({ protocol: 'ip4', ip_source: '203.0.113.9/32' });
    expect(parseRules('tcp:22,22,ip4:0.0.0.0')[0]).toMatchObject({ protocol: 'ip4', ip_source: '0.0.0.0/0' });
  });

  it('names the line, the rule text and the reason in the error', () => {
    const err = ruleErrorOf('tcp:22,22,ip4:0.0.0.0/0\ntcp:99999,1,ip4:0.0.0.0/0');
    expect(err.message).toBe('Invalid rule on line 2: "tcp:99999,1,ip4:0.0.0.0/0": port must be 1..65535, not "99999"');
    expect(err).toMatchObject({ name: 'InvalidSecurityGroupRuleError', line: 2, rule: 'tcp:99999,1,ip4:0.0.0.0/0' });
    expect(err).toBeInstanceOf(Error);
  });

  it('rejects ports outside 1..65535, non-integers and reversed ranges', () => {
    expect(ruleErrorOf('tcp:0,22,ip4:0.0.0.0/0').reason).toBe('port must be 1..65535, not "0"');
    expect(ruleErrorOf('udp:53,65536,ip4:0.0.0.0/0').reason).toBe('port must be 1..65535, not "65536"');
    expect(ruleErrorOf('tcp:-1,-1,ip4:0.0.0.0/0').reason).toBe('port must be 1..65535, not "-1"');
    expect(ruleErrorOf('tcp:22abc,22,ip4:0.0.0.0/0').reason).toBe('port must be 1..65535, not "22abc"');
    expect(ruleErrorOf('tcp:2.5,22,ip4:0.0.0.0/0').reason).toBe('port must be 1..65535, not "2.5"');
    expect(ruleErrorOf('tcp:,22,ip4:0.0.0.0/0').reason).toBe('port must be 1..65535, not ""');
    expect(ruleErrorOf('tcp:443,80,ip4:0.0.0.0/0').reason).toBe('from port 443 is greater than to port 80');
  });

  it('rejects icmp numbers outside -1..255, and a code other than -1 with the any type', () => {
    expect(parseRules('icmp:255,255,ip4:0.0.0.0/0')[0]).toMatchObject({ icmp_type: 255, icmp_code: 255 });
    expect(parseRules('icmp:3,-1,ip4:0.0.0.0/0')[0]).toMatchObject({ icmp_type: 3, icmp_code: -1 });
    expect(ruleErrorOf('icmp:256,0,ip4:0.0.0.0/0').reason).toBe('icmp type must be -1..255, not "256"');
    expect(ruleErrorOf('icmp:8,-2,ip4:0.0.0.0/0').reason).toBe('icmp code must be -1..255, not "-2"');
    expect(ruleErrorOf('icmp:-1,0,ip4:0.0.0.0/0').reason).toBe('icmp code must be -1 when the type is -1 (any)');
  });

  it('rejects unknown protocols and malformed field lists', () => {
    expect(ruleErrorOf('sctp:22,22,ip4:0.0.0.0/0').reason).toBe('protocol must be tcp, udp or icmp, not "sctp"');
    expect(ruleErrorOf('TCP:22,22,ip4:0.0.0.0/0').reason).toBe('protocol must be tcp, udp or icmp, not "TCP"');
    expect(ruleErrorOf('tcp22,22,ip4:0.0.0.0/0').reason).toBe('expected proto:from before the first comma');
    expect(ruleErrorOf('tcp:22,ip4:0.0.0.0/0').reason).toBe('expected 3 comma-separated fields (proto:from,to,source), got 2');
    expect(ruleErrorOf('tcp:22,22,ip4:0.0.0.0/0,extra').reason).toBe(
      'expected 3 comma-separated fields (proto:from,to,source), got 4',
    );
    expect(ruleErrorOf('tcp:22,22,ip4:0.0.0.0/0 # ssh').reason).toBe('prefix length must be 0..32, not "0#ssh"');
  });

  it('rejects sources that are not an IPv4 CIDR or a security group id', () => {
    const reasonFor = (source: string) => ruleErrorOf(`tcp:22,22,${source}`).reason;
    expect(reasonFor('ip4:256.0.0.0/8')).toBe('"256.0.0.0" is not an IPv4 address');
    expect(reasonFor('ip4:10.0.0/8')).toBe('"10.0.0" is not an IPv4 address');
    expect(reasonFor('ip4:010.0.0.0/8')).toBe('"010.0.0.0" is not an IPv4 address');
    expect(reasonFor('ip4:')).toBe('"" is not an IPv4 address');
    expect(reasonFor('ip4:10.0.0.0/33')).toBe('prefix length must be 0..32, not "33"');
    expect(reasonFor('ip4:10.0.0.0/')).toBe('prefix length must be 0..32, not ""');
    expect(reasonFor('ip4:10.1.2.3/24')).toBe('10.1.2.3/24 has host bits set (did you mean 10.1.2.0/24?)');
    expect(reasonFor('ip4:10.0.0.0/0')).toBe('10.0.0.0/0 has host bits set (did you mean 0.0.0.0/0?)');
    expect(reasonFor('ip6:::/0')).toBe('ip6 sources are not supported');
    expect(reasonFor('sg-')).toBe('source must be ip4:CIDR or a security group id sg-xxxx, not "sg-"');
    expect(reasonFor('sg-ab.cd')).toBe('source must be ip4:CIDR or a security group id sg-xxxx, not "sg-ab.cd"');
    expect(reasonFor('0.0.0.0/0')).toBe('source must be ip4:CIDR or a security group id sg-xxxx, not "0.0.0.0/0"');
  });

  it(`accepts ${MAX_RULES} rules and rejects one more`, () => {
    const rules = Array.from({ length: MAX_RULES }, (_, i) => `tcp:${i + 1},${i + 1},ip4:0.0.0.0/0`);
    expect(parseRules(['# header', ...rules].join('\n'))).toHaveLength(MAX_RULES);
    const err = ruleErrorOf(['# header', ...rules, '', 'udp:53,53,ip4:0.0.0.0/0'].join('\n'));
    expect(err.line).toBe(MAX_RULES + 3);
    expect(err.reason).toBe(`too many rules (at most ${MAX_RULES})`);
  });

  it('quotes at most 100 characters of a long rule, or of a part of it, in the message', () => {
    const longSource = `sg-${'a'.repeat(500)}!`;
    const err = ruleErrorOf(`tcp:22,22,${longSource}`);
    expect(err.rule).toBe(`tcp:22,22,${longSource}`);
    expect(err.message).toContain(`"tcp:22,22,${longSource.slice(0, 90)}…"`);
    expect(err.reason).toBe(`source must be ip4:CIDR or a security group id sg-xxxx, not "${longSource.slice(0, 100)}…"`);
    expect(err.message).not.toContain('a'.repeat(101));
  });
});
