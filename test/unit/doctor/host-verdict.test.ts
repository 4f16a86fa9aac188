import { describe, expect, it } from 'vitest';
import { judgeHost, type HostFacts } from '../../../src/doctor/host-verdict.js';
import { hostOf } from '../../../src/compute/nova/index.js';
import type { ComputeHost } from '../../../src/compute/types.js';
import type { ComputeService } from '../../../src/openstack/types.js';

const svc = (over: Partial<ComputeService> = {}): ComputeHost => hostOf({
  id: 'u1', binary: 'nova-compute', host: 'c1', zone: 'nova', state: 'up', status: 'enabled', forcedDown: false, disabledReason: null, updatedAt: new Date(), ...over,
}, { reasonPrefix: 'cmpha', spareReasonPrefix: 'down_prepare' });
const facts = (over: Partial<HostFacts> = {}): HostFacts => ({
  host: 'c1', role: 'compute', service: svc(),
  fence: { host: 'c1', driver: 'ipmi', bmc: '10.0.0.1:623', reachable: true, power: 'on', works: true },
  mgmt: { ip: '198.18.0.11', source: 'config' }, mgmtResult: 'alive',
  servers: { total: 2, toEvacuate: 2, vcpus: 3, ramMb: 6144, imageBacked: 0 }, sharedStorage: false, ...over,
});
const strict = { allowUnfencedEvacuation: false };

describe('judgeHost', () => {
  it('a fenceable, watched, answering host with room on a spare is OK', () => {
    const h = judgeHost(facts(), strict);
    expect(h).toMatchObject({ host: 'c1', zone: 'nova', status: 'ok', problems: [], mgmt: { answering: true }, fencing: { driver: 'ipmi', works: true, power: 'on' } });
  });

  it('warns when the management network is a host\'s only independent signal, and not when it has a storage or tunnel address', () => {
    const one = judgeHost(facts({ otherNetworks: 0, instanceNetworks: true, singleSignalSilenceMs: 30_000 }), strict);
    expect(one.status).toBe('warn');
    expect(one.problems).toEqual([{ status: 'warn', detail: 'one independent signal: only the management network is watched (no storage_ip or tunnel_ip) unless its instances answer on instance_networks; a cut management link looks like death, so it needs single_signal_silence (30 s) of silence before it is dead' }]);
    expect(judgeHost(facts({ otherNetworks: 1, singleSignalSilenceMs: 30_000 }), strict).problems).toEqual([]);
  });

  it('fails a host whose fencing does not work, whatever else is fine', () => {
    const h = judgeHost(facts({ fence: { host: 'c1', driver: 'ipmi', bmc: '10.0.0.1:623', reachable: false, works: false, code: 'fence_unreachable', note: 'no answer in 2 s' } }), strict);
    expect(h.status).toBe('fail');
    expect(h.problems).toEqual([{ status: 'fail', detail: 'fencing does not work (BMC 10.0.0.1:623): no answer in 2 s' }]);
  });

  it('driver none and noop: not fenceable, noop only a warning when unfenced evacuation is allowed', () => {
    expect(judgeHost(facts({ fence: { host: 'c1', driver: 'none', works: false } }), strict).problems[0]!.detail).toBe('not fenceable: driver = none, so it would never be evacuated');
    const noop = facts({ fence: { host: 'c1', driver: 'noop', works: false } });
    expect(judgeHost(noop, strict).status).toBe('fail');
    expect(judgeHost(noop, { allowUnfencedEvacuation: true }).status).toBe('warn');
  });

  it('fails a watched host without a management IP: it could never be proven dead', () => {
    const h = judgeHost(facts({ mgmt: { ip: null, source: null, problem: 'no mgmt_ip configured and no hypervisor host_ip' }, mgmtResult: null }), strict);
    expect(h.problems).toEqual([{ status: 'fail', detail: 'no management IP (no mgmt_ip configured and no hypervisor host_ip): without one the host can never be proven dead' }]);
  });

  it('warns (does not fail) on a silent management IP, a disabled service and image-backed servers; fails first in the list', () => {
    const h = judgeHost(facts({
      mgmtResult: 'silent', spareProblem: 'no usable spare in zone nova',
      servers: { total: 1, toEvacuate: 1, vcpus: 1, ramMb: 512, imageBacked: 1 },
    }), strict);
    expect(h.status).toBe('fail');
    expect(h.problems.map((p) => p.status)).toEqual(['fail', 'warn', 'warn']);
    expect(h.problems[1]!.detail).toMatch(/^management IP 198\.18\.0\.11 does not answer/);
    expect(judgeHost(facts({ service: svc({ status: 'disabled', disabledReason: 'kernel upgrade' }) }), strict).problems)
      .toEqual([{ status: 'warn', detail: 'nova-compute is disabled (kernel upgrade): maintenance, cmpha does not act on it' }]);
    expect(judgeHost(facts({ servers: { total: 1, toEvacuate: 1, vcpus: 1, ramMb: 512, imageBacked: 1 }, sharedStorage: true }), strict).status).toBe('ok');
  });

  it('a spare is judged only on being up; its missing fencing does not matter', () => {
    const h = judgeHost(facts({ role: 'spare', fence: null, service: svc({ state: 'down', status: 'disabled', disabledReason: 'down_prepare' }) }), strict);
    expect(h.problems).toEqual([{ status: 'warn', detail: 'spare is not up: it cannot take evacuated servers' }]);
    expect(h.fencing).toEqual({ driver: 'unconfigured', works: false });
  });
});
