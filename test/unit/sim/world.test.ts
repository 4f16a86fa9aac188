import { describe, expect, it } from 'vitest';
import { addressAt, buildWorld, instanceCapacity, instanceIpFor, mgmtAreas, mgmtIpFor } from '../../../src/sim/build-world.js';
import { SimClock } from '../../../src/sim/clock.js';
import { EventQueue } from '../../../src/sim/event-queue.js';
import { renderSimConfig } from '../../../src/sim/config.js';

function world(opts = {}) {
  const clock = new SimClock();
  const w = buildWorld({ reportIntervalSeconds: 10, serviceDownTimeSeconds: 60, ...opts }, clock);
  return { w, clock };
}

describe('world liveness', () => {
  it('keeps a dead host up until its last heartbeat is older than service_down_time', () => {
    const { w, clock } = world();
    const h = w.host('compute1')!;
    w.powerOff(h);
    const last = w.lastHeartbeat(h)!;
    expect(w.serviceUp(h)).toBe(true);
    // Evaluated at explicit instants: the simulated clock follows wall time, which moves between two calls.
    expect(w.serviceUp(h, last + 60_000)).toBe(true);
    expect(w.serviceUp(h, last + 60_001)).toBe(false);
    clock.advance(last + 60_001 - w.now());
    expect(w.serviceUp(h)).toBe(false);
  });

  it('heartbeats every report_interval from when nova-compute started, without timers', () => {
    const { w, clock } = world();
    const h = w.host('compute2')!;
    const first = w.lastHeartbeat(h)!;
    clock.advance(25_000);
    expect(w.lastHeartbeat(h)).toBe(first + 20_000);
    expect(w.serviceUp(h)).toBe(true);
  });

  it('treats forced_down as down at once and hang as silence', () => {
    const { w, clock } = world();
    const h = w.host('compute3')!;
    w.updateService(h, { forcedDown: true });
    expect(w.serviceUp(h)).toBe(false);
    w.updateService(h, { forcedDown: false });
    w.hang(h);
    expect(w.addressAnswers(h.mgmtIp)).toBe(false);
    expect(h.power).toBe('on');
    clock.advance(71_000);
    expect(w.serviceUp(h)).toBe(false);
    w.unhang(h);
    expect(w.serviceUp(h)).toBe(true);
  });

  it('stops heartbeats when the management link is lost but keeps instance addresses answering', () => {
    const { w, clock } = world();
    const h = w.host('compute1')!;
    const ip = w.servers.get([...h.servers].find((id) => w.servers.get(id)!.vmState === 'active')!)!.addresses[0]!.addr;
    w.setMgmtLink(h, 'down');
    clock.advance(71_000);
    expect(w.serviceUp(h)).toBe(false);
    expect(w.addressAnswers(h.mgmtIp)).toBe(false);
    expect(w.addressAnswers(ip)).toBe(true);
  });

  it('starts nova-compute after boot when powered on, via the event queue', () => {
    const { w, clock } = world({ bootSeconds: 5 });
    const h = w.host('compute1')!;
    w.powerOff(h);
    w.powerOn(h);
    w.advance();
    expect(w.novaComputeRunning(h)).toBe(false);
    clock.advance(5_000);
    w.advance();
    expect(w.novaComputeRunning(h)).toBe(true);
  });
});

describe('world layout', () => {
  it('numbers addresses inside 198.18.0.0/15, skipping .0 and .255', () => {
    expect(mgmtIpFor(1)).toBe('198.18.0.11');
    expect(instanceIpFor(0)).toBe('198.18.32.1');
    expect(instanceIpFor(253)).toBe('198.18.32.254');
    expect(instanceIpFor(254)).toBe('198.18.33.1');
    expect(instanceIpFor(99_999)).toMatch(/^198\.19\./);
    expect(mgmtIpFor(1, 2)).toBe('198.18.2.11');
    expect(() => addressAt(2 * 65536)).toThrow();
  });

  it('widens the management area past 8,118 hosts; servers past the instance area have no provider address', () => {
    expect(mgmtAreas(8118)).toBe(32);
    expect(mgmtAreas(10_001)).toBe(40);
    const w = buildWorld({ hosts: 10_000, spares: 1, instancesPerHost: 1, ipBlock: 64 });
    const mgmt = w.hostList.map((h) => h.mgmtIp);
    const storage = w.hostList.map((h) => h.storageIp);
    const instances = w.serverList.flatMap((s) => s.addresses.filter((a) => a.network === 'provider').map((a) => a.addr));
    const all = [...mgmt, ...storage, ...instances];
    expect(new Set(all).size).toBe(all.length);
    expect(all.every((a) => /^198\.(18|19)\.\d+\.\d+$/.test(a) && !/\.(0|255)$/.test(a))).toBe(true);
    expect(w.host('compute10000')!.mgmtIp).toBe(mgmtIpFor(10_000, 64));
    expect(instances[0]).toBe('198.18.104.1');
    // 200,000 servers do not fit: about 103,000 get a provider address, the rest only their tenant one.
    expect(instanceCapacity(64, 40)).toBe(103_632);
    expect(() => buildWorld({ hosts: 40_000, instancesPerHost: 0 })).toThrow(/too many hosts/);
  });

  it('builds the default world and a config with one section per host', () => {
    const { w } = world();
    expect(w.hostList.map((h) => h.name)).toEqual(['compute1', 'compute2', 'compute3', 'compute4', 'spare1']);
    expect(w.serverList).toHaveLength(20);
    const conf = renderSimConfig(w, { authUrl: 'http://127.0.0.1:1/identity/v3', controlUrl: 'http://127.0.0.1:1', redfishAddress: '127.0.0.1', redfishPort: 1 });
    expect(conf.match(/^\[host:/gm)).toHaveLength(5);
    expect(conf).toContain('[cloud]\nauth_url = http://127.0.0.1:1/identity/v3\nusername = admin\n');
  });

  it('is the same world for the same seed', () => {
    const a = world({ seed: 7 }).w;
    const b = world({ seed: 7 }).w;
    expect(a.serverList.map((s) => [s.id, s.vmState])).toEqual(b.serverList.map((s) => [s.id, s.vmState]));
  });
});

describe('EventQueue', () => {
  it('pops due events in time order, ties in insertion order', () => {
    const q = new EventQueue();
    const out: string[] = [];
    q.push(30, () => out.push('c'));
    q.push(10, () => out.push('a'));
    q.push(10, () => out.push('b'));
    q.push(50, () => out.push('late'));
    for (let e = q.popDue(40); e; e = q.popDue(40)) e.run(e.at);
    expect(out).toEqual(['a', 'b', 'c']);
    expect(q.size).toBe(1);
  });
});
