import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { resumeGuestsCheck } from '../../../src/doctor/check-compute-boot.js';

const recovery = { returnRepairedHosts: false, powerOnFencedHosts: true, steadyForMs: 1, checkIntervalMs: 1, returnTimeoutMs: 1 };
const cfg = (extra: Partial<typeof recovery> & { computeNovaConf?: string } = {}) => ({ recovery: { ...recovery, ...extra } }) as unknown as Config;
const files: Record<string, string> = {
  '/on.conf': '[DEFAULT]\nresume_guests_state_on_host_boot = True\n',
  '/off.conf': '[DEFAULT]\nresume_guests_state_on_host_boot = false\n',
  '/unset.conf': '[DEFAULT]\ndebug = false\n[libvirt]\nvirt_type = kvm\n',
};
const read = (p: string) => { if (!(p in files)) throw new Error(`ENOENT: ${p}`); return files[p]!; };

describe('doctor: resume_guests_state_on_host_boot on computes cmpha powers back on', () => {
  it('is not asked when cmpha never powers a host on nor returns one', () => {
    expect(resumeGuestsCheck({} as Config, read)).toBeNull();
    expect(resumeGuestsCheck(cfg({ powerOnFencedHosts: false }), read)).toBeNull();
  });

  it('warns with what to verify when it cannot read the computes\' nova.conf', () => {
    expect(resumeGuestsCheck(cfg(), read)).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^power_on_fenced_hosts is on, and cmpha cannot read the computes' nova.conf: verify \[DEFAULT\] resume_guests_state_on_host_boot is false/) });
    expect(resumeGuestsCheck(cfg({ computeNovaConf: '/missing.conf' }), read)).toMatchObject({ status: 'warn', detail: expect.stringMatching(/cannot read \[recovery\] compute_nova_conf \/missing.conf/) });
  });

  it('reads the operator\'s copy: on fails, off or unset passes', () => {
    expect(resumeGuestsCheck(cfg({ computeNovaConf: '/on.conf' }), read)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/resume_guests_state_on_host_boot = True: set it to false/) });
    expect(resumeGuestsCheck(cfg({ computeNovaConf: '/off.conf' }), read)).toMatchObject({ status: 'ok' });
    expect(resumeGuestsCheck(cfg({ computeNovaConf: '/unset.conf' }), read)).toMatchObject({ status: 'ok', detail: expect.stringMatching(/unset \(Nova's default, false\)/) });
  });
});
