import { novaComputeOf } from '../openstack/compute-service.js';
import type { NovaApi } from '../openstack/types.js';
import type { Clock } from '../shared/time.js';
import type { HostAliveCheck } from './steps/context.js';

/**
 * Nova's view only: up, not forced down, and a heartbeat no older than `heartbeatTimeoutMs`. `updated_at`
 * also moves on admin changes, so this can say alive for a dead host (safe side), never the reverse.
 * The daemon combines it with its management-IP probe.
 */
export function novaLivenessCheck(nova: NovaApi, heartbeatTimeoutMs: number, clock: Clock): HostAliveCheck {
  return async (host, signal) => {
    const svc = novaComputeOf(await nova.listComputeServices({ host, signal }), host);
    if (!svc || svc.forcedDown || svc.state !== 'up') return false;
    return svc.updatedAt !== null && clock.now() - svc.updatedAt.getTime() <= heartbeatTimeoutMs;
  };
}

/** Any of the checks seeing life means alive. */
export function anyAlive(...checks: HostAliveCheck[]): HostAliveCheck {
  return async (host, signal) => {
    for (const c of checks) if (await c(host, signal)) return true;
    return false;
  };
}
