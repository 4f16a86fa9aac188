import type { NotificationEvent, NotificationService } from '../notifier/types.js';
import type { Clock } from '../shared/time.js';
import type { Outcome } from './recover-instance.js';

export interface ProcessNotification {
  readonly uuid: string;
  readonly hostname: string;
  readonly payload: { readonly event: string; readonly process_name: string };
}

export interface ProcessFailureDeps {
  /** The agent-down remediation (src/remediation): runs the host's command, pages when it does not help. */
  readonly healer: {
    handles(host: string): boolean;
    start(host: string, mgmtIp: string | null, alert: NotificationEvent, onDone?: (healed: boolean, reason: string) => void): boolean;
  };
  readonly notifier: NotificationService;
  /** Asks the detector to look at the host now (a notification is evidence, never proof). */
  readonly probe: (host: string, reason: string) => void;
  readonly mgmtIp: (host: string) => string | null;
  /** Called when a started remediation ends, with what came of it. */
  readonly onOutcome: (outcome: Outcome) => void;
  readonly clock: Clock;
}

/** The compute agent: the process whose death is cmpha's agent-down case. */
const AGENT = /^nova-compute$/;

/**
 * masakari-processmonitor reports a process it could not restart. nova-compute goes down the agent-down path:
 * the remediation command first (when the host has one), a page if that does not bring the heartbeat back; the
 * host is probed at once either way. Any other process pages (cmpha has no remediation for it). Masakari
 * disables the host's compute service instead: cmpha does not, since the host and its guests may be fine.
 */
export function handleProcessFailure(deps: ProcessFailureDeps, n: ProcessNotification): Outcome {
  const host = n.hostname;
  const name = n.payload.process_name;
  if (n.payload.event.toUpperCase() !== 'STOPPED') return { status: 'ignored', message: `${name} reported ${n.payload.event} on ${host}: recorded only` };
  deps.probe(host, `Masakari PROCESS notification ${n.uuid}: ${name} stopped`);
  const at = deps.clock.now();
  if (!AGENT.test(name)) {
    void deps.notifier.notify({
      type: 'process-down', severity: 'warning', host, summary: `${name} stopped on ${host} and masakari-processmonitor could not restart it`,
      details: `Masakari notification ${n.uuid}. cmpha has no remediation for ${name}; restart it on the host.`, at,
    });
    return { status: 'finished', message: `${name} is not nova-compute: paged` };
  }
  const alert: NotificationEvent = {
    type: 'agent-down', severity: 'warning', host, summary: `nova-compute stopped on ${host} and masakari-processmonitor could not restart it`,
    details: `Masakari notification ${n.uuid}.`, at,
  };
  if (!deps.healer.handles(host)) {
    void deps.notifier.notify({ ...alert, details: `${alert.details} No [remediation] agent_command for ${host}: restart nova-compute on the host.` });
    return { status: 'finished', message: `no [remediation] agent_command for ${host}: paged` };
  }
  const started = deps.healer.start(host, deps.mgmtIp(host), alert, (healed, reason) => {
    deps.onOutcome({ status: healed ? 'finished' : 'error', message: healed ? reason : `${reason}; paged` });
  });
  if (!started) return { status: 'ignored', message: `a remediation of ${host} is already under way` };
  return { status: 'running', message: `remediation command running for ${host}; a page follows if nova-compute does not report again` };
}
