import type { SegmentFacts, StoredSegment } from './segments.js';

// What a failover segment means for a host's recovery, as Masakari's engine reads it when a host fails
// (masakari/engine/manager.py): the failed host's segment decides; `auto` gives the servers to the scheduler; the
// other methods first use the segment's reserved hosts that are not on maintenance. A disabled segment's hosts
// are not recovered (Masakari ignores their notifications), nor is a host on maintenance (Masakari refuses its
// notifications). Pure: the facts are read from Redis by the caller, once per round or per recovery.

/** Where the spares for one host's failure come from. */
export interface SpareSource {
  /** Host names that may take the servers (before capacity and claims are looked at). */
  readonly hosts: readonly string[];
  /** The segment that decided, or null when the host is in none (then [evacuation] spare_hosts apply). */
  readonly segment: string | null;
  /** One line for the incident's timeline. */
  readonly why: string;
}

/** The segment holding `host`, if any. */
export function segmentHolding(segments: readonly StoredSegment[], host: string): StoredSegment | undefined {
  return segments.find((s) => s.hosts.includes(host));
}

/**
 * The spares for a failure of `host`. A host in a segment uses that segment's reserved hosts (not on maintenance,
 * never itself), or none under `auto`; a host in no segment uses `fallback` ([evacuation] spare_hosts) without the
 * hosts some segment reserves for its own failures.
 */
export function sparesFor(facts: SegmentFacts, host: string, fallback: readonly string[]): SpareSource {
  const seg = segmentHolding(facts.segments, host);
  if (!seg) {
    const reservedElsewhere = new Set(facts.segments.flatMap((s) => s.reserved));
    const hosts = fallback.filter((h) => h !== host && !reservedElsewhere.has(h) && !facts.maintenance.has(h));
    return { hosts, segment: null, why: `${host} is in no failover segment: spares from [evacuation] spare_hosts${hosts.length > 0 ? ` (${hosts.join(', ')})` : ' (none)'}` };
  }
  if (seg.recovery_method === 'auto') return { hosts: [], segment: seg.name, why: `segment ${seg.name} recovers with auto: the scheduler chooses every target` };
  const onMaintenance = seg.reserved.filter((h) => facts.maintenance.has(h));
  const hosts = seg.reserved.filter((h) => h !== host && !facts.maintenance.has(h));
  const skipped = onMaintenance.length > 0 ? `; on maintenance, not used: ${onMaintenance.join(', ')}` : '';
  return {
    hosts, segment: seg.name,
    why: `segment ${seg.name} recovers with ${seg.recovery_method}: ${hosts.length > 0 ? `reserved hosts ${hosts.join(', ')} first` : 'no reserved host'}, then the scheduler${skipped}`,
  };
}

/** Hosts the segments hold back from any recovery, with why: a disabled segment's hosts, hosts on maintenance. */
export function segmentHolds(facts: SegmentFacts): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of facts.segments) {
    if (s.enabled) continue;
    for (const h of s.hosts) out.set(h, `${h} is in failover segment ${s.name}, which is disabled (enabled = false): its hosts are not recovered`);
  }
  for (const [h, flag] of facts.maintenance) {
    out.set(h, `${h} is on maintenance (on_maintenance set by ${flag.by} at ${new Date(flag.at).toISOString()}): it is not recovered until the flag is cleared`);
  }
  return out;
}
