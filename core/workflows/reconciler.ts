/**
 * @module
 * The reconciler: finds open and orphaned work with a consistent Scan of the table (no index), drives or fails it,
 * and recomputes every host's allocated capacity from the instances that hold a charge on it.
 */
import { ConflictError, NotFoundError } from '../errors.js';
import { inParallel } from '../parallel.js';
import { SYSTEM_CALLER, type Ledger } from '../domain/ledger.js';
import type { Runs } from '../domain/runs.js';
import type { Store } from '../store/store.js';
import { capacityOf, chargedHostsOf, requirementOf, type Requirement } from '../domain/hosts.js';
import { processOf } from '../process/lifecycle.js';
import { partitions } from '../store/keys.js';
import { purgeDueAt, type Resource } from '../store/item.js';
import { emptySweepReport, type Sweeper, type SweepReport } from './sweeper.js';

/*
 * What can be left behind, and what a pass does about it:
 *
 *   open action (`res.action`)             ─▶ sweeper.resolve: re-drive under the same name, or fail cleanly
 *   `requested`, no action (a crash between store.create and ledger.begin('create'))
 *                                          ─▶ ledger.begin(res, 'create'): instances chain into start
 *   removed instance past its removeTime   ─▶ sweeper.purge (the byDeadline index may have missed it)
 *   host counters ≠ Σ requirementOf(instances charged on it)   (a crash between charging a host and recording
 *     the host on the instance, or between clearing it and giving the charge back)
 *                                          ─▶ counters := the sum
 *
 * Quiescent pass (local start-up, before anything runs): every finding is acted on; host copies come from the
 * scan itself. Periodic pass (alongside live traffic): work younger than `graceMs` is left to the requests and
 * workflows driving it; a project's hosts are left alone while any of its instances has an open action or changed
 * within `graceMs` (a charge may sit between its two writes, or a superseded task may still give one back); host
 * copies are read before the scan, and a corrected counter is written only if the host's `allocationVersion`
 * (bumped by every charge and release) is still what that read saw.
 */

export interface ReconcilerOptions {
  /** What the reconciler scans, and where it corrects host counters. */
  store: Store;
  ledger: Ledger;
  /** Where the runs of the creates it drives go. */
  runs: Runs;
  sweeper: Sweeper;
  /**
   * Periodic passes leave alone work younger than this, and the hosts of projects with instances that changed
   * within it (ms, default 120 s: longer than any request or task invocation that might still be writing).
   */
  graceMs?: number;
  now?: () => number;
  log?: (msg: string) => void;
}

/** What one consistent scan found. */
export interface Survey {
  /** Whether nothing else ran during the scan (local start-up), so it is exact. */
  quiescent: boolean;
  /** Resources the scan read. */
  scanned: number;
  /** Resources to drive: an open action, an interrupted create, a due purge. */
  work: Resource[];
  /** Hosts to check: in a periodic pass read before the scan (through the `byKind` index), else from the scan. */
  hosts: Resource[];
  /** Per host id: what the instances charged on it need. */
  held: Map<string, Requirement>;
  /** Projects whose hosts a periodic pass must leave alone (always empty in a quiescent one). */
  busyProjects: Set<string>;
}

/** What driving a survey's work did. */
export interface DriveReport extends SweepReport {
  /** Resources an interrupted create had left in `requested`, now being created. */
  created: string[];
  /** `<id>: <message>` for work that threw (the pass carries on with the rest). */
  errors: string[];
}

/** What correcting host allocations did. */
export interface AllocationReport {
  /** Hosts whose allocated vcpu and memory were set to what their instances hold. */
  correctedHosts: string[];
  /** Hosts found off but left for a later pass: busy project, or a charge moved during the pass. */
  skippedHosts: string[];
}

/** What a whole pass did. */
export interface ReconcileReport extends DriveReport, AllocationReport {
  scanned: number;
}

/** Resources driven at once: each is a few store writes, and a crash can leave hundreds. */
const DRIVE_PARALLEL = 8;

/** A requirement the scheduler would have refused to charge (not a finite, non-negative size) counts as nothing. */
function chargeOf(instance: Resource): Requirement {
  const need = requirementOf(instance);
  const ok = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);
  return { vcpu: ok(need.vcpu), memoryMb: ok(need.memoryMb) };
}

/** Whether a resource sits in a start state of its type's `create` process (the process table's rule). */
const awaitsCreate = (res: Resource) => !!processOf(res.baseType, 'create')?.from.includes(res.state);

/**
 * Finds and settles what crashes and lost executions leave behind. One per process; stateless apart from its deps.
 *
 * @example
 * const reconciler = new Reconciler({ store, ledger, runs, sweeper });
 * const report = await reconciler.reconcile(); // periodic, safe alongside live traffic
 */
export class Reconciler {
  private readonly now: () => number;
  private readonly graceMs: number;

  constructor(private readonly opts: ReconcilerOptions) {
    this.now = opts.now ?? Date.now;
    this.graceMs = opts.graceMs ?? 120_000;
  }

  /**
   * One periodic pass: survey, correct host allocations where it is safe, drive the work found.
   *
   * @example
   * setInterval(() => void reconciler.reconcile().then((r) => console.log(r)), 600_000);
   */
  async reconcile(): Promise<ReconcileReport> {
    const survey = await this.survey();
    const allocations = await this.correctAllocations(survey);
    return { scanned: survey.scanned, ...allocations, ...(await this.drive(survey)) };
  }

  /**
   * Reads every resource with a consistent Scan and notes what needs doing. `quiescent`: nothing else is running
   * (local start-up, before serving), so every finding counts and host copies come from the scan itself.
   *
   * @example
   * const survey = await reconciler.survey({ quiescent: true });
   * survey.work.map((r) => r.id) // ['1i7', '1i9']
   */
  async survey(opts: { quiescent?: boolean } = {}): Promise<Survey> {
    const quiescent = !!opts.quiescent;
    const store = this.opts.store;
    // Periodic: host copies before the scan (an index read is fine: a stale copy only makes the write not land).
    const hosts: Resource[] = [];
    if (!quiescent) for await (const page of store.queryIndex({ index: 'byKind', partition: partitions.byKind('host') })) hosts.push(...page);
    const at = this.now();
    // Periodic passes leave young work to whoever is driving it.
    const left = (t: number) => quiescent || t <= at - this.graceMs;
    const survey: Survey = { quiescent, scanned: 0, work: [], hosts, held: new Map(), busyProjects: new Set() };
    for await (const page of store.scanResources()) {
      for (const res of page) {
        survey.scanned++;
        if (res.baseType === 'host' && quiescent) hosts.push(res);
        const due = purgeDueAt(res);
        if (res.action ? left(res.action.at) : awaitsCreate(res) ? left(res.updated) : due !== undefined && due <= at) {
          survey.work.push(res);
        }
        if (res.baseType !== 'instance') continue;
        if (!quiescent && (res.action || !left(res.updated))) survey.busyProjects.add(res.projectId);
        const need = chargeOf(res);
        for (const hostId of chargedHostsOf(res)) {
          const held = survey.held.get(hostId) ?? { vcpu: 0, memoryMb: 0 };
          survey.held.set(hostId, { vcpu: held.vcpu + need.vcpu, memoryMb: held.memoryMb + need.memoryMb });
        }
      }
    }
    return survey;
  }

  /**
   * Sets each host's `allocatedVcpu`/`allocatedMemoryMb` to what the survey found its instances hold, where they
   * differ and it is safe (see the module notes): conditional on the host's `allocationVersion`.
   *
   * @example
   * const { correctedHosts } = await reconciler.correctAllocations(await reconciler.survey({ quiescent: true }));
   */
  async correctAllocations(survey: Survey): Promise<AllocationReport> {
    const out: AllocationReport = { correctedHosts: [], skippedHosts: [] };
    for (const host of survey.hosts) {
      const held = survey.held.get(host.id) ?? { vcpu: 0, memoryMb: 0 };
      const cap = capacityOf(host);
      const was = { vcpu: cap.allocatedVcpu, memoryMb: cap.allocatedMemoryMb };
      if (was.vcpu === held.vcpu && was.memoryMb === held.memoryMb) continue;
      if (survey.busyProjects.has(host.projectId)) {
        out.skippedHosts.push(host.id);
        continue;
      }
      const version = host.fields.allocationVersion;
      const written = await this.opts.store.updateFields(host.id, {
        set: { allocatedVcpu: held.vcpu, allocatedMemoryMb: held.memoryMb },
        add: { allocationVersion: 1 },
        expect: { allocationVersion: typeof version === 'number' ? version : null },
      });
      if (!written) {
        out.skippedHosts.push(host.id);
        continue;
      }
      out.correctedHosts.push(host.id);
      this.opts.log?.(
        `host ${host.id} was charged ${was.vcpu} vcpu, ${was.memoryMb} MB; its instances hold ${held.vcpu} vcpu, ` +
          `${held.memoryMb} MB: corrected`,
      );
    }
    return out;
  }

  /**
   * Drives the survey's work: open actions through the sweeper's resolution, interrupted creates through the
   * `create` process, due purges through the sweeper's purge. Work that throws is reported, and the rest goes on.
   *
   * @example
   * const { redriven, created } = await reconciler.drive(survey);
   */
  async drive(survey: Survey): Promise<DriveReport> {
    const report: DriveReport = { ...emptySweepReport(), created: [], errors: [] };
    await inParallel(survey.work, DRIVE_PARALLEL, async (res) => {
      try {
        if (res.action) await this.opts.sweeper.resolve(res, report);
        else if (awaitsCreate(res)) await this.create(res, report.created);
        else await this.opts.sweeper.purge(res, report);
      } catch (e) {
        report.errors.push(`${res.id}: ${(e as Error).message}`);
      }
    });
    return report;
  }

  /** Starts the `create` the crash interrupted (a concurrent change makes it someone else's business). */
  private async create(res: Resource, created: string[]): Promise<void> {
    try {
      await this.opts.runs.dispatch((await this.opts.ledger.begin(res, 'create', {}, SYSTEM_CALLER)).runs);
      created.push(res.id);
      this.opts.log?.(`created ${res.id}, left ${res.state} by an interrupted create`);
    } catch (e) {
      if (e instanceof ConflictError || e instanceof NotFoundError) return;
      throw e;
    }
  }
}

/**
 * One line saying what a pass did, or `undefined` when it did nothing.
 *
 * @example
 * reportLine(report) // 'scanned 212 resources; re-drove 1i7, 1i9; corrected hosts 1h1'
 */
export function reportLine(report: Partial<ReconcileReport> & { scanned: number }): string | undefined {
  const parts: string[] = [];
  const list = (what: string, ids: string[] = []) => ids.length && parts.push(`${what} ${ids.join(', ')}`);
  list('re-drove', report.redriven);
  list('failed', report.failed);
  list('created', report.created);
  list('purging', report.purged);
  list('corrected hosts', report.correctedHosts);
  list('left hosts for later', report.skippedHosts);
  list('errors:', report.errors);
  return parts.length ? `scanned ${report.scanned} resources; ${parts.join('; ')}` : undefined;
}
