import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crashKernelLook, fenceDriversFromConfig, fencePlansFromConfig } from '../../../src/app/fence-parts.js';
import { hostLiveness, type DetectorView } from '../../../src/app/root.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { RoundReport } from '../../../src/detector/types.js';
import type { KdumpEnv } from '../../../src/fencing/device.js';
import { KdumpListener } from '../../../src/fencing/kdump/listener.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { computeOf } from '../../helpers/compute.js';
import { layerConfig } from '../../helpers/layer-config.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { isForceOff, pipelineSuite, waitClosed, waitFor, type PipelineWorld } from '../pipeline/world.js';

// A crashed host with kdump: its crash kernel brings the network up to send fence_kdump messages, so its management
// address answers ping while nova-compute and every guest are gone. The simulated cloud's hosts are network
// namespaces (real fping), the crash kernel's sender is Debian's fence_kdump_send run in compute1's namespace, and
// cmpha's detector, liveness check, kdump listener and fence levels are the ones `cmpha run` wires.
// compute2 fails the same way but sends no fence_kdump message: its answering address is life, and it is never dead.
const SENDER = '/usr/libexec/fence-agents/fence_kdump_send';

const s = pipelineSuite();
const group = new ProcessGroup();
const ipBlock = () => 120 + Math.floor(Math.random() * 20);

async function worldOnFreeBlock(): Promise<PipelineWorld> {
  for (let i = 1; ; i++) {
    try {
      return await s.world({ hosts: 2, instancesPerHost: 1, spares: 1, netns: true, ipBlock: ipBlock(), reportIntervalSeconds: 0.5, serviceDownTimeSeconds: 2 });
    } catch (err) {
      if ((err as { code?: string }).code !== 'sim_netns_address_in_use' || i >= 5) throw err;
    }
  }
}

const answersPing = (ip: string) => spawnSync('fping', ['-c', '1', '-t', '300', '-q', ip], { stdio: 'ignore' }).status === 0;

describe('detection that knows a crash kernel', () => {
  it('a host answering ping from its crash kernel gets an incident, its kdump level counts as fenced, its power-off waits for the dump; a host answering without fence_kdump messages stays alive', async () => {
    expect(existsSync(SENDER), `${SENDER} missing: apt-get install fence-agents`).toBe(true);
    const w = await worldOnFreeBlock();
    const net = w.sim.netns!.info();
    const listener = new KdumpListener({ host: net.gateway, port: 0, quietAfterMs: 3000 });
    await listener.start();
    try {
      expect(listener.notListening()).toBeUndefined();
      // compute1: first the crash kernel's messages (no power-off), then its BMC (the power-off that waits for the dump).
      layerConfig(w.sim.configPath, {
        kdump: { enabled: 'true', listen: `${net.gateway}:7410`, quiet_after: '3s', wait: '5s', max_dump_wait: '2m' },
        'host:compute1': { fence_levels: 'kdump, redfish' },
      });
      const loaded = await loadConfig({ path: w.sim.configPath, env: {} });
      const config: Config = {
        ...w.config,
        hosts: loaded.hosts, ...(loaded.kdump ? { kdump: loaded.kdump } : {}),
        detector: {
          ...w.config.detector, probe: 'fping', intervalMs: 1000, heartbeatIntervalMs: 500, minSilenceMs: 2000, singleSignalSilenceMs: 2000,
          probeCount: 1, probeTimeoutMs: 300, probePacketIntervalMs: 1, maxDeadHosts: 100, maxDeadFraction: 1,
        },
      };
      const env: KdumpEnv = { watch: listener, waitMs: 5000, quietAfterMs: 3000, maxDumpWaitMs: 120_000, pollMs: 100 };
      const crashKernel = crashKernelLook(env);
      const compute = computeOf(w.nova, { config });
      const prober = createProber(config.detector, { logger: silentLogger });
      const view: DetectorView = { current: null };
      const driverFor = fenceDriversFromConfig(config, silentLogger);
      const recovery = w.recovery(s.redis, {
        config, fenceDriverFor: driverFor, fencePlanFor: fencePlansFromConfig(config, compute, driverFor, undefined, undefined, env),
        isHostAlive: hostLiveness(config, compute, prober, silentLogger, view, crashKernel),
      });
      await recovery.startWorkers();
      const detector = createDetector({
        config, compute, prober, clock: w.sim.world.clock, redis: s.redis, incidents: recovery.opener, notifier: w.notifier, logger: silentLogger,
        owner: 'crash-kernel-test', crashKernel,
      });
      view.current = detector;
      let last: RoundReport | null = null;
      const round = async () => (last = await detector.runRound());
      const host = (r: RoundReport, name: string) => r.hosts.find((h) => h.host === name)!;
      await waitFor('every host healthy', async () => (await round()).hosts.every((h) => h.verdict === 'healthy' || h.verdict === 'maintenance'), 30_000, 0);

      // Both hosts lose nova-compute, their guests and their storage link; their management address keeps answering.
      const mgmt1 = config.hosts.compute1!.mgmtIp!;
      const mgmt2 = config.hosts.compute2!.mgmtIp!;
      for (const h of ['compute1', 'compute2']) {
        for (const action of ['nova-compute/stop', 'instance-link/down', 'storage-link/down']) await w.control(h, action);
      }
      // compute1's crash kernel sends from its management address, one message a second, as kdump.conf's
      // `fence_kdump_args -i 1` would have it.
      const ns1 = net.namespaces.compute1!;
      execFileSync('ip', ['-n', ns1, 'route', 'replace', `${net.gateway}/32`, 'dev', 'eth0', 'src', mgmt1]);
      let id = '';
      const sender = group.start('ip', ['netns', 'exec', ns1, SENDER, '-p', String(listener.port()), '-i', '1', '-c', '0', net.gateway]);
      try {
        await expect.poll(() => listener.lastFrom([mgmt1])?.count ?? 0, { timeout: 10_000 }).toBeGreaterThan(1);
        expect(answersPing(mgmt1)).toBe(true);
        expect(answersPing(mgmt2)).toBe(true);

        await waitFor('compute1\'s incident', async () => host(await round(), 'compute1').action === 'open-incident', 60_000, 0);
        const c1 = host(last!, 'compute1');
        expect(c1.verdict).toBe('dead');
        expect(c1.evidence.crashKernel).toMatchObject({ ip: mgmt1 });
        expect(c1.evidence.networks.find((n) => n.role === 'mgmt')).toMatchObject({ ip: mgmt1, result: 'crash-kernel' });
        expect(c1.evidence.reasons.join('\n')).toMatch(/in its crash kernel: \d+ fence_kdump message\(s\) from/);
        // compute2 answers the same way but sends nothing: alive, never dead.
        expect(host(last!, 'compute2')).toMatchObject({ verdict: 'agent-down' });
        expect(host(last!, 'compute2').evidence.crashKernel).toBeUndefined();
        id = c1.incidentId!;

        // The fence runs and its power-off waits while the crash kernel sends: the BMC hears nothing.
        await waitFor('compute1\'s fence started', async () => (await recovery.incidents.get(id))?.fenceStartedAt !== undefined, 60_000);
        const sentBefore = listener.lastFrom([mgmt1])!.count;
        await expect.poll(() => listener.lastFrom([mgmt1])!.count, { timeout: 15_000 }).toBeGreaterThan(sentBefore + 3);
        expect((await w.calls()).filter((c) => isForceOff(c) && c.path.includes('compute1'))).toEqual([]);
        expect((await recovery.incidents.get(id))?.status).toBe('fencing');
      } finally {
        await group.stop(sender);
      }
      // The dump is written (the messages stop): the power-off goes out, and the recovery finishes.
      const done = await waitClosed(recovery, id, 90_000);
      expect(done.status).toBe('resolved');
      expect(done.fence).toMatchObject({ driver: 'kdump+redfish', level: 1 });
      const timeline = done.timeline.map((e) => e.message).join('\n');
      expect(timeline).toMatch(/compute1 is in its crash kernel: \d+ fence_kdump message\(s\) from/);
      expect(timeline).toMatch(/the power-off waits until they stop/);
      expect(timeline).toMatch(/fence_kdump messages stopped/);
      expect((await w.calls()).filter((c) => isForceOff(c) && c.path.includes('compute1'))).toHaveLength(1);

      // compute2 all along: rounds go on; it is agent-down, never dead, never given an incident.
      for (let i = 0; i < 5; i++) expect(host(await round(), 'compute2').verdict).toBe('agent-down');
      expect((await recovery.incidents.list()).map((i) => i.host)).toEqual(['compute1']);
      expect((await w.calls()).filter((c) => isForceOff(c) && c.path.includes('compute2'))).toEqual([]);
      await detector.stop();
    } finally {
      await group.stopAll();
      await listener.stop();
    }
  }, 240_000);
});
