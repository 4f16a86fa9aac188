#!/usr/bin/env node
// Installs the Debian packages the demo or the tests need, when they are missing and we are root.
// Not root and something missing: one line saying what to install, and a non-zero exit.
// `--list` (with `--demo` for the demo's) prints every package, installed or not, on one line, and does nothing
// else: the one list README.md points at and .ci/run installs from.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const NEEDS = {
  demo: { 'redis-server': 'redis-server' },
  test: {
    'redis-server': 'redis-server',
    'redis-sentinel': 'redis-sentinel',
    fping: 'fping',
    ping: 'iputils-ping',
    ipmitool: 'ipmitool',
    ipmi_sim: 'openipmi',
    promtool: 'prometheus',
    ip: 'iproute2',
    openssl: 'openssl',
    'systemd-analyze': 'systemd',
    // The one-node test Ceph and the storage fence's librados helper.
    'ceph-mon': 'ceph-mon',
    'ceph-osd': 'ceph-osd',
    ceph: 'ceph-common',
    '/usr/lib/python3/dist-packages/rados.cpython-311-x86_64-linux-gnu.so': 'python3-rados',
    '/usr/lib/python3/dist-packages/rbd.cpython-311-x86_64-linux-gnu.so': 'python3-rbd',
    chromium: 'chromium',
    openstack: 'python3-openstackclient',
    // A plugin of the openstack client, without a binary of its own: looked for by its path.
    '/usr/lib/python3/dist-packages/masakariclient': 'python3-masakariclient',
    // masakari-monitors' process monitor, run against cmpha's API by test/integration/masakari.
    '/usr/bin/masakari-processmonitor': 'python3-masakari-monitors',
    // masakari-instancemonitor watching a libvirtd of the test's own that runs a diskless QEMU guest under TCG.
    libvirtd: 'libvirt-daemon',
    virsh: 'libvirt-clients',
    'qemu-system-x86_64': 'qemu-system-x86',
    '/usr/lib/python3/dist-packages/libvirt.py': 'python3-libvirt',
    // Pacemaker's fence_kdump sender, the crash kernel's side of the kdump fence device.
    '/usr/libexec/fence-agents/fence_kdump_send': 'fence-agents',
  },
};

const mode = process.argv.includes('--demo') ? 'demo' : 'test';
if (process.argv.includes('--list')) {
  console.log([...new Set(Object.values(NEEDS[mode]))].join(' '));
  process.exit(0);
}
const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
const present = (bin) => (bin.startsWith('/') ? existsSync(bin) : dirs.some((d) => existsSync(`${d}/${bin}`)));
const missing = Object.entries(NEEDS[mode]).filter(([bin]) => !present(bin));
const packages = [...new Set(missing.map(([, pkg]) => pkg))];

if (packages.length === 0) process.exit(0);
if (process.getuid?.() !== 0) {
  console.error(`cmpha: missing ${missing.map(([b]) => b).join(', ')}; install them with: sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`);
  process.exit(1);
}
console.error(`cmpha: installing ${packages.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
// Package scripts must not start daemons on this machine (redis would bind its default port).
const policy = '/usr/sbin/policy-rc.d';
const hadPolicy = existsSync(policy);
if (!hadPolicy) execFileSync('sh', ['-c', `printf '#!/bin/sh\\nexit 101\\n' > ${policy} && chmod 755 ${policy}`]);
try {
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...packages]]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) {
      console.error(`cmpha: apt-get ${args[0]} failed (exit ${r.status})`);
      process.exit(1);
    }
  }
} finally {
  if (!hadPolicy) execFileSync('rm', ['-f', policy]);
}
