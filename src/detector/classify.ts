import type { DetectorConfig } from '../config/types.js';
import type { ComputeService } from '../openstack/types.js';
import type {
  HostClassification, HostState, InstanceAddressEvidence, InstanceEvidence, MgmtEvidence, MgmtResult, NovaEvidence, Verdict,
} from './types.js';

/** Everything observed about one host in one round. */
export interface HostSignals {
  readonly host: string;
  readonly round: number;
  /** Epoch ms when the round started. */
  readonly now: number;
  readonly service: ComputeService;
  readonly mgmt: { readonly ip: string | null; readonly source: 'config' | 'hypervisor' | null; readonly result: MgmtResult };
  /**
   * Instance addresses probed this round, or null when they were not looked at (host not under suspicion).
   * `error` says why the list could not be had (e.g. Nova failed), `note` why there is nothing to look at.
   */
  readonly instances: null | {
    readonly addresses: readonly InstanceAddressEvidence[];
    readonly error?: string;
    readonly note?: string;
  };
}

export type ClassifyConfig = Pick<DetectorConfig, 'heartbeatTimeoutMs' | 'confirmRounds'>;

export function novaEvidence(service: ComputeService, now: number, heartbeatTimeoutMs: number): NovaEvidence {
  const updatedAgoMs = service.updatedAt ? now - service.updatedAt.getTime() : null;
  let says: NovaEvidence['says'];
  if (service.status === 'disabled') says = 'disabled';
  else if (service.state === 'down') says = 'down';
  else if (updatedAgoMs === null || updatedAgoMs > heartbeatTimeoutMs) says = 'stale';
  else says = 'up';
  return {
    says,
    state: service.state,
    status: service.status,
    forcedDown: service.forcedDown,
    disabledReason: service.disabledReason,
    updatedAt: service.updatedAt ? service.updatedAt.toISOString() : null,
    updatedAgoMs,
  };
}

/**
 * Turns one round's signals into a verdict. Pure: the same signals and previous state give the same answer.
 *
 * Any live signal (Nova up, management IP, any instance address) keeps a host from `dead`. Silence only
 * counts when the probe worked, and an instance address only testifies by silence if it answered while its
 * host was healthy. `dead` needs every signal to say so for `confirmRounds` consecutive rounds; a round
 * that cannot confirm (probe failed, Nova could not list servers, an address fping said nothing about)
 * starts the count again, because false positives cost far more than slow detection.
 */
export function classify(signals: HostSignals, previous: HostState | undefined, config: ClassifyConfig): HostClassification {
  const { now, service } = signals;
  const nova = novaEvidence(service, now, config.heartbeatTimeoutMs);
  const mgmtAlive = signals.mgmt.result === 'alive';
  const mgmtLastAliveAt = mgmtAlive ? now : (previous?.mgmtLastAliveAt ?? null);
  const mgmt: MgmtEvidence = { ...signals.mgmt, lastAliveAt: mgmtLastAliveAt };
  const instances = instanceEvidence(signals);
  const reasons: string[] = [];

  const finish = (verdict: Verdict, deadRounds: number): HostClassification => {
    const unhealthy = verdict !== 'healthy' && verdict !== 'maintenance';
    const suspectSince = unhealthy ? (previous?.suspectSince ?? now) : null;
    const unhealthyRounds = unhealthy ? (previous?.unhealthyRounds ?? 0) + 1 : 0;
    const state: HostState = { verdict, suspectSince, unhealthyRounds, deadRounds, mgmtLastAliveAt };
    return {
      verdict,
      state,
      evidence: {
        host: signals.host,
        zone: service.zone ?? null,
        round: signals.round,
        at: now,
        nova,
        mgmt,
        instances,
        suspectSince,
        unhealthyRounds,
        deadRounds,
        confirmRounds: config.confirmRounds,
        reasons,
      },
    };
  };

  if (nova.says === 'disabled') {
    reasons.push(`nova-compute is disabled${service.disabledReason ? ` (${service.disabledReason})` : ''}: maintenance, never acted on`);
    return finish('maintenance', 0);
  }

  reasons.push(novaReason(nova, config.heartbeatTimeoutMs));
  reasons.push(mgmtReason(mgmt));
  if (instances.checked || instances.note) reasons.push(instances.note);

  const novaBad = nova.says === 'down' || nova.says === 'stale';
  const anyInstanceAnswers = instances.answered > 0;
  const mgmtSilent = signals.mgmt.result === 'silent';

  if (!novaBad) {
    if (mgmtAlive || signals.mgmt.result === 'no-address' || signals.mgmt.result === 'probe-failed' || signals.mgmt.result === 'not-probed') {
      return finish('healthy', 0);
    }
    if (mgmtSilent && anyInstanceAnswers) return finish('isolated-mgmt', 0);
    reasons.push('Nova still reports the service up, so the host is not dead');
    return finish('suspect', 0);
  }

  if (mgmtAlive) return finish('agent-down', 0);
  if (anyInstanceAnswers) return finish(mgmtSilent ? 'isolated-mgmt' : 'agent-down', 0);
  if (signals.mgmt.result === 'no-address') {
    reasons.push('without a management IP the host can never be declared dead');
    return finish('unprobeable', 0);
  }
  if (signals.mgmt.result === 'probe-failed') {
    reasons.push('no ping evidence this round: nothing can be confirmed');
    return finish('suspect', 0);
  }
  if (signals.mgmt.result === 'unknown' || signals.mgmt.result === 'not-probed') {
    reasons.push('the probe said nothing about the management IP: cannot confirm');
    return finish('suspect', 0);
  }
  const blocker = instanceBlocker(signals, instances);
  if (blocker) {
    reasons.push(blocker);
    return finish('suspect', 0);
  }
  const deadRounds = (previous?.deadRounds ?? 0) + 1;
  if (deadRounds >= config.confirmRounds) {
    reasons.push(`every signal has said dead for ${deadRounds} consecutive round(s)`);
    return finish('dead', deadRounds);
  }
  reasons.push(`every signal says dead: round ${deadRounds} of ${config.confirmRounds} needed to confirm`);
  return finish('suspect', deadRounds);
}

function instanceEvidence(signals: HostSignals): InstanceEvidence {
  const inst = signals.instances;
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

function instanceBlocker(signals: HostSignals, instances: InstanceEvidence): string | undefined {
  const inst = signals.instances;
  if (inst === null) return 'instance addresses were not checked this round: cannot confirm';
  if (inst.error) return 'instance addresses could not be listed this round: cannot confirm';
  const baseline = instances.addresses.filter((a) => a.baseline);
  if (baseline.some((a) => a.result === 'probe-failed')) return 'instance probe failed this round: cannot confirm';
  if (baseline.some((a) => a.result === 'unknown')) return 'the probe said nothing about some instance addresses: cannot confirm';
  return undefined;
}

function novaReason(nova: NovaEvidence, heartbeatTimeoutMs: number): string {
  const ago = nova.updatedAgoMs === null ? 'never' : `${Math.round(nova.updatedAgoMs / 1000)}s ago`;
  switch (nova.says) {
    case 'down': return `Nova reports nova-compute down${nova.forcedDown ? ' (forced down)' : ''}, updated ${ago}`;
    case 'stale': return `Nova's updated_at is stale (${ago}, limit ${Math.round(heartbeatTimeoutMs / 1000)}s): suspicion, not proof`;
    default: return `Nova reports nova-compute up, updated ${ago}`;
  }
}

function mgmtReason(mgmt: MgmtEvidence): string {
  switch (mgmt.result) {
    case 'alive': return `management IP ${mgmt.ip} answers`;
    case 'silent': return `management IP ${mgmt.ip} is silent`;
    case 'unknown': return `management IP ${mgmt.ip}: the probe gave no result`;
    case 'probe-failed': return `management IP ${mgmt.ip}: the probe failed this round`;
    case 'no-address': return 'no management IP known (no [host] mgmt_ip, no hypervisor host_ip)';
    case 'not-probed': return `management IP ${mgmt.ip} not probed`;
  }
}
