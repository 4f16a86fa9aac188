import type { PowerDeviceType } from '../device.js';
import { NoopDriver } from '../noop-driver.js';

/** Labs without BMCs: claims off, touches nothing; refused unless allow_unfenced_evacuation. */
export const noopDevice: PowerDeviceType<'noop', Record<never, never>, Record<never, never>> = {
  name: 'noop',
  role: 'power',
  summary: 'nothing is powered off, labs only, refused unless [fencing] allow_unfenced_evacuation',
  keys: {},
  unfenced: true,
  settings: () => ({}),
  where: () => undefined,
  shown: () => ({}),
  switch: (_s, env) => new NoopDriver(env.host),
};
