import type { Typed } from './declare.js';
import type { RawHostSection } from './host-schema.js';
import type { notifierSectionDecl } from './notifier-schema.js';
import type { instanceFailureSection, segmentSectionDecl } from './masakari-schema.js';
import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
import type {
  apiSection, detectorSection, escalationSection, evacuationSection, fencingSection, loggingSection, metricsSection, recoverySection, redisSection, remediationSection,
} from './schema.js';
import type { FenceDeviceName } from './fence-levels-field.js';
import type { PowerDeviceConfig } from '../fencing/devices/registry.js';
import type { Secret } from './secret.js';

// The validated configuration every module receives: plain, frozen, camelCase, durations in milliseconds.
// Inferred from the declarations (schema.ts, host-schema.ts, src/fencing/*-keys.ts, src/fencing/ceph/ceph-keys.ts);
// built once by load.ts; nothing below the CLI reads files or the environment for settings.

type Output<S> = S extends { schema: { _zod: { output: infer T } } } ? T : never;

export type CloudAuth =
  | {
      readonly type: 'password';
      readonly username?: string;
      readonly userId?: string;
      readonly password: Secret;
      readonly userDomainName?: string;
      readonly userDomainId?: string;
      readonly projectName?: string;
      readonly projectId?: string;
      readonly projectDomainName?: string;
      readonly projectDomainId?: string;
      /** Domain scope, used only when no project is given. */
      readonly domainName?: string;
      readonly domainId?: string;
    }
  | {
      readonly type: 'application_credential';
      readonly id?: string;
      readonly name?: string;
      readonly secret: Secret;
      /** Needed with `name`: the credential belongs to a user. */
      readonly username?: string;
      readonly userId?: string;
      readonly userDomainName?: string;
      readonly userDomainId?: string;
    };

/** Merged from [cloud], [ser], OS_* and clouds.yaml (resolve-cloud.ts), so shaped by hand. */
export interface CloudConfig {
  /** Which cloud: OpenStack (Nova) or a Cloudpods region; only the composition root reads it, to pick the compute adapter. */
  readonly type: 'openstack' | 'cloudpods';
  readonly authUrl: string;
  readonly auth: CloudAuth;
  readonly regionName?: string;
  readonly interface: 'public' | 'internal' | 'admin';
  readonly cacert?: string;
  readonly insecure: boolean;
  /** Bounds each API call in total: connect, headers and body. */
  readonly timeoutMs: number;
  readonly retries: number;
  /** Largest API answer accepted, in bytes; a larger one is refused with an error naming the endpoint. */
  readonly maxResponseBytes?: number;
  /** The outgoing proxy of every HTTP client ([cloud] proxy, no_proxy); unset: direct, whatever the environment says. */
  readonly proxy?: OutgoingProxy;
  /** Where these settings came from, for `config validate` and error messages. */
  readonly source: string;
}

export type DetectorConfig = Output<typeof detectorSection>;
export type IpmiOptions = RawHostSection['ipmi'];
export type RedfishOptions = RawHostSection['redfish'];

/** The host's power device (`driver` and that type's settings, src/fencing/devices/NAME.ts), or none. */
export type FenceConfig = { readonly driver: 'none' } | PowerDeviceConfig;

export type { FenceDeviceName } from './fence-levels-field.js';

export interface HostConfig {
  readonly name: string;
  readonly mgmtIp?: string;
  /** Address on the tunnel network: independent evidence that the host lives. */
  readonly tunnelIp?: string;
  readonly fence: FenceConfig;
  /**
   * Fence levels in order (Pacemaker's topology): the first level whose every device confirms fences the host.
   * Resolved by the loader from the host's `fence_levels`, else [fencing] fence_levels, else its BMC driver alone.
   * Absent (older callers) means the BMC driver alone.
   */
  readonly fenceLevels?: readonly (readonly FenceDeviceName[])[];
  /**
   * Addresses on the storage network (`storage_ip` / `storage_ips`): pinged as independent evidence that the host
   * lives, blocklisted by the ceph device, and the addresses whose watchers prove a single writer.
   */
  readonly storageIps?: readonly string[];
  /** `ha = false`: opted out of HA, watched and reported, never fenced or evacuated. Absent: in HA. */
  readonly ha?: false;
  /** Restarts this host's nova-compute (argv with {host}/{mgmt_ip}); overrides [remediation] agent_command. */
  readonly agentCommand?: readonly string[];
  /**
   * The keys this host takes from a shared section rather than its own: INI key → `host_defaults` or
   * `host:PATTERN`. Absent when it takes none. `config validate` marks them.
   */
  readonly inherited?: Readonly<Record<string, string>>;
}

/** [kdump], present when enabled. */
export interface KdumpConfig {
  readonly listen: { readonly host: string; readonly port: number };
  readonly waitMs: number;
  readonly quietAfterMs: number;
  readonly maxDumpWaitMs: number;
}

/** [ceph], present when it names a keyring_file (or the simulator): the storage fence is available. */
export interface CephConfig {
  readonly conf?: string;
  readonly monHost?: string;
  readonly user: string;
  readonly keyringFile: string;
  readonly imagesRbdPool: string;
  /** Cinder's rbd_pool of each RBD backend on this cluster (default `volumes`). */
  readonly volumePools?: readonly string[];
  readonly blocklistExpireS: number;
  readonly confirmTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** How long the single-writer proof waits for a recovered server to open its disks. */
  readonly writerProofTimeoutMs: number;
  readonly python: string;
  /** Demo and tests: the cloud simulator's Ceph instead of librados. */
  readonly simUrl?: string;
}

export type FencingConfig = Output<typeof fencingSection> & {
  /** [cloud] proxy, applied to Redfish BMCs unless no_proxy matches them. */
  readonly proxy?: OutgoingProxy;
};
export type EvacuationConfig = Output<typeof evacuationSection>;

export type NotifierConfig = Typed<typeof notifierSectionDecl.decls> & {
  readonly name: string;
  /** Type-specific keys as written (secrets among them already resolved to Secret by `*_file`). */
  readonly options: Readonly<Record<string, string | Secret>>;
  /** [cloud] proxy, applied to webhooks unless no_proxy matches them. */
  readonly proxy?: OutgoingProxy;
};

export type EscalationConfig = Output<typeof escalationSection>;
/** `tls` is set when TLS is on (tls = true, a rediss:// url or a tls_* file); its members are file paths. */
export type RedisConfig = Output<typeof redisSection>;
export type MetricsConfig = Output<typeof metricsSection>;
export type LoggingConfig = Output<typeof loggingSection>;
/**
 * The detector's `agent-down` verdict (host answers, nova-compute does not report): an operator's command that
 * restarts the agent, run without a shell, bounded, retried; healed = Nova's heartbeat advances. Never fences.
 */
export type RemediationConfig = Output<typeof remediationSection>;
/** [recovery]: what happens after an incident closes. Absent (a config built by hand): nothing, as with the defaults. */
export type RecoveryConfig = Output<typeof recoverySection>;

/** A bearer token of the HTTP API; its name (the file's base name) is recorded with every write. */
export interface ApiToken {
  readonly name: string;
  readonly role: 'read' | 'write';
  readonly secret: Secret;
  /** The file it was read from (not secret: `config validate` prints it). */
  readonly file?: string;
}

/** [api] with its token files read: the tokens replace the file lists. */
export type ApiConfig = Omit<Output<typeof apiSection>, 'readTokenFiles' | 'writeTokenFiles'> & {
  readonly tokens: readonly ApiToken[];
};

/** A failover segment from `[segment:NAME]` (docs/masakari.md). */
export type SegmentConfig = Output<typeof segmentSectionDecl> & { readonly name: string };
/** [instance_failure]: the restart of one failed VM on its own host. */
export type InstanceFailureConfig = Output<typeof instanceFailureSection>;

export interface Config {
  /** The first config file read. */
  readonly path?: string;
  /** Every config file read, in order, when there were several. */
  readonly paths?: readonly string[];
  readonly cloud: CloudConfig;
  readonly detector: DetectorConfig;
  readonly fencing: FencingConfig;
  readonly hosts: Readonly<Record<string, HostConfig>>;
  /** Present when [ceph] names a keyring_file: the storage fence is available. */
  readonly ceph?: CephConfig;
  /** Present when [kdump] enabled = true: cmpha listens for fence_kdump messages. */
  readonly kdump?: KdumpConfig;
  readonly evacuation: EvacuationConfig;
  readonly notifiers: readonly NotifierConfig[];
  readonly escalation: EscalationConfig;
  readonly redis: RedisConfig;
  readonly metrics: MetricsConfig;
  readonly api: ApiConfig;
  readonly logging: LoggingConfig;
  readonly remediation: RemediationConfig;
  readonly recovery?: RecoveryConfig;
  /** `[segment:NAME]` sections in file order; absent or empty: one implicit segment of every host. */
  readonly segments?: readonly SegmentConfig[];
  /** Absent in a config built by hand: VM notifications are recorded and ignored. */
  readonly instanceFailure?: InstanceFailureConfig;
}
