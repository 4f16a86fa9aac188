import { readFileSync } from 'node:fs';
import type { ComputeBackend } from '../compute/types.js';
import type { Config } from '../config/types.js';
import { parseIni } from '../config/ini-file.js';
import { errorMessage } from '../shared/errors.js';
import type { DoctorCheck } from './types.js';

// Two settings of the compute hosts that an HA controller relies on (InstanceHA's guide for compute hosts under
// an HA controller), checked as far as cmpha can see them from where it runs.

const WHY = 'else a host powered back on restarts the guests it had, which now run elsewhere: two copies of each';

/**
 * nova.conf `[DEFAULT] resume_guests_state_on_host_boot` must be off on computes cmpha powers back on or returns.
 * cmpha cannot read the computes' nova.conf (no agent, no ssh of its own); when the operator gives a copy
 * (`[recovery] compute_nova_conf`, the file their config management renders) it is read, else the check warns with
 * what to verify. Nova's own default is false.
 */
export function resumeGuestsCheck(config: Config, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): DoctorCheck | null {
  const r = config.recovery;
  const poweredOn = r?.powerOnFencedHosts === true || r?.returnRepairedHosts === true;
  const file = r?.computeNovaConf;
  if (!poweredOn && !file) return null;
  const who = r?.powerOnFencedHosts ? 'power_on_fenced_hosts is on' : r?.returnRepairedHosts ? 'return_repaired_hosts is on' : 'compute_nova_conf is set';
  if (!file) {
    return { name: 'resume-guests', status: 'warn', detail: `${who}, and cmpha cannot read the computes' nova.conf: verify [DEFAULT] resume_guests_state_on_host_boot is false (or unset) on every compute host (${WHY}); or set [recovery] compute_nova_conf to the nova.conf your config management renders for them, and doctor reads it` };
  }
  let text: string;
  try {
    text = read(file);
  } catch (err) {
    return { name: 'resume-guests', status: 'warn', detail: `cannot read [recovery] compute_nova_conf ${file}: ${errorMessage(err)}` };
  }
  const value = parseIni(text).sections.get('DEFAULT')?.resume_guests_state_on_host_boot;
  const on = value === true || (typeof value === 'string' && /^(true|yes|on|1)$/i.test(value.trim()));
  if (on) return { name: 'resume-guests', status: 'fail', detail: `${file}: [DEFAULT] resume_guests_state_on_host_boot = ${String(value)}: set it to false on every compute host (${WHY})` };
  return { name: 'resume-guests', status: 'ok', detail: `${file}: resume_guests_state_on_host_boot is ${value === undefined ? 'unset (Nova\'s default, false)' : String(value)}; the hosts must run this file` };
}

/** The cloud's scheduler answers: an evacuation needs it, even to a named host. */
export async function schedulerCheck(compute: ComputeBackend, signal?: AbortSignal): Promise<DoctorCheck | null> {
  if (!compute.schedulerReady) return null;
  try {
    const why = await compute.schedulerReady(signal ? { signal } : {});
    return why === null
      ? { name: 'scheduler', status: 'ok', detail: 'the scheduler answers (a nova-scheduler service reads up)' }
      : { name: 'scheduler', status: 'fail', detail: `${why}: an evacuation would wait for it (every evacuation goes through the scheduler)` };
  } catch (err) {
    if (signal?.aborted) throw err;
    return { name: 'scheduler', status: 'warn', detail: `cannot ask whether the scheduler answers: ${errorMessage(err)}` };
  }
}
