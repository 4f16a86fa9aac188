import type { Config } from '../config/types.js';
import { MgmtAddressBook, type MgmtAddress } from '../detector/mgmt-addresses.js';
import { checkFpingPermission } from '../detector/fping-prober.js';
import { createProber } from '../detector/prober.js';
import type { ProbeResult } from '../detector/types.js';
import { skipReason } from '../evacuator/select.js';
import { spareCapacity } from '../evacuator/spare-capacity.js';
import { isReservedSpare, spareUnusableReason, type Need } from '../evacuator/spare-plan.js';
import { checkAllFencing, type HostFenceStatus } from '../fencing/check-fencing.js';
import { resolveBmcAddresses } from '../fencing/resolve-bmc.js';
import { configWarnings } from '../config/warnings.js';
import { createOpenStack, MIN_MICROVERSION } from '../openstack/index.js';
import type { ComputeService, Hypervisor, NovaApi, Server } from '../openstack/types.js';
import { errorMessage } from '../shared/errors.js';
import { checkNotifiers } from './check-notifiers.js';
import { checkRedis } from './check-redis.js';
import { IMAGE_BACKED_WARNING, judgeHost, worst } from './host-verdict.js';
import { mapLimit } from '../shared/map-limit.js';
import { admitSpares, type AdmissionSpare } from './spare-admission.js';
import type { DoctorCheck, DoctorDeps, DoctorHost, DoctorReport } from './types.js';

const CONCURRENCY = 8;

interface NovaView {
  readonly services: ComputeService[];
  readonly hypervisors: Hypervisor[];
}

async function readNova(nova: NovaApi, signal: AbortSignal | undefined, checks: DoctorCheck[]): Promise<NovaView | null> {
  try {
    const mv = await nova.microversion({ signal });
    const services = (await nova.listComputeServices({ signal })).filter((s) => s.binary === 'nova-compute');
    let hypervisors: Hypervisor[] = [];
    try {
      hypervisors = await nova.listHypervisors({ signal });
    } catch (err) {
      checks.push({ name: 'hypervisors', status: 'warn', detail: `cannot list hypervisors (host_ip and spare capacity unknown): ${errorMessage(err)}` });
    }
    checks.push({ name: 'nova', status: 'ok', detail: `compute API microversion ${mv} (cmpha needs ${MIN_MICROVERSION} or newer); ${services.length} nova-compute service(s)` });
    return { services, hypervisors };
  } catch (err) {
    checks.push({ name: 'nova', status: 'fail', detail: `${errorMessage(err)}: cmpha can neither detect nor evacuate` });
    return null;
  }
}

function summarizeFencing(hosts: readonly DoctorHost[]): DoctorCheck {
  const compute = hosts.filter((h) => h.role === 'compute');
  const broken = compute.filter((h) => !h.fencing.works);
  if (broken.length === 0) return { name: 'fencing', status: 'ok', detail: `all ${compute.length} compute host(s) answer their BMC with a power state` };
  const list = broken.map((h) => `${h.host} (${h.fencing.driver === 'unconfigured' ? 'no [host] section' : h.fencing.driver})`).join(', ');
  const failing = broken.some((h) => h.problems.some((p) => p.status === 'fail'));
  return { name: 'fencing', status: failing ? 'fail' : 'warn', detail: `${broken.length} of ${compute.length} compute host(s) cannot be fenced: ${list}` };
}

/**
 * Would failover work right now, host by host? Reads Nova, every BMC's power state, the management IPs,
 * Redis and the notifier settings; changes nothing anywhere (no Nova PUT/POST, no power action, no message).
 */
export async function runDoctor(config: Config, deps: DoctorDeps): Promise<DoctorReport> {
  const started = Date.now();
  const { signal } = deps;
  const logger = deps.logger.child({ component: 'doctor' });
  const timeoutMs = deps.probeTimeoutMs ?? 3000;
  const ev = config.evacuation;
  const sharedStorage = ev.sharedStorage ?? false;
  const own = deps.nova ? null : createOpenStack(config.cloud, { logger });
  const nova = deps.nova ?? own!.nova;
  const placement = deps.placement ?? own?.placement;
  const checks: DoctorCheck[] = [];

  for (const w of configWarnings(config)) checks.push({ name: 'config', status: 'warn', detail: `[${w.section}] ${w.key} ${w.message}` });
  // BMC names resolved as the controller does at start; a name that does not resolve is a host without fencing.
  const bmc = await resolveBmcAddresses(config.hosts, deps.bmcLookup);
  for (const p of bmc.problems) checks.push({ name: 'bmc-dns', status: 'fail', detail: p.message });
  if (bmc.resolved.length > 0) checks.push({ name: 'bmc-dns', status: 'ok', detail: `${bmc.resolved.length} BMC name(s) resolve: ${bmc.resolved.map((r) => `${r.name} → ${r.address}`).join(', ')}` });

  // Independent of Nova: start them now, collect them last.
  const configured = Object.values(bmc.hosts).sort((a, b) => a.name.localeCompare(b.name));
  const fencingP = checkAllFencing(configured, config.fencing, { ...deps.fence, logger, ...(config.ceph ? { ceph: config.ceph } : {}), ...(signal ? { signal } : {}), concurrency: CONCURRENCY });
  const notifiersP = checkNotifiers(config.notifiers, { smtp: deps.smtp ?? true, timeoutMs });

  const view = await readNova(nova, signal, checks);
  const serviceOf = new Map((view?.services ?? []).map((s) => [s.host, s]));
  const names = view ? [...serviceOf.keys()] : configured.map((h) => h.name);
  names.sort((a, b) => a.localeCompare(b));
  if (view) {
    const stray = configured.filter((h) => !serviceOf.has(h.name)).map((h) => `[host:${h.name}]`);
    if (stray.length > 0) checks.push({ name: 'config', status: 'warn', detail: `${stray.join(', ')}: Nova has no nova-compute host of that name (a typo?)` });
  }
  const roleOf = (host: string) => {
    const svc = serviceOf.get(host);
    const spare = svc ? isReservedSpare(svc, ev.spareHosts, ev.spareReasonPrefix) : ev.spareHosts.includes(host);
    return spare ? 'spare' as const : 'compute' as const;
  };
  const computes = names.filter((h) => roleOf(h) === 'compute');
  const spares = names.filter((h) => roleOf(h) === 'spare');
  const watched = computes.filter((h) => { const s = serviceOf.get(h); return s !== undefined && s.status === 'enabled' && !s.forcedDown; });

  const redisP = checkRedis(config.redis, spares, { timeoutMs, ...(deps.redis ? { existing: deps.redis } : {}) });

  // Management IPs, resolved as the detector does (mgmt_ip, else the hypervisor's host_ip), probed once.
  const book = new MgmtAddressBook(config.hosts, nova, logger);
  if (view) await book.refresh(0, watched, signal);
  const mgmtOf = new Map<string, MgmtAddress>(names.map((h) => [h, book.resolve(h)]));
  const probeIps = [...new Set(watched.map((h) => mgmtOf.get(h)!.ip).filter((ip): ip is string => ip !== null))];
  let answers = new Map<string, ProbeResult>();
  if (config.detector.probe === 'fping' && !deps.prober) {
    const denied = await checkFpingPermission(createProber(config.detector, { logger }), signal);
    checks.push(denied
      ? { name: 'fping', status: 'fail', detail: denied.message }
      : { name: 'fping', status: 'ok', detail: `${config.detector.fpingPath} can send ICMP (CAP_NET_RAW)` });
  }
  if (probeIps.length > 0) {
    try {
      const prober = deps.prober ?? createProber(config.detector, { logger });
      answers = await prober.probe(probeIps, signal);
      const alive = probeIps.filter((ip) => answers.get(ip) === 'alive').length;
      checks.push({ name: 'mgmt-probe', status: 'ok', detail: `${prober.kind}: ${alive} of ${probeIps.length} management IP(s) answer` });
    } catch (err) {
      checks.push({ name: 'mgmt-probe', status: 'fail', detail: `the management IP probe failed (${errorMessage(err)}): no host could be proven dead` });
    }
  }

  // Servers a failover would move, per compute host; the spares' own servers, for their free capacity.
  const listed = new Map<string, Server[] | Error>();
  if (view) {
    const hvHasUsage = (h: string) => { const hv = view.hypervisors.find((x) => x.serviceHost === h); return !hv || hv.vcpus === undefined || (hv.vcpusUsed !== undefined && hv.memoryMbUsed !== undefined); };
    const toList = [...computes, ...spares.filter((h) => !hvHasUsage(h))];
    await mapLimit(toList, CONCURRENCY, async (h) => {
      try {
        listed.set(h, await nova.listServersOnHost(h, { signal }));
      } catch (err) {
        listed.set(h, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }
  const needsOf = new Map<string, Need[]>();
  const serversOf = new Map<string, DoctorHost['servers']>();
  for (const h of computes) {
    const l = listed.get(h);
    if (!Array.isArray(l)) continue;
    const moving = l.filter((s) => skipReason(s, ev) === undefined);
    const needs = moving.map((s) => ({ id: s.id, vcpus: s.flavor.vcpus ?? 0, ramMb: s.flavor.ramMb ?? 0 }));
    needsOf.set(h, needs);
    serversOf.set(h, {
      total: l.length,
      toEvacuate: moving.length,
      vcpus: needs.reduce((a, n) => a + n.vcpus, 0),
      ramMb: needs.reduce((a, n) => a + n.ramMb, 0),
      imageBacked: moving.filter((s) => typeof s.imageId === 'string' && s.imageId !== '').length,
    });
  }

  const redis = await redisP;
  checks.push(...redis.checks);

  let spareProblems: ReadonlyMap<string, string> = new Map();
  if (view) {
    const admissionSpares: AdmissionSpare[] = await mapLimit(spares, CONCURRENCY, async (h) => {
      const svc = serviceOf.get(h)!;
      const hv = view.hypervisors.find((x) => x.serviceHost === h);
      const onSpare = listed.get(h);
      const claim = redis.claimedSpares.get(h);
      const unusable = spareUnusableReason(svc, { claimedBy: claim ?? null });
      const cap = await spareCapacity(hv, Array.isArray(onSpare) ? onSpare : undefined, placement, { signal });
      return {
        host: h, zone: svc.zone ?? null, ...(unusable ? { unusable } : {}), ...(cap.source === 'unknown' && cap.why ? { capacityUnknown: cap.why } : {}),
        candidate: {
          host: h, serviceId: svc.id, enabled: svc.status === 'enabled', ...(svc.zone ? { zone: svc.zone } : {}),
          ...(cap.freeVcpus !== undefined ? { freeVcpus: cap.freeVcpus, freeRamMb: cap.freeRamMb } : {}),
        },
      };
    });
    const admission = admitSpares(
      watched.map((h) => ({ host: h, zone: serviceOf.get(h)!.zone ?? null, needs: needsOf.get(h) ?? [] })),
      admissionSpares,
      ev.spareCount,
    );
    checks.push(...admission.checks);
    spareProblems = admission.hostProblems;
  }

  const fenceOf = new Map<string, HostFenceStatus>((await fencingP).map((f) => [f.host, f]));
  const hosts = names.map((h) => {
    const l = listed.get(h);
    const ip = mgmtOf.get(h)!.ip;
    return judgeHost({
      host: h,
      role: roleOf(h),
      service: serviceOf.get(h) ?? null,
      fence: fenceOf.get(h) ?? null,
      mgmt: mgmtOf.get(h)!,
      mgmtResult: ip !== null && answers.has(ip) ? answers.get(ip)! : null,
      otherNetworks: ((config.hosts[h]?.storageIps?.length ?? 0) > 0 ? 1 : 0) + (config.hosts[h]?.tunnelIp ? 1 : 0),
      instanceNetworks: config.detector.instanceNetworks.length > 0,
      singleSignalSilenceMs: config.detector.singleSignalSilenceMs,
      servers: serversOf.get(h) ?? null,
      ...(l instanceof Error ? { serversError: errorMessage(l) } : {}),
      ...(spareProblems.has(h) ? { spareProblem: spareProblems.get(h)! } : {}),
      sharedStorage,
      ...(view ? {} : { novaUnavailable: true }),
    }, config.fencing);
  });
  checks.push(summarizeFencing(hosts));

  if (view) {
    const imageBacked = [...serversOf.values()].reduce((a, s) => a + (s?.imageBacked ?? 0), 0);
    checks.push(sharedStorage
      ? { name: 'storage', status: 'ok', detail: 'shared_storage = true: evacuated servers keep their disks' }
      : imageBacked > 0
        ? { name: 'storage', status: 'warn', detail: `${imageBacked} image-backed server(s) would be evacuated: ${IMAGE_BACKED_WARNING}` }
        : { name: 'storage', status: 'ok', detail: 'every server a failover would move is volume-backed' });
  }
  checks.push(...await notifiersP);

  const order = ['nova', 'hypervisors', 'config', 'fencing', 'mgmt-probe', 'spares', 'storage', 'redis', 'leader', 'notifier'];
  const rank = (c: DoctorCheck) => { const i = order.indexOf(c.name.split(':')[0]!); return i < 0 ? order.length : i; };
  checks.sort((a, b) => rank(a) - rank(b));
  const computeHosts = hosts.filter((h) => h.role === 'compute');
  const protectedHosts = computeHosts.filter((h) => h.status !== 'fail').length;
  const ok = worst([...checks.map((c) => c.status), ...computeHosts.map((h) => h.status)]) !== 'fail';
  logger.debug({ ok, protected: protectedHosts, total: computeHosts.length }, 'doctor finished');
  return { ok, checks, hosts, summary: { protected: protectedHosts, total: computeHosts.length }, durationMs: Date.now() - started };
}
