import { describe, expect, it } from 'vitest';
import { buildWorld } from '../../../src/sim/build-world.js';
import { SimCeph, storageIpFor } from '../../../src/sim/ceph.js';
import { SimClock } from '../../../src/sim/clock.js';

// The simulated Ceph holds to ceph-facts: watches lapse 25-30 s after a host hangs, a whole-IP blocklist
// drops them at once, and a blocklisted client never watches again until its host reboots.
function setup() {
  const clock = new SimClock();
  const w = buildWorld({ reportIntervalSeconds: 10, serviceDownTimeSeconds: 60, hosts: 2, instancesPerHost: 5, spares: 0, seed: 3 }, clock);
  const ceph = new SimCeph(w);
  const running = w.serverList.find((s) => s.vmState === 'active')!;
  const h = w.host(running.host!)!;
  const image = `vms/${running.id}_disk`;
  const results = (ops: unknown[]) => (ceph.handle({ ops }) as { results: Record<string, unknown>[] }).results;
  const watchers = () => ((results([{ op: 'watchers', images: [image] }])[0] as { images: { watchers: { address: string }[] }[] }).images[0]!.watchers.map((x) => x.address));
  return { w, clock, h, ip: storageIpFor(h), image, results, watchers };
}

describe('simulated Ceph', () => {
  it('a running host watches its servers\' disks as IP:0/nonce; a hung one\'s watch lapses within 30 s', () => {
    const { w, clock, h, ip, watchers } = setup();
    expect(watchers()).toEqual([expect.stringMatching(new RegExp(`^${ip.replace(/\./g, '\\.')}:0/\\d+$`))]);
    w.hang(h);
    expect(watchers()).toHaveLength(1);
    clock.advance(31_000);
    expect(watchers()).toEqual([]);
  });

  it('a whole-IP blocklist drops the watch at once, is listed by osd dump, and the resumed client stays dead', () => {
    const { w, h, ip, results, watchers } = setup();
    w.hang(h);
    const [add, dump] = results([{ op: 'blocklist', action: 'add', addr: `${ip}:0/0`, expire: 600 }, { op: 'osd_dump' }]);
    expect(add).toMatchObject({ ret: 0, status: expect.stringMatching(new RegExp(`^blocklisting ${ip.replace(/\./g, '\\.')}:0/0 until .* \\(600 sec\\)$`)) });
    expect(Object.keys((dump as { blocklist: Record<string, string> }).blocklist)).toEqual([`${ip}:0/0`]);
    expect(watchers()).toEqual([]);
    w.unhang(h);
    expect(results([{ op: 'blocklist', action: 'rm', addr: `${ip}:0/0` }])[0]).toMatchObject({ ret: 0, status: `un-blocklisting ${ip}:0/0` });
    expect(watchers()).toEqual([]);
  });

  it('refuses a v2: or nonce-less form with EINVAL and answers rm of an unlisted address with rc 0', () => {
    const { ip, results } = setup();
    expect(results([{ op: 'blocklist', action: 'add', addr: `v2:${ip}:0/0` }])[0]).toMatchObject({ ret: -22 });
    expect(results([{ op: 'blocklist', action: 'rm', addr: '198.19.9.99:0/0' }])[0]).toEqual({ ret: 0, status: "198.19.9.99:0/0 isn't blocklisted" });
  });
});
