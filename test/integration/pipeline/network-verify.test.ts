import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createFpingProber } from '../../../src/detector/fping-prober.js';
import { formatIncident } from '../../../src/incidents/format.js';
import type { Incident, InstanceEntry } from '../../../src/incidents/types.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { renderUserNotice } from '../../../src/notifier/templates.js';
import type { Recovery } from '../../../src/pipeline/create-recovery.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { addServer } from '../../../src/sim/index.js';
import { isEvacuate, pipelineWorld, waitClosed, waitFor, type PipelineWorld, pipelineSuite } from './world.js';
import { computeOf } from '../../helpers/compute.js';

// A powered-off host as its instances' users see it: the real detector and real fping into the simulator's
// network namespaces (a server's address moves to its new host's namespace when it moves), Neutron's ports
// from the simulator, the whole pipeline on a real Redis. The test cuts and restores the addresses itself
// and checks the recorded downtimes against those moments.

const s = pipelineSuite();

// Blocks of 198.18.0.0/15 away from those the other namespace tests pick; another one when a concurrent run
// already routes the one drawn.
const ipBlock = () => 60 + Math.floor(Math.random() * 60);

async function worldOnFreeBlock(opts: Omit<Parameters<typeof pipelineWorld>[0], 'ipBlock'>): Promise<PipelineWorld> {
  for (let i = 1; ; i++) {
    try {
      return await pipelineWorld({ ...opts, ipBlock: ipBlock() });
    } catch (err) {
      if ((err as { code?: string }).code !== 'sim_netns_address_in_use' || i >= 5) throw err;
    }
  }
}

interface Run {
  world: PipelineWorld;
  recovery: Recovery;
  registry: Registry;
  /** Baseline addresses of compute1's servers: they answered before the failure. */
  addresses: Map<string, string>;
  cutBefore: number;
  cutAfter: number;
  incident(): Promise<Incident>;
}

/** Builds the world, lets the detector see every host healthy, calls `beforeFailure`, then powers compute1 off. */
async function failCompute1(
  beforeFailure: (world: PipelineWorld) => Promise<void>, networkTimeoutMs: number,
  extra: { rebootSilent?: boolean; concurrency?: number; moreServers?: number; afterCut?: (world: PipelineWorld, serverIds: string[]) => Promise<void> } = {},
): Promise<Run> {
  const world = await worldOnFreeBlock({
    hosts: 2, instancesPerHost: 2, spares: 1, netns: true, redisUrl: s.redisUrl,
    evacuation: {
      verifyNetwork: true, networkTimeoutMs, verifyPollIntervalMs: 200, rebootSilent: extra.rebootSilent ?? false,
      ...(extra.concurrency !== undefined ? { concurrency: extra.concurrency } : {}),
    },
  });
  s.w = world;
  for (let i = 0; i < (extra.moreServers ?? 0); i++) addServer(world.sim.world, { host: 'compute1', flavor: 'm1.tiny', name: `more${i}` });
  if (extra.moreServers) {
    await world.sim.netns!.flush();
  }
  const config: Config = {
    ...world.config,
    detector: {
      ...world.config.detector, probe: 'fping', instanceNetworks: ['provider'], intervalMs: 1000, heartbeatIntervalMs: 500, minSilenceMs: 2000, singleSignalSilenceMs: 2000,
      probeCount: 1, probeTimeoutMs: 300, probePacketIntervalMs: 1, maxDeadHosts: 2, maxDeadFraction: 1,
    },
  };
  const prober = createFpingProber(config.detector, { logger: silentLogger });
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: 'test' });
  const recovery = world.recovery(s.redis, { config, neutron: world.neutron, probe: (ips, signal) => prober.probe(ips, signal), metrics });
  await recovery.startWorkers();
  // Baselined every round: one lost ping on a loaded machine must not leave a server unwatched.
  const detector = createDetector({ config, compute: computeOf(world.nova, { config }), prober, incidents: recovery.opener, logger: silentLogger, tuning: { baselineEveryRounds: 1 } });

  const healthy = await detector.runRound();
  expect(healthy.hosts.find((h) => h.host === 'compute1')?.verdict).toBe('healthy');
  const servers = await world.serversOn('compute1');
  const addresses = new Map<string, string>();
  for (const s of servers) {
    const a = s.addresses.find((x) => x.network === 'provider' && x.version === 4);
    if (s.status === 'ACTIVE' && a) addresses.set(s.id, a.addr);
  }
  expect(addresses.size).toBeGreaterThan(0);
  // A healthy round whose baseline probe saw these addresses answer.
  const answers = await prober.probe([...addresses.values()]);
  expect([...answers.values()].every((r) => r === 'alive')).toBe(true);

  await beforeFailure(world);
  await detector.runRound();
  const cutBefore = Date.now();
  await world.control('compute1', 'power-off');
  const cutAfter = Date.now();
  await extra.afterCut?.(world, [...addresses.keys()]);
  let id: string | undefined;
  await waitFor('the detector to open an incident for compute1', async () => {
    const r = await detector.runRound();
    id = r.hosts.find((h) => h.host === 'compute1' && h.incidentId && (h.action === 'open-incident' || h.action === 'incident-exists'))?.incidentId;
    if (!id) await new Promise((res) => setTimeout(res, 500));
    return id !== undefined;
  }, 30_000, 0);
  return { world, recovery, registry, addresses, cutBefore, cutAfter, incident: () => recovery.incidents.get(id!) as Promise<Incident> };
}

describe.runIf(process.getuid?.() === 0)('network verification after an evacuation, with real fping', () => {
  it('counts each instance\'s downtime from its last answer to its first answer on the new host', async () => {
    let restoredAt = 0;
    const run = await failCompute1(async (world) => {
      // The new hosts' instance links are cut: the servers will come up ACTIVE there, with bound ports, and not answer.
      await world.control('compute2', 'instance-link/down');
      await world.control('spare1', 'instance-link/down');
    }, 60_000);
    const id = (await run.incident()).id;
    await waitFor('every server ACTIVE on its new host', async () => {
      const inc = await run.recovery.incidents.get(id);
      const active = new Set(inc?.timeline.filter((t) => t.serverId && /runs ACTIVE on/.test(t.message)).map((t) => t.serverId));
      return [...run.addresses.keys()].every((s) => active.has(s));
    }, 45_000, 200);
    // Still silent on the new host, so not verified yet.
    expect((await run.incident()).instances.filter((e) => run.addresses.has(e.id)).map((e) => e.state)).not.toContain('verified');
    await new Promise((r) => setTimeout(r, 1500));
    restoredAt = Date.now();
    await run.world.control('compute2', 'instance-link/up');
    await run.world.control('spare1', 'instance-link/up');

    const inc = await waitClosed(run.recovery, id, 60_000);
    expect(inc.status).toBe('resolved');
    for (const serverId of run.addresses.keys()) {
      const e = inc.instances.find((x) => x.id === serverId)!;
      expect(e.state).toBe('verified');
      // Down from its last sign of life before the cut (the detector's rounds are about a second apart) ...
      expect(e.downFrom).toBeGreaterThanOrEqual(run.cutBefore - 5000);
      expect(e.downFrom).toBeLessThanOrEqual(run.cutAfter);
      // ... back at its first answer after the test restored the link (polled every 200 ms, fping 300 ms).
      expect(e.backAt).toBeGreaterThanOrEqual(restoredAt);
      expect(e.backAt).toBeLessThanOrEqual(restoredAt + 10_000);
      expect(e.downtimeMs).toBe(e.backAt! - e.downFrom!);
      expect(e.activeAt).toBeLessThan(restoredAt);
    }
    // The incident's failover counts from the host's last sign of life, which precedes the first silent round.
    expect(inc.lastAliveAt).toBeLessThanOrEqual(run.cutAfter);
    expect(inc.lastAliveAt).toBeLessThan(inc.failureStartedAt);
    const lastVerified = Math.max(...inc.instances.map((e) => e.verifiedAt ?? 0));
    expect(inc.failoverMs).toBe(lastVerified - inc.lastAliveAt!);

    const shown = formatIncident(inc);
    expect(shown).toContain('downtime per instance');
    const first = inc.instances.find((x) => run.addresses.has(x.id))!;
    expect(shown).toContain(`${first.name}: `);

    const resolved = run.world.notifier.events.find((e) => e.type === 'incident-resolved')!;
    const mine = resolved.instances!.filter((i) => i.id === first.id);
    const notice = renderUserNotice(resolved, { recipient: 'owner@example.org', instances: mine });
    expect(notice.text).toContain(`your server ${first.name} was unreachable for`);
    expect(notice.text).toContain(`from ${new Date(first.downFrom!).toISOString()} to ${new Date(first.backAt!).toISOString()}`);

    const text = await run.registry.metrics();
    expect(text).toMatch(new RegExp(`cmpha_instance_downtime_seconds_count ${inc.instances.filter((e) => e.state === 'verified').length}`));
  }, 150_000);

  it('a target whose ports end binding_failed leaves its servers degraded, not verified, and the incident not resolved', async () => {
    const run = await failCompute1(async (world) => {
      await world.control('compute2', 'port-binding/fail');
      await world.control('spare1', 'port-binding/fail');
    }, 20_000);
    const inc = await waitClosed(run.recovery, (await run.incident()).id, 90_000);
    const moved = inc.instances.filter((e) => run.addresses.has(e.id));
    expect(moved.map((e) => e.state)).toEqual(moved.map(() => 'degraded'));
    for (const e of moved) {
      expect(e.networkIssue).toBe('port-binding');
      expect(e.error).toMatch(/binding_failed/);
    }
    expect(inc.status).not.toBe('resolved');
    expect(inc.status).toBe('partial');
    const shown = formatIncident(inc);
    expect(shown).toMatch(/look at/);
    expect(shown).toMatch(/L2 agent on (compute2|spare1)/);
    const partial = run.world.notifier.events.find((e) => e.type === 'incident-partial')!;
    expect(partial.details).toMatch(/DEGRADED on (compute2|spare1): .*binding_failed.*; look at the port binding/);
    const notice = renderUserNotice(partial, { recipient: 'owner@example.org', instances: partial.instances!.filter((i) => i.id === moved[0]!.id) });
    expect(notice.text).toContain('its network is not back yet');
  }, 150_000);

  const setGuestsSilent = async (world: PipelineWorld, ids: readonly string[], silent: boolean) => {
    for (const id of ids) {
      const r = await fetch(`${world.sim.controlUrl}/sim/servers/${id}/guest-silent`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ silent }),
      });
      expect(r.status).toBe(200);
    }
  };
  const silentGuests = (world: PipelineWorld, ids: string[]) => setGuestsSilent(world, ids, true);

  it('a server whose address is slow to answer leaves its evacuation slot once ACTIVE: with concurrency 1 the next evacuation starts meanwhile', async () => {
    // Every guest stays silent on its new host until the test lets it answer, long before network_timeout.
    const run = await failCompute1(async () => undefined, 90_000, { concurrency: 1, moreServers: 1, afterCut: silentGuests });
    expect(run.addresses.size).toBe(2);
    const id = (await run.incident()).id;
    const evacuateCalls = async () => (await run.world.calls()).filter((c) => isEvacuate(c) && [...run.addresses.keys()].some((s) => c.path.includes(`/servers/${s}/`)));
    const serverOf = (path: string) => [...run.addresses.keys()].find((s) => path.includes(`/servers/${s}/`))!;
    let first: InstanceEntry | undefined;
    // Either the second evacuate call comes while the first server still waits for its address, or the first
    // server's verification ends (it would hold the only slot until network_timeout) before any second call.
    await waitFor('a second evacuate call, or the first server settled', async () => {
      const calls = await evacuateCalls();
      if (calls.length === 0) return false;
      first = (await run.recovery.incidents.get(id))!.instances.find((e) => e.id === serverOf(calls[0]!.path));
      return new Set(calls.map((c) => serverOf(c.path))).size >= 2 || (first !== undefined && ['verified', 'degraded', 'failed'].includes(first.state));
    }, 60_000, 100);
    const calls = await evacuateCalls();
    const order = [...new Set(calls.map((c) => serverOf(c.path)))];
    expect(order).toHaveLength(2);
    // When the second server's evacuate call was seen, the first one ran ACTIVE on its new host and its network
    // verification had not ended: its address was still silent.
    expect(first).toMatchObject({ id: order[0], state: 'evacuated' });
    expect(first!.activeAt).toBeDefined();
    const secondCallAt = Date.parse(calls.find((c) => serverOf(c.path) === order[1])!.time);

    await new Promise((r) => setTimeout(r, 1000));
    const answeredFrom = Date.now();
    await setGuestsSilent(run.world, order, false);
    const inc = await waitClosed(run.recovery, id, 90_000);
    expect(inc.status).toBe('resolved');
    const firstDone = inc.instances.find((e) => e.id === order[0])!;
    expect(firstDone.state).toBe('verified');
    expect(firstDone.backAt).toBeGreaterThanOrEqual(answeredFrom);
    expect(firstDone.verifiedAt).toBeGreaterThan(secondCallAt);
    // Still one evacuation in flight at a time: the second call came after the first server ran ACTIVE.
    expect(secondCallAt).toBeGreaterThanOrEqual(firstDone.activeAt! - 1000);
    expect(inc.instances.find((e) => e.id === order[1])!.state).toBe('verified');
  }, 150_000);

  it('a guest that stays silent on its new host is degraded (silent), with what to look at; no reboot by default', async () => {
    const run = await failCompute1(async () => undefined, 3000, { afterCut: silentGuests });
    const inc = await waitClosed(run.recovery, (await run.incident()).id, 90_000);
    const moved = inc.instances.filter((e) => run.addresses.has(e.id));
    for (const e of moved) {
      expect(e).toMatchObject({ state: 'degraded', networkIssue: 'silent' });
      expect(e.error).toMatch(/network not back within 3s: .* does not answer on/);
      expect(e.rebootedAt).toBeUndefined();
    }
    expect(inc.status).toBe('partial');
    expect(formatIncident(inc)).toMatch(/security groups/);
    expect((await run.world.calls()).filter((c) => c.method === 'POST' && c.body !== null && typeof c.body === 'object' && 'reboot' in c.body)).toEqual([]);
  }, 150_000);

  it('with reboot_silent, a silent guest is hard-rebooted once, then answers and is verified', async () => {
    const run = await failCompute1(async () => undefined, 3000, { rebootSilent: true, afterCut: silentGuests });
    const inc = await waitClosed(run.recovery, (await run.incident()).id, 90_000);
    const reboots = (await run.world.calls()).filter((c) => c.method === 'POST' && c.body !== null && typeof c.body === 'object' && 'reboot' in c.body);
    expect(reboots).toHaveLength(run.addresses.size);
    for (const c of reboots) expect(c.body).toEqual({ reboot: { type: 'HARD' } });
    for (const serverId of run.addresses.keys()) {
      const e = inc.instances.find((x) => x.id === serverId)!;
      expect(e.state).toBe('verified');
      expect(e.rebootedAt).toBeGreaterThan(e.activeAt!);
      expect(e.backAt).toBeGreaterThanOrEqual(e.rebootedAt!);
    }
    expect(inc.timeline.some((t) => /hard-rebooting it once/.test(t.message))).toBe(true);
    expect(inc.status).toBe('resolved');
  }, 150_000);
});
