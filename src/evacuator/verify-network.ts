import { assertFenced } from '../incidents/fence-guard.js';
import { networkAdvice } from '../incidents/format.js';
import { isFinalInstanceState, type IncidentRecord, type InstanceEntry, type NetworkIssue, type WatchedAddress } from '../incidents/types.js';
import type { EvacuationConfig } from '../config/types.js';
import type { GuestPort } from '../compute/types.js';
import { formatDuration } from '../shared/duration.js';
import { errorMessage } from '../shared/errors.js';
import { serverOutcome, type ServerInput, type ServerOutcome, type StepContext } from '../pipeline/steps/context.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import { isActiveElsewhere } from './entry-state.js';
import { restoreStateStep } from './restore-state.js';

/** Servers whose network is verified at once, across all incidents and replicas (`[evacuation] network_concurrency`, 16 unless set). */
export function networkConcurrency(evacuation: EvacuationConfig): number {
  return evacuation.networkConcurrency ?? 16;
}

export type PortVerdict =
  | { readonly kind: 'ok'; readonly note?: string }
  | { readonly kind: 'waiting' | 'failed'; readonly issue: NetworkIssue; readonly why: string };

/**
 * Pure rule for "the server's ports came with it": every port bound to `host`, its binding not failed, and
 * ACTIVE. A failed binding is final (Neutron does not retry a binding by itself); a port still bound elsewhere
 * or DOWN may yet change. An account that may not read bindings leaves only the status.
 */
export function judgePorts(ports: readonly GuestPort[], host: string): PortVerdict {
  if (ports.length === 0) return { kind: 'ok', note: 'no Neutron ports' };
  const failed = ports.filter((p) => p.bindingFailed);
  if (failed.length > 0) {
    return { kind: 'failed', issue: 'port-binding', why: `port ${failed.map((p) => p.id).join(', ')} binding_failed on ${failed[0]!.boundHost || host}` };
  }
  const elsewhere = ports.filter((p) => p.boundHost !== null && p.boundHost !== host);
  if (elsewhere.length > 0) {
    return { kind: 'waiting', issue: 'port-binding', why: `port ${elsewhere[0]!.id} bound to ${elsewhere[0]!.boundHost || 'no host'}, not ${host}` };
  }
  const down = ports.filter((p) => p.status !== 'ACTIVE');
  if (down.length > 0) return { kind: 'waiting', issue: 'port-down', why: `port ${down[0]!.id} is ${down[0]!.status} on ${host}` };
  const unread = ports.some((p) => p.boundHost === null);
  return { kind: 'ok', ...(unread ? { note: 'port bindings not readable with this token: status only' } : {}) };
}

/** When the user's downtime began: the latest sign of life before the failure, of the server's addresses or its host. */
export function downFrom(incident: IncidentRecord, watch: readonly WatchedAddress[] | undefined): number {
  const seen = [incident.lastAliveAt ?? incident.failureStartedAt, ...(watch ?? []).map((w) => w.lastAliveAt ?? 0)];
  return Math.max(...seen);
}

export type NetworkOutcome =
  | { readonly kind: 'ok'; readonly backAt?: number; readonly note?: string }
  | { readonly kind: 'degraded'; readonly issue: NetworkIssue; readonly why: string };

/**
 * Once the server runs ACTIVE on `host`: polls Neutron for its ports and the prober for the addresses that
 * answered before the failure, until both are right or `network_timeout` passes. `backAt` is when the last of
 * those addresses first answered again. With `reboot_silent`, a server whose ports are fine but whose
 * addresses stay silent is hard-rebooted once (behind the fence guard, recorded before it is sent) and gets one
 * more `network_timeout`.
 */
export async function verifyNetwork(ctx: StepContext, entry: InstanceEntry, host: string): Promise<NetworkOutcome> {
  const timeoutMs = ctx.evacuation.networkTimeoutMs ?? 120_000;
  const poll = ctx.evacuation.verifyPollIntervalMs;
  const watch = ctx.probe ? (entry.watch ?? []).map((w) => w.ip) : [];
  const firstAnswer = new Map<string, number>();
  let deadline = ctx.clock.now() + timeoutMs;
  let rebooted = entry.rebootedAt !== undefined;
  let last: { issue: NetworkIssue; why: string } = { issue: 'silent', why: 'not checked' };
  let portNote: string | undefined;
  for (;;) {
    let portsOk = true;
    if (ctx.ports) {
      let v: PortVerdict;
      try {
        v = judgePorts(await ctx.ports(entry.id, { signal: ctx.signal }), host);
      } catch (err) {
        v = { kind: 'waiting', issue: 'port-binding', why: `cannot read its ports from Neutron: ${errorMessage(err)}` };
      }
      if (v.kind === 'ok') portNote = v.note;
      else if (v.kind === 'failed') return { kind: 'degraded', issue: v.issue, why: v.why };
      else {
        portsOk = false;
        last = { issue: v.issue, why: v.why };
      }
    }
    if (portsOk) {
      const pending = watch.filter((ip) => !firstAnswer.has(ip));
      if (pending.length > 0) {
        try {
          const answers = await ctx.probe!(pending, ctx.signal);
          const at = ctx.clock.now();
          for (const ip of pending) if (answers.get(ip) === 'alive') firstAnswer.set(ip, at);
        } catch (err) {
          ctx.logger.warn({ incidentId: ctx.incidentId, serverId: entry.id, err: errorMessage(err) }, 'probing the server\'s addresses failed');
        }
      }
      const silent = watch.filter((ip) => !firstAnswer.has(ip));
      if (silent.length === 0) {
        return { kind: 'ok', ...(watch.length > 0 ? { backAt: Math.max(...firstAnswer.values()) } : {}), ...(portNote ? { note: portNote } : {}) };
      }
      last = { issue: 'silent', why: `${silent.join(', ')} ${silent.length === 1 ? 'does' : 'do'} not answer on ${host}` };
      if (ctx.clock.now() >= deadline && ctx.evacuation.rebootSilent && !rebooted) {
        rebooted = true;
        await hardReboot(ctx, entry, last.why);
        deadline = ctx.clock.now() + timeoutMs;
        continue;
      }
    }
    if (ctx.clock.now() >= deadline) {
      return { kind: 'degraded', issue: last.issue, why: `network not back within ${formatDuration(timeoutMs)}${rebooted ? ' after a hard reboot' : ''}: ${last.why}` };
    }
    await ctx.sleep(poll, ctx.signal);
  }
}

/**
 * The network's part of the verification, after Nova's (the server runs ACTIVE on its new host) and outside
 * the evacuation slot, which limits rebuilds in Nova, not waits for a guest: its ports, then the addresses that
 * answered before the failure. Verified only when that is back too; degraded, with what to look at, otherwise.
 * The downtime runs from the last sign of life before the failure to the first answer on the new host.
 * A server not (or no longer) waiting for this part is skipped.
 */
export async function verifyNetworkStep(ctx: StepContext, input: ServerInput): Promise<ServerOutcome> {
  const incident = await ctx.store.require(ctx.incidentId);
  const entry = await ctx.store.getInstance(incident.id, input.serverId);
  if (!entry) throw new Error(`incident ${incident.id} has no entry for server ${input.serverId}`);
  if (!isActiveElsewhere(entry)) {
    return isFinalInstanceState(entry.state) ? serverOutcome(entry) : { kind: 'skip', reason: `not ACTIVE on a new host yet (${entry.state})`, entry };
  }
  // A server that is to be stopped, paused or suspended on its new host answers no probe: its state is verified instead.
  if (entry.recovery !== undefined && entry.recovery.expect !== 'ACTIVE') return restoreStateStep(ctx, incident, entry);
  const host = entry.target!;
  const took = entry.evacuationMs ?? 0;
  const net = await verifyNetwork(ctx, entry, host);
  const now = ctx.clock.now();
  const from = downFrom(incident, entry.watch);
  if (net.kind === 'degraded') {
    ctx.metrics?.evacuations?.inc({ result: 'degraded' });
    await ctx.store.addTimeline(incident.id, {
      step: 'verify', level: 'critical', serverId: entry.id,
      message: `${entry.name} runs on ${host} without its network: ${net.why}; look at ${networkAdvice(net.issue, host)}`,
    });
    return serverOutcome(await ctx.store.updateInstance(incident.id, entry.id, 'network_degraded',
      unlessSettled({ finishedAt: now, error: net.why, networkIssue: net.issue, downFrom: from })));
  }
  const back = net.backAt ?? now;
  const done = await ctx.store.updateInstance(incident.id, entry.id, 'network_verified', unlessSettled({
    verifiedAt: now, finishedAt: now, error: undefined,
    downFrom: from, ...(net.backAt !== undefined ? { backAt: net.backAt } : {}), downtimeMs: Math.max(0, back - from),
  }));
  ctx.metrics?.evacuations?.inc({ result: 'ok' });
  ctx.metrics?.evacuationDuration?.observe({}, took / 1000);
  ctx.metrics?.instanceDowntime?.observe({}, (done.downtimeMs ?? 0) / 1000);
  const checked = (entry.watch?.length ?? 0) > 0 && ctx.probe;
  await ctx.store.addTimeline(incident.id, {
    step: 'verify', level: 'info', serverId: entry.id,
    message: checked
      ? `${entry.name} answers again on ${host}: unreachable for ${formatDuration(done.downtimeMs ?? 0)}`
      : `${entry.name} verified on ${host}${ctx.ports ? ' (ports bound and ACTIVE)' : ''}; no address of it answered before the failure, so its downtime counts to verification (${formatDuration(done.downtimeMs ?? 0)})`,
  });
  return serverOutcome(done);
}

/** One hard reboot, like an evacuate: behind the fence guard, and written down before the request goes out. */
async function hardReboot(ctx: StepContext, entry: InstanceEntry, why: string): Promise<void> {
  await assertFenced(ctx, `hard-reboot ${entry.name}`);
  const at = ctx.clock.now();
  const e = await ctx.store.updateInstance(ctx.incidentId, entry.id, 'reboot_requested', (x) => (x.rebootedAt !== undefined || x.state !== 'evacuated' ? undefined : { rebootedAt: at }));
  if (e.rebootedAt !== at) return;
  await ctx.store.addTimeline(ctx.incidentId, { step: 'verify', level: 'warning', serverId: entry.id, message: `${entry.name}: ${why}; hard-rebooting it once` });
  await ctx.compute.restart(entry.id, { signal: ctx.signal });
}
