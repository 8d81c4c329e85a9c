import { startTestStack } from '../test/helpers/stack.js';
import { settle, waitFor } from '../test/helpers/wait.js';
const t = await startTestStack({ env: { DROVER_RUNNER: 'workflows', DROVER_SIM_HOSTS: '2' }, simWorkMs: 0 });
const { client } = t.stack;
const counts = new Map<string, number>();
let on = false;
client.middlewareStack.add((next, ctx) => async (args: any) => {
  if (on) { const i = args.input; const k = `${ctx.commandName} ${String(i.Key?.pk ?? i.Item?.pk ?? i.IndexName ?? i.ExpressionAttributeValues?.[':pk'] ?? '').replace(/[0-9a-z]{20,}/g,'X').replace(/\d+/g,'N')}`; counts.set(k, (counts.get(k) ?? 0) + 1); }
  return next(args);
}, { step: 'initialize', name: 'probe' });
const api = t.admin;
await waitFor(api, '/v1/hosts', (h) => h.data?.length === 2 && h.data.every((x: any) => x.agentState === 'online'));
const ids: string[] = [];
for (let i = 0; i < 10; i++) { const r = await api.post('/v1/containers', { imageUuid: 'sim:rt', name: `rt${i}`, startOnCreate: false }); ids.push(r.body.id); await settle(api, `/v1/containers/${r.body.id}`); }
// one start first to allocate
let polls = 0;
const get = api.get.bind(api);
(api as any).get = (...a: any[]) => { polls++; return (get as any)(...a); };
on = true;
for (const id of ids) {
  await api.post(`/v1/containers/${id}/?action=start`);
  await waitFor(api, `/v1/containers/${id}`, (b) => b.state === 'running', { intervalMs: 200 });
}
on = false;
console.log('client polls per start', polls / 10);
let total = 0; for (const [k, v] of [...counts].sort()) { console.log((v/10).toFixed(1).padStart(5), k); total += v; }
console.log('total per start', total / 10);
await t.close();
