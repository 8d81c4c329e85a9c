/**
 * @module
 * What the process driver can confine an instance with on this host, found out once, and the pieces that apply it:
 * the user an instance runs as (from `/etc/passwd`), the UTS and IPC namespaces (`unshare`, so an instance gets its
 * own hostname without a PID namespace), and memory and CPU limits through a cgroup v2 mount that has the `memory`
 * and `cpu` controllers. Everything here is synchronous and small: it runs at the driver's construction and before
 * each start. `launchArgv` builds the command line that applies it all while keeping the workload's pid the one that
 * was spawned (each wrapper execs in place).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A user an instance runs as. */
export interface RunUser {
  /** What the instance asked for, or the driver's default (`nobody`, `65534:65534`). */
  name: string;
  uid: number;
  gid: number;
  /** Its home directory from `/etc/passwd`, when it has an entry. */
  home?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function readTable(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

function passwd(file = '/etc/passwd'): PasswdEntry[] {
  return readTable(file)
    .filter((f) => f.length >= 7)
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }));
}

const isId = (s: string) => /^\d+$/.test(s);

/**
 * Resolves an instance's `user` (`name`, `uid`, `uid:gid`, `name:group`) against `/etc/passwd` and `/etc/group`.
 * A numeric uid without an entry runs with gid = uid. Throws, with a message naming the user, when a name is unknown.
 *
 * @example
 * resolveUser('nobody') // { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' }
 * resolveUser('1000:1000') // { name: '1000:1000', uid: 1000, gid: 1000, ... }
 */
export function resolveUser(spec: string, files: { passwd?: string; group?: string } = {}): RunUser {
  const [u, g] = spec.split(':', 2);
  const users = passwd(files.passwd);
  const entry = isId(u) ? users.find((e) => e.uid === Number(u)) : users.find((e) => e.name === u);
  if (!entry && !isId(u)) throw new Error(`Unknown user "${u}": no such user in /etc/passwd`);
  const uid = entry ? entry.uid : Number(u);
  let gid = entry ? entry.gid : uid;
  if (g !== undefined && g !== '') {
    if (isId(g)) gid = Number(g);
    else {
      const grp = readTable(files.group ?? '/etc/group').find((f) => f[0] === g && f.length >= 3);
      if (!grp) throw new Error(`Unknown group "${g}" of user "${spec}": no such group in /etc/group`);
      gid = Number(grp[2]);
    }
  }
  return { name: spec, uid, gid, ...(entry ? { home: entry.home } : {}) };
}

/**
 * Converts cgroup v1 `cpu.shares` (2..262144) to cgroup v2 `cpu.weight` (1..10000), as runc does.
 *
 * @example
 * sharesToWeight(1024) // 39
 * sharesToWeight(2) // 1
 */
export function sharesToWeight(shares: number): number {
  const s = Math.min(262_144, Math.max(2, Math.floor(shares)));
  return Math.floor(1 + ((s - 2) * 9999) / 262_142);
}

/** Limits for one instance's cgroup. */
export interface CgroupLimits {
  memoryBytes?: number;
  cpuShares?: number;
}

/**
 * A cgroup v2 hierarchy the driver creates its instances' groups in: `<root>/drover/<key>`, with `memory.max` and
 * `cpu.weight` written and the `memory` and `cpu` controllers enabled for `<root>/drover`'s children.
 *
 * @example
 * const cg = new Cgroup2('/sys/fs/cgroup');
 * const procs = cg.create('u-1', { memoryBytes: 64 << 20, cpuShares: 512 }); // '/sys/fs/cgroup/drover/u-1/cgroup.procs'
 * // the instance's first process writes its pid there; after it ends:
 * cg.remove('u-1');
 */
export class Cgroup2 {
  constructor(readonly root: string) {}

  /** `<root>/drover`, where the driver's groups live. */
  get base(): string {
    return join(this.root, 'drover');
  }

  /**
   * Why this root cannot be used (no such controllers, not writable), or `undefined` when it can.
   *
   * @example
   * new Cgroup2('/sys/fs/cgroup/unified').unusable() // 'the cgroup v2 mount /sys/fs/cgroup/unified lacks the memory and cpu controllers'
   */
  unusable(): string | undefined {
    let controllers: string[];
    try {
      controllers = readFileSync(join(this.root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch {
      return `no cgroup v2 hierarchy at ${this.root}`;
    }
    const missing = ['memory', 'cpu'].filter((c) => !controllers.includes(c));
    if (missing.length) return `the cgroup v2 mount ${this.root} lacks the ${missing.join(' and ')} controller${missing.length > 1 ? 's' : ''}`;
    try {
      accessSync(this.root, constants.W_OK);
    } catch {
      return `the cgroup v2 mount ${this.root} is not writable`;
    }
    return undefined;
  }

  /**
   * Creates (or reuses) the instance's group with its limits; returns the `cgroup.procs` file its process joins by
   * writing its pid there. Throws when the hierarchy refuses.
   *
   * @example
   * cg.create('u-1', { memoryBytes: 64 << 20 }) // '<root>/drover/u-1/cgroup.procs'
   */
  create(key: string, limits: CgroupLimits): string {
    // A child group gets controllers only when its parent enables them for its children.
    if (!existsSync(this.base)) mkdirSync(this.base);
    writeFileSync(join(this.root, 'cgroup.subtree_control'), '+memory +cpu');
    writeFileSync(join(this.base, 'cgroup.subtree_control'), '+memory +cpu');
    const dir = join(this.base, key);
    if (!existsSync(dir)) mkdirSync(dir);
    writeFileSync(join(dir, 'memory.max'), limits.memoryBytes && limits.memoryBytes > 0 ? String(Math.floor(limits.memoryBytes)) : 'max');
    writeFileSync(join(dir, 'cpu.weight'), String(limits.cpuShares && limits.cpuShares > 0 ? sharesToWeight(limits.cpuShares) : 100));
    return join(dir, 'cgroup.procs');
  }

  /**
   * Moves a running process into the instance's group (for one that did not join it itself).
   *
   * @example
   * cg.join('u-1', child.pid);
   */
  join(key: string, pid: number): void {
    writeFileSync(join(this.base, key, 'cgroup.procs'), String(pid));
  }

  /**
   * Removes the instance's group once its processes are gone; a group still in use (or not a cgroupfs) stays.
   *
   * @example
   * cg.remove('u-1');
   */
  remove(key: string): void {
    try {
      rmdirSync(join(this.base, key));
    } catch {
      /* still has processes, or not a cgroup filesystem: left as it is */
    }
  }
}

/**
 * The cgroup v2 mounts of this machine (from `/proc/self/mounts`).
 *
 * @example
 * cgroup2Mounts() // ['/sys/fs/cgroup/unified']
 */
export function cgroup2Mounts(mounts = '/proc/self/mounts'): string[] {
  let text = '';
  try {
    text = readFileSync(mounts, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'cgroup2')
    .map((f) => f[1].replace(/\\040/g, ' '));
}

/** What the driver found it can apply on this host. */
export interface Sandbox {
  /** The agent's own uid: only root switches users, makes namespaces and writes cgroups. */
  uid: number;
  gid: number;
  /** The default user of instances that name none (`undefined`: the agent's own). */
  defaultUser?: RunUser;
  /** `unshare`'s path when `unshare --uts --ipc` works here. */
  unshare?: string;
  /** `setpriv`'s path (switches the user after the namespaces are made). */
  setpriv?: string;
  /** `hostname`'s path (sets an instance's hostname inside its UTS namespace). */
  hostname?: string;
  /** `nsenter`'s path, where namespaces are made: execute and console join an instance's. */
  nsenter?: string;
  /** Where instances' cgroups go, when a usable cgroup v2 mount exists. */
  cgroup?: Cgroup2;
  /** Why each part is not applied, for the host's facts. */
  why: { namespaces?: string; cgroups?: string };
}

/** What to detect the sandbox with. */
export interface SandboxOptions {
  /** Default user of instances when the agent is root (`null`: the agent's own). */
  runAs: string | null;
  useNamespaces: boolean;
  /** A cgroup v2 mount to use (`null`: none; absent: the first of this machine's that has `memory` and `cpu`). */
  cgroupRoot?: string | null;
}

function which(name: string): string | undefined {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'].map((d) => join(d, name)).find((p) => existsSync(p));
}

/**
 * Finds out once what can be applied here: switches of user (root only), `unshare --uts --ipc` (tried), a cgroup v2
 * mount with the `memory` and `cpu` controllers.
 *
 * @example
 * const sb = detectSandbox({ runAs: 'nobody', useNamespaces: true });
 * sb.unshare // '/usr/bin/unshare' where it works
 */
export function detectSandbox(opts: SandboxOptions): Sandbox {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const why: Sandbox['why'] = {};
  const sb: Sandbox = { uid, gid, why, setpriv: which('setpriv'), hostname: which('hostname') };
  if (uid === 0 && opts.runAs !== null) sb.defaultUser = resolveUser(opts.runAs);

  const unshare = which('unshare');
  if (!opts.useNamespaces) why.namespaces = 'not used (useNamespaces: false)';
  else if (!unshare) why.namespaces = 'not used: unshare not found';
  else if (uid === 0 && !sb.setpriv) why.namespaces = 'not used: setpriv not found (needed to switch the user inside them)';
  else {
    const r = spawnSync(unshare, ['--uts', '--ipc', 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    if (r.status === 0) {
      sb.unshare = unshare;
      sb.nsenter = which('nsenter');
    }
    else why.namespaces = `not used: unshare --uts --ipc fails here (${(r.stderr?.toString().trim() || r.error?.message || `exit ${r.status}`).split('\n')[0]})`;
  }

  if (opts.cgroupRoot === null) why.cgroups = 'not applied: disabled';
  else if (uid !== 0 && opts.cgroupRoot === undefined) why.cgroups = 'not applied: the agent is not root';
  else {
    const roots = opts.cgroupRoot !== undefined ? [opts.cgroupRoot] : cgroup2Mounts();
    if (!roots.length) why.cgroups = 'not applied: no cgroup v2 mount (cgroup v1 only)';
    const reasons: string[] = [];
    for (const root of roots) {
      const cg = new Cgroup2(root);
      const bad = cg.unusable();
      if (!bad) {
        sb.cgroup = cg;
        break;
      }
      reasons.push(bad);
    }
    if (!sb.cgroup && reasons.length) why.cgroups = `not applied: ${reasons.join('; ')}`;
  }
  return sb;
}

/**
 * How a command joins a running instance (the host access server's execute and console): the prefix that enters its
 * UTS and IPC namespaces and switches to its user, or, where it has no namespaces (or `nsenter` is missing), the user
 * for the spawn to switch to.
 *
 * @example
 * enterArgv(sb, 4242, { uid: 65534, gid: 65534 })
 * // { enter: ['/usr/bin/nsenter', '-t', '4242', '-u', '-i', '--', '/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] }
 */
export function enterArgv(sb: Sandbox, pid: number | null, user: RunUser | undefined): { enter?: string[]; uid?: number; gid?: number } {
  const switchUser = user && (user.uid !== sb.uid || user.gid !== sb.gid);
  const asUser = switchUser ? { uid: user.uid, gid: user.gid } : {};
  if (!sb.unshare || !sb.nsenter || !pid || (switchUser && !sb.setpriv)) return asUser;
  const enter = [sb.nsenter, '-t', String(pid), '-u', '-i', '--'];
  if (switchUser) enter.push(sb.setpriv!, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--');
  return { enter };
}

/** How to launch one instance's process. */
export interface Launch {
  /** The workload's command line, its executable resolved. */
  argv: string[];
  /** The user to switch to (`undefined`: stay the agent's user). */
  user?: RunUser;
  hostname?: string;
  /** The `cgroup.procs` file the process joins before it execs the workload. */
  cgroupProcs?: string;
}

/** The shell wrapper's script: join the cgroup, set the hostname, then exec the rest in place. */
const INIT = 'cg=$1; hn=$2; shift 2; if [ -n "$cg" ]; then echo $$ > "$cg" || exit 125; fi; if [ -n "$hn" ]; then "$0" "$hn" || exit 125; fi; exec "$@"';

/**
 * The command line that starts a workload under the sandbox, the uid/gid to give `spawn` itself (when no wrapper
 * runs as root first), and whether the process joins its cgroup itself (else the driver moves its pid there). Every wrapper execs in place: the spawned pid is the workload's. Order: `unshare --uts --ipc`,
 * then (as root, inside) a `sh` that joins the cgroup and sets the hostname, then `setpriv` to the user, then the
 * workload. Without namespaces a hostname is not set (it would be the host's).
 *
 * @example
 * launchArgv(sb, { argv: ['/usr/bin/node', 'server.js'], user: nobody, hostname: 'web-1' }).argv
 * // ['/usr/bin/unshare', '--uts', '--ipc', '--', '/bin/sh', '-c', INIT, '/usr/bin/hostname', '', 'web-1',
 * //  '/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', '/usr/bin/node', 'server.js']
 */
export function launchArgv(sb: Sandbox, l: Launch): { argv: string[]; uid?: number; gid?: number; joinsCgroup: boolean } {
  const hostname = sb.unshare && sb.hostname ? l.hostname : undefined;
  const wrap = Boolean(sb.unshare || l.cgroupProcs);
  const switchUser = l.user && (l.user.uid !== sb.uid || l.user.gid !== sb.gid);
  if (!wrap) return { argv: l.argv, joinsCgroup: false, ...(switchUser ? { uid: l.user!.uid, gid: l.user!.gid } : {}) };
  const argv: string[] = [];
  if (sb.unshare) argv.push(sb.unshare, '--uts', '--ipc', '--');
  if (l.cgroupProcs || hostname) argv.push('/bin/sh', '-c', INIT, sb.hostname ?? 'hostname', l.cgroupProcs ?? '', hostname ?? '');
  if (switchUser) {
    // Without setpriv the user cannot be switched after the wrappers: spawn switches it, and the driver moves the pid.
    if (!sb.setpriv) return { argv: l.argv, uid: l.user!.uid, gid: l.user!.gid, joinsCgroup: false };
    argv.push(sb.setpriv, `--reuid=${l.user!.uid}`, `--regid=${l.user!.gid}`, '--clear-groups', '--');
  }
  argv.push(...l.argv);
  return { argv, joinsCgroup: Boolean(l.cgroupProcs) };
}
