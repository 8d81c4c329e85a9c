import { describe, expect, it } from 'vitest';
import { DcmgrError } from './errors.js';
import { parseDcmgrPath, readParams } from './request.js';

describe('dcmgr paths', () => {
  it('reads the version and the format suffix; no version is 11.12', () => {
    expect(parseDcmgrPath('/api/12.03/instances/i-abc.yml')).toEqual({ version: '12.03', format: 'yml', segments: ['instances', 'i-abc'] });
    expect(parseDcmgrPath('/api/11.12/instances.json')).toEqual({ version: '11.12', format: 'json', segments: ['instances'] });
    expect(parseDcmgrPath('/api/instances')).toEqual({ version: '11.12', format: 'json', segments: ['instances'] });
    expect(parseDcmgrPath('/api/12.03/instances/i-abc/reboot.json').segments).toEqual(['instances', 'i-abc', 'reboot']);
    expect(() => parseDcmgrPath('/api/12.03/instances/%ZZ')).toThrow(DcmgrError);
  });
});

describe('dcmgr parameters', () => {
  const FORM = 'application/x-www-form-urlencoded';

  it('nests form fields as Sinatra did', () => {
    expect(readParams('vifs[eth0][network]=nw-1&vifs[eth0][security_groups][]=sg-1&vifs[eth0][security_groups][]=sg-2&labels[0][name]=a', '', FORM)).toEqual({
      vifs: { eth0: { network: 'nw-1', security_groups: ['sg-1', 'sg-2'] } },
      labels: [{ name: 'a' }],
    });
  });

  it('puts body fields over query fields, and tolerates empty pairs (mussel sends `?&`)', () => {
    expect(readParams('a=body', '&a=query&b=2', FORM)).toEqual({ a: 'body', b: '2' });
  });

  it('unwraps a JSON or YAML body from its single key, whatever the content type says', () => {
    expect(readParams('{"instance":{"image_id":"wmi-x"}}', '', 'application/json')).toEqual({ image_id: 'wmi-x' });
    expect(readParams('{"x":{"image_id":"wmi-x"}}', '', FORM)).toEqual({ image_id: 'wmi-x' });
    expect(readParams('instance:\n  image_id: wmi-x\n', '', 'text/yaml')).toEqual({ image_id: 'wmi-x' });
    expect(readParams('{}', 'a=1', 'application/json')).toEqual({ a: '1' });
  });

  it('refuses what dcmgr could not read, as InvalidParameter', () => {
    for (const [body, type] of [['{"a":1,"b":2}', 'application/json'], ['{"a":1}', 'application/json'], ['[1]', 'application/json'], ['{bad', 'application/json'], [': :', 'text/yaml']]) {
      try {
        readParams(body, '', type);
        expect.unreachable(body);
      } catch (e) {
        expect([(e as DcmgrError).kind, (e as DcmgrError).code], body).toEqual(['InvalidParameter', '143']);
      }
    }
    expect(() => readParams(`${'a'.repeat(3)}${'[x]'.repeat(10)}=1`, '', FORM)).toThrow(DcmgrError);
  });

  it('keeps prototype keys as plain data', () => {
    const p = readParams('__proto__[polluted]=1&constructor[x]=2', '', FORM);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((p as Record<string, unknown>).polluted).toBeUndefined();
    expect(p.constructor).toEqual({ x: '2' });
  });
});
