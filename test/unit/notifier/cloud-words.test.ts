import { describe, expect, it } from 'vitest';
import { CLOUDPODS_NAMES } from '../../../src/compute/cloudpods/index.js';
import { NOVA_NAMES } from '../../../src/compute/types.js';
import { AlertTracker } from '../../../src/detector/alerts.js';
import { blindness } from '../../../src/detector/observe.js';
import type { HostReport } from '../../../src/detector/types.js';
import { judgeHost } from '../../../src/doctor/host-verdict.js';
import { renderEventMessage } from '../../../src/notifier/templates.js';

// The words operators read name their cloud: Nova and nova-compute on OpenStack, Cloudpods and its host agent on a
// Cloudpods region, taken from the compute port's names (never from an `if cloud`).

const agentDown = (host: string): HostReport => ({
  host, zone: null, verdict: 'agent-down', action: 'alert',
  evidence: { reasons: [], networks: [{ role: 'mgmt', ip: '198.18.0.11', result: 'alive' }], instances: { checked: false, note: '', addresses: [], answered: 0, baselineSilent: 0, baselineTotal: 0 } },
} as unknown as HostReport);

describe('the cloud\'s own words', () => {
  it('an agent-down alert names nova-compute on OpenStack and the host agent on Cloudpods', () => {
    const [nova] = new AlertTracker(NOVA_NAMES).events([agentDown('c1')], 0);
    const [cp] = new AlertTracker(CLOUDPODS_NAMES).events([agentDown('c1')], 0);
    expect(nova!.summary).toMatch(/^nova-compute on c1 is down but the host answers/);
    expect(cp!.summary).toMatch(/^host agent on c1 is down but the host answers/);
    expect(new AlertTracker().events([agentDown('c1')], 0)[0]!.summary).toBe(nova!.summary);
  });

  it('the built-in title and action of a notice use the cloud\'s words; Nova\'s text is unchanged', () => {
    const event = { type: 'agent-down' as const, severity: 'warning' as const, at: 0, host: 'c1', summary: 'x' };
    const nova = renderEventMessage(event);
    expect(nova.subject).toMatch(/nova-compute down on a live host/);
    expect(nova.text).toMatch(/Restart nova-compute on the host/);
    const cp = renderEventMessage(event, { words: CLOUDPODS_NAMES });
    expect(cp.subject).toMatch(/host agent down on a live host/);
    expect(cp.text).toMatch(/Restart host agent on the host/);
    expect(`${cp.subject}\n${cp.text}`).not.toMatch(/Nova|nova-compute/);
    const resolved = renderEventMessage({ type: 'incident-resolved', severity: 'info', at: 0, host: 'c1', summary: 'x' }, { words: CLOUDPODS_NAMES });
    expect(resolved.text).toMatch(/stays disabled and set offline until you bring it back/);
  });

  it('the detector\'s blindness and doctor\'s host verdicts name the cloud', () => {
    expect(blindness([])).toBe('Nova lists no nova-compute service: the detector cannot see any host');
    expect(blindness([], CLOUDPODS_NAMES)).toBe('Cloudpods lists no host agent service: the detector cannot see any host');
    const facts = { host: 'c1', role: 'compute' as const, service: null, fence: null, mgmt: { ip: null, problem: 'none' }, mgmtResult: null, otherNetworks: 0, servers: null } as unknown as Parameters<typeof judgeHost>[0];
    const fencing = { allowUnfencedEvacuation: false };
    expect(judgeHost(facts, fencing).problems.map((p) => p.detail)).toContain('Nova lists no nova-compute service for this host');
    expect(judgeHost({ ...facts, names: CLOUDPODS_NAMES }, fencing).problems.map((p) => p.detail)).toContain('Cloudpods lists no host agent service for this host');
  });
});
