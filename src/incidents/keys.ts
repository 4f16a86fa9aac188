/** Redis key layout of the incident store. Everything lives under the configured prefix. */
export function incidentKeys(prefix: string) {
  return {
    record: (id: string) => `${prefix}:incident:${id}`,
    instances: (id: string) => `${prefix}:incident:${id}:instances`,
    timeline: (id: string) => `${prefix}:incident:${id}:timeline`,
    deliveries: (id: string) => `${prefix}:incident:${id}:deliveries`,
    /** Sorted by opening time: every incident ever recorded (until pruned). */
    index: `${prefix}:incidents`,
    /** Incidents not yet resolved/partial/failed/aborted: what a restarted worker resumes. */
    active: `${prefix}:incidents:active`,
    /** host → id of its open incident: one incident per host at a time. */
    openForHost: (host: string) => `${prefix}:incident-open:${host}`,
    /** spare host → id of the incident that claimed it. */
    spareClaim: (host: string) => `${prefix}:spare-claim:${host}`,
  };
}
export type IncidentKeys = ReturnType<typeof incidentKeys>;
