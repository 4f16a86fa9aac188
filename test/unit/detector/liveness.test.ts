import { describe, expect, it } from 'vitest';
import { createHostLivenessCheck } from '../../../src/detector/liveness.js';
import type { Prober, ProbeResult } from '../../../src/detector/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeNova } from '../../helpers/fake-nova.js';
import { testConfig } from './test-config.js';
import { computeOf } from '../../helpers/compute.js';

function prober(alive: Set<string>, calls: string[][]): Prober {
  return {
    kind: 'table',
    async probe(ips) {
      calls.push([...ips]);
      return new Map(ips.map((ip): [string, ProbeResult] => [ip, alive.has(ip) ? 'alive' : 'silent']));
    },
  };
}

describe('the last look before fencing', () => {
  const NOVA_AHEAD = Date.now() + 600_000; // Nova's clock 10 minutes ahead: a fresh-looking updated_at
  const setup = (alive: string[], seen: number | null) => {
    const nova = new FakeNova();
    nova.addHost('c1', { hostIp: '198.18.0.10', updatedAt: new Date(NOVA_AHEAD) });
    const calls: string[][] = [];
    const check = createHostLivenessCheck({
      config: testConfig({}, { c1: { storageIps: ['198.18.2.10'], tunnelIp: '198.18.3.10' } }),
      compute: computeOf(nova), prober: prober(new Set(alive), calls), logger: silentLogger,
      heartbeatSeen: () => seen, extraAddresses: () => ['198.18.1.10'],
    });
    return { nova, calls, check };
  };

  it('probes every address of the host directly and ignores how recent updated_at looks', async () => {
    const { check, calls } = setup([], NOVA_AHEAD);
    expect(await check('c1')).toBe(false);
    expect(calls).toEqual([['198.18.0.10', '198.18.2.10', '198.18.3.10', '198.18.1.10']]);
  });

  it('any one address answering means alive', async () => {
    expect(await setup(['198.18.3.10'], NOVA_AHEAD).check('c1')).toBe(true);
    expect(await setup(['198.18.1.10'], null).check('c1')).toBe(true);
  });

  it('an updated_at that moved since the verdict means alive (a heartbeat or an admin change)', async () => {
    const { check, nova, calls } = setup([], NOVA_AHEAD);
    nova.host('c1').updatedAt = new Date(NOVA_AHEAD + 10_000);
    expect(await check('c1')).toBe(true);
    expect(calls).toEqual([]);
  });

  it('a probe that fails throws rather than answer on a guess', async () => {
    const { nova } = setup([], null);
    const check = createHostLivenessCheck({
      config: testConfig(), compute: computeOf(nova), logger: silentLogger,
      prober: { kind: 'broken', probe: async () => { throw new Error('fping exited with 4'); } },
    });
    await expect(check('c1')).rejects.toThrow('fping exited with 4');
  });
});
