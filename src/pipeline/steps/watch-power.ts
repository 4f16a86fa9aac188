import { errorMessage } from '../../shared/errors.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';
import { notifyOnce } from './notify.js';
import { isUnfencedDevice } from '../../fencing/devices/registry.js';

/**
 * A fenced host must stay off while its servers start elsewhere: someone powering it on (a BMC that
 * restores power, a colleague at the console) gives its disks a second writer. Read its power once more when
 * the evacuations have ended; `on` is a critical alert. Nothing is undone: the evacuated servers stay where they are.
 */
export async function watchPowerStep(ctx: StepContext): Promise<StepOutcome> {
  const rec = await record(ctx);
  const driver = ctx.fenceDriverFor(rec.host);
  if (!rec.fence || rec.fence.unfenced || rec.fence.confirmedBy || !driver || isUnfencedDevice(driver.kind)) {
    return { kind: 'skip', reason: 'no BMC reading to compare with' };
  }
  let state: string;
  try {
    state = await driver.powerStatus(AbortSignal.timeout(ctx.fencing.timeoutMs));
  } catch (err) {
    await note(ctx, 'fence', 'warning', `could not re-read the power of ${rec.host} after the evacuations: ${errorMessage(err)}`);
    return { kind: 'skip', reason: 'power unreadable' };
  }
  if (state !== 'on') return { kind: 'done', detail: `power reads ${state}` };
  const message = `${rec.host} was fenced at ${new Date(rec.fence.at).toISOString()} but its power now reads ON: `
    + 'it may be writing to the disks of the servers moved away from it. Power it off now';
  await note(ctx, 'fence', 'critical', message);
  await notifyOnce(ctx, rec, { type: 'fence-breached', severity: 'critical', summary: message });
  return { kind: 'abort', reason: message };
}
