/**
 * @module
 * Collection filters as a ratio to a plain filter over the same rows (the floor: reading and checking every row of
 * the project's partition): a pathological `_like` (seven wildcards against 60-character names, which took 25-32 s
 * per row with a backtracking regular expression), and a `_like` over names of the form it is meant for.
 */
import { startTestStack } from '../test/helpers/stack.js';
import { fmt, measure } from './lib.js';

export async function listBench(): Promise<string[]> {
  const t = await startTestStack();
  const ROWS = 1000;
  try {
    const project = await t.admin.post('/v1/projects', { name: 'list-bench' });
    const api = t.admin.with({ 'X-API-Project-Id': project.body.id });
    await measure(ROWS, 16, (i) => api.post('/v1/containers', { imageUuid: 'sim:bench', name: `${'a'.repeat(59)}${i % 10}`, startOnCreate: false }));
    const list = (query: string) => async () => {
      const r = await api.get(`/v1/containers?limit=10&${query}`);
      if (r.status !== 200 || r.body.data.length !== 0) throw new Error(`unexpected answer to ${query}: ${r.status}`);
    };
    const N = 30;
    const floor = await measure(N, 1, list('name=nothing-has-this-name'));
    const pathological = await measure(N, 1, list(`name_like=${encodeURIComponent('%a%a%a%a%a%a%a%b')}`));
    const ordinary = await measure(N, 1, list(`name_like=${encodeURIComponent('web-%')}`));
    const ratio = (m: { p50: number }) => (m.p50 / floor.p50).toFixed(2);
    return [
      `| list ${fmt(ROWS)} rows, plain filter (name=, no match) | p50 ${fmt(floor.p50, 1)} ms | 1.00 | reads and checks every row of the partition |`,
      `| the same rows, name_like=%a%a%a%a%a%a%a%b | p50 ${fmt(pathological.p50, 1)} ms | ${ratio(pathological)} | 60-character names; linear-time LIKE |`,
      `| the same rows, name_like=web-% | p50 ${fmt(ordinary.p50, 1)} ms | ${ratio(ordinary)} | |`,
    ];
  } finally {
    await t.close();
  }
}
