import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { toPsychYaml } from './psych.js';

/** What a YAML reader makes of it, symbol keys without their colon. */
const readBack = (text: string): unknown => {
  const strip = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(strip) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/^:/, ''), strip(x)])) : v;
  return strip(YAML.parse(text));
};

describe('Psych-style YAML', () => {
  it('lays a list answer out as Psych did: symbol keys, sequences flush with their key, nil as nothing', () => {
    const page = [{ total: 1, start: 0, limit: 250, results: [{ id: 'i-x', host_node: null, vif: [{ vif_id: 'vif-1', ipv4: { address: '10.0.2.9' } }], labels: [], monitoring: { items: {} } }] }];
    expect(toPsychYaml(page)).toBe(
      [
        '---',
        '- :total: 1',
        '  :start: 0',
        '  :limit: 250',
        '  :results:',
        '  - :id: i-x',
        '    :host_node:',
        '    :vif:',
        '    - :vif_id: vif-1',
        '      :ipv4:',
        '        :address: 10.0.2.9',
        '    :labels: []',
        '    :monitoring:',
        '      :items: {}',
        '',
      ].join('\n'),
    );
  });

  it('quotes every string a reader would take for something else, and reads back to the same data', () => {
    const tricky = {
      hostname: '8hylq57t', number: '123', float: '1.5', exp: '1e3', yes: 'yes', off: 'Off', nil: 'null', tilde: '~', empty: '',
      colon: 'a: b', trailing: 'a:', comment: 'a #b', dash: '-x', star: '*x', bang: '!x', quote: "'x", lines: 'a\nb', tab: 'a\tb',
      space: ' a', unicode: 'ü ✓', time: '2015-06-29T09:28:24Z', list: ['a', 1, true, null, [], {}], deep: [[1, 2], [{ a: 1 }]],
    };
    const text = toPsychYaml(tricky);
    expect(readBack(text)).toEqual(tricky);
    expect(text).toContain(':hostname: 8hylq57t\n');
    expect(text).toContain(':number: "123"\n');
  });

  it('writes a bare list and a scalar document', () => {
    expect(toPsychYaml(['i-x'])).toBe('---\n- i-x\n');
    expect(toPsychYaml([])).toBe('--- []\n');
    expect(toPsychYaml({})).toBe('--- {}\n');
  });
});
