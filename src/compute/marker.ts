import { validateId } from '../incidents/incident-store.js';
import type { HostMarker } from './types.js';

// cmpha's mark on a host, in the words of a reason string: Nova keeps it as the nova-compute service's
// `disabled_reason` (operators see it in `openstack compute service list --long`), Cloudpods as the host's
// `cmpha_reason` metadata. A controller that lost its records reads it back. Shared by both adapters.

export interface MarkerPrefixes {
  /** [evacuation] disabled_reason_prefix: the start of the reason set on a failed host. */
  readonly reasonPrefix: string;
  /** [evacuation] spare_reason_prefix: a service disabled with a reason starting with this is a reserved spare. */
  readonly spareReasonPrefix: string;
}

/** The reason written when a failed host is disabled for an incident: `PREFIX incident ID ISO-TIME`. */
export function incidentReason(prefix: string, incidentId: string, at: number): string {
  return `${prefix} incident ${incidentId} ${new Date(at).toISOString()}`;
}

/** The incident id and time in a reason cmpha wrote (`PREFIX incident ID ISO-TIME`); null for any other reason. */
export function parseIncidentReason(reason: string | null, prefix: string): { id: string; at: number | null } | null {
  if (!reason || !reason.startsWith(`${prefix} incident `)) return null;
  const [id, when] = reason.slice(prefix.length + ' incident '.length).split(' ');
  if (!id) return null;
  try {
    validateId(id);
  } catch {
    return null;
  }
  const at = when ? Date.parse(when) : Number.NaN;
  return { id, at: Number.isNaN(at) ? null : at };
}

/** What cmpha's own reason says: the incident it names, and whether it keeps the host back as a spare. */
export function parseMarker(reason: string | null, prefixes: MarkerPrefixes): HostMarker {
  const incident = parseIncidentReason(reason, prefixes.reasonPrefix);
  return { incident, spare: (reason ?? '').startsWith(prefixes.spareReasonPrefix) };
}
