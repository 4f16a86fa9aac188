import { disableStep } from './disable.js';
import { forceDownStep } from './force-down.js';
import type { StepContext } from './context.js';

/**
 * Nova answered an evacuate with "Compute service of HOST is still in use.": the earlier force-down did not take
 * (lost on the way, or undone), so neither may the disable that followed it. Both steps re-read the service first
 * and do nothing when it already is as they want it; the order stays force down, then disable.
 */
export async function reassertDownStep(ctx: StepContext): Promise<void> {
  await forceDownStep(ctx, { again: true });
  await disableStep(ctx);
}
