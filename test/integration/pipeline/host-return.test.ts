import { afterAll, describe, expect, it } from 'vitest';
import { fenceDriversFromConfig } from '../../../src/app/fence-parts.js';
import { returnSettingsOf, watchHostReturns } from '../../../src/app/host-return-watch.js';
import type { RecoveryWorker } from '../../../src/app/root.js';
import { Secret } from '../../../src/config/secret.js';
import type { Config } from '../../../src/config/types.js';
import type { ReturnSettings } from '../../../src/pipeline/host-return.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { computeOf } from '../../helpers/compute.js';
import { IpmiSimLab, type SimulatedBmc } from '../../helpers/ipmi-sim.js';
import { pipelineSuite, waitClosed, waitFor, type PipelineWorld } from './world.js';

// A host cmpha fenced through a real BMC (ipmi_sim) comes back after repair: its incident is closed, its servers
// have left; cmpha powers it on (power_on_fenced_hosts), the simulator's host boots (the test carries the BMC's
// power to the simulated host, as the cable would), its heartbeat is steady, and cmpha returns it
// (return_repaired_hosts) in the order Nova accepts, each step in the closed incident's timeline.

const s = pipelineSuite();
const lab = new IpmiSimLab();
afterAll(async () => { await lab.stopAll(); });

function withBmc(w: PipelineWorld, bmc: SimulatedBmc): Config {
  return {
    ...w.config,
    hosts: {
      ...w.config.hosts,
      compute1: {
        ...w.config.hosts.compute1!, fenceLevels: [['ipmi']],
        fence: { driver: 'ipmi', address: bmc.address, port: bmc.port, username: bmc.username, password: new Secret(bmc.password), ipmi: { interface: 'lanplus', cipherSuite: 3, timeoutS: 1, retries: 1 } },
      } as Config['hosts'][string],
    },
  };
}

const SETTINGS: ReturnSettings = {
  returnRepairedHosts: true, powerOnFencedHosts: true, steadyForMs: 1500, heartbeatGapMs: 1500,
  returnTimeoutMs: 20_000, pollIntervalMs: 200, spareReasonPrefix: 'down_prepare',
};

async function fencedAndClosed(w: PipelineWorld, bmc: SimulatedBmc, id: string) {
  const config = withBmc(w, bmc);
  const fenceDriverFor = fenceDriversFromConfig(config, silentLogger);
  const r = w.recovery(s.redis, { fenceDriverFor, config } as never);
  await r.startWorkers();
  await w.control('compute1', 'power-off');
  await w.waitNovaDown('compute1');
  await r.opener.open({ id, host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
  const inc = await waitClosed(r, id, 60_000);
  expect(inc.status).toBe('resolved');
  expect(bmc.power()).toBe('off');
  const worker = { ...r, compute: computeOf(w.nova, { config }), fenceDriverFor, lease: undefined } as unknown as RecoveryWorker;
  return { r, worker };
}

describe('hosts returned after repair', () => {
  it('is off by default: no [recovery], or both keys false, runs nothing', () => {
    const base = { detector: { heartbeatIntervalMs: 10_000, heartbeatMarginMs: 5000 }, evacuation: { verifyPollIntervalMs: 2000, spareReasonPrefix: 'down_prepare' } } as Config;
    expect(returnSettingsOf(base)).toBeNull();
    expect(returnSettingsOf({ ...base, recovery: { returnRepairedHosts: false, powerOnFencedHosts: false, steadyForMs: 1, checkIntervalMs: 1, returnTimeoutMs: 1 } })).toBeNull();
  });

  it('powers the fenced host on once its servers left, and returns it once its heartbeat is steady; the unused spare goes back to the pool', async () => {
    const w = await s.world({ hosts: 2, instancesPerHost: 1, spares: 2, evacuation: { spareCount: 2 } });
    const bmc = await lab.start({ power: 'on' });
    const { r, worker } = await fencedAndClosed(w, bmc, 'ret-1');
    // The server that moved to the spare is deleted by its owner meanwhile: the spare is unused again.
    const closed = (await r.incidents.get('ret-1'))!;
    expect(closed.spares).toEqual([{ host: expect.any(String), serverIds: [expect.any(String)] }]);
    const spare = closed.spares![0]!.host;
    for (const id of closed.spares![0]!.serverIds) {
      expect((await fetch(`${w.sim.controlUrl}/sim/servers/${id}`, { method: 'DELETE' })).status).toBe(204);
    }
    const watch = watchHostReturns(worker, SETTINGS, { logger: silentLogger, everyMs: 3_600_000, isLeader: () => true });
    try {
      // The incident is closed and every server left: the first look powers it on through its BMC.
      expect(await watch.tick()).toEqual(['compute1']);
      expect(bmc.power()).toBe('on');
      // Still forced down and disabled: nothing returns a host that has not shown it is healthy.
      const before = await computeOf(w.nova).host('compute1');
      expect(before).toMatchObject({ isolated: true, status: 'disabled' });
      expect(await watch.tick()).toEqual([]);
      await w.control('compute1', 'power-on');
      await waitFor('compute1 to be returned', async () => (await watch.tick()).includes('compute1'), 30_000, 200);
      const after = await computeOf(w.nova).host('compute1');
      expect(after).toMatchObject({ isolated: false, status: 'enabled', state: 'up' });
      const inc = (await r.incidents.get('ret-1'))!;
      const returned = inc.timeline.filter((t) => t.step === 'return').map((t) => t.message);
      expect(returned[0]).toMatch(/every server has left compute1: powering it on through ipmi/);
      expect(returned).toContainEqual(expect.stringMatching(/heartbeat has been back and steady for 2 s: returning it/));
      expect(returned).toContainEqual('compute1: forced_down unset');
      expect(returned).toContainEqual('compute1 is back in service: enabled');
      // Every return entry is after the close: the incident stays closed and resolved.
      expect(inc.status).toBe('resolved');
      expect(inc.timeline.filter((t) => t.step === 'return').every((t) => t.at >= inc.closedAt!)).toBe(true);
      // The spare the incident enabled is unused now: back in the reserved pool, disabled with the spare reason.
      expect(await computeOf(w.nova).host(spare)).toMatchObject({ status: 'disabled', reason: expect.stringMatching(/^down_prepare spare, back in the pool: compute1 returned .* \(incident ret-1\)$/) });
      expect(returned.at(-1)).toMatch(new RegExp(`^spare ${spare} was not used: disabled again as a reserved spare`));
      // Nothing more to do: the host is no longer cmpha's.
      expect(await watch.tick()).toEqual([]);
    } finally {
      watch.stop();
    }
  });

  it('without power_on_fenced_hosts it waits for an operator to power the host on, and never returns a host whose heartbeat is not back', async () => {
    const w = await s.world({ hosts: 2, instancesPerHost: 1, spares: 1 });
    const bmc = await lab.start({ power: 'on' });
    const { worker } = await fencedAndClosed(w, bmc, 'ret-2');
    const watch = watchHostReturns(worker, { ...SETTINGS, powerOnFencedHosts: false }, { logger: silentLogger, everyMs: 3_600_000, isLeader: () => true });
    try {
      expect(await watch.tick()).toEqual([]);
      expect(bmc.power()).toBe('off');
      expect(await computeOf(w.nova).host('compute1')).toMatchObject({ isolated: true, status: 'disabled' });
      // The operator repairs it and powers it on.
      bmc.setPower('on');
      await w.control('compute1', 'power-on');
      await waitFor('compute1 to be returned', async () => (await watch.tick()).includes('compute1'), 30_000, 200);
      expect(await computeOf(w.nova).host('compute1')).toMatchObject({ isolated: false, status: 'enabled' });
    } finally {
      watch.stop();
    }
  });
});
