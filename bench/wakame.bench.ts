/**
 * @module
 * The Wakame API against the Rancher API over the same instances, each as a ratio to the `/v1` request that does the
 * same work (the floor: read the rows, render them): a list of 100 instances (JSON, and YAML as mussel asks for it)
 * and one instance by id.
 */
import { startTestStack } from '../test/helpers/stack.js';
import { fmt, versus } from './lib.js';

export async function wakameBench(): Promise<string[]> {
  const t = await startTestStack();
  const ROWS = 100;
  try {
    const api = t.admin.with({ 'X-VDC-Account-UUID': 'a-shpoolxx' });
    const made: { id: string; wakameId: string }[] = [];
    for (let i = 0; i < ROWS; i++) {
      const r = await t.admin.post('/v1/virtualmachines', { imageUuid: 'sim:bench', name: `vm-${i}`, startOnCreate: false });
      made.push(r.body);
    }
    const ok = (path: string, client = t.admin) => async () => {
      const r = await client.get(path);
      if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    };
    const rows: string[] = [];
    const row = (what: string, m: { floor: { p50: number }; subject: { p50: number } }, notes: string) =>
      rows.push(`| ${what} | p50 ${fmt(m.subject.p50, 1)} ms (floor ${fmt(m.floor.p50, 1)} ms) | ${(m.subject.p50 / m.floor.p50).toFixed(2)} | ${notes} |`);

    const v1List = ok(`/v1/virtualmachines?limit=${ROWS}`);
    row('Wakame list of 100 instances (JSON)', await versus(3, 20, 1, v1List, ok(`/api/12.03/instances.json?limit=${ROWS}`, api)), 'floor: /v1 list of the same 100');
    row('Wakame list of 100 instances (YAML, as mussel asks)', await versus(3, 20, 1, v1List, ok(`/api/12.03/instances.yml?limit=${ROWS}`, api)), 'floor: /v1 list of the same 100');
    const one = made[ROWS / 2];
    row('Wakame GET one instance', await versus(3, 200, 4, ok(`/v1/virtualmachines/${one.id}`), ok(`/api/12.03/instances/${one.wakameId}`, api)), 'floor: /v1 GET of the same instance');
    return rows;
  } finally {
    await t.close();
  }
}
