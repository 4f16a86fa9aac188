/** BullMQ refuses `:` in custom job ids; incident ids never contain one (validateId). */
export function queueNames(prefix: string) {
  return {
    incident: `${prefix}-incident`,
    evacuate: `${prefix}-evacuate`,
    network: `${prefix}-network`,
    finalize: `${prefix}-finalize`,
  };
}
export type QueueNames = ReturnType<typeof queueNames>;

export const evacuateJobId = (incidentId: string, serverId: string) => `${incidentId}__${serverId}`;
export const networkJobId = (incidentId: string, serverId: string) => `${incidentId}__${serverId}__network`;

export interface IncidentJobData { readonly incidentId: string }
export interface EvacuateJobData { readonly incidentId: string; readonly serverId: string }
