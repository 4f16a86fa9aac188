import type { FenceDriverDeps } from '../fencing/create-driver.js';
import type { HostConfig } from '../config/types.js';
import type { Prober } from '../detector/types.js';
import type { ComputeBackend } from '../compute/types.js';
import type { HostFenceStatus } from '../fencing/check-fencing.js';
import type { PowerState } from '../fencing/types.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from 'ioredis';
import type { BmcLookup } from '../fencing/resolve-bmc.js';

// The shape `cmpha doctor --json` prints and the controller may reuse: keep field names stable.

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One thing failover depends on (Nova, fencing, spares, Redis, a notifier...). */
export interface DoctorCheck {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface HostProblem {
  readonly status: Exclude<CheckStatus, 'ok'>;
  readonly detail: string;
}

export interface DoctorHost {
  readonly host: string;
  readonly zone: string | null;
  /** `spare`: a reserved evacuation target; its own failover is not counted. */
  readonly role: 'compute' | 'spare';
  /** Opted out of HA in the config (`ha = false`): not counted as protected. */
  readonly haOff?: true;
  readonly status: CheckStatus;
  readonly problems: readonly HostProblem[];
  /** Nova's nova-compute service, or null when Nova has none for this host (or could not be asked). */
  readonly service: { readonly state: 'up' | 'down'; readonly status: 'enabled' | 'disabled'; readonly forcedDown: boolean; readonly disabledReason: string | null } | null;
  readonly fencing: {
    readonly driver: HostConfig['fence']['driver'] | 'unconfigured';
    readonly bmc?: string;
    readonly reachable?: boolean;
    readonly power?: PowerState;
    readonly works: boolean;
    /** Each fence level in order, with whether each device answered a read-only check. */
    readonly levels?: HostFenceStatus['levels'];
  };
  readonly mgmt: { readonly ip: string | null; readonly source: 'config' | 'hypervisor' | null; readonly answering: boolean | null };
  /** Servers Nova lists on the host, and those a failover would evacuate; null when not listed. */
  readonly servers: { readonly total: number; readonly toEvacuate: number; readonly vcpus: number; readonly ramMb: number; readonly imageBacked: number } | null;
}

export interface DoctorReport {
  /** True when nothing found would make a failover fail. */
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
  readonly hosts: readonly DoctorHost[];
  /** Compute hosts (not spares) whose failover would work, out of all compute hosts. */
  readonly summary: {
    readonly protected: number;
    readonly total: number;
    /** What stops failover for every host at once (Redis unreachable), when something does. */
    readonly blockedBy?: string;
  };
  readonly durationMs: number;
}

export interface DoctorDeps {
  readonly logger: Logger;
  /** The cloud (the CLI builds it from `[cloud]`). */
  readonly compute: ComputeBackend;
  /** Defaults to the prober `[detector] probe` names. */
  readonly prober?: Prober;
  /** An open connection to reuse; by default doctor opens its own to `[redis] url` and closes it. */
  readonly redis?: Redis;
  readonly fence?: FenceDriverDeps;
  /** Try a connection to each email notifier's SMTP server (default true). Nothing is sent. */
  readonly smtp?: boolean;
  /** Bound for Redis and SMTP checks (default 3 s). */
  readonly probeTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Resolves BMC names; defaults to the system resolver (tests inject one). */
  readonly bmcLookup?: BmcLookup;
}
