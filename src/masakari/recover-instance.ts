import { randomUUID } from 'node:crypto';
import type { InstanceFailureConfig } from '../config/types.js';
import type { ComputeBackend, Guest } from '../compute/types.js';
import type { AffectedInstance, NotificationService } from '../notifier/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/time.js';
import { judgeVmEvent } from './vm-events.js';
import type { VmFailureRecord, VmFailureStore } from './vm-failure-store.js';

/** What came of one notification, as Masakari's notification status says it. */
export interface Outcome {
  readonly status: 'finished' | 'error' | 'ignored' | 'running';
  readonly message: string;
  /** The VM failure record (or the host incident) it led to. */
  readonly recordId?: string;
}

export interface VmNotification {
  readonly uuid: string;
  readonly hostname: string;
  readonly payload: { readonly event: string; readonly instance_uuid: string; readonly vir_domain_event: string };
}

export interface InstanceRecoveryDeps {
  readonly compute: Pick<ComputeBackend, 'guest' | 'stopGuest' | 'startGuest'>;
  readonly store: VmFailureStore;
  /** The open host incident of `host`, if any: the host recovery then owns its servers. */
  readonly hostIncident: (host: string) => Promise<string | null>;
  /** Adds a line to a host incident's timeline (a VM notification left to it). */
  readonly noteOnIncident: (incidentId: string, message: string) => Promise<void>;
  readonly notifier: NotificationService;
  readonly config: InstanceFailureConfig;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/** Masakari's HA_Enabled rule: the metadata key with the value (case-insensitive), or any value when none is asked. */
export function haEnabled(guest: Pick<Guest, 'metadata'>, config: Pick<InstanceFailureConfig, 'haMetadata' | 'allServers'>): boolean {
  if (config.allServers) return true;
  const v = guest.metadata[config.haMetadata.key];
  if (v === undefined) return false;
  return config.haMetadata.value === '' || v.toLowerCase() === config.haMetadata.value.toLowerCase();
}

const ignored = (message: string): Outcome => ({ status: 'ignored', message });

/**
 * Masakari's instance-failure recovery for one VM notification: stop the server, start it, confirm it runs, on
 * its own host, through the compute port. Refused (ignored, with why) for an event that is no failure, a server
 * the cloud does not know or that is not HA-enabled, a server whose host has an open incident (the host path
 * wins), a server already being recovered; past max_restarts in restart_window it pages once instead.
 */
export async function recoverInstance(deps: InstanceRecoveryDeps, n: VmNotification): Promise<Outcome> {
  const c = deps.config;
  const verdict = judgeVmEvent(n.payload.event, n.payload.vir_domain_event);
  if (!verdict.act) return ignored(verdict.why);
  if (!c.enabled) return ignored('[instance_failure] enabled = false: VM notifications are recorded only');
  const serverId = n.payload.instance_uuid;
  const guest = await deps.compute.guest(serverId, { signal: deps.signal });
  if (!guest) return ignored(`no server ${serverId} in the cloud: nothing to restart`);
  if (!haEnabled(guest, c)) return ignored(`server ${guest.name} (${serverId}) is not HA-enabled (metadata ${c.haMetadata.key}=${c.haMetadata.value || '*'} missing)`);
  const host = guest.host ?? n.hostname;
  for (const h of new Set([host, n.hostname])) {
    const incident = await deps.hostIncident(h);
    if (incident) {
      await deps.noteOnIncident(incident, `VM notification ${n.uuid} (${verdict.what}) for server ${guest.name} (${serverId}) left to this host recovery`);
      return { ...ignored(`host ${h} is under incident ${incident}: the host recovery handles server ${serverId}`), recordId: incident };
    }
  }
  if (guest.vmState === 'paused' || guest.vmState === 'rescued') return ignored(`server ${guest.name} is ${guest.vmState} by its owner: not restarted`);
  if (!deps.compute.stopGuest || !deps.compute.startGuest) return ignored('this cloud\'s adapter cannot stop and start a guest');

  const now = deps.clock.now();
  const id = `vm-${serverId.slice(0, 8)}-${Math.floor(now / 1000)}-${randomUUID().slice(0, 4)}`;
  const begun = await deps.store.begin(serverId, id, { now, lockMs: 3 * c.startTimeoutMs + 60_000, windowMs: c.restartWindowMs, max: c.maxRestarts });
  if (begun.kind === 'busy') return { ...ignored(`a recovery of server ${serverId} is already under way (${begun.holder})`), recordId: begun.holder };

  let rec: VmFailureRecord = { id, serverId, serverName: guest.name, host, notificationUuid: n.uuid, what: verdict.what, status: 'running', openedAt: now, timeline: [] };
  const note = async (step: string, level: 'info' | 'warning' | 'critical', message: string) => {
    rec = { ...rec, timeline: [...rec.timeline, { at: deps.clock.now(), step, level, message }] };
    await deps.store.put(rec);
  };
  const affected = (state: string, error?: string): AffectedInstance => ({
    id: serverId, name: guest.name, projectId: guest.projectId, userId: guest.userId, sourceHost: host, targetHost: state === 'restarted' ? host : null, state,
    ...(error ? { error } : {}), metadata: guest.metadata,
  });
  await note('notification', 'warning', `VM notification ${n.uuid} from ${n.hostname}: ${verdict.what} (${n.payload.event} ${n.payload.vir_domain_event})`);

  if (begun.kind === 'bounded') {
    const why = `${begun.restarts} restarts of ${guest.name} within ${Math.round(c.restartWindowMs / 1000)} s ([instance_failure] max_restarts = ${c.maxRestarts}): not restarting it again`;
    rec = { ...rec, status: 'failed', closedAt: deps.clock.now() };
    await note('bound', 'critical', why);
    if (await deps.store.firstPage(serverId, c.restartWindowMs)) {
      await deps.notifier.notify({ type: 'instance-failed', severity: 'critical', host, incidentId: id, summary: `${guest.name} keeps failing on ${host}: ${why}`, instances: [affected('failed', why)], at: deps.clock.now() });
    } else {
      await note('bound', 'info', 'already paged for this server within the window');
    }
    return { status: 'error', message: why, recordId: id };
  }

  try {
    await note('start', 'info', `restart ${begun.restarts} of ${c.maxRestarts} allowed within ${Math.round(c.restartWindowMs / 1000)} s`);
    await stopAndStart(deps, guest, note);
    rec = { ...rec, status: 'resolved', closedAt: deps.clock.now() };
    await note('done', 'info', `${guest.name} runs again on ${host}`);
    await deps.notifier.notify({ type: 'instance-restarted', severity: 'warning', host, incidentId: id, summary: `${guest.name} ${verdict.what}; cmpha restarted it on ${host}`, instances: [affected('restarted')], at: deps.clock.now() });
    return { status: 'finished', message: `server ${guest.name} restarted on ${host} (${id})`, recordId: id };
  } catch (err) {
    const why = errorMessage(err);
    rec = { ...rec, status: 'failed', closedAt: deps.clock.now() };
    await note('failed', 'critical', why);
    await deps.notifier.notify({ type: 'instance-failed', severity: 'critical', host, incidentId: id, summary: `${guest.name} on ${host} was not recovered: ${why}`, instances: [affected('failed', why)], at: deps.clock.now() });
    return { status: 'error', message: why, recordId: id };
  } finally {
    await deps.store.release(serverId, id).catch((err: unknown) => deps.logger.warn({ server: serverId, err: errorMessage(err) }, 'cannot release the VM recovery lock; it lapses on its own'));
  }
}

type Note = (step: string, level: 'info' | 'warning' | 'critical', message: string) => Promise<void>;

/** Masakari's three tasks: stop (unless already stopped) and wait for stopped; start; wait for running. */
async function stopAndStart(deps: InstanceRecoveryDeps, guest: Guest, note: Note): Promise<void> {
  const read = async () => {
    const g = await deps.compute.guest(guest.id, { signal: deps.signal });
    if (!g) throw new CmphaError('server_gone', `server ${guest.id} was deleted during its recovery`);
    return g;
  };
  if (guest.vmState !== 'stopped') {
    try {
      await deps.compute.stopGuest!(guest.id, { signal: deps.signal });
      await note('stop', 'info', `stop sent (it was ${guest.status}, vm_state ${guest.vmState ?? 'unknown'})`);
    } catch (err) {
      // A conflict may mean it stopped meanwhile (the cloud synced the dead guest's power state): read it back.
      const now = await read();
      if (now.vmState !== 'stopped') throw new CmphaError('stop_failed', `stop refused: ${errorMessage(err)}`, { cause: err });
      await note('stop', 'info', `stop refused (${errorMessage(err)}), but it is stopped already`);
    }
    await waitFor(deps, read, (g) => g.vmState === 'stopped' && g.taskState === null, 'stopped');
    await note('stop', 'info', 'stopped');
  } else {
    await note('stop', 'info', 'already stopped');
  }
  await deps.compute.startGuest!(guest.id, { signal: deps.signal });
  await note('start', 'info', 'start sent');
  const up = await waitFor(deps, read, (g) => g.vmState === 'active' && g.taskState === null, 'running (ACTIVE)');
  await note('verify', 'info', `${up.status}, vm_state ${up.vmState ?? 'unknown'} on ${up.host ?? 'no host'}`);
}

async function waitFor(deps: InstanceRecoveryDeps, read: () => Promise<Guest>, ok: (g: Guest) => boolean, what: string): Promise<Guest> {
  const deadline = deps.clock.now() + deps.config.startTimeoutMs;
  for (;;) {
    const g = await read();
    if (ok(g)) return g;
    if (g.vmState === 'error') throw new CmphaError('server_error', `server ${g.id} went to ERROR while waiting for it to be ${what}`);
    if (deps.clock.now() >= deadline) throw new CmphaError('server_timeout', `server ${g.id} was not ${what} within ${deps.config.startTimeoutMs / 1000} s (${g.status}, vm_state ${g.vmState ?? 'unknown'}, task ${g.taskState ?? 'none'})`);
    await deps.sleep(deps.config.pollIntervalMs, deps.signal);
  }
}
