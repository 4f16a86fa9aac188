import { z } from 'zod';
import { defineSection, key, type Raw } from './declare.js';
import { bool, duration, integer, keyValue, list, text } from './fields.js';

/**
 * The recovery methods cmpha can honour. cmpha always recovers: a spare first when there is one, else the
 * scheduler's choice (Masakari's rh_priority), or the scheduler alone (auto). Masakari's reserved_host (leave
 * the servers down when no reserved host fits) and auto_priority (scheduler first, then reserved hosts) have no
 * equivalent, and are refused with that reason rather than silently changed.
 */
export const SEGMENT_RECOVERY_METHODS = ['auto', 'rh_priority'] as const;
export type SegmentRecoveryMethod = (typeof SEGMENT_RECOVERY_METHODS)[number];

/** Why a Masakari recovery method is refused; undefined when cmpha supports it. */
export function unsupportedRecoveryMethod(method: string): string | undefined {
  if ((SEGMENT_RECOVERY_METHODS as readonly string[]).includes(method)) return undefined;
  if (method === 'reserved_host') return 'recovery_method reserved_host is not supported: cmpha never leaves servers down when no reserved host fits; use rh_priority (reserved hosts first, then the scheduler)';
  if (method === 'auto_priority') return 'recovery_method auto_priority is not supported: cmpha does not retry on reserved hosts after the scheduler failed; use auto (the scheduler) or rh_priority (reserved hosts first)';
  return `recovery_method "${method}" is not one of auto, reserved_host, auto_priority, rh_priority`;
}

function recoveryMethod() {
  return z.union([z.string(), z.number(), z.boolean()]).optional().transform((v: Raw, ctx): SegmentRecoveryMethod => {
    const t = v === undefined ? '' : String(v).trim();
    if (t === '') return 'rh_priority';
    const why = unsupportedRecoveryMethod(t);
    if (why) {
      ctx.addIssue({ code: 'custom', message: why });
      return z.NEVER;
    }
    return t as SegmentRecoveryMethod;
  });
}

/**
 * `[segment:NAME]`: a Masakari failover segment as cmpha seeds it. Segments live in Redis, where Masakari's API
 * changes them and every replica reads the same answer (src/masakari/segments.ts); this section is written there
 * when its content differs from what was last seeded from it, and removed when the section goes.
 */
export const segmentSectionDecl = defineSection(
  'segment:NAME',
  'A failover segment as Masakari\'s API shows it (`openstack segment list`): a group of compute hosts with its reserved hosts and its recovery method. A host belongs to at most one segment. A failed host\'s servers go first to its segment\'s reserved hosts (rh_priority), or to the scheduler (auto). This section seeds the segment in Redis: `openstack segment ...` may change it there, and an edit of this section (or its removal) replaces what the API changed. See docs/masakari.md.',
  {
    hosts: key('hosts', list(), 'Comma-separated compute host names (Nova service hosts) in this segment, reserved hosts included.', { example: 'compute1,compute2,compute3' }),
    reservedHosts: key('reserved_hosts', list(), 'Comma-separated hosts of this segment kept free for its failures (Masakari\'s reserved = True).'),
    recoveryMethod: key('recovery_method', recoveryMethod(), 'rh_priority (a reserved host first, then the scheduler) or auto (the scheduler alone). Masakari\'s reserved_host and auto_priority are refused, with why.', { default: 'rh_priority' }),
    serviceType: key('service_type', text('COMPUTE'), 'Masakari\'s service_type, shown as written.'),
    description: key('description', text(), 'Shown by `openstack segment show`.'),
    enabled: key('enabled', bool(true), 'A disabled segment\'s notifications are recorded and ignored (Masakari 1.2\'s enabled).'),
  },
);

export const instanceFailureSection = defineSection(
  'instance_failure',
  'Masakari\'s instance-failure recovery: a VM notification (masakari-instancemonitor: the guest\'s QEMU died, an I/O error, a watchdog) makes cmpha stop and start that server through the cloud and confirm it runs, on its own host, for servers marked HA-enabled. Never for a server whose host has an open incident (the host recovery wins), never twice at once for one server, at most max_restarts per server per restart_window, then a page. See docs/masakari.md.',
  {
    enabled: key('enabled', bool(true), 'Act on VM notifications. false: they are recorded and ignored.'),
    haMetadata: key('ha_metadata', keyValue().transform((kv) => kv ?? { key: 'HA_Enabled', value: 'True' }), 'Only servers with this metadata KEY=VALUE are restarted (Masakari\'s HA_Enabled=True); empty value after = means any server with the key.', { default: 'HA_Enabled=True' }),
    allServers: key('all_servers', bool(false), 'Restart every server, whatever its metadata (Masakari\'s process_all_instances).'),
    maxRestarts: key('max_restarts', integer(3, 1, 100), 'Restarts of one server within restart_window; one more failure pages instead.'),
    restartWindowMs: key('restart_window', duration('1h', { min: '1s' }), 'The window max_restarts counts over.'),
    startTimeoutMs: key('start_timeout', duration('120s', { min: '1s' }), 'Time for a stopped server to read stopped, and again to read running after the start.'),
    pollIntervalMs: key('poll_interval', duration('2s', { min: '100ms' }), 'How often the server is read while waiting.'),
  },
);
