import { describe, expect, it } from 'vitest';
import { DcmgrError } from './errors.js';
import { isoTime, listParams, pageOf } from './response.js';

const rows = [
  { id: 'i-b', display_name: 'b', created_at: '2020-01-02T00:00:00Z', terminated_at: null },
  { id: 'i-a', display_name: 'c', created_at: '2020-01-01T00:00:00Z', terminated_at: '2020-01-03T00:00:00Z' },
  { id: 'i-c', display_name: 'a', created_at: '2020-01-03T00:00:00Z', terminated_at: null },
];

describe('dcmgr pages', () => {
  it('sorts id DESC by default, counts before the limit, and names the count per version', () => {
    expect(pageOf(rows, listParams({ limit: '2' }, '12.03'), '12.03')).toEqual([{ total: 3, start: 0, limit: 2, results: [rows[2], rows[0]] }]);
    expect(pageOf(rows, listParams({ start: '2' }, '11.12'), '11.12')).toEqual([{ owner_total: 3, start: 2, limit: null, results: [rows[1]], result: [rows[1]] }]);
    expect(listParams({ limit: '0' }, '12.03').limit).toBe(250);
    expect(listParams({}, '12.03').limit).toBe(250);
  });

  it('sorts by a field either way, filters nil and ranges', () => {
    const names = (q: Record<string, unknown>) => (pageOf(rows, listParams(q, "12.03"), "12.03")[0].results as any[]).map((r) => r.display_name);
    expect(names({ sort_by: 'display_name.asc' })).toEqual(['a', 'b', 'c']);
    expect(names({ sort_by: 'display_name' })).toEqual(['a', 'b', 'c']);
    expect(names({ sort_by: 'display_name.desc' })).toEqual(['c', 'b', 'a']);
    expect(names({ filter: 'terminated_at.not_nil' })).toEqual(['c']);
    expect(names({ filter: ['terminated_at.nil'], created_since: '2020-01-02T00:00:00Z' })).toEqual(['a', 'b']);
    expect(names({ created_until: '2020-01-02T00:00:00Z' })).toEqual(['c']);
  });

  it('refuses bad paging, sorting and filtering as InvalidParameter', () => {
    for (const q of [{ start: '-1' }, { limit: 'x' }, { sort_by: 'a;b' }, { filter: 'x.maybe' }, { created_since: 'yesterday' }, { created_since: '2020-01-02T00:00:00Z', created_until: '2020-01-01T00:00:00Z' }]) {
      expect(() => listParams(q, '12.03'), JSON.stringify(q)).toThrow(DcmgrError);
    }
    expect(() => pageOf(rows, listParams({ sort_by: 'nothing.asc' }, '12.03'), '12.03')).toThrow(DcmgrError);
  });
});

describe('dcmgr values', () => {
  it('writes times as Time#to_json did', () => {
    expect(isoTime(Date.UTC(2015, 5, 29, 9, 28, 24, 512))).toBe('2015-06-29T09:28:24Z');
    expect(isoTime(null)).toBeNull();
  });

});
