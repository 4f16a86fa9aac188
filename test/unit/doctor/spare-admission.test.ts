import { describe, expect, it } from 'vitest';
import { admitSpares, type AdmissionSpare } from '../../../src/doctor/spare-admission.js';

const need = (id: string, vcpus: number, ramMb: number) => ({ id, vcpus, ramMb });
const spare = (host: string, zone: string | null, freeVcpus?: number, freeRamMb?: number, unusable?: string): AdmissionSpare => ({
  host, zone, ...(unusable ? { unusable } : {}),
  candidate: { host, serviceId: `svc-${host}`, enabled: false, ...(zone ? { zone } : {}), ...(freeVcpus !== undefined ? { freeVcpus, freeRamMb } : {}) },
});

describe('admitSpares', () => {
  it('passes a zone whose spare holds the largest host\'s servers', () => {
    const r = admitSpares([
      { host: 'c1', zone: 'az1', needs: [need('a', 2, 4096), need('b', 4, 8192)] },
      { host: 'c2', zone: 'az1', needs: [need('c', 1, 2048)] },
    ], [spare('s1', 'az1', 8, 16384)], 1);
    expect(r.checks).toEqual([{ name: 'spares:az1', status: 'ok', detail: 's1 (free 8 vCPU, 16384 MB); largest host c1 needs 6 vCPU, 12288 MB' }]);
    expect(r.hostProblems.size).toBe(0);
  });

  it('fails the zone and the host whose servers do not fit, by RAM as well as vCPU', () => {
    const r = admitSpares([
      { host: 'c1', zone: 'az1', needs: [need('a', 2, 4096)] },
      { host: 'c2', zone: 'az1', needs: [need('b', 2, 32768)] },
    ], [spare('s1', 'az1', 8, 16384)], 1);
    expect(r.checks[0]).toMatchObject({ name: 'spares:az1', status: 'fail' });
    expect(r.checks[0]!.detail).toBe('spare(s) too small for c2: s1 (free 8 vCPU, 16384 MB)');
    expect([...r.hostProblems.keys()]).toEqual(['c2']);
    expect(r.hostProblems.get('c2')).toBe('1 of 1 server(s) (2 vCPU, 32768 MB in all) fit on no spare in zone az1 (s1: free 8 vCPU, 16384 MB)');
  });

  it('uses several spares when spare_count allows, as the pipeline does', () => {
    const hosts = [{ host: 'c1', zone: 'az1', needs: [need('a', 4, 4096), need('b', 4, 4096)] }];
    const spares = [spare('s1', 'az1', 4, 8192), spare('s2', 'az1', 4, 8192)];
    expect(admitSpares(hosts, spares, 1).checks[0]!.status).toBe('fail');
    expect(admitSpares(hosts, spares, 2).checks[0]!.status).toBe('ok');
  });

  it('ignores spares in another zone and names the ones passed over', () => {
    const r = admitSpares([{ host: 'c1', zone: 'az1', needs: [need('a', 1, 512)] }, { host: 'c9', zone: 'az2', needs: [] }],
      [spare('s2', 'az2', 32, 65536), spare('s1', 'az1', 32, 65536, 'not up')], 1);
    expect(r.checks).toEqual([
      { name: 'spares:az1', status: 'fail', detail: '1 host(s), no usable spare: s1 (not up)' },
      { name: 'spares:az2', status: 'ok', detail: 's2 (free 32 vCPU, 65536 MB); no server to evacuate yet' },
    ]);
    expect(r.hostProblems.get('c1')).toMatch(/^no usable spare in zone az1/);
    expect(r.hostProblems.has('c9')).toBe(false);
  });

  it('warns when Nova reports no capacity, and says spare_count 0 leaves targets to the scheduler', () => {
    const hosts = [{ host: 'c1', zone: 'nova', needs: [need('a', 1, 512)] }];
    const unknown = admitSpares(hosts, [spare('s1', 'nova')], 1);
    expect(unknown.checks[0]).toMatchObject({ status: 'warn' });
    expect(unknown.checks[0]!.detail).toMatch(/^s1 \(capacity not reported\): Nova reports no capacity/);
    expect(admitSpares(hosts, [], 0).checks).toEqual([{ name: 'spares', status: 'warn', detail: 'spare_count is 0: no spare is used, the scheduler chooses every target' }]);
  });

  it('a spare whose zone Nova does not say serves every zone', () => {
    const r = admitSpares([{ host: 'c1', zone: 'az1', needs: [need('a', 1, 512)] }, { host: 'c2', zone: 'az2', needs: [need('b', 1, 512)] }],
      [spare('s1', null, 4, 4096)], 1);
    expect(r.checks.map((c) => c.status)).toEqual(['ok', 'ok']);
  });
});
