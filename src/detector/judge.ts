import type { DetectorConfig } from '../config/types.js';
import { namesOf, type CloudNames, type ComputeHost } from '../compute/types.js';
import { heartbeatMoved, heartbeatPeriod, NO_HEARTBEAT, trackHeartbeat, type HeartbeatMemory } from './heartbeat.js';
import type {
  CrashKernelEvidence, DeadBy, HostEvidence, HostJudgement, HostMemory, InstanceAddressEvidence, InstanceEvidence, MgmtEvidence, NetworkEvidence,
  NovaEvidence, PowerEvidence, StorageEvidence, Verdict,
} from './types.js';

/** Everything observed about one host at one instant. */
export interface HostObservation {
  readonly host: string;
  readonly round: number;
  /** Epoch ms (wall clock) when the observation started: for people and incident ids only. */
  readonly at: number;
  /** cmpha's monotonic ms when the observation started: every duration is measured on this clock. */
  readonly mono: number;
  /**
   * When the probe that saw these addresses was sent (cmpha's monotonic ms; `mono` when absent). Silence is timed
   * from it, not from the observation's start: a round slowed by its Nova reads (a loaded machine, a slow API)
   * must not count the seconds before its probe as silence, or a link flap shorter than `min_silence` could pass.
   */
  readonly probeMono?: number;
  readonly service: ComputeHost;
  /**
   * Whether `service` was read in this observation, and when the answer arrived (monotonic ms). A service
   * carried over from an earlier read must not age its heartbeat: only a fresh read can say it did not move.
   */
  readonly serviceRead: null | { readonly endMono: number };
  /** The management network first, then storage and tunnel when the host has addresses there. */
  readonly networks: readonly NetworkEvidence[];
  /**
   * Instance addresses probed this time, or null when they were not looked at (host not under suspicion).
   * `error` says why the list could not be had (e.g. Nova failed), `note` why there is nothing to look at.
   */
  readonly instances: null | {
    readonly addresses: readonly InstanceAddressEvidence[];
    readonly error?: string;
    readonly note?: string;
  };
  /** An extra storage-side signal (Ceph watchers), null when none is wired. */
  readonly storage: StorageEvidence | null;
  /** The BMC's last power read (hosts under suspicion, when a power witness is wired); absent or null otherwise. */
  readonly power?: PowerEvidence | null;
  /**
   * fence_kdump messages heard lately from the host's addresses (the observer then reads its answering networks as
   * `crash-kernel`); absent when none were, or no listener is wired.
   */
  readonly crashKernel?: CrashKernelEvidence;
}

/** Answered BMC reads that must say `off` in a row before the chassis counts as proof: one wrong answer is not. */
export const POWER_OFF_READS = 2;
/** A power read older than this (cmpha's monotonic clock) proves nothing now. */
export const POWER_READ_FRESH_MS = 3000;

export type JudgeConfig = Pick<DetectorConfig, 'heartbeatIntervalMs' | 'heartbeatMarginMs' | 'minSilenceMs' | 'singleSignalSilenceMs'> & {
  /** The cloud's words for the reasons (Nova's when absent). */
  readonly names?: CloudNames;
};

/**
 * Turns one observation into a verdict. Pure: the same observation and memory give the same answer.
 *
 * The rule (README "How cmpha decides a host is dead"): a host is `dead` when
 *   1. every independent signal it has is silent — each network address (management, storage, tunnel), each
 *      instance address that answered while it was healthy, and the storage-side signal when one is wired —
 *      and has been, in every observation, for at least `min_silence` (`single_signal_silence` when the host
 *      has only one such signal), measured on cmpha's monotonic clock; and
 *   2. Nova saw no heartbeat: it says the service is down, or `updated_at` has not changed for one heartbeat
 *      period plus `heartbeat_margin` since cmpha first saw its current value (Nova's clock is never compared
 *      with cmpha's); or, instead of that wait, the host's BMC read the chassis power `off` in at least
 *      `POWER_OFF_READS` answered reads in a row, the last of them during the silence and fresh, while Nova's
 *      `updated_at` has not moved since the silence began (a heartbeat during the silence is a live signal);
 *      or, instead of that wait too, the host is silent on its management network and a second one (storage or
 *      tunnel), at least one instance address that used to answer is among the silent, and its Ceph watches
 *      lapsed (`lapseProof`), again with `updated_at` unmoved since the silence began.
 *      The silence of rule 1 is needed either way: the flapping boundary does not move.
 * Any live signal keeps a host from `dead`, whatever the BMC reads (a chassis `off` with an address answering is
 * a BMC that is wrong, and its `off` proves nothing more for that host until it reads `on` again). An observation that cannot confirm (a probe failed or said
 * nothing, the servers could not be listed, the service was not read) restarts the silence, because a false
 * fence costs far more than a slow one.
 * A host whose crash kernel sends fence_kdump messages (heard within `[kdump] quiet_after` from one of its addresses)
 * answers ping from that kernel, not from the one that ran its guests: its network answers (`crash-kernel`) count as
 * silence for rule 1. Nothing else changes: an instance address or the storage signal answering is still life, and
 * Nova's heartbeat is still rule 2 (a crash kernel runs no nova-compute, so a heartbeat that moves means alive).
 */
export function judge(obs: HostObservation, previous: HostMemory | undefined, config: JudgeConfig): HostJudgement {
  const { mono, service } = obs;
  const probeMono = obs.probeMono ?? mono;
  const instances = instanceEvidence(obs);
  const mgmtNet = obs.networks.find((n) => n.role === 'mgmt') ?? { role: 'mgmt' as const, ip: null, source: null, result: 'no-address' as const };
  const netAlive = obs.networks.some((n) => n.result === 'alive');
  const storageAlive = obs.storage?.alive === true;
  const anyAlive = netAlive || instances.answered > 0 || storageAlive;
  const lastAliveAt = anyAlive ? obs.at : (previous?.lastAliveAt ?? null);
  const mgmt: MgmtEvidence = { ...mgmtNet, lastAliveAt };

  const prevHeartbeat = previous?.heartbeat ?? NO_HEARTBEAT;
  const heartbeat = obs.serviceRead
    ? trackHeartbeat(prevHeartbeat, service, obs.serviceRead.endMono, anyAlive && service.state === 'up')
    : prevHeartbeat;
  const lastBeatAt = heartbeatMoved(prevHeartbeat, heartbeat) ? obs.at : (previous?.lastBeatAt ?? null);
  const nova = { ...novaEvidence(service, heartbeat, obs.serviceRead ? mono : null, config), lastBeatAt };
  const power = obs.power ?? null;
  const { powerOffReads, powerSeq } = countPowerReads(previous, power);
  const freshPower = power !== null && power.seq !== (previous?.powerSeq ?? 0) ? power.state : null;
  const bmcContradicted = freshPower === 'on' ? false : (previous?.bmcContradicted ?? false) || (freshPower === 'off' && anyAlive);

  const addressed = obs.networks.filter((n) => n.result !== 'no-address');
  const signals = addressed.length + (instances.baselineTotal > 0 ? 1 : 0) + (obs.storage && obs.storage.alive !== null ? 1 : 0);
  const silenceNeededMs = signals <= 1 ? config.singleSignalSilenceMs : config.minSilenceMs;
  const reasons: string[] = [];
  let deadBy: DeadBy = 'heartbeat';
  let unlistedSinceMono: number | null = null;
  let unrecoverable: string | undefined;

  const finish = (verdict: Verdict, silentSinceMono: number | null): HostJudgement => {
    const unhealthy = verdict !== 'healthy' && verdict !== 'maintenance';
    const suspectSince = unhealthy ? (previous?.suspectSince ?? obs.at) : null;
    const unhealthyRounds = unhealthy ? (previous?.unhealthyRounds ?? 0) + 1 : 0;
    // The heartbeat value the silence began with, kept while it lasts.
    const silenceBeat = silentSinceMono === null ? null : previous?.silentSinceMono === silentSinceMono ? (previous.silenceBeat ?? null) : heartbeat.value;
    const memory: HostMemory = {
      verdict, suspectSince, unhealthyRounds, silentSinceMono, unlistedSinceMono, lastAliveAt, lastBeatAt, heartbeat, powerOffReads, powerSeq, silenceBeat,
      ...(bmcContradicted ? { bmcContradicted } : {}),
    };
    const evidence: HostEvidence = {
      host: obs.host,
      zone: service.zone ?? null,
      round: obs.round,
      at: obs.at,
      nova,
      mgmt,
      networks: obs.networks,
      instances,
      storage: obs.storage,
      ...(obs.power !== undefined ? { power } : {}),
      ...(obs.crashKernel ? { crashKernel: obs.crashKernel } : {}),
      ...(verdict === 'dead' ? { deadBy } : {}),
      signals,
      suspectSince,
      unhealthyRounds,
      silentForMs: silentSinceMono === null ? 0 : probeMono - silentSinceMono,
      silenceNeededMs,
      reasons,
      ...(unrecoverable ? { unrecoverable } : {}),
    };
    return { verdict, memory, evidence };
  };

  if (nova.says === 'disabled') {
    reasons.push(`${namesOf(config).agent} is disabled${service.reason ? ` (${service.reason})` : ''}: maintenance, never acted on`);
    return finish('maintenance', null);
  }

  reasons.push(novaReason(nova, config));
  for (const n of obs.networks) reasons.push(networkReason(n));
  if (instances.checked || instances.note) reasons.push(instances.note);
  if (obs.storage) reasons.push(`storage: ${obs.storage.detail}`);
  if (power) reasons.push(`BMC: ${power.detail}${power.state === 'off' ? ` (${powerOffReads} read(s) off in a row)` : ''}`);
  if (obs.crashKernel) reasons.push(crashKernelReason(obs.crashKernel));
  if (signals === 1) {
    reasons.push(`only one independent signal (no storage_ip, tunnel_ip or answering instance address): ${seconds(config.singleSignalSilenceMs)} of silence needed`);
  }

  const novaBad = nova.says === 'down' || nova.says === 'stale';
  const mgmtSilent = mgmtNet.result === 'silent' || mgmtNet.result === 'crash-kernel';

  if (anyAlive) {
    if (power?.state === 'off') reasons.push('the BMC reads the chassis off, but the host answers: the BMC is wrong, and the host is not dead');
    if (!novaBad) {
      if (mgmtSilent) return finish('isolated-mgmt', null);
      return finish('healthy', null);
    }
    if (mgmtNet.result === 'alive') return finish('agent-down', null);
    return finish(mgmtSilent ? 'isolated-mgmt' : 'agent-down', null);
  }

  if (addressed.length === 0) {
    if (!novaBad) return finish('healthy', null);
    reasons.push('without any address to probe the host can never be declared dead');
    return finish('unprobeable', null);
  }
  const blocker = confirmBlocker(obs, instances);
  if (blocker) {
    if (!novaBad && !mgmtSilent) return finish('healthy', null);
    reasons.push(blocker);
    // Everything readable says dead, but Nova's list of the host's servers is not: no incident can be opened on
    // such evidence, nor could a recovery know what to move, so hands stay off; after the silence a dead verdict
    // needs, that is said (and paged) rather than left as a suspect that never resolves.
    const listError = obs.instances?.error;
    if (listError !== undefined && novaBad && blocker === UNLISTED) {
      unlistedSinceMono = previous?.unlistedSinceMono ?? mono;
      if (mono - unlistedSinceMono >= silenceNeededMs) {
        unrecoverable = `${namesOf(config).cloud}'s answers about its servers are unreadable (${listError})`;
        reasons.push(`every other signal says ${obs.host} is dead (silent for ${seconds(mono - unlistedSinceMono)}), but it cannot be recovered: `
          + `${unrecoverable}; nothing is done until ${namesOf(config).cloud} lists them`);
      }
    }
    return finish('suspect', null);
  }

  // Every signal is silent in this observation.
  const silentSinceMono = previous?.silentSinceMono ?? probeMono;
  const silentFor = probeMono - silentSinceMono;
  if (!novaBad) {
    const silenceBeat = previous?.silentSinceMono === silentSinceMono ? (previous.silenceBeat ?? null) : heartbeat.value;
    const proof = bmcContradicted ? 'the BMC read the chassis off while the host answered: not believed until it reads on' : powerProof(obs, power, powerOffReads, silentSinceMono, silenceBeat, heartbeat.value);
    const lapse = lapseProof(obs, instances, silenceBeat, heartbeat.value);
    if ((proof === null || lapse === null) && silentFor >= silenceNeededMs) {
      deadBy = proof === null ? 'power-off' : 'watch-lapse';
      reasons.push(proof === null
        ? `every signal has been silent for ${seconds(silentFor)} (needed ${seconds(silenceNeededMs)}), no heartbeat came during it, and the BMC reads the chassis off: dead without waiting for ${namesOf(config).cloud}'s heartbeat`
        : `every signal has been silent for ${seconds(silentFor)} (needed ${seconds(silenceNeededMs)}) on two networks and every instance address, no heartbeat came during it, and the host's Ceph watches lapsed: dead without waiting for ${namesOf(config).cloud}'s heartbeat`);
      return finish('dead', silentSinceMono);
    }
    if (proof === null) reasons.push(`the BMC reads the chassis off: dead once the silence is long enough, without waiting for ${namesOf(config).cloud}'s heartbeat`);
    else if (power) reasons.push(`the BMC's power read proves nothing yet: ${proof}`);
    if (lapse === null) reasons.push(`two networks and every instance address silent, the Ceph watches lapsed: dead once the silence is long enough, without waiting for ${namesOf(config).cloud}'s heartbeat`);
    else if (obs.storage) reasons.push(`the lapse of the Ceph watches proves nothing yet: ${lapse}`);
    reasons.push(nova.says === 'unread'
      ? 'the service could not be read this time: cannot confirm a missing heartbeat'
      : `every address is silent for ${seconds(silentFor)}, but a heartbeat is not overdue yet: not dead`);
    return finish('suspect', silentSinceMono);
  }
  if (silentFor >= silenceNeededMs) {
    reasons.push(`every signal has been silent for ${seconds(silentFor)} (needed ${seconds(silenceNeededMs)}) and ${namesOf(config).cloud} saw no heartbeat`);
    return finish('dead', silentSinceMono);
  }
  reasons.push(`every signal says dead: silent for ${seconds(silentFor)} of the ${seconds(silenceNeededMs)} needed`);
  return finish('suspect', silentSinceMono);
}

/** Consecutive answered BMC reads saying `off`; each read (by its seq) counted once, however often it is shown. */
function countPowerReads(previous: HostMemory | undefined, power: PowerEvidence | null): { powerOffReads: number; powerSeq: number } {
  const offReads = previous?.powerOffReads ?? 0;
  const seq = previous?.powerSeq ?? 0;
  if (!power || power.seq === seq) return { powerOffReads: offReads, powerSeq: seq };
  return { powerOffReads: power.state === 'off' ? offReads + 1 : 0, powerSeq: power.seq };
}

/**
 * Why the chassis power does not prove death in this observation, or null when it does. The observation is
 * already all silent (and its probes trustworthy); what is asked of the power: read off `POWER_OFF_READS` times in
 * a row, the last read during the silence and fresh; Nova's service read this time and its updated_at unchanged
 * since the silence began (a heartbeat during the silence is a live signal).
 */
export function powerProof(obs: HostObservation, power: PowerEvidence | null, offReads: number, silentSinceMono: number, silenceBeat: number | null, beatNow: number | null): string | null {
  if (!power) return 'no BMC read';
  if (power.state !== 'off') return `the BMC reads ${power.state}`;
  if (offReads < POWER_OFF_READS) return `the BMC read off ${offReads} time(s), ${POWER_OFF_READS} needed`;
  if (power.atMono < silentSinceMono) return 'the BMC was last read before the silence began';
  if (obs.mono - power.atMono > POWER_READ_FRESH_MS) return 'the last BMC read is too old';
  return noBeatDuringSilence(obs, silenceBeat, beatNow);
}

/** Both proofs without the heartbeat ask this: Nova read now, its updated_at unchanged since the silence began. */
function noBeatDuringSilence(obs: HostObservation, silenceBeat: number | null, beatNow: number | null): string | null {
  if (!obs.serviceRead) return 'the service was not read this time: a heartbeat during the silence cannot be ruled out';
  if (beatNow !== silenceBeat) return 'Nova\'s updated_at moved during the silence';
  return null;
}

/**
 * Why two silent networks, silent instances and lapsed Ceph watches do not prove death in this observation, or
 * null when they do. The observation is already all silent (and its probes trustworthy); what is asked: the
 * management network and a second one (storage or tunnel) both have an address, so a cut of one link cannot look
 * like death; at least one instance address that answered while the host was healthy (all of them are silent
 * here); the host's Ceph clients held watches during this suspicion and hold none now (the OSDs, on the storage
 * network, heard nothing from any of them for 25-30 s); and no heartbeat during the silence.
 */
export function lapseProof(obs: HostObservation, instances: InstanceEvidence, silenceBeat: number | null, beatNow: number | null): string | null {
  const roles = new Set(obs.networks.filter((n) => n.result === 'silent').map((n) => n.role));
  if (!roles.has('mgmt') || roles.size < 2) return 'silent on one network only (a second one, storage_ip or tunnel_ip, is needed)';
  if (instances.baselineTotal === 0) return 'no instance address that answered while the host was healthy';
  if (!obs.storage) return 'no Ceph watch evidence';
  if (obs.storage.lapsed !== true) return `its Ceph watches have not lapsed (${obs.storage.detail})`;
  return noBeatDuringSilence(obs, silenceBeat, beatNow);
}

/** Nova's vote. `checkMono` is when a fresh read started, null when the service was not read this time. */
export function novaEvidence(service: ComputeHost, heartbeat: HeartbeatMemory, checkMono: number | null, config: JudgeConfig): NovaEvidence {
  const { periodMs, learned } = heartbeatPeriod(heartbeat, config.heartbeatIntervalMs);
  const unchangedForMs = checkMono !== null && heartbeat.firstSeenMono !== null ? Math.max(0, checkMono - heartbeat.firstSeenMono) : null;
  let says: NovaEvidence['says'];
  if (service.status === 'disabled') says = 'disabled';
  else if (service.state === 'down') says = 'down';
  else if (unchangedForMs === null) says = 'unread';
  else if (unchangedForMs >= periodMs + config.heartbeatMarginMs) says = 'stale';
  else says = 'up';
  return {
    says,
    state: service.state,
    status: service.status,
    forcedDown: service.isolated,
    disabledReason: service.reason,
    updatedAt: service.heartbeatAt ? service.heartbeatAt.toISOString() : null,
    unchangedForMs,
    heartbeatPeriodMs: periodMs,
    heartbeatLearned: learned,
    lastBeatAt: null,
  };
}

function instanceEvidence(obs: HostObservation): InstanceEvidence {
  const inst = obs.instances;
  if (inst === null) {
    return { checked: false, note: '', addresses: [], answered: 0, baselineSilent: 0, baselineTotal: 0 };
  }
  const addresses = inst.addresses;
  const answered = addresses.filter((a) => a.result === 'alive').length;
  const baseline = addresses.filter((a) => a.baseline);
  const baselineSilent = baseline.filter((a) => a.result === 'silent').length;
  let note: string;
  if (inst.error) note = `instance addresses unavailable: ${inst.error}`;
  else if (inst.note) note = inst.note;
  else if (addresses.length === 0) note = 'no instance addresses on the configured networks: no instance evidence';
  else if (answered > 0) note = `${answered} of ${addresses.length} instance address(es) answer`;
  else if (baseline.length === 0) note = `none of ${addresses.length} instance address(es) answer, but none ever answered while the host was healthy: no instance evidence`;
  else note = `${baselineSilent} of ${baseline.length} instance address(es) that used to answer are silent`;
  return { checked: !inst.error, note, addresses, answered, baselineSilent, baselineTotal: baseline.length };
}

const UNLISTED = 'instance addresses could not be listed this time: cannot confirm';

function confirmBlocker(obs: HostObservation, instances: InstanceEvidence): string | undefined {
  const net = obs.networks.find((n) => n.result === 'probe-failed' || n.result === 'unknown' || n.result === 'not-probed');
  if (net) {
    return net.result === 'probe-failed'
      ? 'no ping evidence this time: nothing can be confirmed'
      : `the probe said nothing about the ${net.role} address: cannot confirm`;
  }
  const inst = obs.instances;
  if (inst === null) return 'instance addresses were not checked this time: cannot confirm';
  if (inst.error) return UNLISTED;
  const baseline = instances.addresses.filter((a) => a.baseline);
  if (baseline.some((a) => a.result === 'probe-failed')) return 'instance probe failed this time: cannot confirm';
  if (baseline.some((a) => a.result === 'unknown')) return 'the probe said nothing about some instance addresses: cannot confirm';
  return undefined;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;

function novaReason(nova: NovaEvidence, config: JudgeConfig): string {
  const period = `${seconds(nova.heartbeatPeriodMs)} heartbeat period${nova.heartbeatLearned ? ' (learned)' : ' (configured)'}`;
  // Timed on cmpha's own clock from when it first read the value: Nova's clock is never compared with it, and a
  // one-shot `check` has watched only for its few seconds, however old the heartbeat is.
  const watched = (ms: number) => `updated_at has not moved in the ${seconds(ms)} cmpha has watched it`;
  const unchanged = nova.unchangedForMs === null ? '' : `; ${watched(nova.unchangedForMs)}`;
  const { cloud, agent, isolated } = namesOf(config);
  switch (nova.says) {
    case 'down': return `${cloud} reports ${agent} down${nova.forcedDown ? ` (${isolated})` : ''}${unchanged}`;
    case 'stale': return `no heartbeat: ${watched(nova.unchangedForMs ?? 0)} (on cmpha's clock, not ${cloud}'s), more than the ${period} + ${seconds(config.heartbeatMarginMs)} margin`;
    case 'unread': return `${agent}'s service was not read this time`;
    default: return `${cloud} reports ${agent} up${unchanged} (${period})`;
  }
}

function networkReason(n: NetworkEvidence): string {
  const what = n.role === 'mgmt' ? 'management IP' : `${n.role} IP`;
  switch (n.result) {
    case 'alive': return `${what} ${n.ip} answers`;
    case 'silent': return `${what} ${n.ip} is silent`;
    case 'unknown': return `${what} ${n.ip}: the probe gave no result`;
    case 'probe-failed': return `${what} ${n.ip}: the probe failed this time`;
    case 'no-address': return n.role === 'mgmt' ? 'no management IP known (no [host] mgmt_ip, no hypervisor host_ip)' : `no ${what} configured`;
    case 'not-probed': return `${what} ${n.ip} not probed`;
    case 'crash-kernel': return `${what} ${n.ip} answers, but for the crash kernel: counted as silent`;
  }
}

function crashKernelReason(c: CrashKernelEvidence): string {
  return `in its crash kernel: ${c.count} fence_kdump message(s) from ${c.ip} since ${new Date(c.firstAt).toISOString()}, the last at ${new Date(c.lastAt).toISOString()}; `
    + 'its addresses answer for the crash kernel, not for the host';
}
