import type { Config, HostConfig } from '../config/types.js';
import { MgmtAddressBook, type MgmtAddress } from '../detector/mgmt-addresses.js';
import { checkFpingPermission } from '../detector/fping-prober.js';
import { createProber } from '../detector/prober.js';
import type { ProbeResult } from '../detector/types.js';
import { judgeGuest, skipReason } from '../evacuator/select.js';
import { isSpareHost, spareHostUnusable, type Need } from '../evacuator/spare-plan.js';
import { resumeGuestsCheck, schedulerCheck } from './check-compute-boot.js';
import { specialTargetsChecks } from './check-special-targets.js';
import { checkAllFencing, type HostFenceStatus } from '../fencing/check-fencing.js';
import { resolveBmcAddresses, type BmcResolution } from '../fencing/resolve-bmc.js';
import { configWarnings } from '../config/warnings.js';
import { namesOf, type CloudNames, type ComputeBackend, type ComputeHost, type Guest, type HostCapacity } from '../compute/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { checkNotifiers } from './check-notifiers.js';
import { checkRedis, type RedisFindings } from './check-redis.js';
import { IMAGE_BACKED_WARNING, judgeHost, worst } from './host-verdict.js';
import { mapLimit } from '../shared/map-limit.js';
import { admitSpares, type AdmissionSpare, type SpareAdmission } from './spare-admission.js';
import type { DoctorCheck, DoctorDeps, DoctorHost, DoctorReport } from './types.js';

const CONCURRENCY = 8;

interface NovaView {
  readonly services: ComputeHost[];
}

async function readNova(compute: ComputeBackend, signal: AbortSignal | undefined, checks: DoctorCheck[]): Promise<NovaView | null> {
  try {
    const about = await compute.describe({ signal });
    const services = await compute.hosts({ signal });
    try {
      await compute.hostAddresses({ signal });
    } catch (err) {
      checks.push({ name: 'hypervisors', status: 'warn', detail: `cannot list hypervisors (host_ip and spare capacity unknown): ${errorMessage(err)}` });
    }
    checks.push({ name: 'nova', status: 'ok', detail: `${about}; ${services.length} ${namesOf(compute).agent} service(s)` });
    return { services };
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

/** Config warnings, and BMC names resolved as the controller does at start (one that does not resolve is a host without fencing). */
function configChecks(config: Config, bmc: BmcResolution): DoctorCheck[] {
  const checks: DoctorCheck[] = configWarnings(config).map((w) => ({ name: 'config', status: 'warn', detail: `[${w.section}] ${w.key} ${w.message}` }));
  for (const p of bmc.problems) checks.push({ name: 'bmc-dns', status: 'fail', detail: p.message });
  if (bmc.resolved.length > 0) checks.push({ name: 'bmc-dns', status: 'ok', detail: `${bmc.resolved.length} BMC name(s) resolve: ${bmc.resolved.map((r) => `${r.name} → ${r.address}`).join(', ')}` });
  return checks;
}

type Role = DoctorHost['role'];

/** The hosts doctor judges, and as what: Nova's nova-compute hosts, or the configured ones when Nova cannot be asked. */
interface Fleet {
  /** Sorted by name. */
  readonly names: readonly string[];
  readonly serviceOf: ReadonlyMap<string, ComputeHost>;
  readonly roleOf: (host: string) => Role;
  readonly computes: readonly string[];
  readonly spares: readonly string[];
  /** Compute hosts the detector watches: enabled and not forced down. */
  readonly watched: readonly string[];
}

function classifyFleet(view: NovaView | null, configured: readonly HostConfig[], ev: Config['evacuation']): Fleet {
  const serviceOf = new Map((view?.services ?? []).map((s) => [s.name, s]));
  const names = view ? [...serviceOf.keys()] : configured.map((h) => h.name);
  names.sort((a, b) => a.localeCompare(b));
  const roleOf = (host: string): Role => {
    const svc = serviceOf.get(host);
    const spare = svc ? isSpareHost(svc, ev.spareHosts) : ev.spareHosts.includes(host);
    return spare ? 'spare' : 'compute';
  };
  const computes = names.filter((h) => roleOf(h) === 'compute');
  const spares = names.filter((h) => roleOf(h) === 'spare');
  const watched = computes.filter((h) => { const s = serviceOf.get(h); return s !== undefined && s.status === 'enabled' && !s.isolated; });
  return { names, serviceOf, roleOf, computes, spares, watched };
}

/** `[host:NAME]` sections Nova has no nova-compute host for. */
function strayHostSections(configured: readonly HostConfig[], fleet: Fleet, { cloud, agent }: CloudNames): DoctorCheck[] {
  const stray = configured.filter((h) => !fleet.serviceOf.has(h.name)).map((h) => `[host:${h.name}]`);
  return stray.length > 0 ? [{ name: 'config', status: 'warn', detail: `${stray.join(', ')}: ${cloud} has no ${agent} host of that name (a typo?)` }] : [];
}

interface MgmtFindings {
  readonly mgmtOf: ReadonlyMap<string, MgmtAddress>;
  readonly answers: ReadonlyMap<string, ProbeResult>;
  readonly checks: DoctorCheck[];
}

/** Management IPs, resolved as the detector does (mgmt_ip, else the hypervisor's host_ip), probed once; and whether fping may. */
async function probeManagement(config: Config, deps: DoctorDeps, compute: ComputeBackend, novaUp: boolean, fleet: Fleet, logger: Logger): Promise<MgmtFindings> {
  const { signal } = deps;
  const checks: DoctorCheck[] = [];
  const book = new MgmtAddressBook(config.hosts, compute, logger);
  if (novaUp) await book.refresh(0, fleet.watched, signal);
  const mgmtOf = new Map<string, MgmtAddress>(fleet.names.map((h) => [h, book.resolve(h)]));
  const probeIps = [...new Set(fleet.watched.map((h) => mgmtOf.get(h)!.ip).filter((ip): ip is string => ip !== null))];
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
  return { mgmtOf, answers, checks };
}

type Listing = ReadonlyMap<string, Guest[] | Error>;

/** Servers a failover would move, per compute host. */
async function listServers(compute: ComputeBackend, fleet: Fleet, signal: AbortSignal | undefined): Promise<Listing> {
  const listed = new Map<string, Guest[] | Error>();
  await mapLimit(fleet.computes, CONCURRENCY, async (h) => {
    try {
      listed.set(h, await compute.guestsOn(h, { signal }));
    } catch (err) {
      listed.set(h, err instanceof Error ? err : new Error(String(err)));
    }
  });
  return listed;
}

interface EvacuationLoad {
  readonly needsOf: ReadonlyMap<string, Need[]>;
  readonly serversOf: ReadonlyMap<string, NonNullable<DoctorHost['servers']>>;
}

/** Per compute host: what an evacuation would move (the servers it selects) and what that needs on a spare. */
function evacuationLoad(computes: readonly string[], listed: Listing, ev: Config['evacuation']): EvacuationLoad {
  const needsOf = new Map<string, Need[]>();
  const serversOf = new Map<string, NonNullable<DoctorHost['servers']>>();
  for (const h of computes) {
    const l = listed.get(h);
    if (!Array.isArray(l)) continue;
    const moving = l.filter((s) => skipReason(s, ev) === undefined && judgeGuest(s, ev).move);
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
  return { needsOf, serversOf };
}

interface SpareInputs {
  readonly compute: ComputeBackend;
  readonly fleet: Fleet;
  readonly needsOf: EvacuationLoad['needsOf'];
  readonly claimedSpares: RedisFindings['claimedSpares'];
  readonly spareCount: number;
  readonly signal: AbortSignal | undefined;
}

/** Would the spares take the watched hosts' servers: each spare's state, claim and free capacity, then the admission. */
async function checkSpares(p: SpareInputs): Promise<SpareAdmission> {
  const { fleet, signal } = p;
  let capacity: ReadonlyMap<string, HostCapacity>;
  try {
    capacity = await p.compute.capacity(fleet.spares, { signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    const why = `cannot read capacity: ${errorMessage(err)}`;
    capacity = new Map(fleet.spares.map((h) => [h, { source: 'unknown', why }]));
  }
  const admissionSpares: AdmissionSpare[] = fleet.spares.map((h) => {
    const svc = fleet.serviceOf.get(h)!;
    const claim = p.claimedSpares.get(h);
    const unusable = spareHostUnusable(svc, { claimedBy: claim ?? null });
    const cap = capacity.get(h) ?? { source: 'unknown' };
    return {
      host: h, zone: svc.zone ?? null, ...(unusable ? { unusable } : {}), ...(cap.source === 'unknown' && cap.why ? { capacityUnknown: cap.why } : {}),
      candidate: {
        host: h, serviceId: svc.id, enabled: svc.status === 'enabled', ...(svc.zone ? { zone: svc.zone } : {}),
        ...(cap.freeVcpus !== undefined ? { freeVcpus: cap.freeVcpus, freeRamMb: cap.freeRamMb } : {}),
      },
    };
  });
  return admitSpares(
    fleet.watched.map((h) => ({ host: h, zone: fleet.serviceOf.get(h)!.zone ?? null, needs: p.needsOf.get(h) ?? [] })),
    admissionSpares,
    p.spareCount,
  );
}

interface HostEvidence {
  readonly fleet: Fleet;
  readonly fenceOf: ReadonlyMap<string, HostFenceStatus>;
  readonly mgmt: MgmtFindings;
  readonly listed: Listing;
  readonly serversOf: EvacuationLoad['serversOf'];
  readonly spareProblems: ReadonlyMap<string, string>;
  readonly novaUp: boolean;
}

/** Every host's verdict from what was found about it. */
function judgeHosts(config: Config, e: HostEvidence, names: CloudNames): DoctorHost[] {
  const sharedStorage = config.evacuation.sharedStorage ?? false;
  return e.fleet.names.map((h) => {
    const l = e.listed.get(h);
    const ip = e.mgmt.mgmtOf.get(h)!.ip;
    return judgeHost({
      host: h,
      names,
      role: e.fleet.roleOf(h),
      service: e.fleet.serviceOf.get(h) ?? null,
      fence: e.fenceOf.get(h) ?? null,
      mgmt: e.mgmt.mgmtOf.get(h)!,
      mgmtResult: ip !== null && e.mgmt.answers.has(ip) ? e.mgmt.answers.get(ip)! : null,
      otherNetworks: ((config.hosts[h]?.storageIps?.length ?? 0) > 0 ? 1 : 0) + (config.hosts[h]?.tunnelIp ? 1 : 0),
      instanceNetworks: config.detector.instanceNetworks.length > 0,
      singleSignalSilenceMs: config.detector.singleSignalSilenceMs,
      servers: e.serversOf.get(h) ?? null,
      ...(l instanceof Error ? { serversError: errorMessage(l) } : {}),
      ...(e.spareProblems.has(h) ? { spareProblem: e.spareProblems.get(h)! } : {}),
      sharedStorage,
      ...(e.novaUp ? {} : { novaUnavailable: true }),
      ...(config.hosts[h]?.ha === false ? { haOff: true } : {}),
    }, config.fencing);
  });
}

/** The cloud's own settings cmpha relies on, as its adapter judges them (`cloud:<name>` checks). */
async function cloudSettings(compute: ComputeBackend, hosts: readonly string[], signal: AbortSignal | undefined): Promise<DoctorCheck[]> {
  if (!compute.settingsCheck) return [];
  try {
    return (await compute.settingsCheck(hosts, { signal })).map((f) => ({ name: `cloud:${f.name}`, status: f.status, detail: f.detail }));
  } catch (err) {
    if (signal?.aborted) throw err;
    return [{ name: 'cloud', status: 'warn', detail: `cannot read the cloud's own settings: ${errorMessage(err)}` }];
  }
}

/** Whether an evacuation keeps the servers' disks. */
function storageCheck(sharedStorage: boolean, serversOf: EvacuationLoad['serversOf']): DoctorCheck {
  const imageBacked = [...serversOf.values()].reduce((a, s) => a + s.imageBacked, 0);
  return sharedStorage
    ? { name: 'storage', status: 'ok', detail: 'shared_storage = true: evacuated servers keep their disks' }
    : imageBacked > 0
      ? { name: 'storage', status: 'warn', detail: `${imageBacked} image-backed server(s) would be evacuated: ${IMAGE_BACKED_WARNING}` }
      : { name: 'storage', status: 'ok', detail: 'every server a failover would move is volume-backed' };
}

const CHECK_ORDER = ['nova', 'cloud', 'hypervisors', 'config', 'fencing', 'ha', 'mgmt-probe', 'spares', 'storage', 'redis', 'leader', 'notifier'];

/** Checks grouped as the report shows them (stable: within a group, in the order they were made). */
function inReportOrder(checks: DoctorCheck[]): DoctorCheck[] {
  const rank = (c: DoctorCheck) => { const i = CHECK_ORDER.indexOf(c.name.split(':')[0]!); return i < 0 ? CHECK_ORDER.length : i; };
  return checks.sort((a, b) => rank(a) - rank(b));
}

function report(checks: DoctorCheck[], hosts: DoctorHost[], started: number, logger: Logger): DoctorReport {
  const computeHosts = hosts.filter((h) => h.role === 'compute');
  // Without Redis there is no queue and no leader: no host would be recovered, however well it can be fenced.
  const redisDown = checks.some((c) => c.name === 'redis' && c.status === 'fail');
  // A host opted out of HA is watched, never recovered: not protected, however well it could be fenced.
  const protectedHosts = redisDown ? 0 : computeHosts.filter((h) => h.status !== 'fail' && !h.haOff).length;
  const ok = worst([...checks.map((c) => c.status), ...computeHosts.map((h) => h.status)]) !== 'fail';
  logger.debug({ ok, protected: protectedHosts, total: computeHosts.length }, 'doctor finished');
  return { ok, checks, hosts, summary: { protected: protectedHosts, total: computeHosts.length, ...(redisDown ? { blockedBy: 'Redis is unreachable' } : {}) }, durationMs: Date.now() - started };
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
  const { compute } = deps;

  const bmc = await resolveBmcAddresses(config.hosts, deps.bmcLookup);
  const checks = configChecks(config, bmc);

  // Independent of Nova: start them now, collect them last.
  const configured = Object.values(bmc.hosts).sort((a, b) => a.name.localeCompare(b.name));
  const fencingP = checkAllFencing(configured, config.fencing, { ...deps.fence, logger, ...(config.ceph ? { ceph: config.ceph } : {}), ...(signal ? { signal } : {}), concurrency: CONCURRENCY });
  const notifiersP = checkNotifiers(config.notifiers, { smtp: deps.smtp ?? true, timeoutMs });

  const view = await readNova(compute, signal, checks);
  const fleet = classifyFleet(view, configured, ev);
  if (view) checks.push(...strayHostSections(configured, fleet, namesOf(compute)));
  const redisP = checkRedis(config.redis, fleet.spares, { timeoutMs, disarmLimitMs: config.detector.disarmLimitMs, ...(deps.redis ? { existing: deps.redis } : {}) });

  const mgmt = await probeManagement(config, deps, compute, view !== null, fleet, logger);
  checks.push(...mgmt.checks);
  const listed = view ? await listServers(compute, fleet, signal) : new Map<string, Guest[] | Error>();
  const { needsOf, serversOf } = evacuationLoad(fleet.computes, listed, ev);

  const redis = await redisP;
  checks.push(...redis.checks);
  let spareProblems: ReadonlyMap<string, string> = new Map();
  if (view) {
    const admission = await checkSpares({ compute, fleet, needsOf, claimedSpares: redis.claimedSpares, spareCount: ev.spareCount, signal });
    checks.push(...admission.checks);
    spareProblems = admission.hostProblems;
  }

  const fenceOf = new Map<string, HostFenceStatus>((await fencingP).map((f) => [f.host, f]));
  const hosts = judgeHosts(config, { fleet, fenceOf, mgmt, listed, serversOf, spareProblems, novaUp: view !== null }, namesOf(compute));
  checks.push(summarizeFencing(hosts));
  const optedOut = hosts.filter((h) => h.haOff).map((h) => h.host);
  if (optedOut.length > 0) checks.push({ name: 'ha', status: 'warn', detail: `${optedOut.length} compute host(s) opted out of HA in the config (ha = false), watched and never recovered: ${optedOut.join(', ')}` });
  if (view) checks.push(storageCheck(ev.sharedStorage ?? false, serversOf));
  if (view) checks.push(...await cloudSettings(compute, fleet.computes, signal));
  if (view) checks.push(...await specialTargetsChecks(compute, fleet.computes, fleet.spares, listed, ev, signal));
  const scheduler = view ? await schedulerCheck(compute, signal) : null;
  if (scheduler) checks.push(scheduler);
  const resume = resumeGuestsCheck(config);
  if (resume) checks.push(resume);
  checks.push(...await notifiersP);
  return report(inReportOrder(checks), hosts, started, logger);
}
