import { describe, expect, it } from 'vitest';
import { classify, type HostSignals } from '../../../src/detector/classify.js';
import type { HostState, InstanceAddressEvidence, MgmtResult, ProbeResult, Verdict } from '../../../src/detector/types.js';

const NOW = 1_700_000_000_000;
const config = { heartbeatTimeoutMs: 30_000, confirmRounds: 2 };

type Nova = 'up' | 'down' | 'stale' | 'disabled' | 'spare' | 'forced-down';
type Inst = null | 'none' | 'error' | Array<[ProbeResult | 'probe-failed', boolean]>;

function signals(nova: Nova, mgmt: MgmtResult, inst: Inst, now = NOW, round = 1): HostSignals {
  const addresses: InstanceAddressEvidence[] = Array.isArray(inst)
    ? inst.map(([result, baseline], i) => ({ ip: `198.18.1.${i + 10}`, server: `vm${i}`, network: 'tenant', baseline, result }))
    : [];
  return {
    host: 'c1',
    round,
    now,
    service: {
      id: 'svc', binary: 'nova-compute', host: 'c1', zone: 'nova',
      state: nova === 'down' || nova === 'forced-down' ? 'down' : 'up',
      status: nova === 'disabled' || nova === 'spare' ? 'disabled' : 'enabled',
      forcedDown: nova === 'forced-down',
      disabledReason: nova === 'spare' ? 'down_prepare' : nova === 'disabled' ? 'cmpha: kernel upgrade' : null,
      updatedAt: new Date(now - (nova === 'stale' || nova === 'down' ? 120_000 : 5_000)),
    },
    mgmt: { ip: mgmt === 'no-address' ? null : '198.18.0.11', source: mgmt === 'no-address' ? null : 'config', result: mgmt },
    instances: inst === null ? null : inst === 'none' ? { addresses: [] } : inst === 'error' ? { addresses: [], error: 'HTTP 503' } : { addresses },
  };
}

const deadCandidate = (n: number): HostState => ({ verdict: 'suspect', suspectSince: NOW - 10_000 * n, unhealthyRounds: n, deadRounds: n, mgmtLastAliveAt: NOW - 60_000 });

// One row per situation an operator could meet; `previous` is the state after the last round.
const table: Array<{ name: string; nova: Nova; mgmt: MgmtResult; inst: Inst; previous?: HostState; verdict: Verdict; deadRounds?: number }> = [
  { name: 'all well', nova: 'up', mgmt: 'alive', inst: null, verdict: 'healthy' },
  { name: 'all well, no management IP known', nova: 'up', mgmt: 'no-address', inst: null, verdict: 'healthy' },
  { name: 'Nova up, probe failed', nova: 'up', mgmt: 'probe-failed', inst: null, verdict: 'healthy' },
  { name: 'disabled host powered off', nova: 'disabled', mgmt: 'silent', inst: null, verdict: 'maintenance' },
  { name: 'spare host (down_prepare)', nova: 'spare', mgmt: 'silent', inst: null, verdict: 'maintenance' },
  { name: 'nova-compute down, host answers', nova: 'down', mgmt: 'alive', inst: [['silent', true]], verdict: 'agent-down' },
  { name: 'heartbeat stale, host answers', nova: 'stale', mgmt: 'alive', inst: null, verdict: 'agent-down' },
  { name: 'Nova down, mgmt silent, an instance answers', nova: 'down', mgmt: 'silent', inst: [['silent', true], ['alive', true]], verdict: 'isolated-mgmt' },
  { name: 'Nova up, mgmt silent, instances answer', nova: 'up', mgmt: 'silent', inst: [['alive', true]], verdict: 'isolated-mgmt' },
  { name: 'Nova up, mgmt silent, no instance answers', nova: 'up', mgmt: 'silent', inst: [['silent', true]], verdict: 'suspect', deadRounds: 0 },
  { name: 'Nova down, no mgmt IP but an instance answers', nova: 'down', mgmt: 'no-address', inst: [['alive', false]], verdict: 'agent-down' },
  { name: 'never-baselined instance answering still counts as alive', nova: 'down', mgmt: 'silent', inst: [['alive', false]], verdict: 'isolated-mgmt' },
  { name: 'Nova down, no management IP', nova: 'down', mgmt: 'no-address', inst: [['silent', true]], verdict: 'unprobeable' },
  { name: 'Nova down, all silent, first round', nova: 'down', mgmt: 'silent', inst: [['silent', true]], verdict: 'suspect', deadRounds: 1 },
  { name: 'Nova down, all silent, second round', nova: 'down', mgmt: 'silent', inst: [['silent', true]], previous: deadCandidate(1), verdict: 'dead', deadRounds: 2 },
  { name: 'stale heartbeat, all silent, second round', nova: 'stale', mgmt: 'silent', inst: [['silent', true]], previous: deadCandidate(1), verdict: 'dead', deadRounds: 2 },
  { name: 'forced down, all silent, second round', nova: 'forced-down', mgmt: 'silent', inst: 'none', previous: deadCandidate(1), verdict: 'dead', deadRounds: 2 },
  { name: 'silent non-baseline instances are no evidence', nova: 'down', mgmt: 'silent', inst: [['silent', false]], previous: deadCandidate(1), verdict: 'dead', deadRounds: 2 },
  { name: 'host has no instances', nova: 'down', mgmt: 'silent', inst: 'none', previous: deadCandidate(1), verdict: 'dead', deadRounds: 2 },
  { name: 'mgmt probe failed: cannot confirm, count restarts', nova: 'down', mgmt: 'probe-failed', inst: null, previous: deadCandidate(1), verdict: 'suspect', deadRounds: 0 },
  { name: 'fping said nothing about mgmt: cannot confirm', nova: 'down', mgmt: 'unknown', inst: [['silent', true]], previous: deadCandidate(1), verdict: 'suspect', deadRounds: 0 },
  { name: 'server list failed: cannot confirm', nova: 'down', mgmt: 'silent', inst: 'error', previous: deadCandidate(1), verdict: 'suspect', deadRounds: 0 },
  { name: 'instance probe failed: cannot confirm', nova: 'down', mgmt: 'silent', inst: [['probe-failed', true]], previous: deadCandidate(1), verdict: 'suspect', deadRounds: 0 },
  { name: 'a baseline instance fping said nothing about: cannot confirm', nova: 'down', mgmt: 'silent', inst: [['unknown', true]], previous: deadCandidate(1), verdict: 'suspect', deadRounds: 0 },
  { name: 'instances not examined: cannot confirm', nova: 'down', mgmt: 'silent', inst: null, previous: deadCandidate(1), verdict: 'suspect', deadRounds: 0 },
  { name: 'host came back between rounds', nova: 'up', mgmt: 'alive', inst: null, previous: deadCandidate(1), verdict: 'healthy', deadRounds: 0 },
  { name: 'agent-down interrupts the confirmation', nova: 'down', mgmt: 'alive', inst: null, previous: deadCandidate(1), verdict: 'agent-down', deadRounds: 0 },
];

describe('classify: verdict table', () => {
  for (const row of table) {
    it(`${row.name} → ${row.verdict}`, () => {
      const c = classify(signals(row.nova, row.mgmt, row.inst), row.previous, config);
      expect(c.verdict).toBe(row.verdict);
      expect(c.state.verdict).toBe(row.verdict);
      if (row.deadRounds !== undefined) expect(c.evidence.deadRounds).toBe(row.deadRounds);
      expect(c.evidence.reasons.length).toBeGreaterThan(0);
      expect(JSON.parse(JSON.stringify(c.evidence))).toEqual(c.evidence);
    });
  }
});

describe('classify: hysteresis across rounds', () => {
  const run = (rounds: Array<[Nova, MgmtResult, Inst]>, confirmRounds = 3) => {
    let state: HostState | undefined;
    return rounds.map(([nova, mgmt, inst], i) => {
      const c = classify(signals(nova, mgmt, inst, NOW + i * 10_000, i + 1), state, { ...config, confirmRounds });
      state = c.state;
      return c;
    });
  };

  it('declares dead only after confirm_rounds consecutive dead rounds, keeping the first suspect time', () => {
    const rs = run([['up', 'alive', null], ['down', 'silent', 'none'], ['down', 'silent', 'none'], ['down', 'silent', 'none'], ['down', 'silent', 'none']]);
    expect(rs.map((r) => r.verdict)).toEqual(['healthy', 'suspect', 'suspect', 'dead', 'dead']);
    expect(rs.map((r) => r.evidence.suspectSince)).toEqual([null, NOW + 10_000, NOW + 10_000, NOW + 10_000, NOW + 10_000]);
    expect(rs[3]!.evidence.unhealthyRounds).toBe(3);
    expect(rs[3]!.evidence.mgmt.lastAliveAt).toBe(NOW);
  });

  it('starts counting again after a round that could not confirm', () => {
    const rs = run([['down', 'silent', 'none'], ['down', 'silent', 'none'], ['down', 'probe-failed', null], ['down', 'silent', 'none'], ['down', 'silent', 'none'], ['down', 'silent', 'none']]);
    expect(rs.map((r) => r.verdict)).toEqual(['suspect', 'suspect', 'suspect', 'suspect', 'suspect', 'dead']);
    expect(rs.map((r) => r.evidence.suspectSince)).toEqual(Array(6).fill(NOW));
  });

  it('forgets a failure once the host is healthy again, so the next failure has its own start', () => {
    const rs = run([['down', 'silent', 'none'], ['up', 'alive', null], ['down', 'silent', 'none']]);
    expect(rs.map((r) => r.evidence.suspectSince)).toEqual([NOW, null, NOW + 20_000]);
  });

  it('treats a disabled host as maintenance whatever its signals, and resets its history', () => {
    const rs = run([['down', 'silent', 'none'], ['down', 'silent', 'none'], ['disabled', 'silent', null]], 2);
    expect(rs.map((r) => r.verdict)).toEqual(['suspect', 'dead', 'maintenance']);
    expect(rs[2]!.state).toMatchObject({ suspectSince: null, deadRounds: 0 });
  });

  it('never declares an unprobeable host dead, however long it stays down', () => {
    const rs = run(Array.from({ length: 6 }, () => ['down', 'no-address', 'none'] as [Nova, MgmtResult, Inst]));
    expect(new Set(rs.map((r) => r.verdict))).toEqual(new Set(['unprobeable']));
    expect(rs[5]!.evidence.reasons.join(' ')).toContain('never be declared dead');
  });
});

describe('classify: evidence', () => {
  it('says what each signal said', () => {
    const c = classify(signals('down', 'silent', [['silent', true], ['silent', false]]), deadCandidate(1), config);
    expect(c.evidence).toMatchObject({
      host: 'c1', zone: 'nova', nova: { says: 'down', state: 'down', updatedAgoMs: 120_000 },
      mgmt: { ip: '198.18.0.11', result: 'silent', lastAliveAt: NOW - 60_000 },
      instances: { checked: true, answered: 0, baselineTotal: 1, baselineSilent: 1 },
      suspectSince: NOW - 10_000, deadRounds: 2, confirmRounds: 2,
    });
    expect(c.evidence.reasons.join('\n')).toMatch(/Nova reports nova-compute down[\s\S]*198\.18\.0\.11 is silent[\s\S]*1 of 1 instance/);
  });

  it('says when there is no instance evidence because no networks are configured', () => {
    const s = { ...signals('down', 'silent', 'none'), instances: { addresses: [], note: 'instance_networks is empty: no instance evidence' } };
    const c = classify(s, undefined, config);
    expect(c.evidence.instances.note).toContain('instance_networks is empty');
    expect(c.evidence.reasons).toContain('instance_networks is empty: no instance evidence');
  });
});
