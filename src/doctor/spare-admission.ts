import { planSpares, type Need, type SpareCandidate } from '../evacuator/spare-plan.js';
import type { DoctorCheck } from './types.js';

/** A compute host that could fail, with the servers a failover would move off it. */
export interface AdmissionHost {
  readonly host: string;
  readonly zone: string | null;
  readonly needs: readonly Need[];
}

/** A reserved spare, as the recovery pipeline sees it when it chooses one. */
export interface AdmissionSpare {
  readonly host: string;
  readonly zone: string | null;
  /** Why the pipeline would pass it over (not up, claimed by an incident...), or undefined when usable. */
  readonly unusable?: string;
  /** Why its free capacity is unknown (Nova reports none and Placement gave none), when it is. */
  readonly capacityUnknown?: string;
  readonly candidate: SpareCandidate;
}

export interface SpareAdmission {
  readonly checks: readonly DoctorCheck[];
  /** Host → why its servers would not all find room on a spare. */
  readonly hostProblems: ReadonlyMap<string, string>;
}

const sum = (needs: readonly Need[]) => needs.reduce((a, n) => ({ vcpus: a.vcpus + n.vcpus, ramMb: a.ramMb + n.ramMb }), { vcpus: 0, ramMb: 0 });

/** The pipeline accepts a spare whose zone is unknown, or any spare when the failed host's zone is unknown. */
function sameZone(spare: string | null, zone: string | null): boolean {
  return spare === null || zone === null || spare === zone;
}

function describeCapacity(c: SpareCandidate): string {
  return c.freeVcpus === undefined ? 'capacity not reported' : `free ${c.freeVcpus} vCPU, ${c.freeRamMb} MB`;
}

/**
 * For each availability zone with compute hosts: would the spare step find room for every host's servers?
 * Runs the pipeline's own planner (planSpares, same spare_count) once per host against the spares usable
 * in that zone, so the answer is what a failure now would get.
 */
export function admitSpares(hosts: readonly AdmissionHost[], spares: readonly AdmissionSpare[], spareCount: number): SpareAdmission {
  const hostProblems = new Map<string, string>();
  if (spareCount <= 0) {
    return { checks: [{ name: 'spares', status: 'warn', detail: 'spare_count is 0: no spare is used, the scheduler chooses every target' }], hostProblems };
  }
  const zones = [...new Set(hosts.map((h) => h.zone))].sort((a, b) => (a ?? '').localeCompare(b ?? ''));
  const checks: DoctorCheck[] = [];
  for (const zone of zones) {
    const name = `spares:${zone ?? '(no zone)'}`;
    const inZone = hosts.filter((h) => h.zone === zone);
    const nearby = spares.filter((s) => sameZone(s.zone, zone));
    const usable = nearby.filter((s) => s.unusable === undefined).map((s) => s.candidate);
    const passedOver = nearby.filter((s) => s.unusable !== undefined).map((s) => `${s.host} (${s.unusable})`);
    if (usable.length === 0) {
      const why = passedOver.length > 0 ? `no usable spare: ${passedOver.join(', ')}` : 'no spare host is reserved here (spare_hosts, or disabled with spare_reason_prefix)';
      checks.push({ name, status: 'fail', detail: `${inZone.length} host(s), ${why}` });
      for (const h of inZone) if (h.needs.length > 0) hostProblems.set(h.host, `no usable spare in zone ${zone ?? '(none)'}: the scheduler would have to find room`);
      continue;
    }
    const unfit: string[] = [];
    let largest: { host: string; vcpus: number; ramMb: number } | null = null;
    for (const h of inZone) {
      if (h.needs.length === 0) continue;
      const total = sum(h.needs);
      if (!largest || total.vcpus > largest.vcpus || (total.vcpus === largest.vcpus && total.ramMb > largest.ramMb)) largest = { host: h.host, ...total };
      const plan = planSpares({ candidates: usable, needs: h.needs, maxSpares: spareCount });
      if (plan.unplaced.length > 0) {
        const detail = `${plan.unplaced.length} of ${h.needs.length} server(s) (${total.vcpus} vCPU, ${total.ramMb} MB in all) fit on no spare in zone ${zone ?? '(none)'}`
          + ` (${usable.map((c) => `${c.host}: ${describeCapacity(c)}`).join('; ')})`;
        hostProblems.set(h.host, detail);
        unfit.push(h.host);
      }
    }
    const spareList = usable.map((c) => `${c.host} (${describeCapacity(c)})`).join(', ');
    const skipped = passedOver.length > 0 ? `; passed over: ${passedOver.join(', ')}` : '';
    if (unfit.length > 0) {
      checks.push({ name, status: 'fail', detail: `spare(s) too small for ${unfit.join(', ')}: ${spareList}${skipped}` });
    } else if (largest && usable.every((c) => c.freeVcpus === undefined)) {
      const whys = [...new Set(nearby.filter((s) => s.unusable === undefined && s.capacityUnknown).map((s) => `${s.host}: ${s.capacityUnknown}`))];
      const why = whys.length > 0 ? whys.join('; ') : 'Nova reports no capacity (from microversion 2.88 it lives in Placement)';
      checks.push({ name, status: 'warn', detail: `${spareList}: ${why}, so whether the largest host `
        + `(${largest.host}: ${largest.vcpus} vCPU, ${largest.ramMb} MB) fits cannot be told; the pipeline assumes it does${skipped}` });
    } else {
      const need = largest ? `; largest host ${largest.host} needs ${largest.vcpus} vCPU, ${largest.ramMb} MB` : '; no server to evacuate yet';
      checks.push({ name, status: 'ok', detail: `${spareList}${need}${skipped}` });
    }
  }
  if (zones.length === 0) checks.push({ name: 'spares', status: 'ok', detail: 'no compute host to protect' });
  return { checks, hostProblems };
}
