import type { HostEvidence, NetworkEvidence } from './types.js';

// Which of a host's signals answered and which were silent, in one phrase for notices: an operator must see
// what cmpha heard (the storage address, not "its instances", when only storage answered).

const ROLE_WORDS: Readonly<Record<NetworkEvidence['role'], string>> = { mgmt: 'management IP', storage: 'storage IP', tunnel: 'tunnel IP' };

export interface SignalsHeard {
  readonly answered: readonly string[];
  readonly silent: readonly string[];
}

/** Each address (and the storage evidence) by what it is, sorted into answered and silent; unknowns are left out. */
export function signalsHeard(e: Pick<HostEvidence, 'networks' | 'instances' | 'storage'>): SignalsHeard {
  const answered: string[] = [];
  const silent: string[] = [];
  for (const n of e.networks) {
    if (!n.ip) continue;
    const what = `${ROLE_WORDS[n.role]} ${n.ip}`;
    if (n.result === 'alive') answered.push(what);
    else if (n.result === 'silent') silent.push(what);
    else if (n.result === 'crash-kernel') silent.push(`${what} (its crash kernel answers)`);
  }
  if (e.instances.checked) {
    const alive = e.instances.addresses.filter((a) => a.result === 'alive');
    const quiet = e.instances.addresses.filter((a) => a.baseline && a.result === 'silent');
    if (alive.length > 0) answered.push(instancePhrase(alive.length, e.instances.addresses.length));
    if (quiet.length > 0) silent.push(instancePhrase(quiet.length, e.instances.addresses.length));
  }
  if (e.storage?.alive === true) answered.push('its Ceph client (watches on its disks)');
  else if (e.storage?.alive === false) silent.push('its Ceph client (no watches on its disks)');
  return { answered, silent };
}

const instancePhrase = (n: number, of: number) => `${n} of ${of} instance address${of === 1 ? '' : 'es'}`;

/** `answered: storage IP 198.19.0.12; silent: management IP 198.18.0.12, 2 of 2 instance addresses`. */
export function describeSignals(e: Pick<HostEvidence, 'networks' | 'instances' | 'storage'>): string {
  const { answered, silent } = signalsHeard(e);
  return `answered: ${answered.length > 0 ? answered.join(', ') : 'none'}; silent: ${silent.length > 0 ? silent.join(', ') : 'none'}`;
}

/**
 * The same phrase from an incident's recorded evidence (opaque JSON to the pipeline), for the notice that a
 * recovery started; null when the evidence is not a detector's (an operator's evacuation, an orphan resumed).
 */
export function describeRecordedSignals(evidence: unknown): string | null {
  const e = evidence as Partial<Pick<HostEvidence, 'networks' | 'instances' | 'storage'>> | null | undefined;
  if (!e || !Array.isArray(e.networks) || typeof e.instances !== 'object' || e.instances === null || !Array.isArray(e.instances.addresses)) return null;
  return describeSignals({ networks: e.networks, instances: e.instances, storage: e.storage ?? null });
}
