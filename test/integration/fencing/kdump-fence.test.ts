import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FencingConfig, HostConfig } from '../../../src/config/types.js';
import { Secret } from '../../../src/config/secret.js';
import type { KdumpEnv } from '../../../src/fencing/device.js';
import { createFencePlan } from '../../../src/fencing/fence-plan.js';
import { fenceLevels } from '../../../src/fencing/fence-levels.js';
import { IpmiDriver } from '../../../src/fencing/ipmi-driver.js';
import { KdumpListener } from '../../../src/fencing/kdump/listener.js';
import type { FenceEvent } from '../../../src/fencing/types.js';
import { IpmiSimLab, type SimulatedBmc } from '../../helpers/ipmi-sim.js';
import { NetLab, type LabHost } from '../../helpers/netns.js';

// The crash kernel is a network namespace running Debian's fence_kdump_send (fence-agents), the sender kdump
// runs on a real compute host; its power is an ipmi_sim BMC. cmpha's listener is on the lab bridge's address.
const SENDER = '/usr/libexec/fence-agents/fence_kdump_send';

const fencing = { ipmitoolPath: 'ipmitool', timeoutMs: 10_000, pollIntervalMs: 200, attempts: 3 } as unknown as FencingConfig;
const opts = { timeoutMs: 10_000, pollIntervalMs: 200, attempts: 3 };

describe('the kdump fence device with a real fence_kdump_send', () => {
  let lab: NetLab;
  let crashed: LabHost;
  let stranger: LabHost;
  let listener: KdumpListener;
  let env: KdumpEnv;
  const bmcs = new IpmiSimLab();
  const senders: ChildProcess[] = [];
  let startedAt = 0;
  /** Messages of the current sender's run (not an earlier test's). */
  const heard = () => {
    const s = listener.lastFrom(crashed.ips);
    return s && s.firstAt >= startedAt ? s.count : 0;
  };

  beforeAll(async () => {
    expect(existsSync(SENDER), `${SENDER} missing: apt-get install fence-agents`).toBe(true);
    lab = await NetLab.create();
    crashed = await lab.addHost('compute-crashed');
    stranger = await lab.addHost('not-a-host');
    listener = new KdumpListener({
      host: lab.gateway, port: 0, quietAfterMs: 3000,
      hostOf: (ip) => (ip === crashed.ips[0] ? 'compute-crashed' : undefined),
    });
    await listener.start();
    expect(listener.notListening()).toBeUndefined();
    env = { watch: listener, waitMs: 4000, quietAfterMs: 3000, maxDumpWaitMs: 60_000, pollMs: 100 };
  });
  afterEach(async () => {
    for (const s of senders.splice(0)) stop(s);
    // The next test starts from a crash kernel that stopped sending (a new run of messages).
    await expect.poll(() => Date.now() - (listener.lastFrom(crashed.ips)?.lastAt ?? 0), { timeout: 10_000 }).toBeGreaterThan(env.quietAfterMs);
  });
  afterAll(async () => {
    for (const s of senders.splice(0)) stop(s);
    await listener?.stop();
    await bmcs.stopAll();
    await lab?.destroy();
  });

  /** fence_kdump_send in the namespace, as kdump.conf's fence_kdump_args would run it (one message a second). */
  function startSender(ns: string): ChildProcess {
    startedAt = Date.now();
    const child = spawn('ip', ['netns', 'exec', ns, SENDER, '-p', String(listener.port()), '-i', '1', '-c', '0', lab.gateway], { stdio: 'ignore' });
    senders.push(child);
    return child;
  }

  function hostWith(levels: string[][]): HostConfig {
    return { name: 'compute-crashed', mgmtIp: crashed.ips[0]!, fence: { driver: 'ipmi' }, fenceLevels: levels } as unknown as HostConfig;
  }

  function ipmi(bmc: SimulatedBmc): IpmiDriver {
    return new IpmiDriver({
      name: 'compute-crashed', address: bmc.address, port: bmc.port, username: bmc.username, password: new Secret(bmc.password),
      ipmi: { interface: 'lanplus', cipherSuite: 3, timeoutS: 1, retries: 1 },
    });
  }

  it('counts a host whose crash kernel sends as fenced, without a power-off', async () => {
    const bmc = await bmcs.start({ power: 'on' });
    startSender(crashed.ns);
    await expect.poll(heard, { timeout: 10_000 }).toBeGreaterThan(1);
    const plan = createFencePlan(hostWith([['kdump'], ['ipmi']]), fencing, { driver: ipmi(bmc), compute: { guestsOn: async () => [] }, kdump: env })!;
    const r = await fenceLevels(plan, opts);
    expect(r).toMatchObject({ ok: true, level: 1, devices: ['kdump'], poweredOff: false });
    expect(r.attempts[0]!.detail).toContain(`from ${crashed.ips[0]}`);
    expect(bmc.powerOffRequests()).toBe(0);
    expect(bmc.power()).toBe('on');
  });

  it('a power-off in the same level waits until the messages stop (the dump is written)', async () => {
    const bmc = await bmcs.start({ power: 'on' });
    const sender = startSender(crashed.ns);
    await expect.poll(heard, { timeout: 10_000 }).toBeGreaterThan(1);
    const events: FenceEvent[] = [];
    const plan = createFencePlan(hostWith([['kdump', 'ipmi']]), fencing, { driver: ipmi(bmc), compute: { guestsOn: async () => [] }, kdump: env })!;
    const running = fenceLevels(plan, { ...opts, onEvent: (e) => { events.push(e); } });
    await expect.poll(() => events.some((e) => /the power-off waits until they stop/.test(e.detail)), { timeout: 10_000 }).toBe(true);
    // While the crash kernel sends, nothing reached the BMC.
    expect(bmc.powerOffRequests()).toBe(0);
    stop(sender);
    const r = await running;
    expect(r).toMatchObject({ ok: true, level: 1, devices: ['kdump', 'ipmi'], poweredOff: true });
    expect(events.some((e) => /fence_kdump messages stopped/.test(e.detail))).toBe(true);
    expect(bmc.power()).toBe('off');
  });

  it('a later level powers off after the messages stop, and never waits longer than max_dump_wait', async () => {
    const bmc = await bmcs.start({ power: 'on' });
    // The crash kernel started sending only after the kdump level gave up (or a dump that never ends).
    const noMessageYet = createFencePlan(hostWith([['kdump'], ['ipmi']]), fencing, {
      driver: ipmi(bmc), compute: { guestsOn: async () => [] }, kdump: { ...env, waitMs: 500, maxDumpWaitMs: 2000 },
    })!;
    const silentLook = await fenceLevels({ ...noMessageYet, levels: [noMessageYet.levels[0]!] }, opts);
    expect(silentLook).toMatchObject({ ok: false, code: 'kdump_no_message' });
    startSender(crashed.ns);
    await expect.poll(heard, { timeout: 10_000 }).toBeGreaterThan(1);
    const events: FenceEvent[] = [];
    const r = await fenceLevels({ ...noMessageYet, levels: [noMessageYet.levels[1]!] }, { ...opts, onEvent: (e) => { events.push(e); } });
    expect(r).toMatchObject({ ok: true, devices: ['ipmi'], poweredOff: true });
    expect(events.some((e) => /still sends fence_kdump messages .* powering off anyway/.test(e.detail))).toBe(true);
    expect(bmc.power()).toBe('off');
  });

  it('ignores datagrams that are not fence_kdump messages, counts them, and knows senders only by a host\'s address', async () => {
    const before = listener.stats();
    // Garbage from the crashed host's own address: 8 bytes with the wrong magic, and a short one.
    for (const hex of ['deadbeef01000000', '402a30']) {
      const sent = spawnSync('ip', ['netns', 'exec', crashed.ns, 'python3', '-c',
        `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes.fromhex('${hex}'), ('${lab.gateway}', ${listener.port()}))`]);
      expect(sent.status).toBe(0);
    }
    // A real message from an address no host has.
    startSender(stranger.ns);
    await expect.poll(() => listener.stats().invalid - before.invalid, { timeout: 10_000 }).toBe(2);
    await expect.poll(() => listener.stats().unknownSender - before.unknownSender, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(listener.stats().valid).toBe(before.valid);
  });

  it('fails the kdump level with no message, naming the host and addresses', async () => {
    const bmc = await bmcs.start({ power: 'on' });
    // Quiet long enough that the earlier tests' messages no longer count.
    const plan = createFencePlan(hostWith([['kdump']]), fencing, { driver: ipmi(bmc), compute: { guestsOn: async () => [] }, kdump: { ...env, quietAfterMs: 1, waitMs: 500 } })!;
    const r = await fenceLevels(plan, opts);
    expect(r).toMatchObject({ ok: false, code: 'kdump_no_message' });
    if (!r.ok) expect(r.reason).toContain(crashed.ips[0]);
    expect(bmc.powerOffRequests()).toBe(0);
  });
});

function stop(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
