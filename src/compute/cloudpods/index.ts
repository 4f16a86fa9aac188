import type { Config } from '../../config/types.js';
import { createOpenStack, type OpenStack, type OpenStackDeps } from '../../openstack/index.js';
import type { RegionApi } from '../../openstack/cloudpods.js';
import { CloudpodsBackend } from './backend.js';

export { CloudpodsBackend, CLOUDPODS_NAMES, hostOf, capacityOf, MARK_KEY, AUTO_MIGRATE_KEY } from './backend.js';
export { guestOf, statusWord, inspectMove, judgeArrival, judgeLiveMove } from './guests.js';

/** The marks cmpha writes and reads, from `[evacuation]` (the same keys as on OpenStack). */
function prefixes(config: Pick<Config, 'evacuation'>) {
  return { reasonPrefix: config.evacuation.disabledReasonPrefix, spareReasonPrefix: config.evacuation.spareReasonPrefix };
}

/** The adapter over a region client (or a leader-only wrapper of one). */
export function cloudpodsBackend(region: RegionApi, config: Pick<Config, 'evacuation'>): CloudpodsBackend {
  return new CloudpodsBackend(region, prefixes(config));
}

/** The compute backend of a Cloudpods region for the one-shot commands, over one client built from `[cloud]`. */
export function createCloudpodsBackend(config: Pick<Config, 'cloud' | 'evacuation'>, deps: OpenStackDeps & { readonly openstack?: OpenStack }): CloudpodsBackend {
  const os = deps.openstack ?? createOpenStack(config.cloud, deps);
  return cloudpodsBackend(os.region, config);
}
