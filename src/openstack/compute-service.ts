import { CmphaError } from '../shared/errors.js';
import type { CallOptions, ComputeService, NovaApi } from './types.js';

/** The nova-compute service of `host` in a service list (Nova lists other binaries on the same host too). */
export function novaComputeOf(services: readonly ComputeService[], host: string): ComputeService | undefined {
  return services.find((s) => s.binary === 'nova-compute' && s.host === host);
}

/** Asks Nova for the nova-compute service of `host`; a host Nova does not know is an error naming it. */
export async function requireComputeService(nova: NovaApi, host: string, opts: CallOptions = {}): Promise<ComputeService> {
  const svc = novaComputeOf(await nova.listComputeServices({ ...opts, host }), host);
  if (!svc) throw new CmphaError('service_not_found', `Nova has no nova-compute service on host ${host}`);
  return svc;
}
