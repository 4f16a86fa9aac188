import type { Config } from '../../config/types.js';
import { createOpenStack, type OpenStack, type OpenStackDeps } from '../../openstack/index.js';
import { NovaBackend, type NovaBackendOptions } from './backend.js';

export { NovaBackend, novaBackend, hostOf, portOf, isStillInUse, type NovaBackendOptions } from './backend.js';
export { incidentReason, parseIncidentReason, parseMarker, type MarkerPrefixes } from '../marker.js';

/** The marks cmpha writes and reads, from `[evacuation]`. */
export function markerPrefixes(config: Pick<Config, 'evacuation'>): Pick<NovaBackendOptions, 'reasonPrefix' | 'spareReasonPrefix'> {
  return { reasonPrefix: config.evacuation.disabledReasonPrefix, spareReasonPrefix: config.evacuation.spareReasonPrefix };
}

/**
 * The compute backend of an OpenStack cloud, for the one-shot commands (doctor, check, drain, host): Nova with
 * Placement for capacity and Neutron for ports, over one client built from `[cloud]`. Long-running processes
 * build theirs in the composition root, around a leader-only Nova.
 */
export function createNovaBackend(config: Pick<Config, 'cloud' | 'evacuation'>, deps: OpenStackDeps & { readonly openstack?: OpenStack }): NovaBackend {
  const os = deps.openstack ?? createOpenStack(config.cloud, deps);
  return new NovaBackend(os.nova, { ...markerPrefixes(config), placement: os.placement, neutron: os.neutron, images: os.images });
}
