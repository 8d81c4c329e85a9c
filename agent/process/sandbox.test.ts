/**
 * The sandbox's parts: users from /etc/passwd, runc's shares-to-weight, the launch command line, and the cgroup v2
 * writer (against a temp dir: this machine has cgroup v1 only, no cgroup v2 controllers).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cgroup2, enterArgv, launchArgv, resolveUser, sharesToWeight, type Sandbox } from './sandbox.js';

const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveUser', () => {
  it('reads names, uids, uid:gid and name:group; refuses unknown names', () => {
    expect(resolveUser('nobody')).toMatchObject({ name: 'nobody', uid: 65534, gid: 65534 });
    expect(resolveUser('65534')).toMatchObject({ uid: 65534, gid: 65534 });
    expect(resolveUser('4242')).toEqual({ name: '4242', uid: 4242, gid: 4242 });
    expect(resolveUser('4242:7')).toMatchObject({ uid: 4242, gid: 7 });
    expect(resolveUser('nobody:root')).toMatchObject({ uid: 65534, gid: 0 });
    expect(() => resolveUser('no-such-user')).toThrow('Unknown user "no-such-user"');
    expect(() => resolveUser('nobody:no-such-group')).toThrow('Unknown group "no-such-group"');
  });
});

describe('sharesToWeight', () => {
  it('maps 2..262144 onto 1..10000 as runc does', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262_144)).toBe(10_000);
    expect(sharesToWeight(1)).toBe(1);
    expect(sharesToWeight(1e9)).toBe(10_000);
  });
});

describe('launchArgv', () => {
  const base: Sandbox = { uid: 0, gid: 0, why: {}, setpriv: '/usr/bin/setpriv', hostname: '/usr/bin/hostname' };
  const nobody = { name: 'nobody', uid: 65534, gid: 65534 };

  it('without wrappers, spawn switches the user itself', () => {
    expect(launchArgv(base, { argv: ['/bin/true'], user: nobody })).toEqual({ argv: ['/bin/true'], uid: 65534, gid: 65534, joinsCgroup: false });
  });

  it('unshare, then a shell that sets the hostname, then setpriv, each exec in place', () => {
    const { argv, uid } = launchArgv({ ...base, unshare: '/usr/bin/unshare' }, { argv: ['/bin/true', 'x'], user: nobody, hostname: 'h1' });
    expect(uid).toBeUndefined();
    expect(argv.slice(0, 6)).toEqual(['/usr/bin/unshare', '--uts', '--ipc', '--', '/bin/sh', '-c']);
    expect(argv.slice(7)).toEqual(['/usr/bin/hostname', '', 'h1', '/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', '/bin/true', 'x']);
    expect(argv).not.toContain('--fork');
    expect(argv).not.toContain('--pid');
  });

  it('without namespaces no hostname is set (it would be the host\'s)', () => {
    expect(launchArgv(base, { argv: ['/bin/true'], hostname: 'h1' }).argv).toEqual(['/bin/true']);
  });
});

describe('Cgroup2', () => {
  it('is unusable where there is no cgroup v2 hierarchy', () => {
    expect(new Cgroup2(join(dir, 'nowhere')).unusable()).toMatch(/^no cgroup v2 hierarchy/);
  });

  it('writes memory.max and cpu.weight under drover/<key> and enables the controllers for it', () => {
    const root = mkdtempSync(join(dir, 'v2-'));
    writeFileSync(join(root, 'cgroup.controllers'), 'hugetlb\n');
    expect(new Cgroup2(root).unusable()).toBe(`the cgroup v2 mount ${root} lacks the memory and cpu controllers`);
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
    const cg = new Cgroup2(root);
    expect(cg.unusable()).toBeUndefined();
    expect(cg.create('u-1', { memoryBytes: 128 * 1024 * 1024, cpuShares: 1024 })).toBe(join(root, 'drover', 'u-1', 'cgroup.procs'));
    expect(readFileSync(join(root, 'drover', 'u-1', 'memory.max'), 'utf8')).toBe('134217728');
    expect(readFileSync(join(root, 'drover', 'u-1', 'cpu.weight'), 'utf8')).toBe('39');
    expect(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu');
    cg.create('u-2', { cpuShares: 2 });
    expect(readFileSync(join(root, 'drover', 'u-2', 'memory.max'), 'utf8')).toBe('max');
    expect(readFileSync(join(root, 'drover', 'u-2', 'cpu.weight'), 'utf8')).toBe('1');
    cg.join('u-2', 12345);
    expect(readFileSync(join(root, 'drover', 'u-2', 'cgroup.procs'), 'utf8')).toBe('12345');
  });
});

describe('enterArgv', () => {
  const sb = { uid: 0, gid: 0, why: {}, unshare: '/usr/bin/unshare', nsenter: '/usr/bin/nsenter', setpriv: '/usr/bin/setpriv' };
  it("joins a running instance's namespaces, then switches to its user", () => {
    expect(enterArgv(sb, 4242, { name: 'nobody', uid: 65534, gid: 65534 })).toEqual({
      enter: ['/usr/bin/nsenter', '-t', '4242', '-u', '-i', '--', '/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'],
    });
    expect(enterArgv(sb, 4242, { name: 'root', uid: 0, gid: 0 })).toEqual({ enter: ['/usr/bin/nsenter', '-t', '4242', '-u', '-i', '--'] });
  });
  it('lets the spawn switch the user where there are no namespaces, no process, or no nsenter', () => {
    const user = { name: 'nobody', uid: 65534, gid: 65534 };
    expect(enterArgv({ ...sb, unshare: undefined }, 4242, user)).toEqual({ uid: 65534, gid: 65534 });
    expect(enterArgv(sb, null, user)).toEqual({ uid: 65534, gid: 65534 });
    expect(enterArgv({ ...sb, nsenter: undefined }, 4242, user)).toEqual({ uid: 65534, gid: 65534 });
    expect(enterArgv({ ...sb, unshare: undefined }, 4242, undefined)).toEqual({});
  });
});
