/** The simulated cloud's data model. Plain objects: the World class owns and mutates them. */

export type Power = 'on' | 'off';
export type LinkState = 'up' | 'down';
export type BmcMode = 'ok' | 'error' | 'stuck-on' | 'unreachable';
/** `deleted` only on the records Nova keeps of deleted servers (listed with `changes-since`). */
export type VmState =
  | 'active' | 'stopped' | 'error' | 'building' | 'deleted'
  | 'paused' | 'suspended' | 'rescued' | 'resized' | 'shelved' | 'shelved_offloaded';

export interface Flavor {
  readonly id: string;
  readonly name: string;
  readonly vcpus: number;
  readonly ram: number;
  readonly disk: number;
  /** Extra specs (`hw:cpu_policy`, `resources:VGPU`, …): Nova embeds them in the server from 2.47. */
  readonly extraSpecs?: Readonly<Record<string, string>>;
}

/** A Glance image: only what the simulator serves of it (its id, name and the properties an operator set). */
export interface SimImage {
  readonly id: string;
  readonly name: string;
  properties: Record<string, string>;
}

/** A Nova server group; `maxServerPerHost` is anti-affinity's rule (2.64+), absent = 1. */
export interface SimServerGroup {
  readonly id: string;
  readonly name: string;
  readonly policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';
  readonly maxServerPerHost?: number;
  readonly members: string[];
  readonly projectId: string;
  readonly userId: string;
}

export interface SimHost {
  readonly name: string;
  /** 1-based position in the world (compute hosts first, then spares). */
  readonly index: number;
  readonly spare: boolean;
  readonly mgmtIp: string;
  /** The host's address on the storage network: independent of the management network. */
  readonly storageIp: string;
  readonly serviceUuid: string;
  readonly serviceIntId: number;
  readonly hypervisorUuid: string;
  readonly hypervisorIntId: number;
  readonly createdAt: number;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly localGb: number;
  power: Power;
  poweredOnAt: number;
  hung: boolean;
  /** When the host last hung (its Ceph clients' last watch ping, which Nova's heartbeat period does not set). */
  hungAt?: number;
  /** Whether nova-compute is meant to run (its unit is enabled); it runs once the host has booted. */
  novaComputeWanted: boolean;
  /** When the running nova-compute process started, or null when it does not run. */
  novaComputeStartedAt: number | null;
  mgmtLink: LinkState;
  storageLink: LinkState;
  instanceLink: LinkState;
  /** ICMP dropped on every network (a firewall change) while the host and its heartbeats go on. */
  pingBlocked: boolean;
  /**
   * Fault: Neutron cannot bind ports to this host (its L2 agent is dead or misconfigured). Ports of servers
   * placed here read `binding:vif_type` = `binding_failed`, status DOWN, and their addresses do not answer.
   */
  portBindingFails: boolean;
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  /** Heartbeats happen at hbOrigin + k * report_interval while hbOrigin is set. */
  hbOrigin: number | null;
  /** The last heartbeat written before heartbeats stopped (Nova's last_seen_up). */
  hbLast: number | null;
  /** Last PUT /os-services on this service: moves updated_at but is no heartbeat. */
  lastUpdateAt: number | null;
  /** Placement's COMPUTE_STATUS_DISABLED trait as Placement sees it (can lag behind the service). */
  traitDisabled: boolean;
  bmc: { mode: BmcMode; username: string; password: string };
  readonly servers: Set<string>;
  /** Resources claimed by servers placed here plus incoming moves. */
  vcpusUsed: number;
  memoryMbUsed: number;
  diskGbUsed: number;
  /** Boot generation: a power cycle makes earlier scheduled boot events stale. */
  bootGeneration: number;
  /**
   * What the host offers beyond VCPU/MEMORY_MB/DISK_GB, as Nova reports it: more Placement inventories (PCPU with
   * `cpu_dedicated_set`, VGPU, a PCI alias's class with `[pci] report_in_placement`), its provider's traits, and
   * the NUMA cells of the hypervisor's cpu_info topology (1 when unset).
   */
  capabilities?: { inventory: Record<string, number>; traits: string[]; numaNodes: number };
}

export interface SimAddress {
  readonly network: string;
  readonly addr: string;
  readonly type: 'fixed' | 'floating';
  readonly mac: string;
}

export interface InstanceActionEvent {
  event: string;
  startTime: number;
  finishTime: number | null;
  result: 'Success' | 'Error' | null;
  host: string | null;
}

export interface InstanceAction {
  readonly action: string;
  readonly requestId: string;
  readonly userId: string;
  readonly projectId: string;
  readonly startTime: number;
  updatedAt: number;
  message: string | null;
  readonly events: InstanceActionEvent[];
}

export interface ServerFault {
  code: number;
  message: string;
  created: number;
}

/**
 * A Cinder volume attached to a server, with the attachment record Cinder keeps for it (the new attach flow,
 * 3.27+): its connection_info is what the volume driver's initialize_connection returned and Nova uses.
 */
export interface SimVolume {
  readonly id: string;
  /** Cinder's `_name_id`: the id the backend names the volume by; differs from `id` after a migration. */
  readonly nameId: string;
  readonly attachmentId: string;
  readonly bdmUuid: string;
  /** `/dev/vda` for a boot volume, `/dev/vdb`… for data volumes. */
  readonly device: string;
  /** `rbd`: image `volumes/volume-<nameId>` on the simulated Ceph; `iscsi`: an LVM/iSCSI target; `none`: an old-style attachment without connection_info. */
  readonly driver: 'rbd' | 'iscsi' | 'none';
  readonly bootable: boolean;
  readonly attachedAt: number;
}

export interface SimServer {
  readonly id: string;
  /** Creation order; the list API sorts by created_at desc, then this. */
  readonly index: number;
  name: string;
  readonly projectId: string;
  readonly userId: string;
  readonly flavor: Flavor;
  readonly imageId: string;
  host: string | null;
  vmState: VmState;
  taskState: string | null;
  /** 1 running, 4 shutdown, 0 nostate. */
  powerState: number;
  readonly createdAt: number;
  updatedAt: number;
  launchedAt: number | null;
  /** When it was deleted (Nova's `OS-SRV-USG:terminated_at`); set on deleted records only. */
  terminatedAt?: number;
  az: string | null;
  metadata: Record<string, string>;
  readonly addresses: SimAddress[];
  fault: ServerFault | null;
  readonly actions: InstanceAction[];
  /** Fault: the guest runs but its network does not come up (no answer to ping) until it is rebooted. */
  guestSilent?: boolean;
  /** Attached Cinder volumes; a boot volume makes the server volume-backed (Nova's `image` is ""). */
  readonly volumes?: readonly SimVolume[];
  /** Locked (2.9), with its reason (2.73; null when none was given). */
  lock?: { readonly reason: string | null } | null;
}

export type MigrationStatus =
  | 'accepted' | 'queued' | 'preparing' | 'running' | 'pre-migrating' | 'post-migrating'
  | 'done' | 'completed' | 'failed' | 'error' | 'cancelled';

export interface SimMigration {
  readonly id: number;
  readonly uuid: string;
  readonly instanceUuid: string;
  readonly migrationType: 'evacuation' | 'live-migration';
  readonly sourceCompute: string;
  readonly sourceNode: string;
  destCompute: string | null;
  destNode: string | null;
  destHost: string | null;
  status: MigrationStatus;
  readonly createdAt: number;
  updatedAt: number;
  readonly userId: string;
  readonly projectId: string;
  readonly flavorId: string;
}

export interface SimUser {
  readonly id: string;
  readonly name: string;
  readonly domainId: string;
  readonly email: string;
  password: string;
  readonly defaultProjectId: string | null;
  /** project id → role names */
  readonly roles: Map<string, string[]>;
}

export interface SimProject {
  readonly id: string;
  readonly name: string;
  readonly domainId: string;
}

export interface SimDomain {
  readonly id: string;
  readonly name: string;
}

export interface AppCredential {
  readonly id: string;
  readonly name: string;
  readonly secret: string;
  readonly userId: string;
  readonly projectId: string;
}

export interface SimAggregate {
  readonly id: number;
  readonly uuid: string;
  readonly name: string;
  availabilityZone: string | null;
  readonly hosts: string[];
  metadata: Record<string, string>;
  readonly createdAt: number;
  updatedAt: number | null;
}

/** Settings the world runs by, in milliseconds where they are durations. */
export interface WorldSettings {
  reportIntervalMs: number;
  serviceDownTimeMs: number;
  evacuateMs: number;
  liveMigrateMs: number;
  /** From host power-on to nova-compute running. */
  bootMs: number;
  /** From nova-compute start to its `done` evacuation migrations becoming `completed`. */
  cleanupMs: number;
  /** How long a GracefulShutdown takes on a host that is not hung. */
  gracefulShutdownMs: number;
  /** nova-api's RPC timeout when it calls a compute host that is dead but not yet seen down. */
  rpcTimeoutMs: number;
  /** Compute's periodic update_available_resource (syncs the disabled trait). */
  periodicMs: number;
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  reservedHostMemoryMb: number;
  tokenTtlMs: number;
  minMicroversion: string;
  maxMicroversion: string;
  defaultAz: string;
  /** How many /24s the world's addresses are shifted within 198.18.0.0/15. */
  ipBlock: number;
  /** Whether the catalog has a volumev3 (Cinder) endpoint. */
  cinder: boolean;
  /** The monitor addresses Cinder's RBD driver puts in connection_info (`data.hosts`). */
  cephMonIps: readonly string[];
  /** Which cloud the catalog offers: OpenStack's services, or a Cloudpods region (compute_v2, src/sim/cloudpods.ts). */
  cloud: 'openstack' | 'cloudpods';
}
