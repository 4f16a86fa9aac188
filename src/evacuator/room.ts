/** Defaults of `[evacuation] capacity_wait` and `capacity_recheck_interval` for a config built without them. */
export const DEFAULT_CAPACITY_WAIT_MS = 3_600_000;
export const DEFAULT_CAPACITY_RECHECK_MS = 30_000;

/** `[evacuation] capacity_wait` = 0 turns waiting off: a server without a target goes to the scheduler, whose refusal fails it. */
export function waitsForRoom(evacuation: { readonly capacityWaitMs?: number | undefined }): boolean {
  return (evacuation.capacityWaitMs ?? DEFAULT_CAPACITY_WAIT_MS) > 0;
}

/**
 * Where a server that waits for room could go now: one of the hosts the cloud would place it on, with its free
 * room as the cloud's scheduler counts it. Pure: the capacity gate reads the cloud and the spare claims, this
 * decides.
 */
export interface RoomHost {
  readonly host: string;
  readonly serviceId: string;
  /** A reserved spare (it must be claimed, and enabled if it is not), or a host in service (the scheduler's choice). */
  readonly spare: boolean;
  /** A spare this incident already holds. */
  readonly ours: boolean;
  readonly enabled: boolean;
  /** Undefined when the cloud gives no figures: assumed to fit, as the spare plan does. */
  readonly freeVcpus?: number;
  readonly freeRamMb?: number;
}

export type Room =
  /** `claim`: the room is on a free reserved spare, to be claimed and enabled before the server is sent. */
  | { readonly kind: 'room'; readonly claim: boolean; readonly host: RoomHost }
  | { readonly kind: 'none'; readonly why: string };

function fits(h: RoomHost, need: { readonly vcpus: number; readonly ramMb: number }): boolean {
  return (h.freeVcpus === undefined || need.vcpus <= h.freeVcpus) && (h.freeRamMb === undefined || need.ramMb <= h.freeRamMb);
}

/**
 * The first host with room that keeps the server's group policy (`allowed`), in this order: a spare the incident
 * already holds or a host in service (no new claim), then a free reserved spare (claimed and enabled, so two
 * incidents never count the same room). The server is then sent without a target: the scheduler places it
 * among the enabled hosts, with its own filters. None: why, naming each host's free room, for the timeline and the page.
 */
export function findRoom(
  need: { readonly vcpus: number; readonly ramMb: number }, hosts: readonly RoomHost[], mayClaim: boolean,
  allowed: (host: string) => boolean = () => true,
): Room {
  const order: Array<[RoomHost[], boolean]> = [
    [hosts.filter((h) => (h.spare ? h.ours : h.enabled)), false],
    [mayClaim ? hosts.filter((h) => h.spare && !h.ours) : [], true],
  ];
  for (const [list, claim] of order) {
    const h = list.find((x) => fits(x, need) && allowed(x.host));
    if (h) return { kind: 'room', claim, host: h };
  }
  const held = hosts.filter((h) => fits(h, need) && !allowed(h.host) && (h.spare ? h.ours || mayClaim : h.enabled)).map((h) => h.host);
  const seen = hosts.filter((h) => (h.spare ? h.ours || mayClaim : h.enabled));
  const free = seen.map((h) => `${h.host} ${h.freeVcpus ?? '?'} vCPU, ${h.freeRamMb ?? '?'} MB`);
  const where = free.length > 0 ? ` (free: ${free.join('; ')})` : ' (no enabled host or usable spare in its zone)';
  return {
    kind: 'none',
    why: held.length > 0
      ? `no host with room keeps its server group's policy (${held.join(', ')} would break it)${where}`
      : `no host has ${need.vcpus} vCPU and ${need.ramMb} MB free${where}`,
  };
}
