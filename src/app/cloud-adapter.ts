import type { Config } from '../config/types.js';
import { cloudpodsBackend, createCloudpodsBackend } from '../compute/cloudpods/index.js';
import { createNovaBackend, markerPrefixes, novaBackend } from '../compute/nova/index.js';
import type { ComputeBackend } from '../compute/types.js';
import { leaderOnlyNova, leaderOnlyRegion } from '../leadership/leader-only.js';
import type { Leadership } from '../leadership/leadership.js';
import type { OpenStack, OpenStackDeps } from '../openstack/index.js';

// The one place that knows which cloud `[cloud] type` names: everything else speaks the compute-backend port.

/** The cloud's compute backend for reads and one-shot commands (doctor, check, drain, host). */
export function readBackend(config: Pick<Config, 'cloud' | 'evacuation'>, deps: OpenStackDeps & { readonly openstack?: OpenStack }): ComputeBackend {
  return config.cloud.type === 'cloudpods' ? createCloudpodsBackend(config, deps) : createNovaBackend(config, deps);
}

/** The recovery's view of the cloud: every change passes only while `leadership` holds (reads pass). */
export function leaderBackend(config: Pick<Config, 'cloud' | 'evacuation'>, cloud: OpenStack, leadership: Leadership): ComputeBackend {
  if (config.cloud.type === 'cloudpods') return cloudpodsBackend(leaderOnlyRegion(cloud.region, leadership), config);
  // Nova behind the lease, Placement for capacity, Neutron for ports, Glance for image properties.
  return novaBackend(leaderOnlyNova(cloud.nova, leadership), { ...markerPrefixes(config), placement: cloud.placement, neutron: cloud.neutron, images: cloud.images });
}
