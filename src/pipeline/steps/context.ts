import type { EvacuationConfig, FencingConfig } from '../../config/types.js';
import type { IncidentStore } from '../../incidents/incident-store.js';
import type { IncidentRecord, TimelineEntry } from '../../incidents/types.js';
import type { NovaApi, ComputeService, PlacementApi } from '../../openstack/types.js';
import { CmphaError } from '../../shared/errors.js';
import type { Leadership } from '../../shared/leadership.js';
import type { Logger } from '../../shared/logger.js';
import type { Clock } from '../../shared/time.js';
import type { RecoveryMetrics } from '../metrics.js';

/** What every step works with. Steps re-read Nova and the incident record; they keep no state of their own. */
export interface StepContext {
  readonly incidentId: string;
  readonly store: IncidentStore;
  readonly nova: NovaApi;
  /** Spare capacity from Placement (asked first); without it the hypervisor's figures, and failing those the spare is assumed to fit. */
  readonly placement?: PlacementApi;
  readonly evacuation: EvacuationConfig;
  readonly fencing: FencingConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics?: RecoveryMetrics;
  readonly signal?: AbortSignal;
  /** Checked before every action on a BMC or Nova and before an incident is closed: a deposed leader does neither. */
  readonly leadership?: Leadership;
}

export type StepOutcome =
  | { readonly kind: 'done'; readonly detail?: string }
  | { readonly kind: 'skip'; readonly reason: string }
  | { readonly kind: 'abort'; readonly reason: string }
  | { readonly kind: 'fail'; readonly code: string; readonly reason: string };

export async function note(
  ctx: StepContext,
  step: string,
  level: TimelineEntry['level'],
  message: string,
  extra: { serverId?: string; data?: Record<string, unknown> } = {},
): Promise<void> {
  const log = ctx.logger[level === 'info' ? 'info' : level === 'warning' ? 'warn' : 'error'].bind(ctx.logger);
  log({ incidentId: ctx.incidentId, step, ...(extra.serverId ? { serverId: extra.serverId } : {}) }, message);
  await ctx.store.addTimeline(ctx.incidentId, { step, level, message, ...extra });
}

export function record(ctx: StepContext): Promise<IncidentRecord> {
  return ctx.store.require(ctx.incidentId);
}

/** The failed host's nova-compute service; the host must be one Nova knows. */
export async function computeService(ctx: StepContext, host: string): Promise<ComputeService> {
  const services = await ctx.nova.listComputeServices({ host, signal: ctx.signal });
  const svc = services.find((s) => s.binary === 'nova-compute' && s.host === host);
  if (!svc) throw new CmphaError('service_not_found', `Nova has no nova-compute service on host ${host}`);
  return svc;
}
