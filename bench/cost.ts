/**
 * @module
 * `npm run cost`: what each action kind and an idle host cost a stage in AWS, computed from the actual definitions.
 * Step Functions transitions and tasks-function invocations come from the generated ASL (`allDefinitions`);
 * DynamoDB units, agent HTTP requests and events are measured by running each action on the embedded stack (real
 * store over dynalite, real agent protocol, the event feed on) with a counting wrapper on the DynamoDB client that
 * prices every request as DynamoDB bills it (item size, index writes, consistency). Prints a Markdown section;
 * `--recorded` draws the model from the recorded counts without measuring (after a price or model change).
 * `--write` also records the measured counts in `bench/cost-measured.json` and puts the section into
 * `docs/deploy.md` between the cost-model markers. The section is rendered from the recorded counts alone, so the
 * docs test can check it against the code without measuring again.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../core/config.js';
import { CONNECTION_LIFETIME_SECONDS } from '../core/store/connections.js';
import { INDEXES } from '../core/store/table.js';
import { kindOfKey } from '../core/store/keys.js';
import { allDefinitions, LOCAL_TASKS_FUNCTION_ARN, type AslDefinition } from '../core/workflows/asl.js';
import { wakameIdOf } from '../core/domain/wakame/ids.js';
import type { Authenticator } from '../core/domain/credentials.js';
import { startTestStack, type TestStack } from '../test/helpers/stack.js';
import { countAgentRequests } from './workflow.bench.js';

/**
 * AWS list prices, us-east-1, read 2026-12-01 from the pages named. Lambda is priced at arm64 (the x86_64 rate is
 * given for comparison): the stack declares no architecture today, which SST v2 deploys as x86_64.
 */
export const PRICES = {
  sfnTransition: { usd: 0.025 / 1000, per: 'state transition (Standard)', source: 'https://aws.amazon.com/step-functions/pricing/' },
  lambdaRequest: { usd: 0.2 / 1e6, per: 'Lambda request', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaGbSecondArm: { usd: 0.0000133334, per: 'Lambda GB-second, arm64', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaGbSecondX86: { usd: 0.0000166667, per: 'Lambda GB-second, x86_64 (not used below)', source: 'https://aws.amazon.com/lambda/pricing/' },
  dynamoWrite: { usd: 1.25 / 1e6, per: 'DynamoDB write request unit (on-demand)', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamoRead: { usd: 0.25 / 1e6, per: 'DynamoDB read request unit (on-demand)', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  streamRead: { usd: 0.2 / 1e6, per: 'DynamoDB Streams read request unit (GetRecords by Lambda triggers: free)', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  httpApiRequest: { usd: 1.0 / 1e6, per: 'API Gateway HTTP API request (up to 512 KB)', source: 'https://aws.amazon.com/api-gateway/pricing/' },
  wsMessage: { usd: 1.0 / 1e6, per: 'API Gateway WebSocket message (32 KB units)', source: 'https://aws.amazon.com/api-gateway/pricing/' },
  wsConnectionMinute: { usd: 0.25 / 1e6, per: 'API Gateway WebSocket connection minute', source: 'https://aws.amazon.com/api-gateway/pricing/' },
  eventBridgeEvent: { usd: 1.0 / 1e6, per: 'EventBridge custom event (PutEvents entry, 64 KB units)', source: 'https://aws.amazon.com/eventbridge/pricing/' },
} as const;

/** Stated assumptions, not measurements. */
export const ASSUMPTIONS = {
  /** Billed duration of every Lambda invocation (the handlers do a few store round trips each). */
  lambdaMs: 50,
  lambdaMemoryGb: 1,
  /** Stream records per stream-consumer invocation: 1 is the upper bound of a quiet stage (batches hold up to 100). */
  streamRecordsPerConsumerInvocation: 1,
  /** A month for the idle figures: 30 days. */
  monthMinutes: 30 * 24 * 60,
  /** Today's agents on Lambda poll every 5 s when nothing is waiting (`idlePollMs`, agent/agent.ts). */
  pollSeconds: 5,
} as const;

/**
 * The AWS doorbell as built (`core/agent/doorbell.ts`, `agent/doorbell.ts`), with the stage's default settings: an
 * idle host holds one API Gateway WebSocket connection, which API Gateway closes after two hours (the agent
 * reconnects, polling once as it closes and once as it opens); it sends a keepalive every `agentKeepaliveSeconds`,
 * which invokes the doorbell function and writes nothing (the host is online while its doorbell is open); it polls
 * every `agentFallbackPollSeconds`; `$connect` and `$disconnect` each stamp the host.
 */
export const DOORBELL = (() => {
  const config = loadConfig({});
  return {
    keepaliveSeconds: config.agentKeepaliveSeconds,
    fallbackPollSeconds: config.agentFallbackPollSeconds,
    // API Gateway's two-hour limit (the connection items outlive it by a few minutes of margin).
    connectionHours: Math.floor(CONNECTION_LIFETIME_SECONDS / 3600),
  };
})();

/** The counts of one action, as billed; `measured` ones come from the embedded run. */
export interface ActionCounts {
  kind: string;
  what: string;
  workflows: string[];
  transitions: number;
  taskInvocations: number;
  apiRequests: number;
  agentRequests: { poll: number; ack: number; progress: number; complete: number; other: number };
  dynamo: { requests: number; wru: number; rru: number; indexWru: number; consumerWru: number };
  streamRecords: number;
  events: number;
}

/** What one idle poll costs the store (measured), for the idle-host model. */
export interface IdlePollCounts {
  requests: number;
  wru: number;
  rru: number;
  /** The liveness stamp alone (a keepalive of the doorbell design writes it too). */
  stampWru: number;
}

export interface Measured {
  measuredAt: string;
  actions: ActionCounts[];
  idlePoll: IdlePollCounts;
}

// ---------------------------------------------------------------------------------------------------------------
// Step Functions, from the ASL

/**
 * The states an execution enters on its success path: from `StartAt`, follow each `Next` to the end. Every state
 * entered is one billed transition, the terminal `Succeed` included (no retries, no failure branches).
 *
 * @example
 * successPath(allDefinitions(opts)['instance-stop']) // ['Deactivate', 'Complete', 'Succeeded']
 */
export function successPath(def: AslDefinition): string[] {
  const path: string[] = [];
  for (let name: string | undefined = def.StartAt; name !== undefined; ) {
    if (path.includes(name)) throw new Error(`the success path loops at ${name}`);
    path.push(name);
    const s: AslDefinition['States'][string] = def.States[name];
    name = s.Type === 'Task' || s.Type === 'Pass' ? s.Next : undefined;
  }
  return path;
}

const DEFINITIONS = allDefinitions({ tasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN, heartbeatSeconds: 60, timeoutSeconds: 900 });

/**
 * Transitions and tasks-function invocations of one successful execution of each workflow.
 *
 * @example
 * workflowCounts('instance-start') // { transitions: 4, taskInvocations: 3 }
 */
export function workflowCounts(workflow: string): { transitions: number; taskInvocations: number } {
  const def = DEFINITIONS[workflow];
  if (!def) throw new Error(`no workflow ${workflow}`);
  const path = successPath(def);
  return { transitions: path.length, taskInvocations: path.filter((n) => def.States[n].Type === 'Task').length };
}

// ---------------------------------------------------------------------------------------------------------------
// DynamoDB units

/** Bytes of a DynamoDB value as DynamoDB sizes it (names and values; numbers about one byte per two digits). */
function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|e.*$/gi, '').replace(/^0+/, '').length / 2) + 1;
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.NS) return v.NS.reduce((n, s) => n + valueSize({ N: s }), 0);
  if (v.BS) return v.BS.reduce((n, b) => n + b.length, 0);
  if (v.M) return 3 + Object.entries(v.M).reduce((n, [k, x]) => n + Buffer.byteLength(k) + valueSize(x) + 1, 0);
  if (v.L) return 3 + v.L.reduce((n, x) => n + valueSize(x) + 1, 0);
  return 0;
}

/**
 * An item's size in bytes, as DynamoDB counts it for capacity.
 *
 * @example
 * itemSize({ pk: { S: '1i5' }, sk: { S: 'R' } }) // 8
 */
export function itemSize(item: Record<string, AttributeValue> | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueSize(v), 0);
}

const kb = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
/** A global secondary index entry: the projected item (ALL) plus 100 bytes of index overhead. */
const indexKb = (item: Record<string, AttributeValue>) => kb(itemSize(item) + 100);
const inIndex = (item: Record<string, AttributeValue> | undefined, i: { pk: string; sk: string }) => !!item?.[i.pk] && !!item?.[i.sk];

/**
 * Write units of one write, from the item before and after it: the table's (the larger image, in 1 KB units) and
 * each index's (an entry put, updated or deleted; a changed index key is a delete and a put).
 *
 * @example
 * writeUnits(undefined, newInstance) // { table: 1, index: 3 } for an instance in three indexes
 */
export function writeUnits(
  before: Record<string, AttributeValue> | undefined,
  after: Record<string, AttributeValue> | undefined,
): { table: number; index: number } {
  const table = kb(Math.max(itemSize(before), itemSize(after)));
  let index = 0;
  const same = JSON.stringify(before) === JSON.stringify(after);
  for (const i of Object.values(INDEXES)) {
    const was = inIndex(before, i);
    const is = inIndex(after, i);
    if (was && is) {
      const moved = before![i.pk].S !== after![i.pk].S || before![i.sk].S !== after![i.sk].S;
      index += moved ? indexKb(before!) + indexKb(after!) : same ? 0 : indexKb(after!);
    } else if (was) index += indexKb(before!);
    else if (is) index += indexKb(after!);
  }
  return { table, index };
}

/** Work the counter must not see: its own probes, and the harness's reads. */
const uncounted = new AsyncLocalStorage<true>();

interface Tally {
  requests: number;
  wru: number;
  rru: number;
  indexWru: number;
  consumerWru: number;
  streamRecords: number;
  events: number;
  lastStart: number;
  inflight: number;
}

const emptyTally = (): Tally => ({ requests: 0, wru: 0, rru: 0, indexWru: 0, consumerWru: 0, streamRecords: 0, events: 0, lastStart: 0, inflight: 0 });

type Key = Record<string, AttributeValue>;

/** Writes of the stream consumer in AWS (the event log, the audit trail), by item. */
function isConsumerItem(key: Key, image: Key | undefined): boolean {
  let kind: string;
  try {
    kind = kindOfKey({ pk: key.pk?.S ?? '', sk: key.sk?.S ?? '' });
  } catch {
    return false;
  }
  return kind === 'event' || kind === 'eventSource' || kind === 'auditPointer' || image?.baseType?.S === 'auditEntry';
}

/**
 * Counts every request the stack's DynamoDB client sends and prices it in request units. Writes are serialised so
 * that the item read before and after each one is its own before and after image.
 */
function countDynamo(t: TestStack): Tally {
  const tally = emptyTally();
  const client = t.stack.client;
  const table = t.stack.store.tableName;
  let writing: Promise<unknown> = Promise.resolve();
  const probe = (Key: Key) =>
    uncounted.run(true, async () => (await client.send(new GetItemCommand({ TableName: table, Key, ConsistentRead: true }))).Item);
  const keyOf = (item: Key): Key => ({ pk: item.pk, sk: item.sk });

  async function priced(key: Key, write: () => Promise<unknown>): Promise<unknown> {
    const before = await probe(key);
    let out: unknown;
    try {
      out = await write();
    } catch (e) {
      // A refused condition still costs the write units of the item's size; nothing reaches an index or the stream.
      tally.wru += kb(itemSize(before));
      throw e;
    }
    const after = await probe(key);
    const u = writeUnits(before, after);
    tally.wru += u.table + u.index;
    tally.indexWru += u.index;
    if (isConsumerItem(key, after ?? before)) tally.consumerWru += u.table + u.index;
    if (JSON.stringify(before) !== JSON.stringify(after)) tally.streamRecords++;
    if (!before && after && kindOfKeySafe(key) === 'event') tally.events++;
    return out;
  }

  // Reads are billed on the items read before any filter: dynalite reports that with ReturnConsumedCapacity, a
  // top-level field the document client passes through as it is.
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      const input = args.input as Record<string, unknown>;
      if (uncounted.getStore() || !/^(Query|Scan)/.test(String(ctx.commandName)) || input.ReturnConsumedCapacity) return next(args);
      return next({ ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } });
    },
    { step: 'initialize', name: 'costCapacity' },
  );
  // Priced where the request is built: its body is the wire form (attribute values), whichever client sent it.
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      if (uncounted.getStore()) return next(args);
      const body = (args.request as { body?: unknown }).body;
      const input = JSON.parse(body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : String(body ?? '{}')) as Record<string, any>;
      const name = String(ctx.commandName);
      tally.requests++;
      tally.inflight++;
      tally.lastStart = performance.now();
      try {
        if (/^(Put|Update|Delete)Item/.test(name)) {
          const key = name.startsWith('Put') ? keyOf(input.Item) : (input.Key as Key);
          const run = writing.then(() => priced(key, () => next(args)));
          writing = run.catch(() => undefined);
          return (await run) as Awaited<ReturnType<typeof next>>;
        }
        if (name.startsWith('BatchWriteItem')) {
          const run = writing.then(async () => {
            const reqs = Object.values(input.RequestItems as Record<string, any[]>).flat();
            const befores = await Promise.all(reqs.map((r) => probe(r.PutRequest ? keyOf(r.PutRequest.Item) : r.DeleteRequest.Key)));
            const out = await next(args);
            for (const [i, r] of reqs.entries()) {
              const key = r.PutRequest ? keyOf(r.PutRequest.Item) : r.DeleteRequest.Key;
              const after = await probe(key);
              const u = writeUnits(befores[i], after);
              tally.wru += u.table + u.index;
              tally.indexWru += u.index;
              if (isConsumerItem(key, after ?? befores[i])) tally.consumerWru += u.table + u.index;
              tally.streamRecords++;
              if (!befores[i] && after && kindOfKeySafe(key) === 'event') tally.events++;
            }
            return out;
          });
          writing = run.catch(() => undefined);
          return (await run) as Awaited<ReturnType<typeof next>>;
        }
        if (name.startsWith('GetItem')) {
          const out = await next(args);
          // The answer is already unmarshalled for the document client: read the item's wire form again.
          const item = (out.output as { Item?: unknown }).Item ? await probe(input.Key as Key) : undefined;
          tally.rru += Math.max(1, Math.ceil(itemSize(item) / 4096)) * (input.ConsistentRead ? 1 : 0.5);
          return out;
        }
        if (/^(Query|Scan)/.test(name)) {
          const out = await next(args);
          const units = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
          tally.rru += Math.max(input.ConsistentRead ? 1 : 0.5, units);
          return out;
        }
        return await next(args);
      } finally {
        tally.inflight--;
        tally.lastStart = performance.now();
      }
    },
    { step: 'build', priority: 'high', name: 'costCounter' },
  );
  return tally;
}

function kindOfKeySafe(key: Key): string | undefined {
  try {
    return kindOfKey({ pk: key.pk?.S ?? '', sk: key.sk?.S ?? '' });
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The embedded run

type AgentCalls = ActionCounts['agentRequests'];

/** Polls `fn` every few ms until it is truthy; throws after `ms`. */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One action kind: how to bring an instance to where it starts, and how to run it. */
interface ActionKind {
  kind: string;
  what: string;
  workflows: string[];
  /** The state the action leaves the instance in. */
  ends: string;
  run(h: Harness, id: string): Promise<unknown>;
}

interface Harness {
  t: TestStack;
  vm(name: string, startOnCreate: boolean): Promise<string>;
  post(path: string, body?: unknown): Promise<void>;
}

const VMS = '/v1/virtualmachines';
const act = (name: string, body?: unknown) => (h: Harness, id: string) => h.post(`${VMS}/${id}/?action=${name}`, body);

/**
 * The action kinds measured, in an order where each leaves the instance where the next begins. Every workflow in
 * `WORKFLOWS` is run by at least one of them (checked).
 */
export const ACTION_KINDS: readonly ActionKind[] = [
  { kind: 'create', what: 'POST a VM, startOnCreate (create, then start)', workflows: ['process', 'instance-start'], ends: 'running', run: (h) => h.vm('c', true) },
  { kind: 'create-stopped', what: 'POST a VM with startOnCreate false', workflows: ['process'], ends: 'stopped', run: (h) => h.vm('s', false) },
  { kind: 'allocate', what: '?action=allocate (place it, no start)', workflows: ['instance-allocate'], ends: 'stopped', run: act('allocate') },
  { kind: 'deallocate', what: '?action=deallocate', workflows: ['instance-deallocate'], ends: 'stopped', run: act('deallocate') },
  { kind: 'start', what: '?action=start of a stopped VM', workflows: ['instance-start'], ends: 'running', run: act('start') },
  { kind: 'stop', what: '?action=stop', workflows: ['instance-stop'], ends: 'stopped', run: act('stop') },
  { kind: 'restart', what: '?action=restart (after an unmeasured start)', workflows: ['instance-restart'], ends: 'running', run: act('restart') },
  { kind: 'migrate', what: '?action=migrate to the other host', workflows: ['instance-migrate'], ends: 'running', run: act('migrate') },
  {
    kind: 'release',
    what: "Wakame PUT …/stop (stop, give the host's capacity back)",
    workflows: ['instance-release'],
    ends: 'stopped',
    run: async (h, id) => {
      const num = Number(id.replace(/^\d+[a-z]+/, ''));
      const r = await h.t.admin.with({ 'X-VDC-Account-UUID': 'a-shpoolxx' }).put(`/api/12.03/instances/${wakameIdOf('instance', num)}/stop`);
      if (r.status !== 200) throw new Error(`Wakame stop answered ${r.status}: ${r.text}`);
    },
  },
  { kind: 'remove', what: 'DELETE of a stopped VM', workflows: ['process'], ends: 'removed', run: (h, id) => h.t.admin.del(`${VMS}/${id}`).then(ok(200)) },
  { kind: 'purge', what: '?action=purge of a removed VM (also automatic)', workflows: ['instance-purge'], ends: 'purged', run: act('purge') },
];

const ok = (status: number) => (r: { status: number; text?: string }) => {
  if (r.status !== status) throw new Error(`answered ${r.status}: ${r.text}`);
};

const sumCalls = (c: AgentCalls) => c.poll + c.ack + c.progress + c.complete + c.other;

/**
 * Runs every action kind `repeats` times on a fresh embedded stack with two sim hosts and returns, per kind, the
 * run with the fewest store requests (an agent's long-poll that expires inside a window adds a few), with the
 * transitions and task invocations of its workflows from the ASL, and what one idle poll costs the store.
 *
 * @example
 * const m = await measure({ repeats: 1 }); m.actions.find((a) => a.kind === 'stop')!.dynamo.wru
 */
export async function measure(opts: { repeats?: number } = {}): Promise<Measured> {
  const repeats = opts.repeats ?? 3;
  const agent = countAgentRequests();
  let t: TestStack | undefined;
  try {
    t = await startTestStack({
      env: {
        DROVER_RUNNER: 'workflows',
        DROVER_SIM_HOSTS: '2',
        // Nothing on a timer inside the windows: the sweeper, the reconciler, the webhook worker.
        DROVER_SWEEP_SECONDS: '3600',
        DROVER_RECONCILE_SECONDS: '3600',
        DROVER_WEBHOOK_POLL_MS: '3600000',
      },
      simWorkMs: 0,
    });
    const stack = t;
    const tally = countDynamo(stack);
    const read = (id: string) => uncounted.run(true, () => stack.stack.store.get(id));
    let n = 0;
    const h: Harness = {
      t: stack,
      async vm(prefix, startOnCreate) {
        const r = await stack.admin.post(VMS, { name: `cost-${prefix}${n++}`, imageUuid: 'sim:cost', vcpu: 1, memoryMb: 256, startOnCreate });
        if (r.status !== 201) throw new Error(`create answered ${r.status}: ${r.text}`);
        return r.body.id;
      },
      async post(path, body) {
        const r = await stack.admin.post(path, body ?? {});
        if (r.status !== 202) throw new Error(`${path} answered ${r.status}: ${r.text}`);
      },
    };
    await until('two online hosts', async () => (await stack.admin.get('/v1/hosts')).body.data?.filter((x: any) => x.agentState === 'online').length === 2);
    const quiet = async () => {
      await stack.stack.drover.events.settled();
      await stack.stack.drover.audit.settled();
      // Nothing in flight and nothing begun for 150 ms: the event feed and audit trail have caught up.
      await until('a quiet store', async () => tally.inflight === 0 && performance.now() - tally.lastStart > 150);
    };
    const settledIn = (id: string, state: string) =>
      until(`${id} ${state}`, async () => {
        const r = await read(id);
        if (r && !r.action && r.state !== state && !['creating', 'starting', 'stopping', 'restarting', 'migrating', 'removing', 'purging'].includes(r.state)) {
          throw new Error(`${id} ended ${r.state} (${r.transitioningMessage ?? ''}), not ${state}`);
        }
        return !!r && !r.action && r.state === state && r.fields.allocationState !== 'activating' && r.fields.allocationState !== 'deactivating';
      });

    const best = new Map<string, ActionCounts>();
    for (let rep = 0; rep < repeats; rep++) {
      let id = '';
      for (const k of ACTION_KINDS) {
        if (k.kind === 'restart') {
          // restart begins from running: an unmeasured start first.
          await h.post(`${VMS}/${id}/?action=start`);
          await settledIn(id, 'running');
        }
        await quiet();
        const t0 = { ...tally };
        const a0 = { ...agent.calls };
        const made = await k.run(h, id);
        if (typeof made === 'string') id = made;
        await settledIn(id, k.ends);
        await quiet();
        const calls: AgentCalls = { poll: 0, ack: 0, progress: 0, complete: 0, other: 0 };
        for (const c of Object.keys(calls) as (keyof AgentCalls)[]) calls[c] = agent.calls[c] - a0[c];
        const wf = k.workflows.map(workflowCounts);
        const counts: ActionCounts = {
          kind: k.kind,
          what: k.what,
          workflows: k.workflows,
          transitions: wf.reduce((s, w) => s + w.transitions, 0),
          taskInvocations: wf.reduce((s, w) => s + w.taskInvocations, 0),
          apiRequests: 1,
          agentRequests: calls,
          dynamo: {
            requests: tally.requests - t0.requests,
            wru: tally.wru - t0.wru,
            rru: tally.rru - t0.rru,
            indexWru: tally.indexWru - t0.indexWru,
            consumerWru: tally.consumerWru - t0.consumerWru,
          },
          streamRecords: tally.streamRecords - t0.streamRecords,
          events: tally.events - t0.events,
        };
        const prev = best.get(k.kind);
        if (!prev || counts.dynamo.requests + sumCalls(counts.agentRequests) < prev.dynamo.requests + sumCalls(prev.agentRequests)) best.set(k.kind, counts);
      }
    }

    // One idle poll as a Lambda serves it: credentials not cached (a container sees a host's polls seldom), the
    // liveness stamp written, the host's command partition queried.
    const state = JSON.parse(readFileSync(join(stack.dataDir, 'sim-hosts', 'sim-1.json'), 'utf8'));
    await quiet();
    (stack.stack.service as unknown as { deps: { auth: Authenticator } }).deps.auth.invalidate();
    const p0 = { ...tally };
    const basic = Buffer.from(`${state.accessKey}:${state.secretKey}`).toString('base64');
    const r = await fetch(`${stack.stack.url}/agent/commands?wait=0`, { headers: { authorization: `Basic ${basic}` } });
    if (r.status !== 200) throw new Error(`idle poll answered ${r.status}`);
    await r.text();
    await quiet();
    const s0 = { ...tally };
    await stack.stack.store.updateFields(state.hostId, { set: { agentSeenAt: Date.now() } });
    const stampWru = tally.wru - s0.wru;
    const pollWru = s0.wru - p0.wru;
    const idlePoll: IdlePollCounts = {
      // The stamp is throttled per process (5 s); on Lambda nearly every 5-second poll writes it.
      requests: s0.requests - p0.requests + (pollWru < stampWru ? 1 : 0),
      wru: Math.max(pollWru, stampWru),
      rru: s0.rru - p0.rru,
      stampWru,
    };
    return { measuredAt: new Date().toISOString(), actions: ACTION_KINDS.map((k) => best.get(k.kind)!), idlePoll };
  } finally {
    await t?.close();
    agent.restore();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The model

const lambdaInvocationUsd = PRICES.lambdaRequest.usd + (ASSUMPTIONS.lambdaMs / 1000) * ASSUMPTIONS.lambdaMemoryGb * PRICES.lambdaGbSecondArm.usd;

/** Dollars for one action, by service. */
export function actionCost(a: ActionCounts): Record<'stepFunctions' | 'lambda' | 'dynamo' | 'api' | 'eventBridge' | 'total', number> {
  const agent = sumCalls(a.agentRequests);
  const consumer = a.streamRecords / ASSUMPTIONS.streamRecordsPerConsumerInvocation;
  const invocations = a.apiRequests + agent + a.taskInvocations + consumer;
  const c = {
    stepFunctions: a.transitions * PRICES.sfnTransition.usd,
    lambda: invocations * lambdaInvocationUsd,
    dynamo: a.dynamo.wru * PRICES.dynamoWrite.usd + a.dynamo.rru * PRICES.dynamoRead.usd,
    api: (a.apiRequests + agent) * PRICES.httpApiRequest.usd,
    eventBridge: a.events * PRICES.eventBridgeEvent.usd,
  };
  return { ...c, total: Object.values(c).reduce((s, x) => s + x, 0) };
}

/** A month of 1,000 idle hosts, polling (today) and with the doorbell, by service. */
export function idleCost(p: IdlePollCounts, hosts = 1000) {
  const minutes = ASSUMPTIONS.monthMinutes * hosts;
  const polls = minutes * (60 / ASSUMPTIONS.pollSeconds);
  const polling = {
    requests: polls,
    api: polls * PRICES.httpApiRequest.usd,
    lambda: polls * lambdaInvocationUsd,
    dynamo: polls * (p.wru * PRICES.dynamoWrite.usd + p.rru * PRICES.dynamoRead.usd),
    websocket: 0,
  };
  // Every stamp of the host item is a stream record, which wakes the consumer (it makes no event of it).
  const perStamp = lambdaInvocationUsd;
  polling.lambda += polls * perStamp;
  const keepalives = minutes * (60 / DOORBELL.keepaliveSeconds);
  const reconnects = minutes / (60 * DOORBELL.connectionHours);
  const fallback = minutes * (60 / DOORBELL.fallbackPollSeconds) + 2 * reconnects;
  // `$connect` authenticates (the poll's reads), records the connection (2 items) and stamps the host; `$disconnect`
  // reads the connection, deletes its 2 items and stamps the host.
  const connectWru = 2 + p.stampWru;
  const doorbell = {
    requests: keepalives + 2 * reconnects + fallback,
    api: fallback * PRICES.httpApiRequest.usd,
    lambda: (keepalives + 2 * reconnects + fallback) * lambdaInvocationUsd + (fallback + 2 * reconnects) * perStamp,
    dynamo:
      fallback * (p.wru * PRICES.dynamoWrite.usd + p.rru * PRICES.dynamoRead.usd) +
      reconnects * (2 * connectWru * PRICES.dynamoWrite.usd + (p.rru + 2) * PRICES.dynamoRead.usd),
    websocket: keepalives * PRICES.wsMessage.usd + minutes * PRICES.wsConnectionMinute.usd,
  };
  const total = (x: typeof polling) => x.api + x.lambda + x.dynamo + x.websocket;
  return { polling: { ...polling, total: total(polling) }, doorbell: { ...doorbell, total: total(doorbell) } };
}

const usd = (x: number) => `$${x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const num = (x: number, d = 1) => x.toLocaleString('en-US', { maximumFractionDigits: d });

/**
 * The cost-model section for `docs/deploy.md`, from recorded counts (deterministic: no clock, no measuring).
 *
 * @example
 * console.log(renderModel(JSON.parse(readFileSync('bench/cost-measured.json', 'utf8'))));
 */
export function renderModel(m: Measured): string {
  const M = 1e6;
  const lines = [
    `Counts measured ${m.measuredAt.slice(0, 10)} on the embedded stack (\`npm run cost\`; fewest store requests of three runs per kind); prices us-east-1 list prices read 2026-12-01.`,
    '',
    '| action (1,000,000 of each) | transitions | Lambda invocations (API + agent + tasks + stream) | agent requests (poll/ack/progress/complete) | DynamoDB WRU (of which index, stream consumer) / RRU per action | events | Step Functions | Lambda | DynamoDB | API Gateway | EventBridge | total |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const a of m.actions) {
    const c = actionCost(a);
    const g = a.agentRequests;
    const agent = sumCalls(g);
    const stream = a.streamRecords / ASSUMPTIONS.streamRecordsPerConsumerInvocation;
    lines.push(
      `| ${a.kind}: ${a.what} | ${a.transitions} (${a.workflows.join(' + ')}) | ${num(a.apiRequests + agent + a.taskInvocations + stream, 0)} ` +
        `(${a.apiRequests} + ${agent} + ${a.taskInvocations} + ${stream}) | ${g.poll}/${g.ack}/${g.progress}/${g.complete}${g.other ? ` +${g.other}` : ''} | ` +
        `${num(a.dynamo.wru, 0)} (${num(a.dynamo.indexWru, 0)}, ${num(a.dynamo.consumerWru, 0)}) / ${num(a.dynamo.rru)} | ${a.events} | ` +
        `${usd(c.stepFunctions * M)} | ${usd(c.lambda * M)} | ${usd(c.dynamo * M)} | ${usd(c.api * M)} | ${usd(c.eventBridge * M)} | **${usd(c.total * M)}** |`,
    );
  }
  const idle = idleCost(m.idlePoll);
  const row = (name: string, x: (typeof idle)['polling'], how: string) =>
    `| ${name} | ${num(x.requests / 1e6, 1)} M | ${usd(x.api)} | ${usd(x.lambda)} | ${usd(x.dynamo)} | ${usd(x.websocket)} | **${usd(x.total)}** | ${how} |`;
  const p = m.idlePoll;
  lines.push(
    '',
    '| 1,000 idle hosts for a month (30 days) | requests | API Gateway | Lambda (incl. the stream consumer per stamp) | DynamoDB | WebSocket | total | per idle poll, keepalive, reconnect |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    row(`(a) today: a poll every ${ASSUMPTIONS.pollSeconds} s over the HTTP API`, idle.polling, `a poll: ${p.requests} store requests, ${num(p.wru, 0)} WRU, ${num(p.rru)} RRU`),
    row(
      `(b) doorbell: WebSocket keepalive every ${DOORBELL.keepaliveSeconds / 60} min, a fallback poll every ${DOORBELL.fallbackPollSeconds / 60} min, a reconnect every ${DOORBELL.connectionHours} h`,
      idle.doorbell,
      `a keepalive: 1 message, 1 invocation, no store access; a reconnect: 2 invocations, 2 stamps (${num(p.stampWru, 0)} WRU each), 2 polls; a fallback poll as in (a)`,
    ),
    '',
    'Prices (us-east-1, list prices read 2026-12-01):',
    '',
    '| item | price | source |',
    '| --- | --- | --- |',
    ...Object.values(PRICES).map((x) => `| ${x.per} | $${num(x.usd * 1e6, 2)} per million | ${x.source} |`),
    '',
    `Assumptions: every Lambda invocation is billed ${ASSUMPTIONS.lambdaMs} ms at ${ASSUMPTIONS.lambdaMemoryGb * 1024} MB arm64 ` +
      `(${usd(lambdaInvocationUsd * M)} per million with the request fee); the stream consumer runs once per ` +
      `${ASSUMPTIONS.streamRecordsPerConsumerInvocation} stream record (an upper bound: a batch holds up to 100); no webhooks and no ` +
      '`/v1/subscribe` clients (each would add deliveries or WebSocket messages per event); no retries or failures.',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The command

export const MARK_START = '<!-- cost-model:start -->';
export const MARK_END = '<!-- cost-model:end -->';
const root = join(fileURLToPath(import.meta.url), '..', '..');
export const MEASURED_FILE = join(root, 'bench', 'cost-measured.json');
export const DEPLOY_DOC = join(root, 'docs', 'deploy.md');

/**
 * `doc` with the text between the cost-model markers replaced by `section`.
 *
 * @example
 * writeFileSync(DEPLOY_DOC, withSection(readFileSync(DEPLOY_DOC, 'utf8'), renderModel(m)));
 */
export function withSection(doc: string, section: string): string {
  const a = doc.indexOf(MARK_START);
  const b = doc.indexOf(MARK_END);
  if (a < 0 || b < a) throw new Error(`no ${MARK_START} … ${MARK_END} in the document`);
  return `${doc.slice(0, a + MARK_START.length)}\n${section}\n${doc.slice(b)}`;
}

/**
 * The text between the cost-model markers of `doc`.
 *
 * @example
 * sectionOf(readFileSync(DEPLOY_DOC, 'utf8')) === renderModel(recorded)
 */
export function sectionOf(doc: string): string {
  const a = doc.indexOf(MARK_START);
  const b = doc.indexOf(MARK_END);
  if (a < 0 || b < a) throw new Error(`no ${MARK_START} … ${MARK_END} in the document`);
  return doc.slice(a + MARK_START.length, b).replace(/^\n/, '').replace(/\n$/, '');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const write = process.argv.includes('--write');
  // `--recorded`: the model drawn again from the recorded counts (after a price or model change), without measuring.
  const m: Measured = process.argv.includes('--recorded') ? JSON.parse(readFileSync(MEASURED_FILE, 'utf8')) : await measure();
  const section = renderModel(m);
  console.log(section);
  if (write) {
    if (!process.argv.includes('--recorded')) writeFileSync(MEASURED_FILE, JSON.stringify(m, null, 2) + '\n');
    writeFileSync(DEPLOY_DOC, withSection(readFileSync(DEPLOY_DOC, 'utf8'), section));
    console.error(`wrote ${process.argv.includes('--recorded') ? '' : `${MEASURED_FILE} and `}the section of ${DEPLOY_DOC}`);
  }
}
