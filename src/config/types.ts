import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
import type { Secret } from './secret.js';

// The validated configuration every module receives: plain, frozen, camelCase, durations in milliseconds.
// Built once by load.ts; nothing below the CLI reads files or the environment for settings.

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

export interface CloudConfig {
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

export interface DetectorConfig {
  readonly intervalMs: number;
  /** Used by the last look before fencing (pipeline), not by the detector's verdict. */
  readonly heartbeatTimeoutMs: number;
  /** Suspects are probed (and their service re-read) this often between rounds. */
  readonly probeIntervalMs: number;
  /** Heartbeat period assumed until one is learned from updated_at (Nova's report_interval). */
  readonly heartbeatIntervalMs: number;
  /** Added to the heartbeat period before a missing heartbeat counts. */
  readonly heartbeatMarginMs: number;
  /** Every address silent at least this long (direct probes) before dead, when a host has two or more independent signals. */
  readonly minSilenceMs: number;
  /** The same for a host with a single independent signal (its management network only). */
  readonly singleSignalSilenceMs: number;
  readonly instanceNetworks: readonly string[];
  readonly isolationAddresses: readonly string[];
  readonly maxDeadHosts: number;
  readonly maxDeadFraction: number;
  readonly dryRun: boolean;
  readonly probe: 'fping' | 'sim';
  readonly simUrl?: string;
  readonly fpingPath: string;
  readonly probeTimeoutMs: number;
  readonly probePacketIntervalMs: number;
  readonly probeCount: number;
  readonly leaderLeaseMs: number;
}

export interface IpmiOptions {
  readonly interface: 'lanplus' | 'lan';
  readonly cipherSuite: number;
  readonly timeoutS: number;
  readonly retries: number;
}

export interface RedfishOptions {
  readonly system?: string;
  readonly scheme: 'https' | 'http';
  readonly auth: 'basic' | 'session';
  readonly cacert?: string;
  readonly insecure: boolean;
}

export type FenceConfig =
  | { readonly driver: 'none' }
  | { readonly driver: 'noop' }
  | {
      readonly driver: 'ipmi';
      readonly address: string;
      readonly port: number;
      readonly username: string;
      readonly password: Secret;
      readonly ipmi: IpmiOptions;
    }
  | {
      readonly driver: 'redfish';
      readonly address: string;
      readonly port: number;
      readonly username: string;
      readonly password: Secret;
      readonly redfish: RedfishOptions;
    };

export type FenceDeviceName = 'ipmi' | 'redfish' | 'noop' | 'ceph';

export interface HostConfig {
  readonly name: string;
  readonly mgmtIp?: string;
  /** Address on the tunnel network: independent evidence that the host lives. */
  readonly tunnelIp?: string;
  readonly fence: FenceConfig;
  /**
   * Fence levels in order (Pacemaker's topology): the first level whose every device confirms fences the host.
   * Resolved by load.ts from the host's `fence_levels`, else [fencing] fence_levels, else its BMC driver alone.
   * Absent (older callers) means the BMC driver alone.
   */
  readonly fenceLevels?: readonly (readonly FenceDeviceName[])[];
  /**
   * Addresses on the storage network (`storage_ip` / `storage_ips`): pinged as independent evidence that the host
   * lives, blocklisted by the ceph device, and the addresses whose watchers prove a single writer.
   */
  readonly storageIps?: readonly string[];
  /** Restarts this host's nova-compute (argv with {host}/{mgmt_ip}); overrides [remediation] agent_command. */
  readonly agentCommand?: readonly string[];
}

/**
 * The detector's `agent-down` verdict (host answers, nova-compute does not report): an operator's command that
 * restarts the agent, run without a shell, bounded, retried; healed = Nova's heartbeat advances. Never fences.
 */
export interface RemediationConfig {
  /** Absent: no global command (a host may still have its own). */
  readonly agentCommand?: readonly string[];
  readonly timeoutMs: number;
  readonly tries: number;
  readonly retryDelayMs: number;
  readonly heartbeatWaitMs: number;
}

/** `[ceph]`: the storage fence's Ceph cluster and cephx user. */
export interface CephConfig {
  readonly conf?: string;
  readonly monHost?: string;
  readonly user: string;
  readonly keyringFile: string;
  readonly imagesRbdPool: string;
  readonly blocklistExpireS: number;
  readonly confirmTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** How long the single-writer proof waits for a recovered server to open its disks. */
  readonly writerProofTimeoutMs: number;
  readonly python: string;
  /** Demo and tests: the cloud simulator's Ceph instead of librados. */
  readonly simUrl?: string;
}

export interface FencingConfig {
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  readonly allowUnfencedEvacuation: boolean;
  readonly ipmitoolPath: string;
  readonly attempts: number;
  /** [fencing] fence_levels as written (the shared default); each host's resolved levels are in HostConfig. */
  readonly fenceLevels?: readonly (readonly FenceDeviceName[])[];
  /** [cloud] proxy, applied to Redfish BMCs unless no_proxy matches them. */
  readonly proxy?: OutgoingProxy;
}

export interface EvacuationConfig {
  readonly states: readonly string[];
  readonly requireMetadata?: { readonly key: string; readonly value: string };
  readonly priorityMetadataKey?: string;
  readonly concurrency: number;
  readonly staggerMs: number;
  readonly maxPerMinute: number;
  readonly verifyTimeoutMs: number;
  readonly verifyPollIntervalMs: number;
  readonly spareHosts: readonly string[];
  readonly spareReasonPrefix: string;
  readonly spareAddToAggregates: boolean;
  readonly spareCount: number;
  readonly disabledReasonPrefix: string;
  /** Instance directories are on shared storage (Ceph, NFS): an evacuated image-backed server keeps its disk. Set by load.ts; absent means false. */
  readonly sharedStorage?: boolean;
  /**
   * After a server runs ACTIVE on its new host: its Neutron ports must be bound there and ACTIVE, and its
   * addresses that answered before the failure must answer again within networkTimeoutMs. Absent means true.
   */
  readonly verifyNetwork?: boolean;
  readonly networkTimeoutMs?: number;
  /** One hard reboot of a server whose ports are fine but whose addresses stay silent, then one more network_timeout. Absent means false. */
  readonly rebootSilent?: boolean;
}

export interface NotifierConfig {
  readonly name: string;
  readonly type: 'log' | 'email' | 'webhook';
  readonly events: readonly string[];
  readonly minSeverity: 'info' | 'warning' | 'critical';
  readonly audience: 'admins' | 'users' | 'oncall';
  readonly recipients: readonly string[];
  /** Type-specific keys as written (secrets among them already resolved to Secret by `*_file`). */
  readonly options: Readonly<Record<string, string | Secret>>;
  /** [cloud] proxy, applied to webhooks unless no_proxy matches them. */
  readonly proxy?: OutgoingProxy;
}

export interface EscalationConfig {
  readonly repeatEveryMs: number;
  readonly maxRepeats: number;
  readonly dedupWindowMs: number;
  readonly rateLimitPerHour: number;
  readonly userMetadataEmailKey?: string;
  readonly userMetadataPhoneKey?: string;
  readonly notifyUsers: boolean;
  readonly notifyUsersSms: boolean;
  readonly templateDir?: string;
}

export interface RedisConfig {
  /**
   * redis:// or rediss://; with `sentinels` only its database number and user name count. Never holds a
   * password: one given in the URL is moved to `password` when the config is loaded.
   */
  readonly url: string;
  /** Redis ACL user (AUTH username password). */
  readonly username?: string;
  readonly password?: Secret;
  readonly prefix: string;
  /** Sentinel mode: where the sentinels listen; the master's address is asked from them. */
  readonly sentinels?: readonly { readonly host: string; readonly port: number }[];
  readonly masterName?: string;
  readonly sentinelPassword?: Secret;
  /** TLS to Redis (and to the sentinels); file paths, read when connecting. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** How long a worker's claim on a queue job lasts without renewal (BullMQ lockDuration). */
  readonly jobLockMs?: number;
  /** How often BullMQ looks for jobs whose lock expired (stalledInterval). */
  readonly stalledCheckMs?: number;
}

export interface MetricsConfig {
  readonly enabled: boolean;
  readonly listen: { readonly host: string; readonly port: number };
}

/** A bearer token of the HTTP API; its name (the file's base name) is recorded with every write. */
export interface ApiToken {
  readonly name: string;
  readonly role: 'read' | 'write';
  readonly secret: Secret;
}

export interface ApiConfig {
  readonly enabled: boolean;
  readonly listen: { readonly host: string; readonly port: number };
  readonly tokens: readonly ApiToken[];
  /** GET requests need no token (a wall screen on a trusted network). Writes always do. */
  readonly anonymousRead: boolean;
  /** Masakari's duplicate_notification_detection_interval: an identical notification within it is a 409. */
  readonly notificationDuplicateWindowMs: number;
}

export interface LoggingConfig {
  readonly level: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  readonly format: 'auto' | 'json' | 'pretty';
}

export interface Config {
  readonly path?: string;
  readonly cloud: CloudConfig;
  readonly detector: DetectorConfig;
  readonly fencing: FencingConfig;
  readonly hosts: Readonly<Record<string, HostConfig>>;
  /** Present when [ceph] names a keyring_file: the storage fence is available. */
  readonly ceph?: CephConfig;
  readonly evacuation: EvacuationConfig;
  readonly notifiers: readonly NotifierConfig[];
  readonly escalation: EscalationConfig;
  readonly redis: RedisConfig;
  readonly metrics: MetricsConfig;
  readonly api: ApiConfig;
  readonly logging: LoggingConfig;
  readonly remediation: RemediationConfig;
}
