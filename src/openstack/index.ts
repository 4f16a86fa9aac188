import type { CloudConfig } from '../config/types.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/time.js';
import { CinderClient } from './cinder.js';
import { GlanceClient } from './glance.js';
import { HttpClient } from './http.js';
import { IdentityClient } from './identity.js';
import { KeystoneSession } from './keystone.js';
import { NeutronClient } from './neutron.js';
import { NovaClient } from './nova.js';
import { PlacementClient } from './placement.js';
import type { IdentityApi, ImageApi, NeutronApi, VolumeApi } from './types.js';
import { ServerVolumes } from './volumes.js';
import { RegionClient } from './cloudpods.js';

export interface OpenStack {
  readonly nova: NovaClient;
  readonly identity: IdentityApi;
  /** Ports and their bindings: whether an evacuated server's network came back with it. */
  readonly neutron: NeutronApi;
  /** Spare capacity as the scheduler sees it (allocation ratios included); answers null on clouds without Placement. */
  readonly placement: PlacementClient;
  /** Each server's attached volumes with the connection_info Cinder holds (where its disks live). */
  readonly volumes: VolumeApi;
  /** A Cloudpods region's compute API (`[cloud] type = cloudpods`): its identity service speaks Keystone v3, so the same session serves it. */
  readonly region: RegionClient;
  /** Image properties (evacuability rules on images). */
  readonly images: ImageApi;
  readonly session: KeystoneSession;
}

export interface OpenStackDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** First retry delay (default 500 ms); tests shorten it. */
  readonly retryBaseDelayMs?: number;
}

/** The single entry to the cloud's APIs: one HTTP transport, one Keystone session, shared by all clients. */
export function createOpenStack(cloud: CloudConfig, deps: OpenStackDeps): OpenStack {
  const logger = deps.logger.child({ component: 'openstack' });
  const http = new HttpClient({
    timeoutMs: cloud.timeoutMs,
    retries: cloud.retries,
    cacert: cloud.cacert,
    insecure: cloud.insecure,
    ...(cloud.maxResponseBytes ? { maxResponseBytes: cloud.maxResponseBytes } : {}),
    ...(cloud.proxy ? { proxy: cloud.proxy } : {}),
    logger,
    retryBaseDelayMs: deps.retryBaseDelayMs,
  });
  const session = new KeystoneSession(cloud, http, { logger, clock: deps.clock });
  const nova = new NovaClient(session, { logger });
  return {
    nova, identity: new IdentityClient(session), neutron: new NeutronClient(session), placement: new PlacementClient(session, { logger }),
    volumes: new ServerVolumes(nova, new CinderClient(session, { logger })), region: new RegionClient(session),
    images: new GlanceClient(session, { logger }), session,
  };
}

export {
  OpenStackError, isOpenStackError, NOVA_EVACUATE_OUTCOME_UNKNOWN, NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN, CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN, type OpenStackService,
} from './errors.js';
export { KeystoneSession } from './keystone.js';
export { NovaClient, MAX_MICROVERSION, MIN_MICROVERSION } from './nova.js';
export { IdentityClient } from './identity.js';
export { NeutronClient } from './neutron.js';
export { PlacementClient, PLACEMENT_MICROVERSION } from './placement.js';
export { CinderClient, CINDER_MICROVERSION } from './cinder.js';
export { GlanceClient } from './glance.js';
export { ServerVolumes } from './volumes.js';
export { RegionClient, regionTime, type RegionApi, type RegionGuest, type RegionHost, type HostAction } from './cloudpods.js';
export type * from './types.js';
