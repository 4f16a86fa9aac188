import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessGroup, waitForLine } from '../../helpers/processes.js';
import { startTestSim, type TestSim } from './sim-client.js';

const group = new ProcessGroup();

/** fping's verdict per address: `IP : xmt/rcv/%loss = 1/1/0%` on stderr means it answered. */
function fping(addrs: string[]): Record<string, boolean> {
  const r = spawnSync('fping', ['-c', '1', '-t', '200', '-q', ...addrs], { encoding: 'utf8' });
  const out: Record<string, boolean> = {};
  for (const a of addrs) out[a] = new RegExp(`^${a.replace(/\./g, '\\.')} +: xmt/rcv/%loss = 1/1/`, 'm').test(r.stderr);
  return out;
}

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

let t: TestSim | undefined;
afterAll(async () => {
  await t?.close();
  await group.stopAll();
});

// Namespaces need root; CI runs as root, so there this always runs.
describe.runIf(process.getuid?.() === 0)('--netns: the world on the wire', () => {
  it('lets real fping see a powered-off host go silent and an evacuated server answer from its new host', async () => {
    // a block of addresses no other world on this machine is likely to use (all in 198.18.x.x but the bridge's)
    const ipBlock = 150 + Math.floor(Math.random() * 70);
    t = await startTestSim({ netns: true, ipBlock, evacuateSeconds: 0.3 });
    const netns = t.sim.netns!;
    const ours = namespaces().filter((n) => n.startsWith(`cmpha-${netns.id}-`));
    expect(ours).toHaveLength(5);

    const st = (await t.control('GET', '/state?host=compute1')).json;
    const mgmt1: string = st.hosts[0].mgmtIp;
    const mgmt2 = (await t.control('GET', '/state?host=compute2&servers=0')).json.hosts[0].mgmtIp as string;
    const active = st.servers.find((s: { status: string }) => s.status === 'ACTIVE');
    const shutoff = (await t.control('GET', '/state')).json.servers.find((s: { status: string }) => s.status === 'SHUTOFF');
    expect(fping([mgmt1, mgmt2, active.ip, shutoff.ip])).toEqual({ [mgmt1]: true, [mgmt2]: true, [active.ip]: true, [shutoff.ip]: false });

    await t.control('POST', '/hosts/compute2/mgmt-link/down');
    expect(fping([mgmt2])).toEqual({ [mgmt2]: false });
    await t.control('POST', '/hosts/compute2/mgmt-link/up');
    expect(fping([mgmt2])).toEqual({ [mgmt2]: true });

    await t.control('POST', '/hosts/compute1/power-off');
    expect(fping([mgmt1, active.ip])).toEqual({ [mgmt1]: false, [active.ip]: false });

    expect((await t.forceDown('compute1')).status).toBe(200);
    expect((await t.nova('POST', `/servers/${active.id}/action`, { mv: '2.53', body: { evacuate: { host: 'compute3' } } })).status).toBe(200);
    await t.waitFor('evacuation done', async () => (await t!.migrations(`instance_uuid=${active.id}`))[0]?.status === 'done');
    await netns.flush();
    const target = netns.nsName(t.sim.world.host('compute3')!);
    const addrs = spawnSync('ip', ['-n', target, '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout;
    expect(addrs).toContain(`${active.ip}/32`);
    expect(fping([active.ip, mgmt1])).toEqual({ [active.ip]: true, [mgmt1]: false });

    await t.close();
    t = undefined;
    expect(namespaces().filter((n) => n.startsWith(`cmpha-${netns.id}-`))).toEqual([]);
    expect(spawnSync('ip', ['link', 'show', netns.bridge], { encoding: 'utf8' }).status).not.toBe(0);
  });

  it('cmpha sim --netns removes its namespaces and bridge on SIGINT', async () => {
    const ipBlock = 150 + Math.floor(Math.random() * 70);
    const child = group.start(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'cli-entry.ts'), 'sim', '--netns', '--hosts', '2', '--spares', '1', '--instances-per-host', '2', '--ip-block', String(ipBlock)]);
    const info = JSON.parse(await waitForLine(child, /^\{"auth_url"/, 20_000)) as { control_url: string };
    const state = (await (await fetch(`${info.control_url}/sim/state?servers=0`)).json()) as {
      hosts: { mgmtIp: string }[]; netns: { bridge: string; namespaces: Record<string, string> };
    };
    const created = Object.values(state.netns.namespaces);
    expect(created).toHaveLength(3);
    expect(namespaces()).toEqual(expect.arrayContaining(created));
    const mgmt = state.hosts[0]!.mgmtIp;
    expect(fping([mgmt])).toEqual({ [mgmt]: true });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await group.stop(child, 'SIGINT');
    expect(await exited).toBe(0);
    const left = new Set(namespaces());
    expect(created.filter((n) => left.has(n))).toEqual([]);
    expect(spawnSync('ip', ['link', 'show', state.netns.bridge], { encoding: 'utf8' }).status).not.toBe(0);
    expect(fping([mgmt])).toEqual({ [mgmt]: false });
  });

  it('refuses to start when its addresses are already routed on this machine', async () => {
    const { runSim } = await import('../../../src/sim/index.js');
    const ipBlock = 150 + Math.floor(Math.random() * 70);
    const first = await runSim({ netns: true, hosts: 1, spares: 0, instancesPerHost: 1, ipBlock });
    try {
      await expect(runSim({ netns: true, hosts: 1, spares: 0, instancesPerHost: 1, ipBlock })).rejects.toThrow(/already routed/);
    } finally {
      await first.close();
    }
  });

  it('refuses worlds larger than 64 hosts', async () => {
    const { runSim } = await import('../../../src/sim/index.js');
    await expect(runSim({ netns: true, hosts: 70, instancesPerHost: 0 })).rejects.toThrow(/at most 64 hosts/);
  });
});
