import type { CallOptions, NovaApi } from '../openstack/types.js';

/**
 * The nova-compute hosts Nova lists now, or null when the list cannot be read. A server is only believed to
 * run on a host that is one of them: a name Nova's own service list does not know is a garbled answer.
 */
export async function computeHosts(nova: Pick<NovaApi, 'listComputeServices'>, opts: CallOptions = {}): Promise<ReadonlySet<string> | null> {
  try {
    return new Set((await nova.listComputeServices(opts)).filter((s) => s.binary === 'nova-compute').map((s) => s.host));
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return null;
  }
}
