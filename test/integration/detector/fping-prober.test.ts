import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProber } from '../../../src/detector/prober.js';
import type { Prober } from '../../../src/detector/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { NetLab, type LabHost } from '../../helpers/netns.js';
import { detectorDefaults } from '../../unit/detector/test-config.js';

// Real fping against network namespaces: what the controller sees when hosts die and come back.
let lab: NetLab;
let alive: LabHost;
let down: LabHost;
let crowd: LabHost;
let prober: Prober;

beforeAll(async () => {
  lab = await NetLab.create();
  alive = await lab.addHost('alive', 2);
  down = await lab.addHost('down', 1);
  crowd = await lab.addHost('crowd', 120);
  await lab.setLink('down', 'down');
  prober = createProber({ ...detectorDefaults, probeCount: 1, probeTimeoutMs: 300, probePacketIntervalMs: 1 }, { logger: silentLogger });
});

afterAll(async () => {
  await lab?.destroy();
});

describe('fping prober against namespaces', () => {
  it('sees live addresses alive, a downed host silent, and an address nobody holds silent', async () => {
    const nobody = `${lab.subnet}.251`;
    const r = await prober.probe([...alive.ips, ...down.ips, nobody]);
    expect(Object.fromEntries(r)).toEqual({
      [alive.ips[0]!]: 'alive',
      [alive.ips[1]!]: 'alive',
      [down.ips[0]!]: 'silent',
      [nobody]: 'silent',
    });
  });

  it('follows a host going down and coming back', async () => {
    await lab.setLink('alive', 'down');
    expect((await prober.probe(alive.ips)).get(alive.ips[0]!)).toBe('silent');
    await lab.setLink('alive', 'up');
    expect((await prober.probe(alive.ips)).get(alive.ips[0]!)).toBe('alive');
  });

  it('probes a hundred-odd addresses in one call', async () => {
    const r = await prober.probe([...crowd.ips, ...down.ips]);
    expect([...r.values()].filter((v) => v === 'alive')).toHaveLength(crowd.ips.length);
    expect(r.get(down.ips[0]!)).toBe('silent');
  });

  it('with two packets, one answer is enough', async () => {
    const two = createProber({ ...detectorDefaults, probeCount: 2, probeTimeoutMs: 200, probePacketIntervalMs: 1 }, { logger: silentLogger });
    const r = await two.probe([alive.ips[0]!, down.ips[0]!]);
    expect(Object.fromEntries(r)).toEqual({ [alive.ips[0]!]: 'alive', [down.ips[0]!]: 'silent' });
  });
});
