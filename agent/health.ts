/**
 * @module
 * The agent's health loop, beside its command loop: runs each running instance's `healthCheck` on its interval,
 * counts consecutive results against the thresholds, and reports transitions only (`POST /agent/health`); it also
 * passes on instances that stopped on their own (`POST /agent/exits`). Reports the server answers "later" for (the
 * instance is under an action, such as the start that is still finishing) or that fail to arrive are sent again.
 */
import { REPORTS_MAX, type ExitReport, type HealthReport } from '../core/agent/protocol.js';
import type { Driver, MonitoredInstance } from './driver.js';

/** Where reports go: the server's answer lists the instances to report again later. */
export interface ReportSink {
  health(reports: HealthReport[]): Promise<{ retry: string[] }>;
  exits(reports: ExitReport[]): Promise<{ retry: string[] }>;
}

export interface HealthMonitorOptions {
  driver: Driver;
  sink: ReportSink;
  /** How often the loop looks (ms, default 100): checks run on their own intervals, never more often than this. */
  tickMs?: number;
  /** How long an unsent report is kept trying (ms, default 120000). */
  reportTtlMs?: number;
  warn?: (msg: string) => void;
  now?: () => number;
}

/** Rancher's defaults for an `instanceHealthCheck` (ms and counts). */
export const HEALTH_DEFAULTS = { interval: 2000, responseTimeout: 2000, healthyThreshold: 2, unhealthyThreshold: 3 } as const;

interface Tracked {
  run: number;
  /** What the server was last told this run (`initializing`: nothing yet). */
  reported: 'initializing' | 'healthy' | 'unhealthy';
  ok: number;
  failed: number;
  nextAt: number;
}

interface Pending<T> {
  report: T;
  run?: number;
  since: number;
}

const positive = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt);

/**
 * The loop. `tick()` is one pass (public for tests); `start()` runs it every `tickMs`.
 *
 * @example
 * const monitor = new HealthMonitor({ driver, sink: { health: (r) => client.health(r), exits: (r) => client.exits(r) } });
 * monitor.start(); ... await monitor.stop();
 */
export class HealthMonitor {
  private readonly tracked = new Map<string, Tracked>();
  /** Unsent health transitions per instance, in order (healthy then unhealthy must both arrive: the server moves
   *  `initializing` only to healthy). */
  private readonly health = new Map<string, Pending<HealthReport>[]>();
  private exits: Pending<ExitReport>[] = [];
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: HealthMonitorOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Starts the loop (a pass at most every `tickMs`, never two at once). */
  start(): void {
    this.timer ??= setInterval(() => {
      this.ticking ??= this.tick()
        .catch((e) => this.opts.warn?.(`health loop: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => (this.ticking = undefined));
    }, this.opts.tickMs ?? 100);
  }

  /** Stops the loop and waits for the pass under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.ticking;
  }

  /**
   * One pass: run the checks that are due, note exits, and send what there is to send.
   *
   * @example
   * await monitor.tick();
   */
  async tick(): Promise<void> {
    const { driver } = this.opts;
    const running = driver.running?.() ?? [];
    const ids = new Set(running.map((i) => i.resourceId));
    for (const id of this.tracked.keys()) if (!ids.has(id)) this.tracked.delete(id);
    const due = running.filter((inst) => inst.healthCheck && driver.check && this.due(inst));
    await Promise.all(due.map((inst) => this.check(inst)));
    const t = this.now();
    for (const report of driver.exits?.() ?? []) this.exits.push({ report, since: t });
    await this.flush();
  }

  private due(inst: MonitoredInstance): boolean {
    let tr = this.tracked.get(inst.resourceId);
    if (!tr || tr.run !== inst.run) {
      tr = { run: inst.run, reported: 'initializing', ok: 0, failed: 0, nextAt: this.now() };
      this.tracked.set(inst.resourceId, tr);
      this.health.delete(inst.resourceId); // what an earlier run was, is no news any more
    }
    return this.now() >= tr.nextAt;
  }

  private async check(inst: MonitoredInstance): Promise<void> {
    const hc = inst.healthCheck!;
    const tr = this.tracked.get(inst.resourceId)!;
    tr.nextAt = this.now() + positive(hc.interval, HEALTH_DEFAULTS.interval);
    const timeout = AbortSignal.timeout(positive(hc.responseTimeout, HEALTH_DEFAULTS.responseTimeout));
    let result;
    try {
      result = await this.opts.driver.check!(inst, AbortSignal.any([timeout, this.stopping.signal]));
    } catch (e) {
      if (this.stopping.signal.aborted) return;
      result = { healthy: false, message: timeout.aborted ? 'health check timed out' : e instanceof Error ? e.message : String(e) };
    }
    if (this.tracked.get(inst.resourceId) !== tr) return; // the instance went away meanwhile
    if (result.healthy) {
      tr.ok++;
      tr.failed = 0;
      if (tr.reported !== 'healthy' && tr.ok >= positive(hc.healthyThreshold, HEALTH_DEFAULTS.healthyThreshold)) this.transition(inst, tr, 'healthy', result.message);
    } else {
      tr.failed++;
      tr.ok = 0;
      if (tr.reported !== 'unhealthy' && tr.failed >= positive(hc.unhealthyThreshold, HEALTH_DEFAULTS.unhealthyThreshold)) {
        this.transition(inst, tr, 'unhealthy', result.message);
      }
    }
  }

  private transition(inst: MonitoredInstance, tr: Tracked, to: 'healthy' | 'unhealthy', message?: string): void {
    tr.reported = to;
    const report: HealthReport = { resourceId: inst.resourceId, healthy: to === 'healthy', ...(message ? { message } : {}) };
    const queue = this.health.get(inst.resourceId) ?? [];
    queue.push({ report, run: inst.run, since: this.now() });
    this.health.set(inst.resourceId, queue.slice(-4));
  }

  /** Sends what is pending; keeps what the server asks for again, and what did not arrive, until it is too old. */
  private async flush(): Promise<void> {
    const ttl = this.opts.reportTtlMs ?? 120_000;
    const t = this.now();
    for (const [id, q] of this.health) {
      const fresh = q.filter((p) => t - p.since <= ttl);
      if (fresh.length) this.health.set(id, fresh);
      else this.health.delete(id);
    }
    if (this.health.size) {
      const sent = [...this.health].slice(0, Math.floor(REPORTS_MAX / 4));
      try {
        const again = new Set((await this.opts.sink.health(sent.flatMap(([, q]) => q.map((p) => p.report)))).retry);
        // Delivered (or refused for good): forget them, keeping what came meanwhile and what is to be sent again.
        for (const [id, q] of sent) {
          if (again.has(id)) continue;
          const rest = (this.health.get(id) ?? []).filter((p) => !q.includes(p));
          if (rest.length) this.health.set(id, rest);
          else this.health.delete(id);
        }
      } catch (e) {
        this.opts.warn?.(`health reports not sent yet: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.exits.length) {
      const sent = this.exits.splice(0, REPORTS_MAX);
      try {
        const again = new Set((await this.opts.sink.exits(sent.map((p) => p.report))).retry);
        this.exits.push(...sent.filter((p) => again.has(p.report.resourceId)));
      } catch (e) {
        this.exits.push(...sent);
        this.opts.warn?.(`exit reports not sent yet: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
