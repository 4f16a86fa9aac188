// What cmpha needs from OpenStack, as plain typed objects. The HTTP details (paths, microversions, JSON
// field names such as `OS-EXT-SRV-ATTR:host`) stay inside src/openstack; everything else speaks these types.

export interface ComputeService {
  /** UUID from microversion 2.53. */
  readonly id: string;
  readonly binary: string;
  readonly host: string;
  readonly zone?: string;
  readonly state: 'up' | 'down';
  readonly status: 'enabled' | 'disabled';
  readonly forcedDown: boolean;
  readonly disabledReason: string | null;
  /** Last heartbeat OR last admin change (see nova-facts): an upper bound on liveness, never proof. */
  readonly updatedAt: Date | null;
}

export interface Hypervisor {
  /** A UUID from microversion 2.53: the same UUID as the host's resource provider in Placement. */
  readonly id: string;
  /** Nova's `hypervisor_hostname`: the resource provider's name (usually, not always, the service host). */
  readonly hostname: string;
  /** The compute service's host name (the key everything else uses). */
  readonly serviceHost: string;
  readonly hostIp?: string;
  readonly state: 'up' | 'down';
  readonly status: 'enabled' | 'disabled';
  /** Usage figures are absent from microversion 2.88 on; then they are undefined. */
  readonly vcpus?: number;
  readonly vcpusUsed?: number;
  readonly memoryMb?: number;
  readonly memoryMbUsed?: number;
  /** NUMA nodes, from cpu_info's topology `cells` (libvirt); undefined when the hypervisor does not say. */
  readonly numaCells?: number;
}

export interface ServerAddress {
  readonly network: string;
  readonly addr: string;
  readonly version: 4 | 6;
  readonly type?: 'fixed' | 'floating';
}

export interface Server {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly taskState: string | null;
  readonly vmState: string | null;
  readonly host: string | null;
  readonly availabilityZone?: string;
  readonly addresses: readonly ServerAddress[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly userId: string;
  readonly projectId: string;
  readonly flavor: { readonly vcpus?: number; readonly ramMb?: number; readonly name?: string; readonly extraSpecs?: Readonly<Record<string, string>> };
  readonly updatedAt?: Date;
  /** The image it was booted from; null when volume-backed (Nova's `image` is ""), undefined when Nova did not say. */
  readonly imageId?: string | null;
  /** Ids of the volumes attached to it (`os-extended-volumes:volumes_attached`); undefined when Nova did not say. */
  readonly volumeIds?: readonly string[];
  /** Locked against its owner's actions (2.9); undefined when Nova did not say. */
  readonly locked?: boolean;
  /** Why, as whoever locked it wrote (2.73); null when no reason was given. */
  readonly lockedReason?: string | null;
}

export interface Migration {
  /** Nova's integer id, as text (the handle for /servers/{id}/migrations/{id}). */
  readonly id: string;
  /** From microversion 2.59. */
  readonly uuid?: string;
  readonly instanceId: string;
  readonly type: string;
  readonly status: string;
  readonly sourceCompute: string | null;
  readonly destCompute: string | null;
  readonly createdAt: Date | null;
  readonly updatedAt: Date | null;
}

export interface Aggregate {
  readonly id: string;
  readonly name: string;
  readonly hosts: readonly string[];
  readonly availabilityZone: string | null;
  /** Its metadata (`openstack aggregate set --property`); an evacuability rule may look at it. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A Nova server group: members placed by one policy. */
export interface ServerGroup {
  readonly id: string;
  readonly name: string;
  /** `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity` (2.64+: `policy`; before, `policies[0]`). */
  readonly policy: string;
  /** anti-affinity's `max_server_per_host` rule (2.64+); absent = 1. */
  readonly maxServerPerHost?: number;
  readonly members: readonly string[];
  readonly projectId: string;
}

/** Glance: an image's properties; null when the cloud has no image service or no longer has the image. */
export interface ImageApi {
  properties(imageId: string, opts?: CallOptions): Promise<Readonly<Record<string, string>> | null>;
}

export interface ServiceUpdate {
  readonly status?: 'enabled' | 'disabled';
  readonly disabledReason?: string;
  readonly forcedDown?: boolean;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** The Nova calls cmpha makes. Implemented over HTTP by NovaClient; tests may use the simulator behind it. */
export interface NovaApi {
  /** Negotiated compute microversion, e.g. "2.93". */
  microversion(opts?: CallOptions): Promise<string>;
  listComputeServices(opts?: CallOptions & { host?: string }): Promise<ComputeService[]>;
  /** Services of one binary (nova-scheduler, nova-conductor); absent in doubles that do not need it. */
  listServices?(binary: string, opts?: CallOptions): Promise<ComputeService[]>;
  updateService(id: string, update: ServiceUpdate, opts?: CallOptions): Promise<ComputeService>;
  listHypervisors(opts?: CallOptions): Promise<Hypervisor[]>;
  listAggregates(opts?: CallOptions): Promise<Aggregate[]>;
  /** Every server group of every project. */
  listServerGroups(opts?: CallOptions): Promise<ServerGroup[]>;
  addHostToAggregate(aggregateId: string, host: string, opts?: CallOptions): Promise<void>;
  /** All servers on `host`, all projects, following pagination to the end. */
  listServersOnHost(host: string, opts?: CallOptions): Promise<Server[]>;
  /**
   * Every server of every project whose `updated_at` is at or after `since` (Nova's `changes-since`, inclusive),
   * recently deleted ones included (status `DELETED`), following pagination to the end. `since` must come from a
   * timestamp Nova itself wrote: Nova compares it with its own clock.
   */
  listServersChangedSince(since: Date, opts?: CallOptions): Promise<Server[]>;
  /** null when Nova answers 404. */
  getServer(id: string, opts?: CallOptions): Promise<Server | null>;
  /** Never retried on its own: a duplicate evacuate corrupts the server (nova-facts). */
  evacuate(id: string, target?: string, opts?: CallOptions): Promise<void>;
  liveMigrate(id: string, target?: string, opts?: CallOptions): Promise<void>;
  /** POST reboot (202). Not retried on its own. */
  reboot(id: string, type: 'HARD' | 'SOFT', opts?: CallOptions): Promise<void>;
  /** os-resetState (admin): vm_state set to `state`, task_state cleared. Setting it twice leaves the same state. */
  resetState(id: string, state: 'active' | 'error', opts?: CallOptions): Promise<void>;
  /** lock, with `reason` from 2.73 (dropped on an older Nova). Locking a locked server changes nothing. */
  lock(id: string, reason: string, opts?: CallOptions): Promise<void>;
  unlock(id: string, opts?: CallOptions): Promise<void>;
  /** Every locked server, all projects (`locked=true`, 2.73), following pagination; [] on a Nova older than 2.73. */
  listLockedServers(opts?: CallOptions): Promise<Server[]>;
  /** A power action (os-stop, pause, suspend on a running server; os-start on a stopped one): 202, not retried on its own. */
  powerAction(id: string, action: 'os-stop' | 'os-start' | 'pause' | 'suspend', opts?: CallOptions): Promise<void>;
  listMigrations(filter: { instanceId?: string; host?: string; type?: string }, opts?: CallOptions): Promise<Migration[]>;
}

/** How a volume reaches its host, from the `connection_info` Cinder keeps on the attachment (the one Nova uses). */
export interface VolumeConnection {
  /** `rbd`, `iscsi`, `nfs`, `fibre_channel`, … */
  readonly driverVolumeType: string;
  /** rbd: `data.name`, `<pool>/<image>` (Cinder's `<rbd_pool>/volume-<name_id>`); undefined when absent. */
  readonly rbdName?: string;
  /** rbd: `data.hosts`, the monitors the host's client dials; undefined when absent. */
  readonly monHosts?: readonly string[];
}

/** A volume attached to a server, as Nova lists it, with its connection as Cinder's attachment records it. */
export interface AttachedVolume {
  readonly volumeId: string;
  /** Cinder's attachment id (Nova says it from microversion 2.89; else the attachment found for the volume). */
  readonly attachmentId?: string;
  /** `/dev/vdb` as Nova lists it. */
  readonly device?: string;
  /** null when Cinder holds no connection_info for it; `missing` then says why. */
  readonly connection: VolumeConnection | null;
  readonly missing?: string;
}

/** The volumes of a server and how each reaches its host: Nova's attachments joined with Cinder's. */
export interface VolumeApi {
  serverVolumes(serverId: string, opts?: CallOptions): Promise<AttachedVolume[]>;
}

/** A Neutron port as cmpha reads it. */
export interface Port {
  readonly id: string;
  readonly deviceId: string;
  readonly networkId: string;
  /** ACTIVE once the L2 agent on the bound host has wired it; DOWN otherwise. */
  readonly status: string;
  /** `binding:host_id`: the host the port is bound to ('' = unbound); null when the token may not read bindings. */
  readonly hostId: string | null;
  /** `binding:vif_type`: `binding_failed` when no mechanism driver could bind the port on that host. */
  readonly vifType: string | null;
  readonly fixedIps: readonly string[];
  readonly securityGroups: readonly string[];
}

/** The Neutron calls cmpha makes. */
export interface NeutronApi {
  /** The ports of one server: `GET /v2.0/ports?device_id=…`. */
  listPorts(deviceId: string, opts?: CallOptions): Promise<Port[]>;
}

export interface KeystoneUser {
  readonly id: string;
  readonly name: string;
  readonly email?: string;
}

export interface IdentityApi {
  getUser(id: string, opts?: CallOptions): Promise<KeystoneUser | null>;
}

/** Free room on a compute host by Placement's arithmetic: (total − reserved) × allocation_ratio − used. */
export interface HostCapacity {
  readonly vcpusFree: number;
  readonly ramMbFree: number;
  /** The resource provider the figures come from. */
  readonly providerUuid: string;
}

/** One resource class of a provider's inventory, as Placement stores it. */
export interface ProviderInventory {
  readonly total: number;
  readonly reserved: number;
  readonly allocationRatio: number;
  /** The most one consumer (server) may take from this provider. */
  readonly maxUnit: number;
}

export interface ResourceProvider {
  readonly uuid: string;
  readonly name: string;
  readonly generation: number;
}

/**
 * The Placement reads cmpha makes. From compute microversion 2.88 Nova no longer reports vCPU/RAM usage;
 * Placement is where it lives.
 */
export interface PlacementApi {
  /**
   * Free vCPU and RAM of the hypervisor's resource provider; null when the cloud has no Placement endpoint
   * (or one too old) or Placement knows no provider for it. Other failures throw.
   */
  hostCapacity(hypervisor: Pick<Hypervisor, 'id' | 'hostname'>, opts?: CallOptions): Promise<HostCapacity | null>;
  /**
   * Free amount per resource class and the traits, over the hypervisor's whole provider tree (PCPU, VGPU and PCI
   * classes may sit on child providers); null as for hostCapacity. Absent in a client that cannot.
   */
  readonly providerTreeFacts?: (hypervisor: Pick<Hypervisor, 'id' | 'hostname'>, opts?: CallOptions) => Promise<{ resources: Map<string, number>; traits: Set<string> } | null>;
}
